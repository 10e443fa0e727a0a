r"""A/B tests inside one population, scored against the global-rollout truth.

A platform's A/B test splits its users between a control and a treatment agent for a few
weeks and compares the arms' means. Inside one population the arms share the world, and
what one arm's users do can change what the other arm's users see and choose
(*interference*); and a few weeks are not the long run (*short horizon*). simrec can measure
both, because it can also run each agent on every user with the same seed (the *global
rollout*: the counterfactual no platform has).

For each seed, :func:`run_ab` runs three simulations of the scenario's whole horizon *D* on
the same world and the same behavioural draws: the A/B population (:class:`~simrec.
experiments.split.SplitAgent`, arms from :func:`~simrec.experiments.split.assign_arms`), the
control agent on every user and the treatment agent on every user. Every metric is a mean
over the day-0 cohort's users (:data:`METRICS`; churned users count with zero activity), in
a window of the test's length *T*: the test ``[0, T)`` and the end ``[D - T, D)``.

Per seed and metric:

* the **A/B estimate** :math:`\hat\Delta`: treatment arm mean minus control arm mean over
  ``[0, T)``, with the naive 95% CI a platform computes (Welch, users independent);
* the **truth at the test's horizon** :math:`\Delta_T`: global treatment minus global control
  over ``[0, T)``; the **truth at the end** :math:`\Delta_D`: the same over ``[D - T, D)``;
* the **bias** :math:`\hat\Delta - \Delta_D`, split into *interference*
  :math:`\hat\Delta - \Delta_T` and *short horizon* :math:`\Delta_T - \Delta_D`;
* the **long-running holdout**: the arms' difference over ``[D - T, D)`` in the same A/B
  population, minus :math:`\Delta_D` (the interference a test kept running the whole horizon
  would still carry).

Across seeds: means with 95% t-intervals, and how often the naive CI covers each truth.
Results go to a folder, one Parquet file of per-user metrics per (run, seed), written
atomically as each finishes (``resume`` keeps them); ``ab_summary.csv``, ``ab_seeds.csv``,
``ab_report.md`` and a figure are written from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simrec.agent import Agent
from simrec.config import ScenarioConfig, to_dict
from simrec.errors import ResultsError
from simrec.experiments.split import SplitAgent, assign_arms, check_arms
from simrec.experiments.tasks import (
    agent_of,
    digest,
    joined_seeds,
    run_tasks,
    task_output,
    to_do,
)
from simrec.preflight import preflight
from simrec.runner.results import (
    atomic_write_bytes,
    atomic_write_text,
    comparable,
    mean_ci,
    parquet_bytes,
)
from simrec.runner.store import ResultsFolder
from simrec.simulation import Simulation

__all__ = [
    "METRICS",
    "ROLES",
    "ABResult",
    "analyse_seed",
    "arms",
    "clustered_se",
    "collect",
    "interval_warning",
    "run_ab",
    "summarise",
    "window_metrics",
]

#: The metrics of an A/B test, per day-0 cohort user, over a window of the test's length.
METRICS: dict[str, str] = {
    "clicks": "clicks per user per day",
    "minutes": "engagement minutes per user per day",
    "revenue": "revenue per user per day",
    "active_days": "share of the window's days with a visit",
    "retained": "share of users not churned by the window's end",
}
#: The three runs of a seed: the A/B population and the two global rollouts.
ROLES = ("ab", "control", "treatment")
#: Windows: the test ``[0, T)`` and the end ``[D - T, D)``.
WINDOWS = ("test", "end")


def window_metrics(tables: dict[str, Any], lo: float, hi: float) -> dict[str, np.ndarray]:
    """:data:`METRICS` of each day-0 cohort user over days ``[lo, hi)`` (and ``user``).

    Churned users count with zero activity; ``retained`` is 1 for a user who had not churned
    by ``hi``.
    """
    arrival = np.asarray(tables["users"]["arrival_day"], dtype=np.float64)
    n = len(arrival)
    imp, ses = tables["impressions"], tables["sessions"]
    day = np.asarray(imp["day"], dtype=np.float64)
    keep = (day >= lo) & (day < hi)
    user = np.asarray(imp["user"], dtype=np.int64)[keep]

    def per_day(column: str) -> np.ndarray:
        w = np.asarray(imp[column], dtype=np.float64)[keep]
        return np.bincount(user, weights=w, minlength=n) / (hi - lo)

    s_user = np.asarray(ses["user"], dtype=np.int64)
    start = np.asarray(ses["start"], dtype=np.float64)
    inside = (start >= lo) & (start < hi)
    days = np.unique(s_user[inside] * (int(hi) + 1) + np.floor(start[inside]).astype(np.int64))
    active = np.bincount(days // (int(hi) + 1), minlength=n) / (hi - lo)
    churned = np.asarray(ses["churned"], dtype=bool)
    churn_at = np.full(n, np.inf)
    np.minimum.at(churn_at, s_user[churned], np.asarray(ses["end"], np.float64)[churned])
    cohort = np.flatnonzero(arrival == 0.0)
    out = {
        "clicks": per_day("click"),
        "minutes": per_day("engagement"),
        "revenue": per_day("revenue"),
        "active_days": active,
        "retained": (churn_at >= hi).astype(np.float64),
    }
    return {"user": cohort} | {k: v[cohort] for k, v in out.items()}


@dataclass(frozen=True)
class _Task:
    """One run of an A/B experiment (picklable: the workers rebuild the agents)."""

    scenario: ScenarioConfig
    role: str
    seed: int
    #: The results folder: the run's agent may write into ``out/agent-files/<role>/<seed>/``.
    out: str = ""


def _execute(task: _Task) -> pd.DataFrame:
    """Simulate one run; its per-user metrics in both windows (columns ``window.metric``)."""
    sc, ab = task.scenario, task.scenario.ab
    days = sc.simulation.days
    treated = cluster = None
    social = None
    agent: Agent
    if task.role == "ab":
        world = Simulation(sc.config).build_world(task.seed)
        social = world.social
        if world.social is not None:
            cluster = np.asarray(world.social.cluster)
        treated = arms(task.scenario, task.seed, world.n_users, cluster)
        agent = SplitAgent(
            agent_of(sc, ab.control),
            agent_of(sc, ab.treatment),
            treated,
            shared_training=ab.shared_training,
            labels=(ab.control, ab.treatment),
        )
        label = f"ab:{ab.control}|{ab.treatment}"
    else:
        label = getattr(ab, task.role)
        agent = agent_of(sc, label)
    result = Simulation(sc.config).run(
        agent,
        seed=task.seed,
        label=label,
        allow_hidden_state=agent.reads_hidden_state,
        output_dir=task_output(task.out, task.role, task.seed),
        time_limit=sc.time_limit or None,
    )
    tables = result.log.tables()
    columns: dict[str, np.ndarray] = {}
    for window, (lo, hi) in zip(WINDOWS, [(0, ab.days), (days - ab.days, days)], strict=True):
        metrics = window_metrics(tables, lo, hi)
        columns["user"] = metrics.pop("user")  # the day-0 cohort, the same in both windows
        columns |= {f"{window}.{key}": values for key, values in metrics.items()}
    frame = pd.DataFrame(columns)
    if treated is not None:
        users = frame["user"].to_numpy()
        frame["treated"] = treated[users]
        if cluster is not None and social is not None:
            frame["cluster"] = cluster[users]
            # the share of follow edges between the arms, the same for every row
            frame["cross_edges"] = social.cross_share(treated)
    return frame


def arms(
    scenario: ScenarioConfig, seed: int, n_users: int, cluster: np.ndarray | None
) -> np.ndarray:
    """The treated users of a seed under the scenario's design (``ab.unit``)."""
    by_cluster = cluster if scenario.ab.unit == "cluster" else None
    return assign_arms(seed, n_users, scenario.ab.share, by_cluster)


def _welch(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Difference of means ``x - y`` and its standard error (Welch, independent units).

    The standard error is NaN when an arm has fewer than two users (no interval; the
    summary's ``warning`` says so).
    """
    if len(x) < 2 or len(y) < 2:
        return float(x.mean() - y.mean()), math.nan
    return float(x.mean() - y.mean()), math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))


def _cluster_variance(y: np.ndarray, cluster: np.ndarray) -> float:
    """Variance of the mean of ``y`` whose units are ``cluster`` (linearised ratio, CR1)."""
    ids, c = np.unique(cluster, return_inverse=True)
    k = len(ids)
    if k < 2:
        return math.nan
    total, size = np.bincount(c, weights=y), np.bincount(c).astype(np.float64)
    resid = total - y.mean() * size
    return k / (k - 1) * float((resid**2).sum()) / size.sum() ** 2


def clustered_se(x: np.ndarray, cx: np.ndarray, y: np.ndarray, cy: np.ndarray) -> float:
    """Cluster-robust standard error of ``mean(x) - mean(y)`` (clusters ``cx``, ``cy``)."""
    return math.sqrt(_cluster_variance(x, cx) + _cluster_variance(y, cy))


def analyse_seed(
    ab: pd.DataFrame, control: pd.DataFrame, treatment: pd.DataFrame, unit: str = "user"
) -> pd.DataFrame:
    """One row per metric: estimate, CI, truths and the bias terms of one seed.

    The CI is the one the design calls for: users independent (Welch) for ``unit="user"``,
    cluster-robust for ``unit="cluster"`` (``ab`` then has a ``cluster`` column); the naive
    users-independent standard error is kept in ``se_naive`` either way.

    Args:
        ab: The A/B population's per-user metrics (with ``treated``).
        control: The global control rollout's.
        treatment: The global treatment rollout's.
        unit: The randomisation unit.
    """
    t = ab["treated"].to_numpy(dtype=bool)
    if t.all() or not t.any():
        raise ResultsError("the A/B population has users in one arm only: raise n_users or share")
    cl = ab["cluster"].to_numpy() if unit == "cluster" else None
    cross = float(ab["cross_edges"].iloc[0]) if "cross_edges" in ab else math.nan
    rows = []
    for m in METRICS:
        y = ab[f"test.{m}"].to_numpy()
        est, se_naive = _welch(y[t], y[~t])
        se = se_naive if cl is None else clustered_se(y[t], cl[t], y[~t], cl[~t])
        late, _ = _welch(ab[f"end.{m}"].to_numpy()[t], ab[f"end.{m}"].to_numpy()[~t])
        base = float(control[f"test.{m}"].mean())
        truth_t = float(treatment[f"test.{m}"].mean()) - base
        truth_d = float(treatment[f"end.{m}"].mean() - control[f"end.{m}"].mean())
        half = 1.959963984540054 * se
        rows.append(
            {
                "metric": m,
                "control_test": base,
                "estimate": est,
                "se": se,
                "se_naive": se_naive,
                "cross_edges": cross,
                "ci_low": est - half,
                "ci_high": est + half,
                "truth_test": truth_t,
                "truth_end": truth_d,
                "bias": est - truth_d,
                "bias_interference": est - truth_t,
                "bias_horizon": truth_t - truth_d,
                "holdout_end": late,
                "holdout_interference": late - truth_d,
                "covers_truth_test": bool(est - half <= truth_t <= est + half),
                "covers_truth_end": bool(est - half <= truth_d <= est + half),
                "significant": bool(abs(est) > half),
                "sign_agrees_end": bool(np.sign(est) == np.sign(truth_d)),
            }
        )
    return pd.DataFrame(rows)


#: Columns of the per-seed table averaged in the summary (with 95% t-intervals over seeds).
SUMMARY_COLUMNS = (
    "estimate",
    "truth_test",
    "truth_end",
    "bias",
    "bias_interference",
    "bias_horizon",
    "holdout_interference",
)
#: Columns summarised as the share of seeds where they hold.
SHARE_COLUMNS = ("covers_truth_test", "covers_truth_end", "significant", "sign_agrees_end")


def interval_warning(g: pd.DataFrame) -> str:
    """Why a metric's rows of the per-seed table lack an interval ('' when none lacks one).

    One seed gives no CI over seeds; a seed whose arm holds fewer than two users (or
    clusters) gives no test CI. Never a silent NaN: the summary and the report say it.
    """
    notes = []
    if len(g) < 2:
        notes.append(
            "one seed: no 95% CI over seeds (the ci95 columns are empty); run two or more seeds"
        )
    missing = g[g["se"].isna()]
    if len(missing):
        seeds = missing["seed"].tolist() if "seed" in missing else "some"
        notes.append(
            f"no test CI on seed(s) {seeds}: an arm has fewer than two users or clusters "
            "(raise world.users.n_users or move ab.share toward 0.5)"
        )
    return "; ".join(notes)


def summarise(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Means and 95% CI half-widths over seeds per metric; shares for the booleans.

    ``warning`` says why an interval is missing (:func:`interval_warning`).
    """
    rows = []
    for m, g in per_seed.groupby("metric", sort=False):
        row: dict[str, Any] = {
            "metric": m,
            "seeds": len(g),
            "se": float(g["se"].mean()),
            "se_naive": float(g["se_naive"].mean()),
            "cross_edges": float(g["cross_edges"].mean()),
        }
        for c in SUMMARY_COLUMNS:
            stat = mean_ci(g[c].to_numpy(dtype=np.float64))
            row[c], row[f"{c}_ci95"] = stat["mean"], stat["ci95"]
        for c in SHARE_COLUMNS:
            row[c] = float(g[c].mean())
        row["warning"] = interval_warning(g)
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class ABResult:
    """The outcome of :func:`run_ab`.

    Attributes:
        summary: One row per metric over seeds (:func:`summarise`).
        per_seed: One row per metric and seed (:func:`analyse_seed`, with ``seed``).
        out: The results folder.
    """

    summary: pd.DataFrame
    per_seed: pd.DataFrame
    out: Path


def _identity(scenario: ScenarioConfig) -> dict[str, Any]:
    data = comparable(scenario) | {"ab": to_dict(scenario.ab)}
    return {"kind": "simrec-ab", "scenario": scenario.name, "sha256": digest(data)}


def _run_file(scenario: ScenarioConfig, out: Path, truth: Path, role: str, seed: int) -> Path:
    """Where a run's per-user metrics are kept.

    The A/B population's in ``out/runs``; a global rollout's in ``truth``, named by a digest
    of everything it depends on (the run's configuration, the agent, the test's length),
    so that the designs of one world (user and cluster randomisation, other shares) share
    their truth runs when given one ``truth`` folder.
    """
    if role == "ab":
        return out / "runs" / f"ab-seed{seed}.parquet"
    label = getattr(scenario.ab, role)
    spec = next(a for a in scenario.agents if a.key == label)
    key = {"config": to_dict(scenario.config), "agent": to_dict(spec), "days": scenario.ab.days}
    return truth / f"{label}-{digest(key)[:16]}-seed{seed}.parquet"


def run_ab(
    scenario: ScenarioConfig,
    out: str | Path,
    *,
    workers: int = 1,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    truth: str | Path | None = None,
) -> ABResult:
    """Run a scenario's A/B test and its global rollouts on every seed (module docstring).

    Args:
        scenario: A scenario with an ``ab`` block.
        out: Results folder.
        workers: Parallel processes (1: in this process).
        resume: Keep the finished runs of the same experiment in ``out``.
        force: Replace whatever ``out`` holds.
        progress: Show a progress bar over runs.
        truth: Folder of the global rollouts' runs (default ``out/runs``); designs of the
            same world given one folder share them (``simrec ab`` does so for the variants
            of a grid).

    Raises:
        ConfigError: Preflight refused it (:func:`simrec.preflight.preflight`, before any
            folder exists): no ``ab`` block, impressions are sampled (the per-user metrics
            need every impression), an arm that cannot give a CI, the memory, an agent.
        ResultsError: ``out`` holds something else (see ``resume`` and ``force``).
    """
    preflight(scenario, "ab", workers=workers, also=(check_arms,))  # the ab block too
    out = Path(out)
    folder = ResultsFolder(out, "ab", "A/B test")
    folder.check()
    with folder.open(_identity(scenario), resume=resume, force=force, purpose="simrec ab"):
        scenario = joined_seeds(scenario, folder, r"runs/ab-seed(\d+)\.parquet", resume)
        return _run_ab(scenario, out, workers, progress, out / "runs" if truth is None else truth)


def _run_ab(
    scenario: ScenarioConfig, out: Path, workers: int, progress: bool, truth: str | Path
) -> ABResult:
    truth = Path(truth)

    def path(task: _Task) -> Path:
        return _run_file(scenario, out, truth, task.role, task.seed)

    tasks = [_Task(scenario, role, s, str(out)) for s in scenario.seeds for role in ROLES]
    todo = to_do(tasks, path)

    def save(task: _Task, frame: pd.DataFrame) -> None:
        atomic_write_bytes(path(task), parquet_bytes(frame, index=False))

    run_tasks(todo, _execute, save, workers=workers, progress=progress, total=len(tasks),
              desc="A/B runs")  # fmt: skip
    return collect(scenario, out, truth)


def collect(scenario: ScenarioConfig, out: str | Path, truth: str | Path | None = None) -> ABResult:
    """Analyse the finished runs of an A/B results folder and write its tables and report."""
    out = Path(out)
    truth = out / "runs" if truth is None else Path(truth)
    frames = []
    for seed in scenario.seeds:
        runs = {r: pd.read_parquet(_run_file(scenario, out, truth, r, seed)) for r in ROLES}
        frames.append(analyse_seed(**runs, unit=scenario.ab.unit).assign(seed=seed))
    per_seed = pd.concat(frames, ignore_index=True)
    summary = summarise(per_seed)
    atomic_write_text(out / "ab_seeds.csv", per_seed.to_csv(index=False))
    atomic_write_text(out / "ab_summary.csv", summary.to_csv(index=False))
    from simrec.experiments.report import write_ab_report

    write_ab_report(scenario, summary, per_seed, out)
    return ABResult(summary, per_seed, out)
