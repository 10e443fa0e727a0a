"""Package discovery for the two import packages of the one distribution.

``simrec`` lives in ``simrec/``; the agents live in ``agents/`` but import as
``simrec_agents`` (the name ``agents`` is taken on PyPI), a mapping that
``[tool.setuptools.packages.find]`` cannot express. Every package under either folder is
found here, so a new subpackage can never be left out of the wheel; everything else is in
``pyproject.toml``.
"""

from setuptools import find_packages, setup

AGENTS = "agents"

setup(
    packages=[
        *find_packages(include=["simrec", "simrec.*"]),
        *("simrec_agents" + name[len(AGENTS) :] for name in find_packages(include=[AGENTS, f"{AGENTS}.*"])),
    ],
)
