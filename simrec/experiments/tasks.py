"""What the A/B and OPE experiments share: their results folder, their agents, their runs.

Each run's result is saved as soon as it is finished (recorded with its sha256 in the
folder's ledger: :class:`~simrec.runner.store.ResultsFolder`), so an interrupted experiment
resumes where it stopped, and a run file changed since is run again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any, TypeVar

from simrec.agent import Agent, make_agent
from simrec.config import ScenarioConfig
from simrec.runner.local import spawn_pool
from simrec.runner.results import agent_dir
from simrec.runner.store import ResultsFolder, verify_file

__all__ = ["agent_of", "digest", "joined_seeds", "run_tasks", "task_output", "to_do"]

T = TypeVar("T")

log = logging.getLogger("simrec.experiments")


def run_tasks(
    todo: Sequence[T],
    execute: Callable[[T], Any],
    save: Callable[[T, Any], None],
    *,
    workers: int,
    progress: bool,
    total: int,
    desc: str,
) -> None:
    """``save(task, execute(task))`` for every task, in a pool when ``workers > 1``.

    Args:
        todo: The tasks still to run (picklable, with ``execute`` importable by workers).
        execute: Runs one task; returns what ``save`` writes.
        save: Writes one task's result (in this process, as each finishes).
        workers: Parallel processes (1: in this process).
        progress: Show a progress bar.
        total: All the experiment's tasks (the bar starts at ``total - len(todo)``).
        desc: The bar's label.
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=total - len(todo), desc=desc, unit="run")
    try:
        if workers <= 1 or len(todo) <= 1:
            for task in todo:
                save(task, execute(task))
                if bar is not None:
                    bar.update(1)
        else:
            with spawn_pool(min(workers, len(todo))) as pool:
                futures = {pool.submit(execute, t): t for t in todo}
                for f in as_completed(futures):
                    save(futures[f], f.result())
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def digest(data: Any) -> str:
    """SHA-256 (hex) of plain data, keys sorted: the identity of an experiment or a run."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=repr).encode()).hexdigest()


def agent_of(scenario: ScenarioConfig, label: str) -> Agent:
    """A fresh instance of the scenario's agent labelled ``label``."""
    spec = next(a for a in scenario.agents if a.key == label)
    return make_agent(spec.name, **dict(spec.params))


def joined_seeds(
    scenario: ScenarioConfig, folder: ResultsFolder, pattern: str, resume: bool
) -> ScenarioConfig:
    """``scenario`` with the seeds of the finished runs ``folder`` holds joined to its own.

    Resuming never drops a finished run: a study resumed with other seeds covers the old
    seeds and the new ones (the runs of a seed are files matching ``pattern``, a regular
    expression whose group is the seed, verified against the folder's ledger).
    """
    if not resume:
        return scenario
    found = set()
    for rel in folder.ledger():
        m = re.fullmatch(pattern, rel)
        if m and not folder.verify(rel):
            found.add(int(m.group(1)))
    seeds = tuple(sorted(found | set(scenario.seeds)))
    if seeds != tuple(scenario.seeds):
        log.warning("--resume: %s holds seeds %s; the study now has seeds %s",
                    folder.out, sorted(found), list(seeds))  # fmt: skip
        scenario = dataclasses.replace(scenario, seeds=seeds)
    return scenario


def to_do(tasks: Sequence[T], path: Callable[[T], Path]) -> list[T]:
    """The tasks whose result file is not a verified file simrec wrote (run or run again)."""
    todo = []
    for task in tasks:
        problem = verify_file(path(task))
        if problem and problem != "missing":
            log.warning("%s %s: it will be run again", path(task), problem)
        if problem:
            todo.append(task)
    return todo


def task_output(out: str, role: str, seed: int) -> Path | None:
    """The folder a run's agent may write into (emptied first), or ``None`` without ``out``.

    ``out/agent-files/<role>/<seed>/``, as for ``simrec run``: what an earlier, unfinished
    attempt of the run wrote there is removed.
    """
    if not out:
        return None
    folder = agent_dir(Path(out), role, seed)
    shutil.rmtree(folder, ignore_errors=True)
    return folder
