"""Cold start: how new items and new users fare in their first ``COLD_DAYS``.

An item is cold when it was released during the run and is fewer than ``COLD_DAYS`` days
old; a user is new when they arrived during the run (after day 0), for their first
``COLD_DAYS`` days.
"""

from __future__ import annotations

import numpy as np

from simrec.metrics.common import COLD_DAYS, Tables, exact_counts, item_rows, per_day, ratio

__all__ = [
    "cold_day_items",
    "cold_impressions",
    "cold_item_clicks",
    "cold_item_ctr",
    "new_user_ctr",
    "new_user_ctr_pooled",
    "new_user_impressions",
    "warm_item_ctr",
]


def cold_impressions(t: Tables) -> np.ndarray:
    """Impressions of items released during the run, in their first COLD_DAYS."""
    imp = t["impressions"]
    release = t["items"].get("release_day")
    if release is None:
        return np.zeros(len(imp["item"]), dtype=bool)
    rel = np.asarray(release)[imp["item"]]
    return (rel > 0) & (imp["time"] - rel < COLD_DAYS)


def cold_day_items(t: Tables, days: int, m: int) -> np.ndarray:
    """``(days, M)``: item released during the run and fewer than COLD_DAYS days old on day d.

    Release days are whole days, so an item is cold on all of day d exactly when
    ``0 <= d - release < COLD_DAYS``.
    """
    rel = np.asarray(t["items"]["release_day"], dtype=np.float64)[:m]
    age = np.arange(days)[:, None] - rel[None, :]
    return (rel[None, :] > 0) & (age >= 0) & (age < COLD_DAYS)


def _item_age_ctr(t: Tables, days: int, cold: bool) -> np.ndarray:
    """CTR of impressions of cold items (``cold``) or of all the others."""
    if (c := exact_counts(t)) is not None and t["items"].get("release_day") is not None:
        mask = cold_day_items(t, days, item_rows(c, "item_shown", days).shape[1])
        mask = mask if cold else ~mask
        shown = (item_rows(c, "item_shown", days) * mask).sum(axis=1)
        return ratio((item_rows(c, "item_clicks", days) * mask).sum(axis=1), shown)
    imp, keep = t["impressions"], cold_impressions(t)
    keep = keep if cold else ~keep
    shown = per_day(imp["day"][keep], days)
    return ratio(per_day(imp["day"][keep], days, imp["click"][keep]), shown)


def cold_item_ctr(t: Tables, days: int) -> np.ndarray:
    """CTR of impressions of items released during the run, in their first COLD_DAYS."""
    return _item_age_ctr(t, days, cold=True)


def warm_item_ctr(t: Tables, days: int) -> np.ndarray:
    """CTR of impressions of every item that is not cold.

    The initial catalog, and released items from their COLD_DAYS-th day on: the complement
    of :func:`cold_item_ctr`.
    """
    return _item_age_ctr(t, days, cold=False)


def new_user_impressions(t: Tables) -> np.ndarray:
    """Impressions served to users who arrived during the run, in their first COLD_DAYS."""
    imp = t["impressions"]
    arrival = np.asarray(t["users"]["arrival_day"])[imp["user"]]
    return (arrival > 0) & (imp["time"] - arrival < COLD_DAYS)


def new_user_ctr(t: Tables, days: int) -> np.ndarray:
    """CTR of impressions served to users who arrived during the run, in their first days."""
    imp, new = t["impressions"], new_user_impressions(t)
    shown = per_day(imp["day"][new], days)
    return ratio(per_day(imp["day"][new], days, imp["click"][new]), shown)


def cold_item_clicks(t: Tables, days: int) -> float:
    """Clicks over the run on items in their first ``COLD_DAYS`` after a release in the run."""
    if (c := exact_counts(t)) is not None:
        rows = item_rows(c, "item_clicks", days)
        return float((rows * cold_day_items(t, days, rows.shape[1])).sum())
    return float(t["impressions"]["click"][cold_impressions(t)].sum())


def new_user_ctr_pooled(t: Tables, days: int) -> float:
    """``new_user_ctr`` pooled over the run: clicks / impressions of new users (NaN: none)."""
    clicked = t["impressions"]["click"][new_user_impressions(t)]
    return float(clicked.mean()) if len(clicked) else float("nan")
