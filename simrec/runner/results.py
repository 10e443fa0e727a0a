"""The results folder: atomic writes, per-run records, long-format metrics and the summary.

Layout of ``DIR``::

    config.yaml                  the fully resolved scenario (round-trips)
    runs/<agent>/<seed>/         one folder per finished run, created by an atomic rename:
        daily.parquet            per-day metrics (wide)
        events.parquet           optional: a sample of the impressions (--events FRACTION)
        totals.json              whole-run aggregates
        cost.json                the agent's cost report
    metrics.parquet              long format: scenario, agent, seed, day, metric, value
    summary.csv                  agent x metric: mean, 95% CI over seeds, paired difference
                                 against the baseline agent

A run folder either exists complete or not at all: it is written under a temporary name and
renamed into place, so an interrupted sweep never leaves a half-written run that later reads
as data.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simrec.errors import ResultsError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "finished_runs",
    "long_metrics",
    "read_run",
    "run_dir",
    "summarize",
    "t_quantile_975",
    "write_run",
]

# Two-sided 95% Student t quantiles t_{0.975, df} for df = 1..30 (standard table values).
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (normal beyond 30).

    >>> t_quantile_975(1), t_quantile_975(1000)
    (12.706, 1.96)
    """
    if df < 1:
        return math.nan
    return _T975[df - 1] if df <= len(_T975) else 1.96


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=True)
    return buf.getvalue()


def run_dir(out: Path, agent: str, seed: int) -> Path:
    """Folder of one finished run."""
    return Path(out) / "runs" / agent / str(seed)


def write_run(
    out: Path,
    agent: str,
    seed: int,
    daily: pd.DataFrame,
    totals: dict[str, float],
    cost: dict[str, Any],
    events: pd.DataFrame | None = None,
) -> Path:
    """Write one finished run as a folder that appears atomically.

    Args:
        out: Results folder.
        agent: Agent label.
        seed: Run seed.
        daily: Daily metrics.
        totals: Whole-run aggregates.
        cost: The agent's cost report.
        events: Optional (sampled) impressions of the event log, written as
            ``events.parquet``.

    Returns:
        The run folder.
    """
    final = run_dir(out, agent, seed)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{seed}.", suffix=".tmp", dir=final.parent))
    try:
        (tmp / "daily.parquet").write_bytes(_parquet_bytes(daily))
        (tmp / "totals.json").write_text(json.dumps(totals, indent=1, sort_keys=True))
        (tmp / "cost.json").write_text(json.dumps(cost, indent=1, sort_keys=True, default=str))
        if events is not None:
            events.to_parquet(tmp / "events.parquet", index=False)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def finished_runs(out: Path) -> list[tuple[str, int]]:
    """The (agent, seed) pairs with a complete run folder."""
    root = Path(out) / "runs"
    found = []
    if not root.is_dir():
        return found
    for agent in sorted(p for p in root.iterdir() if p.is_dir()):
        for seed in agent.iterdir():
            if seed.is_dir() and seed.name.isdigit() and (seed / "totals.json").is_file():
                found.append((agent.name, int(seed.name)))
    return sorted(found)


def read_run(out: Path, agent: str, seed: int) -> tuple[pd.DataFrame, dict, dict]:
    """Read one run's daily metrics, totals and cost.

    Raises:
        ResultsError: The run folder is missing or unreadable.
    """
    d = run_dir(out, agent, seed)
    try:
        daily = pd.read_parquet(d / "daily.parquet")
        totals = json.loads((d / "totals.json").read_text())
        cost = json.loads((d / "cost.json").read_text())
    except (OSError, ValueError) as err:
        raise ResultsError(f"{d}: cannot read the run ({err})") from err
    return daily, totals, cost


def long_metrics(scenario: str, runs: Iterable[tuple[str, int, pd.DataFrame]]) -> pd.DataFrame:
    """Stack per-run daily frames into the long format.

    Columns: scenario, agent, seed, day, metric, value; rows sorted so that the same runs
    always give identical bytes.
    """
    parts = []
    for agent, seed, daily in runs:
        frame = daily.reset_index().melt(id_vars="day", var_name="metric", value_name="value")
        frame.insert(0, "seed", seed)
        frame.insert(0, "agent", agent)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["scenario", "agent", "seed", "day", "metric", "value"])
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "scenario", scenario)
    frame = frame.astype({"seed": "int64", "day": "int64", "value": "float64"})
    return frame.sort_values(["agent", "seed", "metric", "day"], ignore_index=True)


def summarize(totals: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """Agent x metric summary over seeds, with paired differences against ``baseline``.

    Args:
        totals: One row per run: columns ``agent``, ``seed`` and one column per metric.
        baseline: Agent label to pair against (common random numbers: same seeds), or
            ``None``.

    Returns:
        Rows (agent, metric) with ``n``, ``mean``, ``ci95`` (half-width, Student t over
        seeds), and, when a baseline is given, ``diff_mean``, ``diff_ci95`` of the per-seed
        difference agent - baseline.
    """
    metrics = [c for c in totals.columns if c not in ("agent", "seed")]
    rows = []
    base = None
    if baseline is not None and baseline in set(totals["agent"]):
        base = totals[totals["agent"] == baseline].set_index("seed")
    for agent, grp in totals.groupby("agent", sort=True):
        g = grp.set_index("seed")
        for m in metrics:
            x = g[m].to_numpy(dtype=float)
            row = {"agent": agent, "metric": m, "n": len(x), **_mean_ci(x)}
            if base is not None:
                common = g.index.intersection(base.index)
                diff = (g.loc[common, m] - base.loc[common, m]).to_numpy(dtype=float)
                d = _mean_ci(diff)
                row.update(diff_mean=d["mean"], diff_ci95=d["ci95"])
            rows.append(row)
    return pd.DataFrame(rows)


def _mean_ci(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return {"mean": math.nan, "ci95": math.nan}
    half = (
        t_quantile_975(len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else (math.nan)
    )
    return {"mean": float(x.mean()), "ci95": float(half)}


def check_writable(out: Path) -> None:
    """Raise :class:`ResultsError` unless ``out`` can be created and written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ResultsError(f"--out {out}: cannot write there ({err.strerror})") from None
