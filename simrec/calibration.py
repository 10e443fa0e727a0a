"""Calibration of the ``movielens-100k`` world against the real data it was fitted to.

A logging policy that replays the real exposure (:class:`ReplayExposure`: slates drawn from
the available movies in proportion to their real number of ratings) runs on the world for the
span of the data after the warm-up (185 days by default), and the simulated clicks are
compared with the real ratings on the statistics a recommender study leans on:

* item popularity: Gini of clicks (ratings) over movies, share of the top 10% of movies;
* genre shares: share of clicks (ratings) per primary genre, and their total-variation
  distance;
* user activity: Gini of clicks (ratings) per user, and the ratio of the 90th percentile
  to the median;
* returns: the gap in days between consecutive active days of a user (days with a click /
  a rating), median and mean, and the share of users active on a single day.

Real ratings are treated as consumption. :func:`calibrate` returns a table, real vs simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simrec.agent import Agent
from simrec.config import Config, from_dict
from simrec.data.movielens import load_movielens_100k
from simrec.engine import row_membership
from simrec.metrics import gini
from simrec.simulation import Simulation
from simrec.types import RequestBatch
from simrec.worlds.movielens import DAY

__all__ = ["ReplayExposure", "Stats", "calibrate", "comparison", "real_stats", "stats_of"]


class ReplayExposure(Agent):
    """Logging policy: slates drawn without replacement, weights = real ratings per movie.

    Args:
        weights: One weight per item (the real number of ratings); 1 is added so that
            every movie can be shown.
        power: Exposure proportional to ``(weights + 1) ** power`` (1: replay the real
            distribution; below 1: flatter, for the consumption distribution to match once
            the users' own preference for popular movies acts on it).
        exclude_recent: Items last shown to the user that are not shown again.
    """

    name = "replay-exposure"

    def __init__(self, weights: np.ndarray, power: float = 1.0, exclude_recent: int = 20) -> None:
        self.log_weights = power * np.log(np.asarray(weights, dtype=np.float64) + 1.0)
        self.exclude_recent = exclude_recent

    def setup(self, context) -> None:  # noqa: ANN001 - AgentContext
        """Allocate the per-user buffer of shown items."""
        super().setup(context)
        n = context.world.n_users
        self.recent = np.full((n, max(self.exclude_recent, 1)), -1, dtype=np.int64)
        self.next = np.zeros(n, dtype=np.int64)

    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """Gumbel top-K on log weights: K draws without replacement, proportional to weight."""
        pool = batch.available[None, :].repeat(len(batch), axis=0)
        gumbel = -np.log(-np.log(self.rng.random(pool.shape) + 1e-300) + 1e-300)
        keys = self.log_weights[pool] + gumbel
        if self.exclude_recent:
            keys[row_membership(pool, self.recent[batch.users], len(self.log_weights))] -= 1e6
        K = batch.slate_size
        top = np.argpartition(-keys, K - 1, axis=1)[:, :K]
        slates = np.take_along_axis(pool, top, axis=1)
        if self.exclude_recent:
            L = self.recent.shape[1]
            slots = (self.next[batch.users][:, None] + np.arange(K)[None, :]) % L
            self.recent[batch.users[:, None], slots] = slates
            self.next[batch.users] += K
        return slates


@dataclass(frozen=True)
class Stats:
    """Calibration statistics of one log (real or simulated)."""

    item_gini: float
    top10_share: float
    genre_share: np.ndarray
    user_gini: float
    user_p90_over_median: float
    gap_median_days: float
    gap_mean_days: float
    single_day_users: float

    def row(self) -> dict[str, float]:
        """Scalar statistics (genre shares left out)."""
        return {k: v for k, v in self.__dict__.items() if k != "genre_share"}


def stats_of(
    user: np.ndarray,
    item: np.ndarray,
    day: np.ndarray,
    genre: np.ndarray,
    n_items: int,
    n_genres: int,
) -> Stats:
    """Statistics of consumption events (user, item, day) -- see the module docstring."""
    per_item = np.bincount(item, minlength=n_items).astype(float)
    top = np.sort(per_item)[::-1][: max(1, n_items // 10)]
    per_user = np.bincount(user)
    per_user = per_user[per_user > 0].astype(float)
    shares = np.bincount(genre[item], minlength=n_genres) / max(len(item), 1)
    # Active days per user, then gaps between consecutive active days.
    pairs = np.unique(np.stack([user, np.floor(day).astype(np.int64)], axis=1), axis=0)
    same = pairs[1:, 0] == pairs[:-1, 0]
    gaps = (pairs[1:, 1] - pairs[:-1, 1])[same]
    days_per_user = np.bincount(pairs[:, 0])
    days_per_user = days_per_user[days_per_user > 0]
    return Stats(
        item_gini=gini(per_item),
        top10_share=float(top.sum() / max(per_item.sum(), 1.0)),
        genre_share=shares,
        user_gini=gini(per_user),
        user_p90_over_median=float(np.percentile(per_user, 90) / np.median(per_user)),
        gap_median_days=float(np.median(gaps)) if len(gaps) else float("nan"),
        gap_mean_days=float(gaps.mean()) if len(gaps) else float("nan"),
        single_day_users=float((days_per_user == 1).mean()),
    )


def real_stats(world_genre: np.ndarray, n_genres: int) -> Stats:
    """Statistics of the real ratings (all 215 days)."""
    data = load_movielens_100k(quiet=True)
    r = data.ratings
    day = (r.timestamp - r.timestamp.min()) / DAY
    return stats_of(r.user, r.item, day, world_genre, data.n_items, n_genres)


def calibrate(
    overrides: dict[str, Any] | None = None,
    days: int = 185,
    seed: int = 0,
    exposure_power: float = 1.0,
) -> tuple[Stats, Stats, float]:
    """Simulate the replayed exposure and compare with the real data.

    Args:
        overrides: Config overrides (nested dict) on top of the ``movielens-100k`` world.
        days: Simulated days (default: the data's span after the 30-day warm-up).
        seed: Run seed.
        exposure_power: :class:`ReplayExposure`'s ``power``.

    Returns:
        ``(real, simulated, genre_tv)``: both statistics and the total-variation distance
        between the genre shares.
    """
    base = {"world": {"kind": "movielens-100k"}, "simulation": {"days": days}}
    cfg = from_dict(Config, _merge(base, overrides or {}))
    sim = Simulation(cfg)
    world = sim.build_world(seed)
    data = load_movielens_100k(quiet=True)
    weights = np.bincount(data.ratings.item, minlength=data.n_items)
    result = sim.run(ReplayExposure(weights, exposure_power), seed=seed)
    imp = result.log.impressions.columns()
    c = imp["click"]
    G = len(world.genre_names)
    genre = world.items.genre.astype(np.int64)
    simulated = stats_of(imp["user"][c], imp["item"][c], imp["time"][c], genre, world.n_items, G)
    real = real_stats(genre, G)
    tv = 0.5 * float(np.abs(real.genre_share - simulated.genre_share).sum())
    return real, simulated, tv


def comparison(real: Stats, simulated: Stats):  # noqa: ANN201 - pandas imported lazily
    """Real vs simulated statistics as a table (one row per statistic)."""
    import pandas as pd

    rows = [
        {"statistic": k, "real": v, "simulated": simulated.row()[k]} for k, v in real.row().items()
    ]
    frame = pd.DataFrame(rows).set_index("statistic")
    frame["simulated - real"] = frame["simulated"] - frame["real"]
    return frame


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
