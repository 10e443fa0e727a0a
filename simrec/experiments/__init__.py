"""Experiments as platforms run them: A/B tests inside one population (:mod:`.ab`).

See ``docs/experiments.md``.
"""

from simrec.experiments.ab import METRICS, ABResult, analyse_seed, collect, run_ab, summarise
from simrec.experiments.split import SplitAgent, assign_arms

__all__ = [
    "METRICS",
    "ABResult",
    "SplitAgent",
    "analyse_seed",
    "assign_arms",
    "collect",
    "run_ab",
    "summarise",
]
