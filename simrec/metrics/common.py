"""Helpers every family of daily metrics shares: days, ratios, the exact counts of sampled logs.

A log's tables (:mod:`simrec.log`) map table names to columns. Day *d* is the interval
``[d, d + 1)``; a per-day series has one value per simulated day.

>>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
0.0
>>> round(gini(np.array([0.0, 0.0, 0.0, 4.0])), 3)
0.75
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "COLD_DAYS",
    "Tables",
    "count_column",
    "days_column",
    "exact_counts",
    "gini",
    "item_rows",
    "last_value",
    "mean_value",
    "per_day",
    "ratio",
    "reference_of",
    "row_weight",
]

#: A log's tables: table name -> column name -> array.
Tables = Mapping[str, Mapping[str, np.ndarray]]

#: Days after its release (or a user's arrival) during which an item (a user) counts as cold.
COLD_DAYS = 3


def per_day(day: np.ndarray, days: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``weights`` (default 1) per day over rows with a day in ``[0, days)``."""
    ok = (day >= 0) & (day < days)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[ok]
    return np.bincount(day[ok], weights=w, minlength=days)[:days].astype(np.float64)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, NaN elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def exact_counts(t: Tables) -> Mapping[str, np.ndarray] | None:
    """The exact counts when the impression log is sampled (else ``None``: use the rows)."""
    log, counts = t.get("log"), t.get("counts")
    if log is None or counts is None or float(np.asarray(log["sample"])[0]) >= 1.0:
        return None
    return counts


def count_column(c: Mapping[str, np.ndarray], col: str, days: int) -> np.ndarray:
    """A per-day column of the exact counts, zero-padded to ``days``."""
    out = np.zeros(days)
    x = np.asarray(c[col], dtype=np.float64)[:days]
    out[: len(x)] = x
    return out


def item_rows(c: Mapping[str, np.ndarray], col: str, days: int) -> np.ndarray:
    """``(days, M)`` per-item counts (zero rows for days without impressions)."""
    x = np.asarray(c[col])
    out = np.zeros((days, x.shape[1] if x.ndim == 2 else 0))
    out[: min(days, len(x))] = x[:days]
    return out


def days_column(t: Tables, days: int, col: str) -> np.ndarray:
    """A column of the day table as a per-day series (NaN on days without a row)."""
    out = np.full(days, np.nan)
    d = t["days"]
    ok = d["day"] < days
    out[d["day"][ok]] = d[col][ok]
    return out


def row_weight(t: Tables) -> float:
    """What one logged row stands for: 1, or 1 / the sampling share of a sampled log."""
    log = t.get("log")
    return 1.0 if log is None else 1.0 / float(np.asarray(log["sample"])[0])


def reference_of(t: Tables) -> np.ndarray:
    """The reference popularity of every item (see :mod:`simrec.metrics.reference`)."""
    ref = t["items"].get("reference")
    if ref is None:
        raise KeyError(
            "items.reference: the reference popularity is missing from the log (runs made by "
            "Simulation.run store it; a hand-built log must give it)"
        )
    return np.asarray(ref, dtype=np.float64)


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: equal, -> 1: concentrated)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return float("nan") if n == 0 else 0.0
    i = np.arange(1, n + 1)
    return float((2.0 * (i * x).sum()) / (n * total) - (n + 1.0) / n)


def last_value(x: np.ndarray) -> float:
    """The last value (NaN for an empty series)."""
    return float(x[-1]) if len(x) else float("nan")


def mean_value(x: np.ndarray) -> float:
    """Mean over the days with a value (NaN when none has one)."""
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")
