"""Run a scenario: agents x seeds, each run written to the results folder as it finishes.

The orchestration of a sweep, in order: :func:`~simrec.runner.planning.preflight` (what
runs, checked before any folder is made), the folder opened and locked
(:func:`~simrec.runner.folder.open_folder`), the runs executed in a local process pool, in
this process or on Ray (:func:`~simrec.runner.execute.run_all`), and every planned run
verified and summarised (:func:`collect`). Each run is independent and fully determined by
(scenario config, agent spec, seed), so the order and the process a run lands in do not
change its result. With ``resume`` the finished runs in the folder are kept and only the
others run, so an interrupted sweep picks up where it stopped.

The names of :mod:`~simrec.runner.planning`, :mod:`~simrec.runner.folder` and
:mod:`~simrec.runner.execute` are re-exported here, where they were first defined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simrec.agent import Agent
from simrec.config import ScenarioConfig, get_path
from simrec.errors import ConfigError, ResultsError
from simrec.metrics.paired import VERSUS_IDEAL, regret, versus_ideal
from simrec.metrics.survival import lifetime_summary, survival_table
from simrec.runner.atomic import LOCK, atomic_write_bytes, atomic_write_text, writing
from simrec.runner.execute import (
    RunOutput,
    execute,
    execute_pass,
    in_process,
    run_all,
    spawn_pool,
)
from simrec.runner.folder import open_folder, verify_runs
from simrec.runner.planning import (
    MAX_PASS,
    PYTHON_AGENT,
    RunSpec,
    group_runs,
    plan,
    preflight,
    python_agents,
    resolve,
)
from simrec.runner.results import long_metrics, parquet_bytes, read_run, read_users, summarize
from simrec.runner.store import LEDGER, LEGACY_GRID_MARKER, MARKER, ResultsFolder

__all__ = [
    "MAX_PASS",
    "PYTHON_AGENT",
    "RunOutput",
    "RunSpec",
    "ScenarioResult",
    "collect",
    "execute",
    "execute_pass",
    "group_runs",
    "in_process",
    "open_folder",
    "plan",
    "preflight",
    "python_agents",
    "resolve",
    "run_all",
    "run_grid",
    "run_scenario",
    "spawn_pool",
    "verify_runs",
    "write_grid_summary",
]


@dataclass(frozen=True)
class ScenarioResult:
    """What :func:`run_scenario` returns.

    Attributes:
        out: The results folder.
        totals: One row per run (agent, seed, whole-run metrics).
        summary: Agent x metric means, 95% CIs and paired differences.
        metrics: Long-format daily metrics.
        ran: Runs executed now (the others were already in the folder).
        missing: ``agent/seed`` of planned runs not in the folder (only when
            :func:`collect` was asked to allow them).
        survival: Per agent: pooled median lifetime, RMST and the hazard ratio of churn
            against the baseline (:func:`simrec.metrics.survival.survival_table`).
        users: ``(agent, seed)`` -> the run's per-user table.
    """

    out: Path
    totals: pd.DataFrame
    summary: pd.DataFrame
    metrics: pd.DataFrame
    ran: int
    missing: tuple[str, ...] = ()
    survival: pd.DataFrame | None = None
    users: dict[tuple[str, int], pd.DataFrame] | None = None


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
    agents: dict[str, Any] | None = None,
) -> ScenarioResult:
    """Run every agent x seed of a scenario into ``out``.

    Order: :func:`preflight` (no folder is made if it fails); the folder is created (or
    must be one simrec owns: holding only what simrec writes) and locked for the whole
    sweep; ``--force`` empties what simrec wrote, ``--resume`` keeps the valid runs of the
    very same scenario (all but the seeds, baseline and question must match) and re-runs
    missing, partial or corrupt ones; each run is written as it finishes; at the end every
    planned run must verify.

    Args:
        scenario: The (resolved) scenario.
        out: Results folder; created if missing.
        workers: Processes to run in parallel (1: in this process).
        resume: Keep the runs already finished in ``out`` and run only the others.
        force: Delete previous results in ``out`` first (only what simrec wrote).
        backend: ``"local"`` (process pool) or ``"ray"`` (Ray tasks; same results).
        ray_address: Ray cluster to join (``None``: start a local one with ``workers`` CPUs).
        events: Share of impressions to save per run in ``events.parquet`` (0: none).
        progress: Show a progress bar over runs.
        on_run: Called with (agent, seed, totals) as each run finishes.
        agents: More agents, given as Python objects: label -> an
            :class:`~simrec.agent.Agent` subclass (instantiated without arguments for
            each run) or instance (deep-copied for each run); see :func:`python_agents`.
            Their runs execute in this process (the local backend only), so an agent
            written in a notebook gets seeds, CIs and a report like a registered one.

    Raises:
        ConfigError: Preflight failed (a parameter, an agent, the catalog, memory).
        ResultsError: ``out`` cannot be written, holds files simrec did not write, another
            process is using it, it holds another scenario's results (without ``force``)
            or finished runs of this one (without ``resume`` or ``force``), or a write failed
            (finished runs are kept).
        AgentError: An agent raised during a run (runs finished before are kept).
    """
    out = Path(out)
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: expected 'local' or 'ray', got {backend!r}")
    if not 0.0 <= events <= 1.0:
        raise ConfigError(f"--events: expected a share in [0, 1], got {events!r}")
    factories: dict[str, Callable[[], Agent]] = {}
    if agents:
        if backend != "local":
            raise ConfigError(
                "agents: agents given as Python objects run in this process; use "
                "backend='local' (or register them to run them on Ray)"
            )
        scenario, factories = python_agents(scenario, dict(agents))
    preflight(scenario, factories)
    folder = ResultsFolder(out, "run", "results")
    folder.check()
    purpose = f"simrec run {scenario.name}"
    with folder.open(None, resume=resume, force=force, exists_ok=True, purpose=purpose):
        scenario, todo = open_folder(
            scenario,
            folder,
            resume,
            force,
            events,
            progress and in_process(workers, backend),
            factories,
        )
        run_all(todo, workers, backend, ray_address, progress, on_run, desc=scenario.name)
        return collect(scenario, out, ran=len(todo), factories=factories)


def collect(
    scenario: ScenarioConfig,
    out: Path,
    ran: int = 0,
    allow_missing: bool = False,
    factories: dict[str, Callable[[], Agent]] | None = None,
) -> ScenarioResult:
    """Verify the scenario's runs and write ``metrics.parquet`` and ``summary.csv``.

    Every planned run (agent x seed) must be a valid run of this scenario
    (:func:`simrec.runner.results.verify_run`); none is ever dropped silently.

    Args:
        scenario: The scenario of the folder.
        out: The results folder.
        ran: Runs executed now (reported back).
        allow_missing: Summarise without the runs that were never written (an interrupted
            sweep); corrupt runs are an error all the same.
        factories: The agents given as Python objects (their code and state are verified).

    Raises:
        ResultsError: Naming every missing (unless allowed), partial or corrupt run.
    """
    runs, rows = [], []
    verified, missing = verify_runs(scenario, out, allow_missing, factories)
    for spec in verified:
        key = spec.agent.key
        daily, totals, _cost = read_run(out, key, spec.seed)
        runs.append((key, spec.seed, daily))
        rows.append({"agent": key, "seed": spec.seed, **totals})
    users = {(r["agent"], r["seed"]): read_users(out, r["agent"], r["seed"]) for r in rows}
    metrics = long_metrics(scenario.name, runs)
    metrics = _compare_runs(scenario, rows, users, metrics)
    totals = pd.DataFrame(rows)
    summary = summarize(totals, scenario.baseline or None) if rows else pd.DataFrame()
    order = [a.key for a in scenario.agents]
    survival = survival_table(users, order, scenario.baseline, scenario.simulation.days)
    with writing(f"the summaries in {out}", "the finished runs are kept"):
        atomic_write_bytes(out / "metrics.parquet", parquet_bytes(metrics, index=False))
        atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
        atomic_write_text(out / "survival.csv", survival.to_csv(index=False))
    return ScenarioResult(
        out=out,
        totals=totals,
        summary=summary,
        metrics=metrics,
        ran=ran,
        missing=tuple(missing),
        survival=survival,
        users=users,
    )


def _compare_runs(
    scenario: ScenarioConfig,
    rows: list[dict[str, Any]],
    users: dict[tuple[str, int], pd.DataFrame],
    metrics: pd.DataFrame,
) -> pd.DataFrame:
    """Add what needs more than one run to each run's totals, and to the daily metrics.

    Each run gains its Kaplan--Meier median lifetime and RMST (its own day-0 cohort); with an
    ideal recommender in the scenario (:attr:`ScenarioConfig.ideal`), the per-user regret
    against it and the homogenization relative to it on the same seed
    (:mod:`simrec.metrics.paired`), as daily metrics ``*_vs_ideal`` and last-day totals.
    """
    days = scenario.simulation.days
    for row in rows:
        row.update(lifetime_summary(users[(row["agent"], row["seed"])], days))
    ideal = scenario.ideal
    if not ideal or not any(r["agent"] == ideal for r in rows):
        return metrics
    relative = versus_ideal(metrics, ideal)
    last = relative[relative["day"] == days - 1].set_index(["agent", "seed", "metric"])["value"]
    for row in rows:
        base = users.get((ideal, row["seed"]))
        if base is not None:
            row.update(regret(users[(row["agent"], row["seed"])], base))
            for name in VERSUS_IDEAL:
                key = (row["agent"], row["seed"], f"{name}_vs_ideal")
                row[f"{name}_vs_ideal"] = float(last.get(key, float("nan")))
    return pd.concat([metrics, relative], ignore_index=True).sort_values(
        ["agent", "seed", "metric", "day"], ignore_index=True
    )


def run_grid(
    scenario: ScenarioConfig, out: Path | str, **options: Any
) -> dict[str, ScenarioResult]:
    """Run every variant of a scenario's ``grid`` into ``out/<variant>/``.

    Each variant (:meth:`ScenarioConfig.variants`) is a complete scenario with its own
    results folder, report and paired differences against the baseline under the same
    settings; ``out/grid.csv`` gathers their summaries with one column per grid key. A
    scenario without a grid runs into ``out`` itself. ``options`` are those of
    :func:`run_scenario`.

    Raises:
        ResultsError: ``out`` holds files that are not this grid's.
        ConfigError: A grid value the field refuses, before anything runs.
    """
    out = Path(out)
    if not scenario.grid:
        return {"": run_scenario(scenario, out, **options)}
    variants = scenario.variants()  # every value checked before any run
    labels = {label for label, _ in variants}
    for _, variant in variants:
        preflight(variant)
    if out.exists():
        allowed = labels | {LEGACY_GRID_MARKER, MARKER, LEDGER, LOCK, "grid.csv"}
        stray = sorted(p.name for p in out.iterdir() if p.name not in allowed)
        if stray:
            raise ResultsError(
                f"--out {out}: holds entries that are not variants of this grid "
                f"({', '.join(stray[:5])}); choose an empty or new folder"
            )
    root = ResultsFolder(out, "grid", "grid")
    root.check()
    with root.open(None, exists_ok=True, purpose=f"simrec run {scenario.name} (grid)"):
        results = {}
        for label, variant in variants:
            results[label] = run_scenario(variant, out / label, **options)
        write_grid_summary(scenario, out, {k: r.summary for k, r in results.items()})
    return results


def write_grid_summary(
    scenario: ScenarioConfig, out: Path, summaries: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Write ``out/grid.csv``: every variant's summary, with its label and grid values."""
    parts = []
    for (label, variant), summary in zip(scenario.variants(), summaries.values(), strict=True):
        values = {key: get_path(variant, key) for key in scenario.grid}
        parts.append(summary.assign(variant=label, **values))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    front = ["variant", *scenario.grid]
    frame = frame[front + [c for c in frame.columns if c not in front]]
    with writing(f"{out / 'grid.csv'}", "the variants' results are kept"):
        atomic_write_text(out / "grid.csv", frame.to_csv(index=False))
    return frame
