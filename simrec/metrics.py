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
``long_tail_share``  share of day d's impressions on long-tail items: outside the 20% of
                     items with the most clicks over the whole run
``intra_list_diversity`` mean over day d's slates of the mean pairwise topic distance
                     :math:`1 - \cos(z_i, z_j)` within the slate (hidden topics)
``novelty``          mean self-information :math:`-\log_2 p_i` of day d's impressions, with
                     :math:`p_i` the item's share of all clicks before day d (add-one
                     smoothing; Zhou et al. 2010)
``homogenization``   mean Jaccard similarity of the consumed (clicked) item sets of a fixed
                     sample of user pairs of the day-0 cohort, at the end of day d
                     (Chaney et al. 2018)
``interest_drift``   mean :math:`1 - \langle u_j(t), u_j(0)\rangle` of users alive at the end
                     of day d (hidden interests)
``cold_item_ctr``    CTR on day d of impressions of items released during the run and at most
                     ``COLD_DAYS`` days old
``new_user_ctr``     CTR on day d of impressions served to users who arrived during the run
                     (after day 0), in their first ``COLD_DAYS`` days since arrival
==================== ==========================================================================

Cost metrics (``ms_per_request``, ``fit_seconds``, ``params``, ``flops_per_request``) are
per-run scalars of the agent's cost report, added to the run totals by the runner.

Sampled logs: with ``simulation.log_impressions < 1`` the log keeps only a share of the
requests' slates, and the exact per-day and per-(day, item) counts the engine keeps
(:class:`simrec.log.Counts`) feed ``clicks``, ``impressions``, ``ctr``, ``conversion_rate``,
``revenue``, ``engagement``, ``dau``, ``coverage``, ``gini_exposure``, ``long_tail_share``,
``novelty`` and ``cold_item_ctr`` -- identical to a full log of the same run. The
day-table, session and user metrics are exact anyway; ``intra_list_diversity``,
``homogenization`` and ``new_user_ctr`` are estimated from the sampled slates.

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
#: User pairs sampled (fixed seed) for homogenization.
HOMOGENIZATION_PAIRS = 2000


def long_tail_share(t: Tables, days: int) -> np.ndarray:
    """Share of impressions on items outside the click head of the run."""
    if (c := _exact(t)) is not None:
        shown, clicked = _item_rows(c, "item_shown", days), _item_rows(c, "item_clicks", days)
        seen = np.flatnonzero(shown.sum(axis=0) > 0)
        if seen.size == 0:
            return np.full(days, np.nan)
        m = int(seen[-1]) + 1
        n_head = max(int(np.ceil(HEAD_SHARE * m)), 1)
        head = np.zeros(shown.shape[1], dtype=bool)
        head[np.argsort(-clicked.sum(axis=0)[:m], kind="stable")[:n_head]] = True
        return _ratio(shown[:, ~head].sum(axis=1), impressions(t, days))
    imp = t["impressions"]
    if len(imp["item"]) == 0:
        return np.full(days, np.nan)
    m = int(imp["item"].max()) + 1
    clicks_per_item = np.bincount(imp["item"], weights=imp["click"], minlength=m)
    n_head = max(int(np.ceil(HEAD_SHARE * m)), 1)
    head = np.zeros(m, dtype=bool)
    head[np.argsort(-clicks_per_item, kind="stable")[:n_head]] = True
    tail = ~head[imp["item"]]
    return _ratio(_per_day(imp["day"], days, tail), impressions(t, days))


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
    """Mean self-information of impressions given the clicks before each day."""
    if (c := _exact(t)) is not None:
        shown, clicked = _item_rows(c, "item_shown", days), _item_rows(c, "item_clicks", days)
        seen = np.flatnonzero(shown.sum(axis=0) > 0)
        out = np.full(days, np.nan)
        if seen.size == 0:
            return out
        m = int(seen[-1]) + 1
        before = np.zeros(m)
        for d in range(days):
            n = shown[d, :m]
            if n.sum() > 0:
                p = (before + 1.0) / (before.sum() + m)
                out[d] = float((n * -np.log2(p)).sum() / n.sum())
            before += clicked[d, :m]
        return out
    imp = t["impressions"]
    if len(imp["item"]) == 0:
        return np.full(days, np.nan)
    m = int(imp["item"].max()) + 1
    out = np.full(days, np.nan)
    before = np.zeros(m)
    order = np.argsort(imp["day"], kind="stable")
    day, item, click = imp["day"][order], imp["item"][order], imp["click"][order]
    bounds = np.searchsorted(day, np.arange(days + 1))
    for d in range(days):
        lo, hi = bounds[d], bounds[d + 1]
        if hi > lo:
            p = (before[item[lo:hi]] + 1.0) / (before.sum() + m)
            out[d] = float(-np.log2(p).mean())
        before += np.bincount(item[lo:hi], weights=click[lo:hi], minlength=m)
    return out


def homogenization(t: Tables, days: int) -> np.ndarray:
    """Mean Jaccard similarity of consumed sets over a fixed sample of user pairs."""
    imp = t["impressions"]
    cohort = np.flatnonzero(t["users"]["arrival_day"] == 0.0)
    if len(cohort) < 2:
        return np.full(days, np.nan)
    rng = np.random.default_rng(len(cohort))  # fixed pairs: the same for every agent
    a = rng.choice(cohort, HOMOGENIZATION_PAIRS)
    b = rng.choice(cohort, HOMOGENIZATION_PAIRS)
    keep = a != b
    a, b = a[keep], b[keep]
    clicked = imp["click"]
    u, i, d = imp["user"][clicked], imp["item"][clicked], imp["day"][clicked]
    m = int(imp["item"].max()) + 1 if len(imp["item"]) else 1
    key, first = np.unique(u.astype(np.int64) * m + i, return_index=True)
    first_day = d[first]
    owner = key // m
    by_user = np.searchsorted(owner, np.arange(len(t["users"]["user"]) + 1))
    sizes = np.zeros((len(a), days))
    inter = np.zeros((len(a), days))

    def cumulative(days_of_items: np.ndarray) -> np.ndarray:
        return np.cumsum(np.bincount(np.minimum(days_of_items, days - 1), minlength=days))

    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        ix = key[by_user[x] : by_user[x + 1]] % m
        iy = key[by_user[y] : by_user[y + 1]] % m
        dx, dy = first_day[by_user[x] : by_user[x + 1]], first_day[by_user[y] : by_user[y + 1]]
        common, cx, cy = np.intersect1d(ix, iy, assume_unique=True, return_indices=True)
        sizes[k] = cumulative(dx) + cumulative(dy)
        if len(common):
            inter[k] = cumulative(np.maximum(dx[cx], dy[cy]))
    union = sizes - inter
    jac = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return jac.mean(axis=0)


def interest_drift(t: Tables, days: int) -> np.ndarray:
    """Mean drift of alive users' hidden interests from their start, at each day's end."""
    return _days_column(t, days, "interest_drift")


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


def cold_item_ctr(t: Tables, days: int) -> np.ndarray:
    """CTR of impressions of items released during the run, in their first COLD_DAYS."""
    if (c := _exact(t)) is not None and t["items"].get("release_day") is not None:
        mask = _cold_day_items(t, days, _item_rows(c, "item_shown", days).shape[1])
        shown = (_item_rows(c, "item_shown", days) * mask).sum(axis=1)
        return _ratio((_item_rows(c, "item_clicks", days) * mask).sum(axis=1), shown)
    imp, cold = t["impressions"], _cold(t)
    shown = _per_day(imp["day"][cold], days)
    return _ratio(_per_day(imp["day"][cold], days, imp["click"][cold]), shown)


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
    "satisfaction": satisfaction,
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
    "interest_drift": interest_drift,
    "cold_item_ctr": cold_item_ctr,
    "new_user_ctr": new_user_ctr,
}


def daily_metrics(t: Tables, days: int):  # noqa: ANN201 - pandas imported lazily
    """All daily metrics as a :class:`pandas.DataFrame` indexed by ``day``."""
    import pandas as pd

    frame = pd.DataFrame({name: fn(t, days) for name, fn in DAILY_METRICS.items()})
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
        ``revenue``, ``engagement``, ``retention`` and ``satisfaction`` (at the last day),
        ``dau`` (mean), ``items_shown`` (distinct items shown over the run),
        ``homogenization`` and ``interest_drift`` (at the last day), and the daily means of
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
    return {
        "clicks": float(c.sum()),
        "impressions": float(n.sum()),
        "ctr": float(c.sum() / max(n.sum(), 1.0)),
        "ctr_early": float(c[:e].sum() / max(n[:e].sum(), 1.0)),
        "ctr_late": float(c[-lt:].sum() / max(n[-lt:].sum(), 1.0)),
        "revenue": float(col("revenue").sum()),
        "engagement": float(col("engagement").sum()),
        "retention": float(col("retention")[-1]),
        "satisfaction": float(col("satisfaction")[-1]),
        "dau": float(np.nanmean(col("dau"))),
        "items_shown": float(m),
        "homogenization": _last(col("homogenization")),
        "interest_drift": _last(col("interest_drift")),
        "intra_list_diversity": _mean(col("intra_list_diversity")),
        "long_tail_share": _mean(col("long_tail_share")),
        "novelty": _mean(col("novelty")),
        "cold_item_ctr": _mean(col("cold_item_ctr")),
        "cold_item_clicks": cold_clicks,
        "new_user_ctr": _pooled_ctr(t["impressions"]["click"][_new_user(t)]),
    }


def _pooled_ctr(clicked: np.ndarray) -> float:
    return float(clicked.mean()) if len(clicked) else float("nan")


def _last(x: np.ndarray) -> float:
    return float(x[-1]) if len(x) else float("nan")


def _mean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")
