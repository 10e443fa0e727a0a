"""Execute a sweep's runs: in this process, a local process pool or on Ray.

Runs execute in a local ``spawn`` pool (``workers > 1``), in this process, or as Ray tasks
(:mod:`simrec.runner.ray_backend`, imported lazily). Each run is independent and fully
determined by its :class:`~simrec.runner.planning.RunSpec`, so the order and the process a
run lands in do not change its result. Workers only simulate (:func:`execute_pass`); the
driver writes each run into its folder as it arrives (:func:`run_all`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simrec.metrics.custom import ensure_registered
from simrec.runner.planning import RunSpec, group_runs
from simrec.runner.results import agent_dir, run_identity, write_run
from simrec.simulation import Simulation

__all__ = [
    "RunOutput",
    "execute",
    "execute_pass",
    "in_process",
    "run_all",
    "spawn_pool",
]


@dataclass(frozen=True)
class RunOutput:
    """What one run sends back to the driver, which writes it to the results folder."""

    agent: str
    seed: int
    daily: pd.DataFrame
    totals: dict[str, float]
    cost: dict[str, Any]
    events: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    out: str = ""  # the results folder the run belongs to
    creators: pd.DataFrame | None = None


def execute(spec: RunSpec) -> RunOutput:
    """Simulate one run (in any process or on any Ray node; nothing is written here)."""
    return execute_pass((spec,))[0]


def execute_pass(specs: Sequence[RunSpec]) -> list[RunOutput]:
    """Simulate runs of one scenario and seed in one pass (:meth:`Simulation.run_many`).

    One spec is one run alone. Several must share the scenario, the seed and the folder,
    and their agents must keep their state to themselves (:func:`group_runs` makes such
    groups); each output is the one :func:`execute` gives for its spec alone.
    """
    first = specs[0]
    for spec in specs:
        ensure_registered(spec.metrics)
    outputs = [agent_dir(Path(s.out), s.agent.key, s.seed) for s in specs]
    for folder in outputs:  # what an earlier, unfinished attempt of the run wrote
        shutil.rmtree(folder, ignore_errors=True)
    results = Simulation(first.scenario.config).run_many(
        [s.factory() if s.factory is not None else s.agent.name for s in specs],
        seed=first.seed,
        agent_params=[None if s.factory is not None else dict(s.agent.params) for s in specs],
        labels=[s.agent.key for s in specs],
        progress=first.show_days,
        output_dirs=outputs,
        time_limit=first.scenario.time_limit or None,
    )
    return [_output(spec, result) for spec, result in zip(specs, results, strict=True)]


def _output(spec: RunSpec, result: Any) -> RunOutput:
    """What one run sends back to the driver."""
    cost = dataclasses.asdict(result.cost) | {
        "wall_seconds": result.wall_seconds,
        "hidden_state_read": result.hidden_state_read,
        "runs_in_pass": result.shared_pass,
    }
    totals = result.totals | {
        "ms_per_request": result.cost.ms_per_request,
        "fit_seconds": result.cost.fit_seconds,
        "params": float(result.cost.params),
        "flops_per_request": result.cost.flops_per_request,
    }
    events = None
    if spec.events > 0:
        frame = result.log.impressions.to_frame()
        # A seeded, per-run sample: the same rows for the same run, whatever the backend.
        keep = np.random.default_rng(spec.seed).random(len(frame)) < spec.events
        events = frame[keep].reset_index(drop=True)
    return RunOutput(
        spec.agent.key,
        spec.seed,
        result.daily,
        totals,
        cost,
        events,
        result.users,
        spec.out,
        result.creators,
    )


def in_process(workers: int, backend: str) -> bool:
    """Whether runs execute in this process (then each can show a bar over days)."""
    return backend == "local" and workers == 1


def run_all(
    todo: Sequence[RunSpec],
    workers: int,
    backend: str,
    ray_address: str | None,
    progress: bool,
    on_run: Callable[[str, int, dict[str, float]], Any] | None = None,
    desc: str = "runs",
) -> None:
    """Execute ``todo`` on the backend, writing each run into its own folder as it arrives.

    The runs may belong to several scenarios and folders (each :class:`RunSpec` names its
    scenario and folder, which the caller has opened and locked).
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=desc, unit="run")
    scenarios = {s.out: s.scenario for s in todo}
    objects = {(s.out, s.agent.key): s.agent_object() for s in todo}

    def finished(run: RunOutput) -> None:
        # The driver writes each run as it arrives (atomically), whatever the backend.
        scenario = scenarios[run.out]
        agent = next(a for a in scenario.agents if a.key == run.agent)
        write_run(
            Path(run.out),
            run.agent,
            run.seed,
            run.daily,
            run.totals,
            run.cost,
            run.events,
            run_identity(scenario, agent, run.seed, objects.get((run.out, run.agent))),
            users=run.users,
            creators=run.creators,
        )
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{run.agent} seed {run.seed}")
        if on_run is not None:
            on_run(run.agent, run.seed, run.totals)

    parallel = backend == "ray" or (workers > 1 and len(todo) > 1)
    tasks = group_runs(todo, workers if parallel else 1)

    def finished_all(outputs: list[RunOutput]) -> None:
        for output in outputs:
            finished(output)

    try:
        if backend == "ray":
            from simrec.runner.ray_backend import run_on_ray

            run_on_ray(execute_pass, tasks, finished_all, address=ray_address, num_cpus=workers)
        elif parallel:
            # Fresh ("spawn") workers read the one-thread settings before importing numpy, so
            # parallel runs do not oversubscribe the cores with BLAS threads. Agents given as
            # Python objects (perhaps defined in a notebook) run here, between the results.
            pooled = [t for t in tasks if t[0].factory is None]
            with spawn_pool(min(workers, max(len(pooled), 1))) as pool:
                futures: list[Future] = [pool.submit(execute_pass, t) for t in pooled]
                for task in tasks:
                    if task[0].factory is not None:
                        finished_all(execute_pass(task))
                for fut in as_completed(futures):
                    finished_all(fut.result())
        else:
            for task in tasks:
                finished_all(execute_pass(task))
    finally:
        if bar is not None:
            bar.close()


@contextlib.contextmanager
def spawn_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A spawn pool whose workers start with one BLAS thread.

    Pending runs are cancelled when the block raises (a failed write stops the sweep
    without waiting for them).
    """
    with _one_thread_env():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


#: Thread pools each worker process is limited to one thread of (set before numpy loads).
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_env() -> Iterator[None]:
    """Set the thread variables to 1 while worker processes start, then restore them.

    Spawned workers read them before importing numpy, so parallel runs do not oversubscribe
    the cores with BLAS threads.
    """
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
