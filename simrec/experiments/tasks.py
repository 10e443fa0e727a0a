"""Running an experiment's simulations, in this process or in a spawn pool.

Each result is saved as soon as it is finished, so an interrupted experiment resumes where
it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from typing import Any, TypeVar

from simrec.runner.local import spawn_pool

__all__ = ["run_tasks"]

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
