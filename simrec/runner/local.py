"""Run a scenario: agents x seeds, each run written to the results folder as it finishes.

Runs execute in a local process pool (``workers > 1``) or in this process. Each run is
independent and fully determined by (scenario config, agent spec, seed), so the order and
the process a run lands in do not change its result. With ``resume`` the finished runs in
the folder are kept and only the others run, so an interrupted sweep picks up where it
stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simrec.agent import make_agent
from simrec.config import AgentSpec, ScenarioConfig, from_dict, replace_path, to_yaml
from simrec.errors import ConfigError, ResultsError, suggest
from simrec.runner.results import (
    atomic_write_bytes,
    atomic_write_text,
    check_writable,
    finished_runs,
    long_metrics,
    read_run,
    summarize,
    write_run,
)
from simrec.simulation import Simulation

__all__ = [
    "RunOutput",
    "RunSpec",
    "ScenarioResult",
    "execute",
    "plan",
    "resolve",
    "run_scenario",
]


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: what to simulate and where to write it."""

    scenario: ScenarioConfig
    agent: AgentSpec
    seed: int
    out: str
    events: float = 0.0  # share of impressions saved to events.parquet
    show_days: bool = False  # a progress bar over simulated days (in-process runs)


@dataclass(frozen=True)
class ScenarioResult:
    """What :func:`run_scenario` returns.

    Attributes:
        out: The results folder.
        totals: One row per run (agent, seed, whole-run metrics).
        summary: Agent x metric means, 95% CIs and paired differences.
        metrics: Long-format daily metrics.
        ran: Runs executed now (the others were already in the folder).
    """

    out: Path
    totals: pd.DataFrame
    summary: pd.DataFrame
    metrics: pd.DataFrame
    ran: int


def resolve(
    scenario: ScenarioConfig,
    *,
    seeds: Sequence[int] | None = None,
    agents: Sequence[str] | None = None,
    days: int | None = None,
    smoke: bool = False,
) -> ScenarioConfig:
    """Apply command-line overrides to a scenario (validated like the YAML).

    Raises:
        ConfigError: An unknown agent label (with suggestion) or an invalid override.
    """
    if smoke:
        scenario = scenario.smoke_variant()
    if days is not None:
        scenario = replace_path(scenario, "simulation.days", days)
    if seeds is not None:
        scenario = replace_path(scenario, "seeds", list(seeds))
    if agents is not None:
        labels = [a.key for a in scenario.agents]
        chosen = []
        for name in agents:
            if name not in labels:
                raise ConfigError(
                    f"--agents: {name!r} is not an agent of scenario {scenario.name!r}"
                    f"{suggest(name, labels)}; its agents: {', '.join(labels)}"
                )
            chosen.append(scenario.agents[labels.index(name)])
        baseline = scenario.baseline if scenario.baseline in agents else ""
        scenario = dataclasses.replace(scenario, agents=tuple(chosen), baseline=baseline)
    return scenario


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


def plan(
    scenario: ScenarioConfig, out: Path, events: float = 0.0, show_days: bool = False
) -> list[RunSpec]:
    """All (agent, seed) runs of the scenario, agent-major."""
    return [
        RunSpec(scenario, agent, seed, str(out), events, show_days)
        for agent in scenario.agents
        for seed in scenario.seeds
    ]


#: Thread pools each worker process is limited to one thread of (set before numpy loads).
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class RunOutput:
    """What one run sends back to the driver, which writes it to the results folder."""

    agent: str
    seed: int
    daily: pd.DataFrame
    totals: dict[str, float]
    cost: dict[str, Any]
    events: pd.DataFrame | None = None


def execute(spec: RunSpec) -> RunOutput:
    """Simulate one run (in any process or on any Ray node; nothing is written here)."""
    result = Simulation(spec.scenario.config).run(
        spec.agent.name,
        seed=spec.seed,
        agent_params=dict(spec.agent.params),
        label=spec.agent.key,
        progress=spec.show_days,
    )
    cost = dataclasses.asdict(result.cost) | {"wall_seconds": result.wall_seconds}
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
    return RunOutput(spec.agent.key, spec.seed, result.daily, totals, cost, events)


def _check_folder(scenario: ScenarioConfig, out: Path, resume: bool, force: bool) -> None:
    cfg_path = out / "config.yaml"
    if force:
        for name in ("runs",):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("config.yaml", "metrics.parquet", "summary.csv"):
            (out / name).unlink(missing_ok=True)
        return
    if cfg_path.exists():
        try:
            existing = from_dict(ScenarioConfig, yaml.safe_load(cfg_path.read_text()))
        except (OSError, yaml.YAMLError, ConfigError) as err:
            raise ResultsError(f"{cfg_path}: unreadable results folder ({err})") from None
        if existing.config != scenario.config or existing.name != scenario.name:
            raise ResultsError(
                f"--out {out}: holds results of a different scenario or configuration "
                f"({existing.name!r}); choose another folder or pass --force to replace them"
            )
        if finished_runs(out) and not resume:
            raise ResultsError(
                f"--out {out}: already holds {len(finished_runs(out))} finished runs of this "
                f"scenario; pass --resume to keep them and run the rest, or --force to replace"
            )
    elif finished_runs(out):
        raise ResultsError(
            f"--out {out}: holds runs but no config.yaml; choose another folder or --force"
        )


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files and run folders left by a killed sweep (never read as data)."""
    for tmp in [*out.glob(".*.tmp"), *out.glob("runs/*/.*.tmp")]:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def run_scenario(
    scenario: ScenarioConfig,
    out: Path | str,
    *,
    workers: int = 1,
    resume: bool = False,
    force: bool = False,
    backend: str = "local",
    ray_address: str | None = None,
    events: float = 0.0,
    progress: bool = True,
    on_run: Callable[[str, int, dict[str, float]], Any] | None = None,
) -> ScenarioResult:
    """Run every agent x seed of a scenario into ``out``.

    Args:
        scenario: The (resolved) scenario.
        out: Results folder; created if missing.
        workers: Processes to run in parallel (1: in this process).
        resume: Keep the runs already finished in ``out`` and run only the others.
        force: Delete previous results in ``out`` first.
        backend: ``"local"`` (process pool) or ``"ray"`` (Ray tasks; same results).
        ray_address: Ray cluster to join (``None``: start a local one with ``workers`` CPUs).
        events: Share of impressions to save per run in ``events.parquet`` (0: none).
        progress: Show a progress bar over runs.
        on_run: Called with (agent, seed, totals) as each run finishes.

    Raises:
        ResultsError: ``out`` is not writable, holds another scenario's results (without
            ``force``) or finished runs of this one (without ``resume`` or ``force``).
    """
    out = Path(out)
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: expected 'local' or 'ray', got {backend!r}")
    if not 0.0 <= events <= 1.0:
        raise ConfigError(f"--events: expected a share in [0, 1], got {events!r}")
    for spec in scenario.agents:  # fail on a bad name or parameter before any run starts
        make_agent(spec.name, **dict(spec.params))
    check_writable(out)
    _check_folder(scenario, out, resume, force)
    _remove_stale_temporaries(out)
    atomic_write_text(out / "config.yaml", to_yaml(scenario))
    done = set(finished_runs(out))
    in_process = backend == "local" and workers == 1
    runs = plan(scenario, out, events, show_days=progress and in_process)
    todo = [s for s in runs if (s.agent.key, s.seed) not in done]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=scenario.name, unit="run")

    def finished(run: RunOutput) -> None:
        # The driver writes each run as it arrives (atomically), whatever the backend.
        write_run(out, run.agent, run.seed, run.daily, run.totals, run.cost, run.events)
        agent, seed, totals = run.agent, run.seed, run.totals
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{agent} seed {seed}")
        if on_run is not None:
            on_run(agent, seed, totals)

    try:
        if backend == "ray":
            from simrec.runner.ray_backend import run_on_ray

            run_on_ray(execute, todo, finished, address=ray_address, num_cpus=workers)
        elif workers > 1 and len(todo) > 1:
            # Fresh ("spawn") workers read the one-thread settings before importing numpy, so
            # parallel runs do not oversubscribe the cores with BLAS threads.
            with (
                _one_thread_env(),
                ProcessPoolExecutor(
                    max_workers=min(workers, len(todo)), mp_context=mp.get_context("spawn")
                ) as pool,
            ):
                futures = [pool.submit(execute, s) for s in todo]
                for fut in as_completed(futures):
                    finished(fut.result())
        else:
            for spec in todo:
                finished(execute(spec))
    finally:
        if bar is not None:
            bar.close()
    return collect(scenario, out, ran=len(todo))


def collect(scenario: ScenarioConfig, out: Path, ran: int = 0) -> ScenarioResult:
    """Read the scenario's finished runs and write ``metrics.parquet`` and ``summary.csv``."""
    runs, rows = [], []
    for spec in plan(scenario, out):
        key = spec.agent.key
        try:
            daily, totals, _cost = read_run(out, key, spec.seed)
        except ResultsError:
            continue
        runs.append((key, spec.seed, daily))
        rows.append({"agent": key, "seed": spec.seed, **totals})
    metrics = long_metrics(scenario.name, runs)
    import io

    buf = io.BytesIO()
    metrics.to_parquet(buf, index=False)
    atomic_write_bytes(out / "metrics.parquet", buf.getvalue())
    totals = pd.DataFrame(rows)
    summary = summarize(totals, scenario.baseline or None) if rows else pd.DataFrame()
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    return ScenarioResult(out=out, totals=totals, summary=summary, metrics=metrics, ran=ran)
