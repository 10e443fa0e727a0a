"""Scenario runner: agents x seeds -> a results folder (see :mod:`simrec.runner.results`)."""

from simrec.runner.local import (
    RunSpec,
    ScenarioResult,
    collect,
    plan,
    resolve,
    run_grid,
    run_scenario,
    verify_runs,
)

__all__ = [
    "RunSpec",
    "ScenarioResult",
    "collect",
    "plan",
    "resolve",
    "run_grid",
    "run_scenario",
    "verify_runs",
]
