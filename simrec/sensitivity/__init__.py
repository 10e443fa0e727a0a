"""Robustness of a scenario's conclusions: ``simrec sensitivity``.

A scenario's answer rests on settings nobody can measure exactly (how fast users churn, how
strongly they chase appeal, how much clickbait there is). The scenario declares them with
plausible ranges (``uncertain``); :func:`run_sensitivity` runs the scenario at its own
settings (``nominal/``) and at every point of a Morris or Sobol design over those ranges
(``points/p0000/`` ...), every agent on the same seeds at every point, all runs in one pool
(or on Ray). Each folder is an ordinary results folder (``simrec report`` works on it).
:mod:`simrec.sensitivity.analysis` then says, for every agent pair and headline metric,
whether the nominal conclusion holds over the design (its sign, with a 95% CI over the
seeds excluding zero, at :data:`~simrec.sensitivity.analysis.HOLDS_SHARE` = 90% of the points
or more; a design needs at least two seeds) and which parameters drive it.

The results folder::

    OUT/.simrec-results         marker: the command and what the folder holds (scenario, design)
    OUT/.simrec-files.json      ledger: every file simrec wrote here, with its sha256
    OUT/sensitivity.yaml        the design's settings (a --resume must match them)
    OUT/config.yaml             the scenario as run
    OUT/design.csv              one row per point: its settings
    OUT/nominal/, OUT/points/   results folders
    OUT/differences.csv         paired differences at the nominal point and every point
    OUT/indices.csv             Morris mu*, sigma or Sobol S1, ST per difference and parameter
    OUT/robustness.csv          one row per conclusion: shares, verdict, driver, flip rule
    OUT/report.md, OUT/figures/ the robustness report
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simrec.config import ScenarioConfig, load_yaml, to_yaml
from simrec.errors import ConfigError, ResultsError
from simrec.preflight import preflight as command_preflight
from simrec.report.tables import HORIZON_METRICS, horizon_totals
from simrec.runner.local import (
    ScenarioResult,
    collect,
    open_folder,
    preflight,
    run_all,
)
from simrec.runner.results import atomic_write_text, writing
from simrec.runner.store import ResultsFolder
from simrec.sensitivity.analysis import agent_pairs, differences, indices, robustness
from simrec.sensitivity.design import METHODS, Design, make_design

__all__ = [
    "DEFAULT_METRICS",
    "METHODS",
    "Design",
    "SensitivityResult",
    "analyse",
    "headline_totals",
    "make_design",
    "run_sensitivity",
]


#: Headline metrics when neither ``--metrics`` nor the scenario's ``report.metrics`` name them.
DEFAULT_METRICS = (
    "clicks",
    "ctr_early",
    "engagement",
    "retention",
    "satisfaction_cohort",
    "rmst_days",
    "revenue",
)


@dataclass(frozen=True)
class SensitivityResult:
    """What :func:`run_sensitivity` returns (and :func:`analyse` reads back).

    Attributes:
        out: The folder.
        scenario: The scenario as run (its seeds those of the design).
        design: The design.
        nominal: The results at the scenario's own settings.
        differences: Paired differences; ``point`` is ``"nominal"`` or a design point.
        indices: Sensitivity indices (:func:`simrec.sensitivity.analysis.indices`).
        robustness: One row per conclusion (:func:`simrec.sensitivity.analysis.robustness`).
        metrics: The headline metrics analysed.
        ran: Runs executed now.
    """

    out: Path
    scenario: ScenarioConfig
    design: Design
    nominal: ScenarioResult
    differences: pd.DataFrame
    indices: pd.DataFrame
    robustness: pd.DataFrame
    metrics: tuple[str, ...]
    ran: int = 0


def _settings(design: Design, scenario: ScenarioConfig, metrics: tuple[str, ...]) -> str:
    data = design.settings() | {"seeds": list(scenario.seeds), "metrics": list(metrics)}
    return yaml.safe_dump(data, sort_keys=False)


def _identity(scenario: ScenarioConfig, settings: str) -> dict[str, Any]:
    """What a sensitivity folder holds: the scenario and the design's settings."""
    text = to_yaml(scenario) + "\n---\n" + settings
    return {"scenario": scenario.name, "sha256": hashlib.sha256(text.encode()).hexdigest()}


def _headline(scenario: ScenarioConfig, metrics: tuple[str, ...] | None) -> tuple[str, ...]:
    """The headline metrics of an analysis.

    ``--metrics``, else ``report.metrics`` (no cost columns), else the defaults, led by
    clicks, engagement and revenue over the first of ``report.horizons``.
    """
    if metrics:
        return tuple(metrics)
    shown = tuple(m for m in scenario.report.metrics if m not in ("ms_per_request", "fit_seconds"))
    if shown:
        return shown
    short = [h for h in scenario.report.horizons if h < scenario.simulation.days][:1]
    return tuple(f"{m}@{h}" for h in short for m in ("clicks", "engagement", "revenue")) + (
        DEFAULT_METRICS
    )


def headline_totals(result: ScenarioResult, headline: tuple[str, ...]) -> pd.DataFrame:
    """The runs' whole-run totals, with the ``<metric>@<H>`` columns the headline names."""
    horizons = sorted({int(m.split("@")[1]) for m in headline if "@" in m})
    if not horizons:
        return result.totals
    extra = horizon_totals(result.metrics, horizons)
    return result.totals.merge(extra, on=["agent", "seed"], how="left")


def run_sensitivity(
    scenario: ScenarioConfig,
    out: Path | str,
    *,
    method: str = "morris",
    samples: int | None = None,
    levels: int = 4,
    design_seed: int = 0,
    metrics: tuple[str, ...] | None = None,
    workers: int = 1,
    backend: str = "local",
    ray_address: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
) -> SensitivityResult:
    """Run a scenario at its own settings and over a design of its uncertain parameters.

    Args:
        scenario: The scenario (resolved; its ``seeds``, at least two, are used at every
            point: each point's differences get a 95% CI over them; it must declare
            ``uncertain`` ranges and have no ``grid``).
        out: The folder (created; see the module docstring for its layout).
        method: ``"morris"`` or ``"sobol"`` (:func:`make_design`).
        samples: Morris trajectories or Sobol base samples (:func:`make_design`).
        levels: Morris grid levels.
        design_seed: Seed of the design's sampler.
        metrics: Headline whole-run metrics (default: the scenario's ``report.metrics``
            without cost columns, else :data:`DEFAULT_METRICS`).
        workers: Processes in the local pool, or CPUs of a local Ray cluster.
        backend: ``"local"`` or ``"ray"``.
        ray_address: Ray cluster to join.
        resume: Keep the finished runs of the same scenario and design; run the others.
        force: Delete a previous analysis in ``out`` first.
        progress: A progress bar over all runs.

    Raises:
        ConfigError: No ranges, fewer than two seeds, a grid, an unknown method or metric, a
            bad sample size, or a point whose settings preflight refuses (before anything
            runs).
        ResultsError: ``out`` is not this analysis' folder, or a run or a write failed
            (finished runs are kept; ``resume`` continues).
    """
    # options, design size, runs and names; each point's sweep is checked below
    command_preflight(
        scenario,
        "sensitivity",
        workers=workers,
        backend=backend,
        method=method,
        samples=samples,
        levels=levels,
        design_seed=design_seed,
        metrics=metrics,
        sweep=False,
    )
    if scenario.grid:
        raise ConfigError(
            "grid: a sensitivity analysis varies the `uncertain` ranges; remove the `grid` "
            "(or analyse each variant's scenario on its own)"
        )
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: expected 'local' or 'ray', got {backend!r}")
    design = make_design(scenario, method, samples, levels, design_seed)
    headline = _headline(scenario, metrics)
    folders = _folders(scenario, design)
    for _, variant in folders:
        preflight(variant)
    out = Path(out)
    settings = _settings(design, scenario, headline)
    root = ResultsFolder(out, "sensitivity", "sensitivity analysis")
    root.check()
    with contextlib.ExitStack() as stack:
        purpose = f"simrec sensitivity {scenario.name}"
        stack.enter_context(
            root.open(_identity(scenario, settings), resume=resume, force=force, purpose=purpose)
        )
        with writing(f"--out {out}", "finished runs are kept"):
            atomic_write_text(out / "config.yaml", to_yaml(scenario))
            atomic_write_text(out / "sensitivity.yaml", settings)
            atomic_write_text(out / "design.csv", design.frame().to_csv(index=False))
        todo = []
        for sub, variant in folders:
            folder = ResultsFolder(out / sub, "run", "results")
            stack.enter_context(folder.open(None, resume=True, exists_ok=True, purpose=purpose))
            todo.append(open_folder(variant, folder, resume=True, force=False)[1])
        # The scenario's own settings first: a headline metric its results do not hold is
        # refused before the design runs.
        run_all(todo[0], workers, backend, ray_address, progress, desc=f"{scenario.name} nominal")
        nominal = collect(folders[0][1], out / "nominal")
        _check_metrics(headline, nominal, scenario.simulation.days)
        rest = [spec for specs in todo[1:] for spec in specs]
        run_all(rest, workers, backend, ray_address, progress, desc=f"{scenario.name} design")
        results = {"nominal": nominal}
        results |= {sub: collect(variant, out / sub) for sub, variant in folders[1:]}
        ran = len(todo[0]) + len(rest)
        return _analyse(out, scenario, design, results, headline, ran=ran)


def _folders(scenario: ScenarioConfig, design: Design) -> list[tuple[str, ScenarioConfig]]:
    """Each results folder of the analysis and its scenario: ``nominal``, then every point."""
    folders = [("nominal", dataclasses.replace(scenario, uncertain={}))]
    folders += [
        (f"points/{label}", design.scenario_at(scenario, i))
        for i, label in enumerate(design.labels)
    ]
    return folders


def _check_metrics(headline: tuple[str, ...], nominal: ScenarioResult, days: int) -> None:
    known = set(nominal.totals.columns) - {"agent", "seed"}
    unknown = []
    for m in headline:
        base, at, h = m.partition("@")
        if at:
            if base not in HORIZON_METRICS or not h.isdigit() or not 1 <= int(h) <= days:
                raise ConfigError(
                    f"--metrics: {m!r}: expected <metric>@<days> with a metric of "
                    f"{', '.join(HORIZON_METRICS)} and days in [1, {days}]"
                )
        elif m not in known:
            unknown.append(m)
    if unknown:
        raise ConfigError(
            f"--metrics: {', '.join(map(repr, unknown))} not whole-run metrics of these "
            f"results (or <metric>@<days>: {', '.join(HORIZON_METRICS)} over the first days); "
            f"known: {', '.join(sorted(known))}"
        )


def _analyse(
    out: Path,
    scenario: ScenarioConfig,
    design: Design,
    results: dict[str, ScenarioResult],
    headline: tuple[str, ...],
    ran: int = 0,
) -> SensitivityResult:
    nominal = results["nominal"]
    _check_metrics(headline, nominal, scenario.simulation.days)
    pairs = agent_pairs(scenario)
    parts = [
        differences(headline_totals(nominal, headline), pairs, headline).assign(point="nominal")
    ]
    for label in design.labels:
        totals = headline_totals(results[f"points/{label}"], headline)
        parts.append(differences(totals, pairs, headline).assign(point=label))
    diffs = pd.concat(parts, ignore_index=True)
    diffs = diffs[["point", *[c for c in diffs.columns if c != "point"]]]
    on_points = diffs[diffs["point"] != "nominal"]
    idx = indices(design, on_points, seed=design.seed)
    table = robustness(design, diffs[diffs["point"] == "nominal"], on_points, idx)
    with writing(f"the analysis in {out}", "the runs are kept"):
        atomic_write_text(out / "differences.csv", diffs.to_csv(index=False))
        atomic_write_text(out / "indices.csv", idx.to_csv(index=False))
        atomic_write_text(out / "robustness.csv", table.to_csv(index=False))
    return SensitivityResult(out, scenario, design, nominal, diffs, idx, table, headline, ran)


def analyse(out: Path | str) -> SensitivityResult:
    """Read a finished sensitivity folder back, verify every run and analyse it again.

    Raises:
        ResultsError: Not a sensitivity folder, or a run is missing or corrupt (named).
    """
    out = Path(out)
    marker = ResultsFolder(out, "sensitivity").marker() if out.is_dir() else None
    if not marker or marker["command"] != "sensitivity" or not (out / "sensitivity.yaml").is_file():
        raise ResultsError(
            f"{out}: not a `simrec sensitivity` folder (no marker or sensitivity.yaml)"
        )
    scenario: ScenarioConfig = load_yaml(out / "config.yaml")
    settings: dict[str, Any] = yaml.safe_load((out / "sensitivity.yaml").read_text())
    design = make_design(
        scenario,
        settings["method"],
        settings["samples"],
        settings["levels"],
        settings["design_seed"],
    )
    stored = pd.read_csv(out / "design.csv")
    if not stored.equals(pd.read_csv(io.StringIO(design.frame().to_csv(index=False)))):
        raise ResultsError(
            f"{out}: design.csv is not the design sensitivity.yaml describes (edited, or "
            "drawn by another SALib version); run the analysis again with --force"
        )
    with ResultsFolder(out, "sensitivity").open(None, exists_ok=True, purpose="simrec report"):
        results = {sub: collect(variant, out / sub) for sub, variant in _folders(scenario, design)}
        return _analyse(out, scenario, design, results, tuple(settings["metrics"]))
