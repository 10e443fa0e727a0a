"""The doctests of ``simrec_agents``, run on the modules as the package imports them.

``agents/`` is not a pytest test path: collecting it with ``--doctest-modules`` would import
every module a second time under the folder's name (``agents.cf.mf`` beside
``simrec_agents.cf.mf``), two copies of each class. Here each module is imported once, by
its package name, and its docstring examples run with pytest's own doctest checker (the
project's option flags: ELLIPSIS, NORMALIZE_WHITESPACE, NUMBER).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import simrec_agents
from _pytest.doctest import _get_checker, get_optionflags


def _modules() -> list[str]:
    found = pkgutil.walk_packages(simrec_agents.__path__, "simrec_agents.")
    return ["simrec_agents", *sorted(m.name for m in found)]


@pytest.mark.parametrize("name", _modules())
def test_module_doctests(name, pytestconfig):
    module = pytest.importorskip(name, reason=f"{name} needs an optional extra")
    tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
    runner = doctest.DocTestRunner(
        checker=_get_checker(), optionflags=get_optionflags(pytestconfig), verbose=False
    )
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert importlib.import_module(name) is module  # imported once, under this name


def test_the_modules_with_examples_are_among_them():
    with_examples = {
        name
        for name in _modules()
        if any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))
    }
    assert {"simrec_agents.base", "simrec_agents.cf.base", "simrec_agents.rl.reinforce"} <= (
        with_examples
    )
