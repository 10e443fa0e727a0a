"""simrec_agents: the recommenders that run in simrec.

This folder is installed under the import name ``simrec_agents`` (the name ``agents`` is
taken on PyPI). Agents are looked up by name through :func:`simrec.make_agent`; each module
holds one family.
"""

from simrec_agents.base import sample_distinct, scores_top_k

__all__ = ["sample_distinct", "scores_top_k"]
