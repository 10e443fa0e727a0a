r"""One row per user: lifetime, visits, returns and value over the run.

:func:`user_table` turns the log of a run into the per-user table every survival and value
measure starts from (written as ``users.parquet`` in each run folder). Columns:

==================== ==========================================================================
``user``             user id (the same user under every agent of a seed)
``arrival_day``      arrival time (days; 0 for the day-0 cohort)
``cohort``           arrived at day 0
``churned``          churned before the horizon (the event of the survival analysis)
``lifetime_days``    days from arrival to churn, or to the horizon when the user did not churn
                     (censored)
``sessions``         sessions started
``active_days``      distinct days with a session
``impressions``, ``clicks``, ``revenue``, ``engagement``
                     totals over the user's life in the run (exact, also for a sampled log)
``return_d1``, ``return_d7``, ``return_d30``
                     1 when the user has a session on day N after the day of their first
                     session (classic day-N retention, as a platform measures it from its
                     logs), else 0; NaN when that day is past the horizon (not observable)
``first_end``        end of the user's first session (days; NaN without a session)
``gap_days``         days from the end of the first session to the start of the second
``gap_observed``     the second session happened; otherwise ``gap_days`` is censored at the
                     horizon (a churned user never returns, which the platform sees only as
                     a user not yet back)
``session_minutes``  mean session length (minutes) of the user's finished sessions
==================== ==========================================================================

:func:`user_totals` summarises one run's table into whole-run totals: lifetime value
(revenue and engagement per day-0 user over the horizon: mean, median, p90) and the day-N
return rates.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["RETURN_DAYS", "user_table", "user_totals"]

Tables = Mapping[str, Mapping[str, np.ndarray]]

#: Day-N return rates reported (D1, D7, D30).
RETURN_DAYS = (1, 7, 30)


def _per_user(t: Tables, n: int, col: str) -> np.ndarray:
    counts = t.get("counts")
    sampled = t.get("log") is not None and float(np.asarray(t["log"]["sample"])[0]) < 1.0
    if sampled and counts is not None and f"user_{col}" in counts:
        return np.asarray(counts[f"user_{col}"], dtype=np.float64)[:n]
    imp = t["impressions"]
    if col == "impressions":
        return np.bincount(imp["user"], minlength=n).astype(np.float64)[:n]
    source = "click" if col == "clicks" else col
    w = np.asarray(imp[source], dtype=np.float64)
    return np.bincount(imp["user"], weights=w, minlength=n)[:n]


def user_table(t: Tables, days: int) -> dict[str, np.ndarray]:
    """The per-user table of one run (see the module docstring)."""
    arrival = np.asarray(t["users"]["arrival_day"], dtype=np.float64)
    n = len(arrival)
    s = t["sessions"]
    user = np.asarray(s["user"], dtype=np.int64)
    start, end = np.asarray(s["start"], np.float64), np.asarray(s["end"], np.float64)
    churned = np.zeros(n, dtype=bool)
    churn_at = np.full(n, float(days))
    churned[user[s["churned"]]] = True
    churn_at[user[s["churned"]]] = np.minimum(end[s["churned"]], days)
    sessions = np.bincount(user, minlength=n).astype(np.float64)
    day = np.floor(start).astype(np.int64)
    active = np.unique(user * (days + 1) + np.minimum(day, days))
    active_days = np.bincount(active // (days + 1), minlength=n).astype(np.float64)
    out: dict[str, np.ndarray] = {
        "user": np.arange(n, dtype=np.int64),
        "arrival_day": arrival,
        "cohort": arrival == 0.0,
        "churned": churned,
        "lifetime_days": np.maximum(churn_at - np.minimum(arrival, days), 0.0),
        "sessions": sessions,
        "active_days": active_days,
    }
    for col in ("impressions", "clicks", "revenue", "engagement"):
        out[col] = _per_user(t, n, col)
    # Sessions in order per user: the first day, the day-N returns, the first gap.
    order = np.lexsort((start, user))
    user, start, end, day = user[order], start[order], end[order], day[order]
    first = np.searchsorted(user, np.arange(n))
    has = first < len(user)
    has[has] = user[first[has]] == np.arange(n)[has]
    first_day = np.full(n, -1, dtype=np.int64)
    first_day[has] = day[first[has]]
    keys = np.unique(user * (days + 1) + np.minimum(day, days))
    for N in RETURN_DAYS:
        target = first_day + N
        seen = np.isin(np.arange(n) * (days + 1) + target, keys).astype(np.float64)
        seen[~has | (target >= days)] = np.nan
        out[f"return_d{N}"] = seen
    second = first + 1
    two = has & (second < len(user))
    two[two] = user[np.minimum(second[two], len(user) - 1)] == np.arange(n)[two]
    gap = np.full(n, np.nan)
    first_end = (
        np.where(has, end[np.minimum(first, len(user) - 1)], np.nan)
        if len(user)
        else np.full(n, np.nan)  # no session at all (a tiny world, a short horizon)
    )
    gap[two] = start[second[two]] - first_end[two]
    gap[has & ~two] = np.maximum(days - first_end[has & ~two], 0.0)
    out["first_end"] = first_end
    out["gap_days"] = gap
    out["gap_observed"] = two
    minutes = (end - start) * 1440.0
    finished = end < days
    total = np.bincount(user[finished], weights=minutes[finished], minlength=n)
    count = np.bincount(user[finished], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["session_minutes"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def user_totals(users: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Whole-run totals of one run's user table.

    ``ltv_revenue_*`` and ``ltv_engagement_*`` (``mean``, ``median``, ``p90``): revenue and
    engagement minutes per day-0 user over the horizon (churned users count with what they
    brought before leaving); ``return_d1``, ``return_d7``, ``return_d30``: share of the users
    whose day N is observable who had a session on it (all arrivals, not only day 0).
    """
    cohort = np.asarray(users["cohort"], dtype=bool)
    out: dict[str, float] = {}
    for col in ("revenue", "engagement"):
        x = np.asarray(users[col], dtype=np.float64)[cohort]
        for name, value in (
            ("mean", x.mean() if x.size else np.nan),
            ("median", np.median(x) if x.size else np.nan),
            ("p90", np.quantile(x, 0.9) if x.size else np.nan),
        ):
            out[f"ltv_{col}_{name}"] = float(value)
    for N in RETURN_DAYS:
        r = np.asarray(users[f"return_d{N}"], dtype=np.float64)
        r = r[np.isfinite(r)]
        out[f"return_d{N}"] = float(r.mean()) if r.size else float("nan")
    return out
