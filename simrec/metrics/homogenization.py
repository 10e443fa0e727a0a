r"""Homogenization and interest drift: what the recommender does to its users over time.

Homogenization is Chaney, Stewart and Engelhardt's (2018) Jaccard index of the items
consumed by users paired by initial interest (:mod:`simrec.metrics.reference`); interest
drift is :math:`1 - \langle u_j(t), u_j(0)\rangle` of the hidden interests.
"""

from __future__ import annotations

import numpy as np

from simrec.metrics.activity import churn_time
from simrec.metrics.common import Tables, days_column, per_day, ratio, row_weight

__all__ = [
    "HOMOGENIZATION_VOLUME",
    "homogenization",
    "homogenization_matched",
    "homogenization_per_click",
    "interest_drift",
    "interest_drift_per_click",
]


#: Distinct items per user in the volume-matched homogenization.
HOMOGENIZATION_VOLUME = 10


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
    h = ratio((jac * counted).sum(axis=0), n.astype(np.float64))
    h_v = ratio((jac_v * counted_v).sum(axis=0), n_v.astype(np.float64))
    ra, rb = np.searchsorted(users_of_pairs, a), np.searchsorted(users_of_pairs, b)
    volume = (cum_clicks[ra] + cum_clicks[rb]) / 2.0
    mean_volume = ratio((volume * counted).sum(axis=0), n.astype(np.float64))
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
    return days_column(t, days, "interest_drift")


def interest_drift_per_click(t: Tables, days: int) -> np.ndarray:
    """Interest drift over the mean cumulative clicks of the users alive at each day's end."""
    imp = t["impressions"]
    clicked = np.asarray(imp["click"], dtype=bool)
    total = np.cumsum(per_day(imp["day"][clicked], days)) * row_weight(t)
    ct = churn_time(t)
    user_clicks = np.bincount(imp["user"][clicked], minlength=len(ct)) * row_weight(t)
    gone = np.isfinite(ct)
    # Churned users click no more: subtract their clicks from the day they churned on.
    left = np.cumsum(per_day(np.floor(ct[gone]).astype(np.int64), days, user_clicks[gone]))
    per_user = ratio(total - left, days_column(t, days, "alive"))
    return ratio(interest_drift(t, days), per_user)
