r"""Metrics: pure functions of the event log.

Each daily metric takes the log's tables (see :mod:`simrec.log`) and the horizon and returns
one value per simulated day. Definitions (day *d* is the interval ``[d, d + 1)``):

==================== ==========================================================================
``clicks``           clicked impressions on day d
``ctr``              clicks / impressions on day d (click-through rate per impression)
``conversion_rate``  purchases / clicks on day d
``revenue``          platform revenue on day d (currency)
``engagement``       minutes spent on clicked items on day d
``satisfaction``     mean hidden satisfaction of users alive at the end of day d
``retention``        share of the day-0 cohort not churned by the end of day d
``dau``              distinct users with at least one request on day d
``sessions_per_user`` sessions started on day d / users alive at the end of day d
``return_gap_days``  mean days between a session's start and the end of the user's previous
                     session, over sessions starting on day d
``churn_rate``       users churning on day d / users at risk (arrived by its end, alive
                     at its start)
``coverage``         distinct items shown on day d / items in the catalog on day d
``gini_exposure``    Gini coefficient of impressions over the items in the catalog on day d
==================== ==========================================================================

>>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
0.0
>>> round(gini(np.array([0.0, 0.0, 0.0, 4.0])), 3)
0.75
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["DAILY_METRICS", "daily_metrics", "gini", "run_totals"]

Tables = Mapping[str, Mapping[str, np.ndarray]]


def _per_day(day: np.ndarray, days: int, weights: np.ndarray | None = None) -> np.ndarray:
    ok = (day >= 0) & (day < days)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[ok]
    return np.bincount(day[ok], weights=w, minlength=days)[:days].astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: equal, -> 1: concentrated)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return float("nan") if n == 0 else 0.0
    i = np.arange(1, n + 1)
    return float((2.0 * (i * x).sum()) / (n * total) - (n + 1.0) / n)


def clicks(t: Tables, days: int) -> np.ndarray:
    """Clicks per day."""
    imp = t["impressions"]
    return _per_day(imp["day"], days, imp["click"])


def impressions(t: Tables, days: int) -> np.ndarray:
    """Impressions per day."""
    return _per_day(t["impressions"]["day"], days)


def ctr(t: Tables, days: int) -> np.ndarray:
    """Clicks per impression per day."""
    return _ratio(clicks(t, days), impressions(t, days))


def conversion_rate(t: Tables, days: int) -> np.ndarray:
    """Purchases per click per day."""
    imp = t["impressions"]
    return _ratio(_per_day(imp["day"], days, imp["purchase"]), clicks(t, days))


def revenue(t: Tables, days: int) -> np.ndarray:
    """Revenue per day (currency)."""
    imp = t["impressions"]
    return _per_day(imp["day"], days, imp["revenue"])


def engagement(t: Tables, days: int) -> np.ndarray:
    """Engagement minutes per day."""
    imp = t["impressions"]
    return _per_day(imp["day"], days, imp["engagement"])


def _days_column(t: Tables, days: int, col: str) -> np.ndarray:
    out = np.full(days, np.nan)
    d = t["days"]
    ok = d["day"] < days
    out[d["day"][ok]] = d[col][ok]
    return out


def satisfaction(t: Tables, days: int) -> np.ndarray:
    """Mean hidden satisfaction of alive users at each day's end."""
    return _days_column(t, days, "satisfaction")


def _churn_day(t: Tables) -> tuple[np.ndarray, np.ndarray]:
    s = t["sessions"]
    churned = s["churned"]
    return s["user"][churned], np.floor(s["end"][churned]).astype(np.int64)


def retention(t: Tables, days: int) -> np.ndarray:
    """Share of the day-0 cohort not churned by each day's end."""
    cohort = t["users"]["arrival_day"] == 0.0
    users, day = _churn_day(t)
    in_cohort = cohort[users]
    lost = np.cumsum(_per_day(day[in_cohort], days))
    return 1.0 - lost / max(int(cohort.sum()), 1)


def dau(t: Tables, days: int) -> np.ndarray:
    """Distinct users with a request per day."""
    imp = t["impressions"]
    n = len(t["users"]["user"])
    key = np.unique(imp["day"].astype(np.int64) * n + imp["user"])
    return _per_day(key // n, days)


def _session_starts(t: Tables, days: int) -> np.ndarray:
    return _per_day(np.floor(t["sessions"]["start"]).astype(np.int64), days)


def sessions_per_user(t: Tables, days: int) -> np.ndarray:
    """Sessions started per alive user per day."""
    return _ratio(_session_starts(t, days), _days_column(t, days, "alive"))


def return_gap_days(t: Tables, days: int) -> np.ndarray:
    """Mean realised gap (days) before the sessions starting each day."""
    s = t["sessions"]
    order = np.lexsort((s["visit"], s["user"]))
    user, start, end = s["user"][order], s["start"][order], s["end"][order]
    same = user[1:] == user[:-1]
    gap = (start[1:] - end[:-1])[same]
    day = np.floor(start[1:][same]).astype(np.int64)
    return _ratio(_per_day(day, days, gap), _per_day(day, days))


def churn_rate(t: Tables, days: int) -> np.ndarray:
    """Users churning on day d over users at risk (arrived by its end, not churned before)."""
    _, day = _churn_day(t)
    churned = _per_day(day, days)
    arrived = np.searchsorted(np.sort(t["users"]["arrival_day"]), np.arange(1, days + 1))
    at_risk = arrived - np.concatenate([[0.0], np.cumsum(churned)[:-1]])
    return _ratio(churned, at_risk)


def coverage(t: Tables, days: int) -> np.ndarray:
    """Distinct items shown per day over items in the catalog."""
    imp = t["impressions"]
    m = int(imp["item"].max()) + 1 if len(imp["item"]) else 1
    key = np.unique(imp["day"].astype(np.int64) * m + imp["item"])
    return _ratio(_per_day(key // m, days), _days_column(t, days, "available_items"))


def gini_exposure(t: Tables, days: int) -> np.ndarray:
    """Gini of impression counts over the catalog, per day (unshown items count as zero)."""
    imp = t["impressions"]
    available = _days_column(t, days, "available_items")
    out = np.full(days, np.nan)
    if len(imp["day"]) == 0:
        return out
    m = int(imp["item"].max()) + 1
    key, counts = np.unique(imp["day"].astype(np.int64) * m + imp["item"], return_counts=True)
    day = key // m
    bounds = np.searchsorted(day, np.arange(days + 1))
    for d in range(days):
        c = counts[bounds[d] : bounds[d + 1]]
        if np.isnan(available[d]) or c.size == 0:
            continue
        zeros = max(int(available[d]) - c.size, 0)
        out[d] = gini(np.concatenate([np.zeros(zeros), c]))
    return out


#: Metric name -> function(tables, days) -> per-day values.
DAILY_METRICS: dict[str, Callable[[Tables, int], np.ndarray]] = {
    "ctr": ctr,
    "clicks": clicks,
    "impressions": impressions,
    "conversion_rate": conversion_rate,
    "revenue": revenue,
    "engagement": engagement,
    "satisfaction": satisfaction,
    "retention": retention,
    "dau": dau,
    "sessions_per_user": sessions_per_user,
    "return_gap_days": return_gap_days,
    "churn_rate": churn_rate,
    "coverage": coverage,
    "gini_exposure": gini_exposure,
}


def daily_metrics(t: Tables, days: int):  # noqa: ANN201 - pandas imported lazily
    """All daily metrics as a :class:`pandas.DataFrame` indexed by ``day``."""
    import pandas as pd

    frame = pd.DataFrame({name: fn(t, days) for name, fn in DAILY_METRICS.items()})
    frame.index.name = "day"
    return frame


def run_totals(t: Tables, days: int, early_days: int = 3) -> dict[str, float]:
    """Whole-run aggregates of one run.

    Args:
        t: The log's tables.
        days: Horizon.
        early_days: Days counted as "early" for the short-term CTR.

    Returns:
        ``clicks``, ``impressions``, ``ctr``, ``ctr_early`` (first ``early_days``),
        ``revenue``, ``engagement``, ``retention`` and ``satisfaction`` (at the last day),
        ``dau`` (mean), ``coverage`` (distinct items shown over the run / items).
    """
    c, n = clicks(t, days), impressions(t, days)
    e = min(early_days, days)
    imp = t["impressions"]
    m = len(np.unique(imp["item"])) if len(imp["item"]) else 0
    return {
        "clicks": float(c.sum()),
        "impressions": float(n.sum()),
        "ctr": float(c.sum() / max(n.sum(), 1.0)),
        "ctr_early": float(c[:e].sum() / max(n[:e].sum(), 1.0)),
        "revenue": float(revenue(t, days).sum()),
        "engagement": float(engagement(t, days).sum()),
        "retention": float(retention(t, days)[-1]),
        "satisfaction": float(satisfaction(t, days)[-1]),
        "dau": float(np.nanmean(dau(t, days))),
        "items_shown": float(m),
    }
