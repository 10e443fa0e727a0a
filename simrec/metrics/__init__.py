r"""Metrics: pure functions of the event log.

Each daily metric takes the log's tables (see :mod:`simrec.log`) and the horizon and returns
one value per simulated day. Every agent of a world and seed is measured against the same
references, fixed before the first request (:mod:`simrec.metrics.reference`): the reference
popularity :math:`r_i` of every item (its share of free choices from the whole catalog at
day 0), its head (the ``HEAD_SHARE`` of items with the highest :math:`r_i`) and Chaney's user
pairs (sampled day-0 users, each with the day-0 user most alike in initial interest).
Definitions (day *d* is the interval ``[d, d + 1)``):

========================== ====================================================================
``clicks``                 clicked impressions on day d
``ctr``                    clicks / impressions on day d (of the users still there)
``clicks_per_cohort_user`` clicks of the day-0 cohort on day d / the cohort's size (churned
                           users count 0)
``conversion_rate``        purchases / clicks on day d
``revenue``                platform revenue on day d (currency)
``engagement``             minutes spent on clicked items on day d
``satisfaction_alive``     mean hidden satisfaction of users alive at the end of day d
``satisfaction_cohort``    mean hidden satisfaction of the day-0 cohort at the end of day d,
                           churned users at the level they left with
``retention``              share of the day-0 cohort not churned by the end of day d
``dau``                    distinct users with at least one request on day d
``sessions_per_user``      sessions started on day d / users alive at the end of day d
``return_gap_days``        mean days between a session's start and the end of the user's
                           previous session, over sessions starting on day d (conditional on
                           a return)
``churn_rate``             users churning on day d / users at risk (arrived by its end, alive
                           at its start)
``coverage``               distinct items shown on day d / items in the catalog on day d
``gini_exposure``          Gini coefficient of impressions over the items in the catalog
``long_tail_share``        share of day d's impressions on items outside the reference head
``intra_list_diversity``   mean over day d's slates of the mean pairwise topic distance
                           :math:`1 - \cos(z_i, z_j)` within the slate (hidden topics)
``novelty``                mean self-information :math:`-\log_2 r_i` of day d's impressions
                           (Zhou et al. 2010)
``calibration``            Steck's (2018) :math:`C_{KL}` of the genres a user clicked before d
                           against the genres shown on d, mean over users served with a history
``provider_gini``          Gini of impressions over the creators with an item in the catalog
``provider_zero_share``    share of those creators without an impression on day d
``homogenization``         mean Jaccard index of the items consumed by d over Chaney's pairs,
                           both users alive at the end of d and with consumption (Chaney,
                           Stewart and Engelhardt 2018; relative to the ideal recommender:
                           :mod:`simrec.metrics.paired`)
``homogenization_matched`` the same over each user's ``HOMOGENIZATION_VOLUME`` most recent
                           distinct items (pairs where both have as many)
``homogenization_per_click`` ``homogenization`` / mean cumulative clicks of its users
``interest_drift``         mean :math:`1 - \langle u_j(t), u_j(0)\rangle` of users alive at the
                           end of day d (hidden interests)
``interest_drift_per_click`` ``interest_drift`` / mean cumulative clicks of the alive users
``cold_item_ctr``          CTR on day d of impressions of items released during the run and at
                           most ``COLD_DAYS`` days old
``warm_item_ctr``          CTR on day d of impressions of all other items (initial catalog,
                           and released items past their first ``COLD_DAYS`` days)
``new_user_ctr``           CTR on day d of impressions served to users who arrived during the
                           run (after day 0), in their first ``COLD_DAYS`` days since arrival
========================== ====================================================================

Cost metrics (``ms_per_request``, ``fit_seconds``, ``params``, ``flops_per_request``) are
per-run scalars of the agent's cost report, added to the run totals by the runner. The
per-user table (lifetime, returns, value) is :mod:`simrec.metrics.users`; survival analysis
:mod:`simrec.metrics.survival`; researchers' own metrics :mod:`simrec.metrics.custom`.

Sampled logs: with ``simulation.log_impressions < 1`` the log keeps only a share of the
requests' slates, and the exact per-day, per-(day, item) and per-user counts the engine keeps
(:class:`simrec.log.Counts`) feed ``clicks``, ``impressions``, ``ctr``, ``conversion_rate``,
``revenue``, ``engagement``, ``dau``, ``coverage``, ``gini_exposure``, ``long_tail_share``,
``novelty``, ``provider_gini``, ``provider_zero_share``, ``cold_item_ctr``,
``warm_item_ctr`` and the per-user
table -- identical to a full log of the same run. The day-table and session metrics are exact
anyway; ``intra_list_diversity``, ``calibration``, the homogenization metrics,
``clicks_per_cohort_user``, ``interest_drift_per_click`` and ``new_user_ctr`` are estimated
from the sampled slates.

>>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
0.0
>>> round(gini(np.array([0.0, 0.0, 0.0, 4.0])), 3)
0.75
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["COLD_DAYS", "DAILY_METRICS", "HEAD_SHARE", "daily_metrics", "gini", "run_totals"]

Tables = Mapping[str, Mapping[str, np.ndarray]]


def _per_day(day: np.ndarray, days: int, weights: np.ndarray | None = None) -> np.ndarray:
    ok = (day >= 0) & (day < days)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[ok]
    return np.bincount(day[ok], weights=w, minlength=days)[:days].astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _exact(t: Tables) -> Mapping[str, np.ndarray] | None:
    """The exact counts when the impression log is sampled (else ``None``: use the rows)."""
    log, counts = t.get("log"), t.get("counts")
    if log is None or counts is None or float(np.asarray(log["sample"])[0]) >= 1.0:
        return None
    return counts


def _count(c: Mapping[str, np.ndarray], col: str, days: int) -> np.ndarray:
    out = np.zeros(days)
    x = np.asarray(c[col], dtype=np.float64)[:days]
    out[: len(x)] = x
    return out


def _item_rows(c: Mapping[str, np.ndarray], col: str, days: int) -> np.ndarray:
    """``(days, M)`` per-item counts (zero rows for days without impressions)."""
    x = np.asarray(c[col])
    out = np.zeros((days, x.shape[1] if x.ndim == 2 else 0))
    out[: min(days, len(x))] = x[:days]
    return out


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
    if (c := _exact(t)) is not None:
        return _count(c, "clicks", days)
    imp = t["impressions"]
    return _per_day(imp["day"], days, imp["click"])


def impressions(t: Tables, days: int) -> np.ndarray:
    """Impressions per day."""
    if (c := _exact(t)) is not None:
        return _count(c, "impressions", days)
    return _per_day(t["impressions"]["day"], days)


def ctr(t: Tables, days: int) -> np.ndarray:
    """Clicks per impression per day."""
    return _ratio(clicks(t, days), impressions(t, days))


def conversion_rate(t: Tables, days: int) -> np.ndarray:
    """Purchases per click per day."""
    if (c := _exact(t)) is not None:
        return _ratio(_count(c, "purchases", days), clicks(t, days))
    imp = t["impressions"]
    return _ratio(_per_day(imp["day"], days, imp["purchase"]), clicks(t, days))


def revenue(t: Tables, days: int) -> np.ndarray:
    """Revenue per day (currency)."""
    if (c := _exact(t)) is not None:
        return _count(c, "revenue", days)
    imp = t["impressions"]
    return _per_day(imp["day"], days, imp["revenue"])


def engagement(t: Tables, days: int) -> np.ndarray:
    """Engagement minutes per day."""
    if (c := _exact(t)) is not None:
        return _count(c, "engagement", days)
    imp = t["impressions"]
    return _per_day(imp["day"], days, imp["engagement"])


def _days_column(t: Tables, days: int, col: str) -> np.ndarray:
    out = np.full(days, np.nan)
    d = t["days"]
    ok = d["day"] < days
    out[d["day"][ok]] = d[col][ok]
    return out


def satisfaction_alive(t: Tables, days: int) -> np.ndarray:
    """Mean hidden satisfaction of the users alive at each day's end (survivors only)."""
    return _days_column(t, days, "satisfaction")


def satisfaction_cohort(t: Tables, days: int) -> np.ndarray:
    """Mean hidden satisfaction of the day-0 cohort at each day's end.

    Churned users count with the level they left with.
    """
    return _days_column(t, days, "satisfaction_cohort")


def _scaled(t: Tables) -> float:
    """What one logged row stands for: 1, or 1 / the sampling share of a sampled log."""
    log = t.get("log")
    return 1.0 if log is None else 1.0 / float(np.asarray(log["sample"])[0])


def clicks_per_cohort_user(t: Tables, days: int) -> np.ndarray:
    """Clicks of the day-0 cohort on each day over the cohort's size.

    Churned users count as zero: the intention-to-treat counterpart of the survivors' CTR.
    """
    cohort = np.asarray(t["users"]["arrival_day"]) == 0.0
    imp = t["impressions"]
    mine = cohort[imp["user"]] & np.asarray(imp["click"], dtype=bool)
    return _per_day(imp["day"][mine], days) * _scaled(t) / max(int(cohort.sum()), 1)


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
    if (c := _exact(t)) is not None:
        return _count(c, "dau", days)
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
    if (c := _exact(t)) is not None:
        shown = (_item_rows(c, "item_shown", days) > 0).sum(axis=1).astype(np.float64)
        return _ratio(shown, _days_column(t, days, "available_items"))
    imp = t["impressions"]
    m = int(imp["item"].max()) + 1 if len(imp["item"]) else 1
    key = np.unique(imp["day"].astype(np.int64) * m + imp["item"])
    return _ratio(_per_day(key // m, days), _days_column(t, days, "available_items"))


def gini_exposure(t: Tables, days: int) -> np.ndarray:
    """Gini of impression counts over the catalog, per day (unshown items count as zero)."""
    imp = t["impressions"]
    available = _days_column(t, days, "available_items")
    out = np.full(days, np.nan)
    if (c := _exact(t)) is not None:
        rows = _item_rows(c, "item_shown", days)
        for d in range(days):
            counts = rows[d][rows[d] > 0]
            if np.isnan(available[d]) or counts.size == 0:
                continue
            zeros = max(int(available[d]) - counts.size, 0)
            out[d] = gini(np.concatenate([np.zeros(zeros), counts]))
        return out
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


#: Share of items (by clicks over the run) that form the head; the rest is the long tail.
HEAD_SHARE = 0.2
#: Days after its release during which an item counts as cold.
COLD_DAYS = 3
#: Distinct items per user in the volume-matched homogenization.
HOMOGENIZATION_VOLUME = 10


def _reference(t: Tables) -> np.ndarray:
    """The reference popularity of every item (see :mod:`simrec.metrics.reference`)."""
    ref = t["items"].get("reference")
    if ref is None:
        raise KeyError(
            "items.reference: the reference popularity is missing from the log (runs made by "
            "Simulation.run store it; a hand-built log must give it)"
        )
    return np.asarray(ref, dtype=np.float64)


def head_items(reference: np.ndarray) -> np.ndarray:
    """The head: the ``HEAD_SHARE`` of items of highest reference popularity (ties by id)."""
    n_head = max(int(np.ceil(HEAD_SHARE * len(reference))), 1)
    head = np.zeros(len(reference), dtype=bool)
    head[np.argsort(-reference, kind="stable")[:n_head]] = True
    return head


def long_tail_share(t: Tables, days: int) -> np.ndarray:
    """Share of impressions on items outside the head of the reference popularity."""
    tail = ~head_items(_reference(t))
    if (c := _exact(t)) is not None:
        shown = _item_rows(c, "item_shown", days)
        return _ratio(shown[:, tail[: shown.shape[1]]].sum(axis=1), impressions(t, days))
    imp = t["impressions"]
    return _ratio(_per_day(imp["day"], days, tail[imp["item"]]), impressions(t, days))


def _slates(t: Tables) -> tuple[np.ndarray, np.ndarray]:
    """Impressions regrouped as slates: (item ids (R, K), day (R,))."""
    imp = t["impressions"]
    pos = imp["position"]
    K = int(pos.max()) + 1 if len(pos) else 1
    R = len(pos) // K
    return imp["item"][: R * K].reshape(R, K), imp["day"][: R * K : K]


def intra_list_diversity(t: Tables, days: int) -> np.ndarray:
    """Mean pairwise topic distance within slates, per day."""
    items, day = _slates(t)
    K = items.shape[1]
    if K < 2 or len(day) == 0 or "topic" not in t["items"]:
        return np.full(days, np.nan)
    topic = np.asarray(t["items"]["topic"], dtype=np.float64)
    ild = np.empty(len(day))
    for s in range(0, len(day), 65536):
        z = topic[items[s : s + 65536]].sum(axis=1)
        # For unit vectors: sum_{i<j} z_i.z_j = (|sum z|^2 - K) / 2.
        mean_cos = ((z * z).sum(axis=1) - K) / (K * (K - 1))
        ild[s : s + 65536] = 1.0 - mean_cos
    return _ratio(_per_day(day, days, ild), _per_day(day, days))


def novelty(t: Tables, days: int) -> np.ndarray:
    r"""Mean self-information :math:`-\log_2 r_i` of the day's impressions (reference *r*)."""
    info = -np.log2(np.maximum(_reference(t), np.finfo(np.float64).tiny))
    if (c := _exact(t)) is not None:
        shown = _item_rows(c, "item_shown", days)
        return _ratio(shown @ info[: shown.shape[1]], impressions(t, days))
    imp = t["impressions"]
    return _ratio(_per_day(imp["day"], days, info[imp["item"]]), impressions(t, days))


def churn_time(t: Tables) -> np.ndarray:
    """Each user's churn time in days (inf: did not churn within the log)."""
    out = np.full(len(t["users"]["arrival_day"]), np.inf)
    s = t["sessions"]
    out[s["user"][s["churned"]]] = s["end"][s["churned"]]
    return out


def _consumption(t: Tables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct clicked items per user in order of first click.

    Returns ``(items, first_day, offsets)``: user *j*'s items are
    ``items[offsets[j]:offsets[j + 1]]``, ordered by their first click (ties by item id),
    with the day of that first click.
    """
    imp = t["impressions"]
    n = len(t["users"]["arrival_day"])
    clicked = np.asarray(imp["click"], dtype=bool)
    u = np.asarray(imp["user"], dtype=np.int64)[clicked]
    i = np.asarray(imp["item"], dtype=np.int64)[clicked]
    d = np.asarray(imp["day"], dtype=np.int64)[clicked]
    time = np.asarray(imp["time"], dtype=np.float64)[clicked]
    m = int(i.max()) + 1 if len(i) else 1
    key = u * m + i
    order = np.lexsort((time, key))  # by (user, item), earliest click first
    key, d, time = key[order], d[order], time[order]
    first = np.concatenate([[True], key[1:] != key[:-1]]) if len(key) else np.zeros(0, bool)
    key, d, time = key[first], d[first], time[first]
    owner = key // m
    order = np.lexsort((key % m, time, owner))  # each user's items by first click
    key, d, owner = key[order], d[order], owner[order]
    return key % m, d, np.searchsorted(owner, np.arange(n + 1))


#: The last log :func:`_pair_curves` measured (its click column, horizon and curves): the
#: three homogenization metrics of one log share one pass.
_PAIR_CACHE: list = []


def _pair_curves(t: Tables, days: int) -> dict[str, np.ndarray]:
    """Homogenization over the log's user pairs: plain, volume-matched and per click."""
    key = (t["impressions"]["click"], t["pairs"]["a"], t["pairs"]["b"], days)
    if _PAIR_CACHE and all(x is y for x, y in zip(_PAIR_CACHE[0][:3], key, strict=False)):
        if _PAIR_CACHE[0][3] == days:
            return _PAIR_CACHE[1]
    out = _pair_curves_uncached(t, days)
    _PAIR_CACHE[:] = [key, out]
    return out


def _pair_curves_uncached(t: Tables, days: int) -> dict[str, np.ndarray]:
    a, b = (np.asarray(t["pairs"][k], dtype=np.int64) for k in ("a", "b"))
    nan = np.full(days, np.nan)
    if len(a) == 0 or days == 0:
        return {"homogenization": nan, "homogenization_matched": nan, "per_click": nan}
    items, first_day, offsets = _consumption(t)
    alive_until = churn_time(t)
    day_end = np.arange(1, days + 1, dtype=np.float64)
    imp = t["impressions"]
    clicked = np.asarray(imp["click"], dtype=bool)
    users_of_pairs = np.unique(np.concatenate([a, b]))
    # Cumulative clicks (not distinct) of the paired users by the end of each day.
    cu = np.asarray(imp["user"], dtype=np.int64)[clicked]
    cd = np.asarray(imp["day"], dtype=np.int64)[clicked]
    keep = np.isin(cu, users_of_pairs) & (cd < days)
    row = np.searchsorted(users_of_pairs, cu[keep])
    per_day = np.zeros((len(users_of_pairs), days))
    np.add.at(per_day, (row, cd[keep]), 1.0)
    cum_clicks = np.cumsum(per_day, axis=1)
    V = HOMOGENIZATION_VOLUME
    jac = np.zeros((len(a), days))
    jac_v = np.zeros((len(a), days))
    counted = np.zeros((len(a), days), dtype=bool)
    counted_v = np.zeros((len(a), days), dtype=bool)
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        ix, iy = items[offsets[x] : offsets[x + 1]], items[offsets[y] : offsets[y + 1]]
        dx, dy = first_day[offsets[x] : offsets[x + 1]], first_day[offsets[y] : offsets[y + 1]]
        nx = np.searchsorted(dx, np.arange(days), side="right")  # distinct items by day d
        ny = np.searchsorted(dy, np.arange(days), side="right")
        alive = (alive_until[x] >= day_end) & (alive_until[y] >= day_end)
        counted[k] = alive & (nx > 0) & (ny > 0)
        if len(ix) and len(iy):
            _, cx, cy = np.intersect1d(ix, iy, assume_unique=True, return_indices=True)
            both = np.maximum(dx[cx], dy[cy])
            inter = np.searchsorted(np.sort(both), np.arange(days), side="right")
            union = nx + ny - inter
            jac[k] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        counted_v[k] = alive & (nx >= V) & (ny >= V)
        if counted_v[k].any():
            d_on = np.flatnonzero(counted_v[k])
            wx = ix[nx[d_on, None] - V + np.arange(V)]  # the V most recent distinct items
            wy = iy[ny[d_on, None] - V + np.arange(V)]
            inter_v = (wx[:, :, None] == wy[:, None, :]).sum(axis=(1, 2))
            jac_v[k, d_on] = inter_v / (2 * V - inter_v)
    n = counted.sum(axis=0)
    n_v = counted_v.sum(axis=0)
    h = _ratio((jac * counted).sum(axis=0), n.astype(np.float64))
    h_v = _ratio((jac_v * counted_v).sum(axis=0), n_v.astype(np.float64))
    ra, rb = np.searchsorted(users_of_pairs, a), np.searchsorted(users_of_pairs, b)
    volume = (cum_clicks[ra] + cum_clicks[rb]) / 2.0
    mean_volume = _ratio((volume * counted).sum(axis=0), n.astype(np.float64))
    return {"homogenization": h, "homogenization_matched": h_v, "per_click": h / mean_volume}


def homogenization(t: Tables, days: int) -> np.ndarray:
    """Mean Jaccard of consumed sets over Chaney's pairs of active, consuming users."""
    return _pair_curves(t, days)["homogenization"]


def homogenization_matched(t: Tables, days: int) -> np.ndarray:
    """Mean Jaccard of each paired user's ``HOMOGENIZATION_VOLUME`` most recent items."""
    return _pair_curves(t, days)["homogenization_matched"]


def homogenization_per_click(t: Tables, days: int) -> np.ndarray:
    """Homogenization over the mean cumulative clicks of the users it averages."""
    return _pair_curves(t, days)["per_click"]


def interest_drift(t: Tables, days: int) -> np.ndarray:
    """Mean drift of alive users' hidden interests from their start, at each day's end."""
    return _days_column(t, days, "interest_drift")


def interest_drift_per_click(t: Tables, days: int) -> np.ndarray:
    """Interest drift over the mean cumulative clicks of the users alive at each day's end."""
    imp = t["impressions"]
    clicked = np.asarray(imp["click"], dtype=bool)
    total = np.cumsum(_per_day(imp["day"][clicked], days)) * _scaled(t)
    ct = churn_time(t)
    user_clicks = np.bincount(imp["user"][clicked], minlength=len(ct)) * _scaled(t)
    gone = np.isfinite(ct)
    # Churned users click no more: subtract their clicks from the day they churned on.
    left = np.cumsum(_per_day(np.floor(ct[gone]).astype(np.int64), days, user_clicks[gone]))
    per_user = _ratio(total - left, _days_column(t, days, "alive"))
    return _ratio(interest_drift(t, days), per_user)


#: Steck's mixing weight: the recommendations' genre mix is blended with the history's.
CALIBRATION_ALPHA = 0.01


def calibration(t: Tables, days: int) -> np.ndarray:
    r"""Steck's miscalibration :math:`C_{KL}`, mean over the users served each day.

    For user *u* on day *d*: *p* is the genre distribution of the items *u* clicked before
    day *d*, *q* that of the items *u* was shown on day *d* (each impression weighs one),
    :math:`C_{KL} = \sum_g p(g) \log(p(g) / \tilde q(g))` with
    :math:`\tilde q = (1 - \alpha) q + \alpha p`, :math:`\alpha` = ``CALIBRATION_ALPHA``.
    Users without clicks before *d* have no history and are left out. 0: the slates mirror
    the user's history; larger: they drift from it.
    """
    imp = t["impressions"]
    genre_of = np.asarray(t["items"]["genre"], dtype=np.int64)
    out = np.full(days, np.nan)
    if len(imp["item"]) == 0:
        return out
    G = int(genre_of.max()) + 1
    n = len(t["users"]["arrival_day"])
    order = np.argsort(imp["day"], kind="stable")
    day = np.asarray(imp["day"])[order]
    user = np.asarray(imp["user"], dtype=np.int64)[order]
    genre = genre_of[np.asarray(imp["item"])[order]]
    click = np.asarray(imp["click"], dtype=bool)[order]
    bounds = np.searchsorted(day, np.arange(days + 1))
    history = np.zeros((n, G), dtype=np.float32)  # counts; 4 bytes x N x G
    a = CALIBRATION_ALPHA
    for d in range(days):
        lo, hi = bounds[d], bounds[d + 1]
        if hi > lo:
            served, row = np.unique(user[lo:hi], return_inverse=True)
            q = np.bincount(row * G + genre[lo:hi], minlength=len(served) * G)
            q = q.reshape(len(served), G).astype(np.float64)
            p = history[served].astype(np.float64)
            has = p.sum(axis=1) > 0
            if has.any():
                p = p[has] / p[has].sum(axis=1, keepdims=True)
                q = q[has] / q[has].sum(axis=1, keepdims=True)
                mix = (1.0 - a) * q + a * p
                with np.errstate(divide="ignore", invalid="ignore"):
                    terms = np.where(p > 0, p * np.log(p / mix), 0.0)
                out[d] = float(terms.sum(axis=1).mean())
            c = click[lo:hi]
            np.add.at(history, (user[lo:hi][c], genre[lo:hi][c]), 1.0)
    return out


def _active_creators(t: Tables, days: int) -> tuple[np.ndarray, np.ndarray]:
    """``(creator of each item, (days, C) mask of creators with an item in the catalog)``."""
    items = t["items"]
    creator = np.asarray(items["creator"], dtype=np.int64)
    release = np.asarray(items["release_day"], dtype=np.float64)
    expire = np.asarray(items.get("expire_day", np.full(len(release), np.inf)), np.float64)
    C = int(creator.max()) + 1 if len(creator) else 0
    active = np.zeros((days, C), dtype=bool)
    for d in range(days):
        on = (release <= d) & (d < expire)
        active[d, creator[on]] = True
    return creator, active


def _creator_exposure(t: Tables, days: int, creator: np.ndarray, C: int) -> np.ndarray:
    """``(days, C)`` impressions of each creator's items per day."""
    if (c := _exact(t)) is not None:
        shown = _item_rows(c, "item_shown", days)
        out = np.zeros((days, C))
        for d in range(days):
            out[d] = np.bincount(creator[: shown.shape[1]], weights=shown[d], minlength=C)
        return out
    imp = t["impressions"]
    ok = imp["day"] < days
    key = np.asarray(imp["day"][ok], np.int64) * C + creator[imp["item"][ok]]
    return np.bincount(key, minlength=days * C).reshape(days, C).astype(np.float64)


def _provider_curves(t: Tables, days: int) -> tuple[np.ndarray, np.ndarray]:
    creator, active = _active_creators(t, days)
    exposure = _creator_exposure(t, days, creator, active.shape[1])
    g, z = np.full(days, np.nan), np.full(days, np.nan)
    for d in range(days):
        e = exposure[d][active[d]]
        if e.size and e.sum() > 0:
            g[d], z[d] = gini(e), float((e == 0).mean())
    return g, z


def provider_gini(t: Tables, days: int) -> np.ndarray:
    """Gini of impressions over the creators with an item in the catalog that day."""
    return _provider_curves(t, days)[0]


def provider_zero_share(t: Tables, days: int) -> np.ndarray:
    """Share of the creators with an item in the catalog that day who got no impression."""
    return _provider_curves(t, days)[1]


def _cold(t: Tables) -> np.ndarray:
    """Impressions of items released during the run, in their first COLD_DAYS."""
    imp = t["impressions"]
    release = t["items"].get("release_day")
    if release is None:
        return np.zeros(len(imp["item"]), dtype=bool)
    rel = np.asarray(release)[imp["item"]]
    return (rel > 0) & (imp["time"] - rel < COLD_DAYS)


def _cold_day_items(t: Tables, days: int, m: int) -> np.ndarray:
    """``(days, M)``: item released during the run and fewer than COLD_DAYS days old on day d.

    Release days are whole days, so an item is cold on all of day d exactly when
    ``0 <= d - release < COLD_DAYS``.
    """
    rel = np.asarray(t["items"]["release_day"], dtype=np.float64)[:m]
    age = np.arange(days)[:, None] - rel[None, :]
    return (rel[None, :] > 0) & (age >= 0) & (age < COLD_DAYS)


def _item_age_ctr(t: Tables, days: int, cold: bool) -> np.ndarray:
    """CTR of impressions of cold items (``cold``) or of all the others."""
    if (c := _exact(t)) is not None and t["items"].get("release_day") is not None:
        mask = _cold_day_items(t, days, _item_rows(c, "item_shown", days).shape[1])
        mask = mask if cold else ~mask
        shown = (_item_rows(c, "item_shown", days) * mask).sum(axis=1)
        return _ratio((_item_rows(c, "item_clicks", days) * mask).sum(axis=1), shown)
    imp, keep = t["impressions"], _cold(t)
    keep = keep if cold else ~keep
    shown = _per_day(imp["day"][keep], days)
    return _ratio(_per_day(imp["day"][keep], days, imp["click"][keep]), shown)


def cold_item_ctr(t: Tables, days: int) -> np.ndarray:
    """CTR of impressions of items released during the run, in their first COLD_DAYS."""
    return _item_age_ctr(t, days, cold=True)


def warm_item_ctr(t: Tables, days: int) -> np.ndarray:
    """CTR of impressions of every item that is not cold.

    The initial catalog, and released items from their COLD_DAYS-th day on: the complement
    of :func:`cold_item_ctr`.
    """
    return _item_age_ctr(t, days, cold=False)


def _new_user(t: Tables) -> np.ndarray:
    """Impressions served to users who arrived during the run, in their first COLD_DAYS."""
    imp = t["impressions"]
    arrival = np.asarray(t["users"]["arrival_day"])[imp["user"]]
    return (arrival > 0) & (imp["time"] - arrival < COLD_DAYS)


def new_user_ctr(t: Tables, days: int) -> np.ndarray:
    """CTR of impressions served to users who arrived during the run, in their first days."""
    imp, new = t["impressions"], _new_user(t)
    shown = _per_day(imp["day"][new], days)
    return _ratio(_per_day(imp["day"][new], days, imp["click"][new]), shown)


#: Metric name -> function(tables, days) -> per-day values.
DAILY_METRICS: dict[str, Callable[[Tables, int], np.ndarray]] = {
    "ctr": ctr,
    "clicks": clicks,
    "impressions": impressions,
    "conversion_rate": conversion_rate,
    "revenue": revenue,
    "engagement": engagement,
    "satisfaction_alive": satisfaction_alive,
    "satisfaction_cohort": satisfaction_cohort,
    "clicks_per_cohort_user": clicks_per_cohort_user,
    "retention": retention,
    "dau": dau,
    "sessions_per_user": sessions_per_user,
    "return_gap_days": return_gap_days,
    "churn_rate": churn_rate,
    "coverage": coverage,
    "gini_exposure": gini_exposure,
    "long_tail_share": long_tail_share,
    "intra_list_diversity": intra_list_diversity,
    "novelty": novelty,
    "homogenization": homogenization,
    "homogenization_matched": homogenization_matched,
    "homogenization_per_click": homogenization_per_click,
    "interest_drift": interest_drift,
    "interest_drift_per_click": interest_drift_per_click,
    "calibration": calibration,
    "provider_gini": provider_gini,
    "provider_zero_share": provider_zero_share,
    "cold_item_ctr": cold_item_ctr,
    "warm_item_ctr": warm_item_ctr,
    "new_user_ctr": new_user_ctr,
}


#: Names no custom metric may take: the daily metrics and every whole-run total simrec writes.
BUILTIN_NAMES = frozenset(
    {
        *DAILY_METRICS,
        *("ctr_early", "ctr_late", "items_shown", "cold_item_clicks"),
        *("ms_per_request", "fit_seconds", "params", "flops_per_request"),
        *("median_lifetime_days", "rmst_days", "worse_off_share", "regret_revenue_mean"),
        *(f"regret_engagement_{k}" for k in ("mean", "median", "p90")),
        *(f"ltv_{c}_{k}" for c in ("revenue", "engagement") for k in ("mean", "median", "p90")),
        *("return_d1", "return_d7", "return_d30"),
        *("homogenization_vs_ideal", "homogenization_matched_vs_ideal"),
    }
)


def daily_metrics(t: Tables, days: int):  # noqa: ANN201 - pandas imported lazily
    """All daily metrics, custom ones included, as a :class:`pandas.DataFrame` by ``day``."""
    import pandas as pd

    from simrec.metrics.custom import custom_metrics

    columns = {name: fn(t, days) for name, fn in DAILY_METRICS.items()}
    for name, metric in custom_metrics().items():
        if metric.daily is not None:
            columns[name] = metric.daily_values(t, days)
    frame = pd.DataFrame(columns)
    frame.index.name = "day"
    return frame


def run_totals(
    t: Tables,
    days: int,
    early_days: int = 3,
    daily: Mapping[str, Any] | None = None,
    late_days: int = 7,
) -> dict[str, float]:
    """Whole-run aggregates of one run.

    Args:
        t: The log's tables.
        days: Horizon.
        early_days: Days counted as "early" for the short-term CTR.
        late_days: Last days counted as "late" for the CTR once models have warmed up.
        daily: The run's daily metrics (e.g. from :func:`daily_metrics`), reused instead of
            computed again; ``None`` computes what is needed.

    Returns:
        ``clicks``, ``impressions``, ``ctr``, ``ctr_early`` (first ``early_days``),
        ``ctr_late`` (last ``late_days``),
        ``revenue``, ``engagement``, ``retention``, ``satisfaction_alive`` and
        ``satisfaction_cohort`` (at the last day), ``clicks_per_cohort_user`` (over the run),
        ``dau`` (mean), ``items_shown`` (distinct items shown over the run),
        ``homogenization``, ``homogenization_matched``, ``homogenization_per_click``,
        ``interest_drift`` and ``interest_drift_per_click`` (at the last day),
        ``provider_gini`` and ``provider_zero_share`` (impressions summed over the run, over
        the creators with an item in the catalog on any day), and the daily means of
        ``calibration``,
        ``intra_list_diversity``, ``long_tail_share``, ``novelty`` and ``cold_item_ctr``,
        and ``cold_item_clicks`` (clicks on items in their first ``COLD_DAYS`` after a
        release during the run; an agent that never shows new items has NaN CTR and 0 here),
        and ``new_user_ctr`` pooled over the run (clicks / impressions of users in their
        first ``COLD_DAYS`` after arriving during the run; NaN when nobody arrived).
    """

    def col(name: str) -> np.ndarray:
        if daily is not None:
            return np.asarray(daily[name], dtype=np.float64)
        return DAILY_METRICS[name](t, days)

    c, n = col("clicks"), col("impressions")
    e, lt = min(early_days, days), max(min(late_days, days), 1)
    imp = t["impressions"]
    exact = _exact(t)
    if exact is not None:
        m = int((np.asarray(exact["item_shown"]).sum(axis=0) > 0).sum()) if days else 0
        rows = _item_rows(exact, "item_clicks", days)
        cold_clicks = float((rows * _cold_day_items(t, days, rows.shape[1])).sum())
    else:
        m = len(np.unique(imp["item"])) if len(imp["item"]) else 0
        cold_clicks = float(t["impressions"]["click"][_cold(t)].sum())
    from simrec.metrics.custom import custom_metrics

    custom = {}
    for name, metric in custom_metrics().items():
        values = None
        if metric.daily is not None and daily is not None and name in daily:
            values = np.asarray(daily[name], dtype=np.float64)
        custom[name] = metric.total_value(t, days, values)
    return {
        "clicks": float(c.sum()),
        "impressions": float(n.sum()),
        "ctr": float(c.sum() / max(n.sum(), 1.0)),
        "ctr_early": float(c[:e].sum() / max(n[:e].sum(), 1.0)),
        "ctr_late": float(c[-lt:].sum() / max(n[-lt:].sum(), 1.0)),
        "revenue": float(col("revenue").sum()),
        "engagement": float(col("engagement").sum()),
        "retention": float(col("retention")[-1]),
        "satisfaction_alive": float(col("satisfaction_alive")[-1]),
        "satisfaction_cohort": float(col("satisfaction_cohort")[-1]),
        "clicks_per_cohort_user": float(col("clicks_per_cohort_user").sum()),
        "dau": float(np.nanmean(col("dau"))),
        "items_shown": float(m),
        "homogenization": _last(col("homogenization")),
        "homogenization_matched": _last(col("homogenization_matched")),
        "homogenization_per_click": _last(col("homogenization_per_click")),
        "interest_drift": _last(col("interest_drift")),
        "interest_drift_per_click": _last(col("interest_drift_per_click")),
        "calibration": _mean(col("calibration")),
        **_provider_totals(t, days),
        "intra_list_diversity": _mean(col("intra_list_diversity")),
        "long_tail_share": _mean(col("long_tail_share")),
        "novelty": _mean(col("novelty")),
        "cold_item_ctr": _mean(col("cold_item_ctr")),
        "warm_item_ctr": _mean(col("warm_item_ctr")),
        "cold_item_clicks": cold_clicks,
        "new_user_ctr": _pooled_ctr(t["impressions"]["click"][_new_user(t)]),
        **custom,
    }


def _provider_totals(t: Tables, days: int) -> dict[str, float]:
    """Provider exposure over the whole run.

    Over the creators with an item in the catalog on any day, impressions summed over the run.
    """
    if days == 0:
        return {"provider_gini": float("nan"), "provider_zero_share": float("nan")}
    creator, active = _active_creators(t, days)
    exposure = _creator_exposure(t, days, creator, active.shape[1]).sum(axis=0)
    e = exposure[active.any(axis=0)]
    if e.size == 0 or e.sum() == 0:
        return {"provider_gini": float("nan"), "provider_zero_share": float("nan")}
    return {"provider_gini": gini(e), "provider_zero_share": float((e == 0).mean())}


def _pooled_ctr(clicked: np.ndarray) -> float:
    return float(clicked.mean()) if len(clicked) else float("nan")


def _last(x: np.ndarray) -> float:
    return float(x[-1]) if len(x) else float("nan")


def _mean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")
