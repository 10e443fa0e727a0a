"""What the A/B and OPE experiments share: their results folder, their agents, their runs.

Each run's result is saved as soon as it is finished, so an interrupted experiment resumes
where it stopped; a folder is guarded by a marker naming the experiment it holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any, TypeVar

from simrec.agent import Agent, make_agent
from simrec.config import ScenarioConfig
from simrec.errors import ResultsError
from simrec.runner.local import spawn_pool
from simrec.runner.results import atomic_write_text

__all__ = ["agent_of", "digest", "prepare_folder", "run_tasks"]

T = TypeVar("T")


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


def prepare_folder(
    out: Path,
    identity: dict[str, Any],
    owned: Sequence[str],
    what: str,
    *,
    marker: str,
    resume: bool,
    force: bool,
) -> None:
    """Check (or, with ``force``, clear) an experiment's folder and write its marker.

    Args:
        out: The results folder.
        identity: What the folder holds (written to ``marker``; a different one is refused).
        owned: The entries the experiment writes (``force`` removes only these).
        what: The experiment's name in errors ("A/B test", "OPE study"; its first word
            names the folder: "an A/B results folder").
        marker: The marker file's name.
        resume: Keep the finished runs of the same experiment.
        force: Replace the experiment's own entries, whatever they hold.

    Raises:
        ResultsError: ``out`` holds something else, another experiment, or (without
            ``resume``) runs of this one.
    """
    path = out / marker
    if out.exists() and any(out.iterdir()) and not force:
        if not path.is_file():
            raise ResultsError(
                f"{out}: not empty and not an {what.split()[0]} results folder; choose another "
                "--out or pass --force"
            )
        found = json.loads(path.read_text())
        if found != identity:
            raise ResultsError(
                f"{out}: holds the {what} of another scenario or design "
                f"({found.get('scenario')!r}, sha256 {str(found.get('sha256', ''))[:12]}); "
                "--force replaces it"
            )
        if not resume:
            raise ResultsError(
                f"{out}: holds runs of this {what}; --resume keeps them, --force replaces them"
            )
    if force:
        for name in owned:
            entry = out / name
            if entry.is_dir():
                shutil.rmtree(entry)
            elif entry.exists():
                entry.unlink()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(identity, indent=1))
