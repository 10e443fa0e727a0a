"""simrec_studies: installed from studies/, its doctests, its command line.

The study's document is tested in tests/test_findings.py (it needs the lm and plots extras);
the statistics it uses in tests/test_report_stats.py.
"""

import doctest
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import simrec_studies
from _pytest.doctest import _get_checker, get_optionflags

REPO = Path(__file__).resolve().parents[1]


def test_simrec_studies_is_the_studies_folder():
    assert Path(simrec_studies.__file__).resolve().parent == REPO / "studies"


def _modules() -> list[str]:
    found = pkgutil.walk_packages(simrec_studies.__path__, "simrec_studies.")
    return ["simrec_studies", *sorted(m.name for m in found if not m.name.endswith("__main__"))]


@pytest.mark.parametrize("name", _modules())
def test_module_doctests(name, pytestconfig):
    """Each module imported once, by its package name (as tests/agents/test_doctests.py)."""
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(
        checker=_get_checker(), optionflags=get_optionflags(pytestconfig), verbose=False
    )
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_study_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "simrec_studies.lm_vs_cf", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python -m simrec_studies.lm_vs_cf")
    assert "{run,report,all}" in out.stdout


def test_the_study_refuses_an_unknown_part(tmp_path):
    from simrec_studies.lm_vs_cf import main

    assert main(["run", "--results", str(tmp_path), "--parts", "nope"]) == 2
