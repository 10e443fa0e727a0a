"""Activity and retention: clicks, revenue, satisfaction, churn, visits, per day.

Every function maps a log's tables and the horizon to one value per simulated day (day *d*
is ``[d, d + 1)``); a sampled log's exact counts (:class:`simrec.log.Counts`) feed the count
metrics, so they equal a full log's.
"""

from __future__ import annotations

import numpy as np

from simrec.metrics.common import (
    Tables,
    count_column,
    days_column,
    exact_counts,
    per_day,
    ratio,
    row_weight,
)

__all__ = [
    "churn_rate",
    "churn_time",
    "clicks",
    "clicks_per_cohort_user",
    "conversion_rate",
    "ctr",
    "dau",
    "engagement",
    "impressions",
    "retention",
    "return_gap_days",
    "revenue",
    "satisfaction_alive",
    "satisfaction_cohort",
    "sessions_per_user",
]


def clicks(t: Tables, days: int) -> np.ndarray:
    """Clicks per day."""
    if (c := exact_counts(t)) is not None:
        return count_column(c, "clicks", days)
    imp = t["impressions"]
    return per_day(imp["day"], days, imp["click"])


def impressions(t: Tables, days: int) -> np.ndarray:
    """Impressions per day."""
    if (c := exact_counts(t)) is not None:
        return count_column(c, "impressions", days)
    return per_day(t["impressions"]["day"], days)


def ctr(t: Tables, days: int) -> np.ndarray:
    """Clicks per impression per day."""
    return ratio(clicks(t, days), impressions(t, days))


def conversion_rate(t: Tables, days: int) -> np.ndarray:
    """Purchases per click per day."""
    if (c := exact_counts(t)) is not None:
        return ratio(count_column(c, "purchases", days), clicks(t, days))
    imp = t["impressions"]
    return ratio(per_day(imp["day"], days, imp["purchase"]), clicks(t, days))


def revenue(t: Tables, days: int) -> np.ndarray:
    """Revenue per day (currency)."""
    if (c := exact_counts(t)) is not None:
        return count_column(c, "revenue", days)
    imp = t["impressions"]
    return per_day(imp["day"], days, imp["revenue"])


def engagement(t: Tables, days: int) -> np.ndarray:
    """Engagement minutes per day."""
    if (c := exact_counts(t)) is not None:
        return count_column(c, "engagement", days)
    imp = t["impressions"]
    return per_day(imp["day"], days, imp["engagement"])


def satisfaction_alive(t: Tables, days: int) -> np.ndarray:
    """Mean hidden satisfaction of the users alive at each day's end (survivors only)."""
    return days_column(t, days, "satisfaction")


def satisfaction_cohort(t: Tables, days: int) -> np.ndarray:
    """Mean hidden satisfaction of the day-0 cohort at each day's end.

    Churned users count with the level they left with.
    """
    return days_column(t, days, "satisfaction_cohort")


def clicks_per_cohort_user(t: Tables, days: int) -> np.ndarray:
    """Clicks of the day-0 cohort on each day over the cohort's size.

    Churned users count as zero: the intention-to-treat counterpart of the survivors' CTR.
    """
    cohort = np.asarray(t["users"]["arrival_day"]) == 0.0
    imp = t["impressions"]
    mine = cohort[imp["user"]] & np.asarray(imp["click"], dtype=bool)
    return per_day(imp["day"][mine], days) * row_weight(t) / max(int(cohort.sum()), 1)


def _churn_day(t: Tables) -> tuple[np.ndarray, np.ndarray]:
    s = t["sessions"]
    churned = s["churned"]
    return s["user"][churned], np.floor(s["end"][churned]).astype(np.int64)


def retention(t: Tables, days: int) -> np.ndarray:
    """Share of the day-0 cohort not churned by each day's end."""
    cohort = t["users"]["arrival_day"] == 0.0
    users, day = _churn_day(t)
    in_cohort = cohort[users]
    lost = np.cumsum(per_day(day[in_cohort], days))
    return 1.0 - lost / max(int(cohort.sum()), 1)


def dau(t: Tables, days: int) -> np.ndarray:
    """Distinct users with a request per day."""
    if (c := exact_counts(t)) is not None:
        return count_column(c, "dau", days)
    imp = t["impressions"]
    n = len(t["users"]["user"])
    key = np.unique(imp["day"].astype(np.int64) * n + imp["user"])
    return per_day(key // n, days)


def _session_starts(t: Tables, days: int) -> np.ndarray:
    return per_day(np.floor(t["sessions"]["start"]).astype(np.int64), days)


def sessions_per_user(t: Tables, days: int) -> np.ndarray:
    """Sessions started per alive user per day."""
    return ratio(_session_starts(t, days), days_column(t, days, "alive"))


def return_gap_days(t: Tables, days: int) -> np.ndarray:
    """Mean realised gap (days) before the sessions starting each day."""
    s = t["sessions"]
    order = np.lexsort((s["visit"], s["user"]))
    user, start, end = s["user"][order], s["start"][order], s["end"][order]
    same = user[1:] == user[:-1]
    gap = (start[1:] - end[:-1])[same]
    day = np.floor(start[1:][same]).astype(np.int64)
    return ratio(per_day(day, days, gap), per_day(day, days))


def churn_rate(t: Tables, days: int) -> np.ndarray:
    """Users churning on day d over users at risk (arrived by its end, not churned before)."""
    _, day = _churn_day(t)
    churned = per_day(day, days)
    arrived = np.searchsorted(np.sort(t["users"]["arrival_day"]), np.arange(1, days + 1))
    at_risk = arrived - np.concatenate([[0.0], np.cumsum(churned)[:-1]])
    return ratio(churned, at_risk)


def churn_time(t: Tables) -> np.ndarray:
    """Each user's churn time in days (inf: did not churn within the log)."""
    out = np.full(len(t["users"]["arrival_day"]), np.inf)
    s = t["sessions"]
    out[s["user"][s["churned"]]] = s["end"][s["churned"]]
    return out
