"""Exposure: who and what gets shown -- coverage, concentration, the long tail, diversity.

Long tail and novelty are measured on the reference popularity :math:`r_i` every agent of a
world and seed shares (:mod:`simrec.metrics.reference`); diversity on the hidden topics;
provider exposure over the creators with an item in the catalog.
"""

from __future__ import annotations

import numpy as np

from simrec.metrics.activity import impressions
from simrec.metrics.common import (
    Tables,
    days_column,
    exact_counts,
    gini,
    item_rows,
    per_day,
    ratio,
    reference_of,
)

__all__ = [
    "CALIBRATION_ALPHA",
    "HEAD_SHARE",
    "calibration",
    "coverage",
    "gini_exposure",
    "head_items",
    "intra_list_diversity",
    "items_shown",
    "long_tail_share",
    "novelty",
    "provider_gini",
    "provider_totals",
    "provider_zero_share",
]


def coverage(t: Tables, days: int) -> np.ndarray:
    """Distinct items shown per day over items in the catalog."""
    if (c := exact_counts(t)) is not None:
        shown = (item_rows(c, "item_shown", days) > 0).sum(axis=1).astype(np.float64)
        return ratio(shown, days_column(t, days, "available_items"))
    imp = t["impressions"]
    m = int(imp["item"].max()) + 1 if len(imp["item"]) else 1
    key = np.unique(imp["day"].astype(np.int64) * m + imp["item"])
    return ratio(per_day(key // m, days), days_column(t, days, "available_items"))


def gini_exposure(t: Tables, days: int) -> np.ndarray:
    """Gini of impression counts over the catalog, per day (unshown items count as zero)."""
    imp = t["impressions"]
    available = days_column(t, days, "available_items")
    out = np.full(days, np.nan)
    if (c := exact_counts(t)) is not None:
        rows = item_rows(c, "item_shown", days)
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
        shown = counts[bounds[d] : bounds[d + 1]]
        if np.isnan(available[d]) or shown.size == 0:
            continue
        zeros = max(int(available[d]) - shown.size, 0)
        out[d] = gini(np.concatenate([np.zeros(zeros), shown]))
    return out


#: Share of items (by clicks over the run) that form the head; the rest is the long tail.
HEAD_SHARE = 0.2


def head_items(reference: np.ndarray) -> np.ndarray:
    """The head: the ``HEAD_SHARE`` of items of highest reference popularity (ties by id)."""
    n_head = max(int(np.ceil(HEAD_SHARE * len(reference))), 1)
    head = np.zeros(len(reference), dtype=bool)
    head[np.argsort(-reference, kind="stable")[:n_head]] = True
    return head


def long_tail_share(t: Tables, days: int) -> np.ndarray:
    """Share of impressions on items outside the head of the reference popularity."""
    tail = ~head_items(reference_of(t))
    if (c := exact_counts(t)) is not None:
        shown = item_rows(c, "item_shown", days)
        return ratio(shown[:, tail[: shown.shape[1]]].sum(axis=1), impressions(t, days))
    imp = t["impressions"]
    return ratio(per_day(imp["day"], days, tail[imp["item"]]), impressions(t, days))


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
    return ratio(per_day(day, days, ild), per_day(day, days))


def novelty(t: Tables, days: int) -> np.ndarray:
    r"""Mean self-information :math:`-\log_2 r_i` of the day's impressions (reference *r*)."""
    info = -np.log2(np.maximum(reference_of(t), np.finfo(np.float64).tiny))
    if (c := exact_counts(t)) is not None:
        shown = item_rows(c, "item_shown", days)
        return ratio(shown @ info[: shown.shape[1]], impressions(t, days))
    imp = t["impressions"]
    return ratio(per_day(imp["day"], days, info[imp["item"]]), impressions(t, days))


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
    if (c := exact_counts(t)) is not None:
        shown = item_rows(c, "item_shown", days)
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


def provider_totals(t: Tables, days: int) -> dict[str, float]:
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


def items_shown(t: Tables, days: int) -> float:
    """Distinct items shown over the run."""
    if (c := exact_counts(t)) is not None:
        return float(int((np.asarray(c["item_shown"]).sum(axis=0) > 0).sum()) if days else 0)
    imp = t["impressions"]
    return float(len(np.unique(imp["item"])) if len(imp["item"]) else 0)
