"""Real data a user model can be fitted to or checked against: the numbers, not the fitting.

* :func:`cdnow_bgnbd` -- the CDNOW purchase log (:mod:`simrec.data.cdnow`) summarised for the
  BG/NBD model and fitted by maximum likelihood (:mod:`simrec.data.bgnbd`). On the
  2,357-customer sample it reproduces Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414,
  a = 0.793, b = 2.426 (weeks).
* :func:`activity_summary` -- how unequal and how bursty the activity of MovieLens raters is:
  the Gini of ratings per user, the share of users active on a single day and the
  distribution of gaps between a user's consecutive active days. A day is a 24-hour slice
  counted from the first rating of the data, as :func:`simrec.calibration.stats_of` counts
  them, so the held-out numbers are those of docs/movielens.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simrec.data.bgnbd import BGNBD, fit_bgnbd
from simrec.data.cdnow import bgnbd_summary, load_cdnow
from simrec.data.movielens import MovieLens, load_movielens
from simrec.metrics import gini
from simrec.worlds.movielens import DAY, train_mask

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PERIODS", "ActivitySummary", "activity_summary", "cdnow_bgnbd"]

#: The parts of a MovieLens log :func:`activity_summary` can describe.
PERIODS = ("all", "train", "held-out")


def cdnow_bgnbd(
    sample: bool = True, folder: str | Path | None = None, quiet: bool = True
) -> tuple[pd.DataFrame, BGNBD]:
    """The BG/NBD summary of CDNOW's customers (39-week calibration period) and its fit.

    Args:
        sample: The 2,357-customer sample of Fader, Hardie & Lee (2005) (about 0.1 s), or
            all 23,570 customers (about 1 s).
        folder: Cache folder of the data.
        quiet: No message when fetching.

    Returns:
        ``(summary, fit)``: :func:`~simrec.data.cdnow.bgnbd_summary`'s frame and the fit.
    """
    summary = bgnbd_summary(load_cdnow(folder, quiet, sample=sample))
    fit = fit_bgnbd(
        summary["frequency"].to_numpy(), summary["recency"].to_numpy(), summary["T"].to_numpy()
    )
    return summary, fit


@dataclass(frozen=True)
class ActivitySummary:
    """How the users of one MovieLens log (or one period of it) spread their activity.

    Attributes:
        dataset: ``"movielens-100k"`` or ``"movielens-1m"``.
        period: ``"all"``, ``"train"`` or ``"held-out"`` (a temporal split).
        users: Users with at least one rating in the period.
        ratings: Ratings in the period.
        user_gini: Gini of ratings per (active) user.
        active_days_gini: Gini of active days per user.
        one_day_share: Share of users whose ratings in the period all fall on one day.
        gaps: Days between consecutive active days of each user, all users pooled (int64).
    """

    dataset: str
    period: str
    users: int
    ratings: int
    user_gini: float
    active_days_gini: float
    one_day_share: float
    gaps: np.ndarray

    def gap_quantiles(self, q: tuple[float, ...] = (0.25, 0.5, 0.75, 0.9, 0.99)) -> dict:
        """Quantiles of the gaps (days), keyed by ``q`` (NaN without gaps)."""
        if len(self.gaps) == 0:
            return dict.fromkeys(q, float("nan"))
        return dict(zip(q, np.quantile(self.gaps, q).tolist(), strict=True))

    def gap_share_within(self, days: float) -> float:
        """Share of the gaps of at most ``days`` days."""
        return float((self.gaps <= days).mean()) if len(self.gaps) else float("nan")

    def row(self) -> dict[str, float | int | str]:
        """The scalar statistics, gap median and mean included."""
        scalars = {k: v for k, v in self.__dict__.items() if k != "gaps"}
        has = len(self.gaps) > 0
        scalars["gap_median_days"] = float(np.median(self.gaps)) if has else float("nan")
        scalars["gap_mean_days"] = float(self.gaps.mean()) if has else float("nan")
        return scalars


def activity_summary(
    data: MovieLens | str = "movielens-1m", period: str = "all", split: float = 0.8
) -> ActivitySummary:
    """User activity of a MovieLens log: inequality, one-day users, return gaps.

    Args:
        data: A loaded dataset or its name (loaded from the cache, fetched on first use).
        period: ``"all"`` the ratings; ``"train"`` or ``"held-out"``: those before or from
            the temporal split that leaves ``split`` of the ratings before it
            (:func:`simrec.worlds.movielens.train_mask`, as ``world.movielens.
            train_fraction``).
        split: The share of the ratings in the training period.

    Raises:
        ValueError: Another period.
        DataUnavailableError: The dataset cannot be loaded.
    """
    if period not in PERIODS:
        raise ValueError(f"period: expected one of {PERIODS}, got {period!r}")
    if isinstance(data, str):
        data = load_movielens(data, quiet=True)
    r = data.ratings
    keep = np.ones(len(r.user), dtype=bool) if period == "all" else train_mask(data, split)
    if period == "held-out":
        keep = ~keep
    user = r.user[keep].astype(np.int64)
    day = np.floor((r.timestamp[keep] - r.timestamp.min()) / DAY).astype(np.int64)
    per_user = np.bincount(user)
    per_user = per_user[per_user > 0]
    pairs = np.unique(np.stack([user, day], axis=1), axis=0)
    same = pairs[1:, 0] == pairs[:-1, 0]
    days_per_user = np.bincount(pairs[:, 0])
    days_per_user = days_per_user[days_per_user > 0]
    return ActivitySummary(
        dataset=data.name,
        period=period,
        users=len(per_user),
        ratings=int(keep.sum()),
        user_gini=gini(per_user),
        active_days_gini=gini(days_per_user),
        one_day_share=float((days_per_user == 1).mean()) if len(days_per_user) else float("nan"),
        gaps=(pairs[1:, 1] - pairs[:-1, 1])[same],
    )
