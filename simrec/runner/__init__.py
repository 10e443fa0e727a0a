"""Scenario runner: agents x seeds -> a results folder (see :mod:`simrec.runner.results`).

By concern: :mod:`~simrec.runner.planning` (what runs: the runs of a scenario, preflight,
passes), :mod:`~simrec.runner.folder` (the results folder: ownership, resume and force,
verification), :mod:`~simrec.runner.execute` (in this process, a process pool or Ray),
:mod:`~simrec.runner.local` (a sweep and a grid, start to summary),
:mod:`~simrec.runner.results` (the folder's layout, run files, summaries) and
:mod:`~simrec.runner.atomic` (atomic writes and the lock).
"""

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
