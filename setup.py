"""Package discovery for the three import packages of the one distribution.

``simrec`` lives in ``simrec/``; the agents live in ``agents/`` but import as
``simrec_agents`` (the name ``agents`` is taken on PyPI), and the studies live in
``studies/`` and import as ``simrec_studies``: mappings that
``[tool.setuptools.packages.find]`` cannot express. Every package under these folders is
found here, so a new subpackage can never be left out of the wheel; everything else is in
``pyproject.toml``.
"""

from setuptools import find_packages, setup

#: Folder -> import name of the packages installed under another name.
RENAMED = {"agents": "simrec_agents", "studies": "simrec_studies"}

setup(
    packages=[
        *find_packages(include=["simrec", "simrec.*"]),
        *(
            name + found[len(folder) :]
            for folder, name in RENAMED.items()
            for found in find_packages(include=[folder, f"{folder}.*"])
        ),
    ],
)
