r"""Calibration of the MovieLens worlds against real data: in-sample, and on a held-out period.

**Held out** (:func:`heldout_ranking`, :func:`temporal_calibration`): the hidden state is
fitted on the first ``split`` share of the ratings in time order (``world.movielens.
train_fraction``) and judged on the rest, as a recommender would be:

* ranking: for every user with training ratings, the movies of their held-out ratings
  against the other movies with training ratings that they had not rated, scored by the
  world's click utility :math:`b_{int}\\langle u, z\rangle + b_{app} a` (what decides a click
  in the simulation), by training popularity, and by a plain matrix factorisation fitted
  on the same training ratings (PureSVD, Cremonesi et al., RecSys 2010); per-user AUC and
  NDCG@10, means with paired bootstrap CIs of the difference against popularity. Users
  first seen in the held-out period are scored separately (world vs popularity: their
  interest comes from the stated genre);
* activity: the world runs the replayed training exposure over the whole timeline and the
  simulated clicks of the held-out period are compared with the real held-out ratings.

**In sample** (:func:`calibrate`): a logging policy that replays the real exposure
(:class:`ReplayExposure`: slates drawn from the available movies in proportion to their real
number of ratings) runs on the world for the span of the data after the warm-up (185 days by
default), and the simulated clicks are compared with the real ratings on the statistics a
recommender study leans on:

* item popularity: Gini of clicks (ratings) over movies, share of the top 10% of movies;
* genre shares: share of clicks (ratings) per primary genre, and their total-variation
  distance;
* user activity: Gini of clicks (ratings) per user, and the ratio of the 90th percentile
  to the median;
* returns: the gap in days between consecutive active days of a user (days with a click /
  a rating), median and mean, and the share of users active on a single day;
* volume: active users, and clicks (ratings) per active user, median and mean.

Real ratings are treated as consumption. :func:`calibrate` returns a table, real vs simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from simrec.agent import Agent
from simrec.config import Config, from_dict, replace_path
from simrec.config.convert import merge_dicts
from simrec.data.movielens import load_movielens, load_movielens_100k
from simrec.engine import row_membership
from simrec.metrics import gini
from simrec.simulation import Simulation
from simrec.types import RequestBatch
from simrec.worlds.movielens import DAY, rank_auc

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHURN_SETTINGS",
    "EXPOSURE_POWERS",
    "GAP_SETTINGS",
    "REFITTED",
    "SESSION_CANDIDATES",
    "SESSION_SETTINGS",
    "ReplayExposure",
    "Stats",
    "calibrate",
    "comparison",
    "heldout_ranking",
    "real_stats",
    "refit_sessions",
    "session_loss",
    "stats_of",
    "temporal_calibration",
]


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
    active_users: int
    per_user_median: float
    per_user_mean: float

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
        active_users=len(per_user),
        per_user_median=float(np.median(per_user)),
        per_user_mean=float(per_user.mean()),
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
    cfg = from_dict(Config, merge_dicts(base, overrides or {}))
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


# ----------------------------------------------------------------------------- held out


def _world_config(world: str, split: float, overrides: dict[str, Any] | None) -> Config:
    base = {"world": {"kind": world, "movielens": {"train_fraction": split}}}
    return from_dict(Config, merge_dicts(base, overrides or {}))


def _user_metrics(
    score: np.ndarray, candidates: np.ndarray, positive: np.ndarray, k: int
) -> tuple[float, float]:
    """AUC and NDCG@k of one user's scores (binary relevance)."""
    s = score[candidates]
    pos = positive[candidates]
    auc = rank_auc(s[pos], s[~pos])
    top = np.argsort(-s, kind="stable")[:k]
    dcg = (pos[top] / np.log2(np.arange(2, len(top) + 2))).sum()
    ideal = (1.0 / np.log2(np.arange(2, min(k, int(pos.sum())) + 2))).sum()
    return auc, float(dcg / ideal)


def _paired_ci(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_boot: int
) -> tuple[float, float]:
    """95% percentile-bootstrap CI of mean(x - y), resampling users."""
    d = x - y
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    means = d[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def heldout_ranking(
    world: str = "movielens-100k",
    split: float = 0.8,
    k: int = 10,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    until: float = 1.0,
) -> pd.DataFrame:
    """Rank the held-out ratings with the world's click model, popularity and PureSVD.

    Args:
        world: ``"movielens-100k"`` or ``"movielens-1m"``.
        split: Share of the ratings (time order) the world and the baselines are fitted on.
        k: Cut-off of NDCG.
        overrides: Config overrides (nested dict) on top of the world.
        seed: Seed of the world (cold users' interests) and of the bootstrap.
        n_boot: Bootstrap resamples of the paired CIs.
        until: Judge only the ratings before the time that leaves this share of them
            before it: ``split=0.7, until=0.8`` is a validation split inside the training
            period of ``split=0.8``.

    Returns:
        A table with one row per (users, model): ``auc``, ``ndcg@k`` and the paired 95% CI
        of each against popularity, the number of users and of held-out ratings scored.
        ``attrs["coverage"]`` holds the share of held-out ratings in each user segment.
    """
    import pandas as pd
    from scipy.sparse.linalg import svds

    from simrec.rng import make_streams
    from simrec.worlds import make_world
    from simrec.worlds.movielens import split_time, train_mask

    if not 0.0 < split < 1.0:
        raise ValueError(f"split: expected a share in (0, 1), got {split!r}")
    if not split < until <= 1.0:
        raise ValueError(f"until: expected a share in (split, 1], got {until!r}")
    cfg = _world_config(world, split, overrides)
    data = load_movielens(world, quiet=True)
    streams = make_streams(seed)
    w = make_world(cfg.world, streams.world, streams.arrivals, cfg.simulation.days)
    r = data.ratings
    N, M = data.n_users, data.n_items
    train = train_mask(data, split)
    judged = ~train if until >= 1.0 else ~train & (r.timestamp < split_time(data, until))
    X = sp.csr_matrix((np.ones(int(train.sum())), (r.user[train], r.item[train])), shape=(N, M))
    X.data[:] = 1.0
    popularity = np.asarray(X.sum(axis=0)).ravel()
    warm_u, warm_i = np.diff(X.indptr) > 0, popularity > 0
    held = judged & warm_i[r.item]

    d = cfg.world.dim
    U, S, Vt = svds(X.astype(np.float64), k=d, v0=np.full(min(N, M), 1.0 / np.sqrt(min(N, M))))
    mf_user, mf_item = U * S, Vt.T
    dyn = cfg.dynamics
    appeal = dyn.appeal_weight * w.item_truth.appeal.astype(np.float64)
    interest, topic = w.user_truth.interest.astype(np.float64), w.item_truth.topic

    mf = f"MF (PureSVD, d={d})"  # no factors for new users: scored on the others only
    models = {
        "world click model": lambda u: dyn.interest_weight * (topic @ interest[u]) + appeal,
        "popularity": lambda u: popularity,
        mf: lambda u: mf_item @ mf_user[u],
    }
    order = np.argsort(r.user[held], kind="stable")
    hu, hi = r.user[held][order], r.item[held][order]
    bounds = np.flatnonzero(np.diff(hu)) + 1
    rows, rng = [], np.random.default_rng(seed)
    for segment, is_warm in (("users with training ratings", True), ("new users", False)):
        per_model: dict[str, list[tuple[float, float]]] = {m: [] for m in models}
        n_ratings = 0
        for users, items in zip(np.split(hu, bounds), np.split(hi, bounds), strict=True):
            u = int(users[0])
            if warm_u[u] != is_warm:
                continue
            candidates = warm_i.copy()
            candidates[X.indices[X.indptr[u] : X.indptr[u + 1]]] = False
            positive = np.zeros(M, dtype=bool)
            positive[items] = True
            positive &= candidates
            if not positive.any() or positive[candidates].all():
                continue
            n_ratings += int(positive.sum())
            for name, score in models.items():
                if is_warm or name != mf:
                    per_model[name].append(_user_metrics(score(u), candidates, positive, k))
        base = np.array(per_model["popularity"])
        for name, values in per_model.items():
            if not values:
                continue
            v = np.array(values)
            auc_ci = _paired_ci(v[:, 0], base[:, 0], rng, n_boot)
            ndcg_ci = _paired_ci(v[:, 1], base[:, 1], rng, n_boot)
            rows.append(
                {
                    "users": segment,
                    "model": name,
                    "auc": v[:, 0].mean(),
                    "auc - popularity, 95% CI": f"[{auc_ci[0]:+.3f}, {auc_ci[1]:+.3f}]",
                    f"ndcg@{k}": v[:, 1].mean(),
                    f"ndcg@{k} - popularity, 95% CI": f"[{ndcg_ci[0]:+.3f}, {ndcg_ci[1]:+.3f}]",
                    "n users": len(v),
                    "n ratings": n_ratings,
                }
            )
    table = pd.DataFrame(rows).set_index(["users", "model"])
    n_held = int(judged.sum())
    table.attrs["coverage"] = {
        "held-out ratings": n_held,
        "by users with training ratings, on movies with training ratings": float(
            (held & warm_u[r.user]).sum() / n_held
        ),
        "by new users, on movies with training ratings": float(
            (held & ~warm_u[r.user]).sum() / n_held
        ),
        "on movies with no training rating": float((judged & ~warm_i[r.item]).sum() / n_held),
    }
    return table


def temporal_calibration(
    world: str = "movielens-100k",
    split: float = 0.8,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    exposure_power: float = 0.5,
    train_only: bool = False,
) -> dict[str, Any]:
    """Simulate the whole timeline on a world fitted to the training period; compare both periods.

    The logging policy replays the training period's exposure (:class:`ReplayExposure`,
    weights = training ratings per movie) over the data's span after the warm-up; simulated
    clicks before the split day are compared with the real training ratings, those after it
    with the real held-out ratings. A simulated session's clicks count on the day the session
    started: a real rating session is a burst, while a simulated one of hundreds of requests
    at one-minute ticks can run past midnight and would count as two active days.

    Args:
        world: ``"movielens-100k"`` or ``"movielens-1m"``.
        split: Share of the ratings (time order) the world is fitted on.
        overrides: Config overrides (nested dict), e.g. refitted ``retention`` settings.
        seed: Run seed.
        exposure_power: :class:`ReplayExposure`'s ``power``.
        train_only: Simulate the training period only (no ``"held-out"`` entries): what
            :func:`refit_sessions` compares candidates on.

    Returns:
        ``{"train": table, "held-out": table, "stats": {period: (real, simulated)},
        "genre_tv": {period: distance},
        "volume_ratio": {period: real / simulated clicks per active user (means)},
        "split_day": simulated day of the split, "days": simulated days}``.
    """
    from simrec.worlds.movielens import split_time, train_mask

    data = load_movielens(world, quiet=True)
    cfg = _world_config(world, split, overrides)
    mc = cfg.world.movielens
    r = data.ratings
    t0, cut = float(r.timestamp.min()), split_time(data, split)

    def simulated_day(t: np.ndarray | float) -> np.ndarray:
        """A unix time on the simulated clock: warm-up removed, times ``time_scale``."""
        return ((np.asarray(t, dtype=np.float64) - t0) / DAY - mc.initial_days) * mc.time_scale

    real_day = simulated_day(r.timestamp)
    days = int(np.ceil(simulated_day(float(r.timestamp.max()))))
    split_day = float(simulated_day(cut))
    if train_only:
        days = int(np.ceil(split_day))
    sim = Simulation(replace_path(cfg, "simulation.days", days))
    w = sim.build_world(seed)
    train = train_mask(data, split)
    weights = np.bincount(r.item[train], minlength=data.n_items)
    result = sim.run(ReplayExposure(weights, exposure_power), seed=seed)
    imp = result.log.impressions.columns()
    c = imp["click"]
    G = len(w.genre_names)
    genre = w.items.genre.astype(np.int64)
    su, si, st = imp["user"][c], imp["item"][c], imp["time"][c]
    st = _session_starts(su, st, result.log.sessions.columns())
    tables, tv, volume, stats = {}, {}, {}, {}
    # Both on the simulated clock; the real warm-up (before simulated day 0) is left out.
    periods = [("train", train & (real_day >= 0.0), st < split_day)]
    if not train_only:
        periods.append(("held-out", ~train, st >= split_day))
    for period, real_mask, sim_mask in periods:
        real = stats_of(
            r.user[real_mask], r.item[real_mask], real_day[real_mask], genre, data.n_items, G
        )
        simulated = stats_of(su[sim_mask], si[sim_mask], st[sim_mask], genre, w.n_items, G)
        tables[period] = comparison(real, simulated)
        stats[period] = (real, simulated)
        tv[period] = 0.5 * float(np.abs(real.genre_share - simulated.genre_share).sum())
        volume[period] = real.per_user_mean / max(simulated.per_user_mean, 1e-12)
    return {
        **tables,
        "stats": stats,
        "genre_tv": tv,
        "volume_ratio": volume,
        "split_day": split_day,
        "days": days,
    }


def _session_starts(
    user: np.ndarray, time: np.ndarray, sessions: dict[str, np.ndarray]
) -> np.ndarray:
    """The start time of the session each (user, time) event belongs to."""
    scale = 1e5  # more than the days of any run: user-major keys, exact in float64
    key = sessions["user"].astype(np.float64) * scale + sessions["start"]
    order = np.argsort(key, kind="stable")
    at = np.searchsorted(key[order], user.astype(np.float64) * scale + time, side="right") - 1
    start = sessions["start"][order][np.maximum(at, 0)]
    same = (at >= 0) & (sessions["user"][order][np.maximum(at, 0)] == user)
    return np.where(same, start, time)


#: Session settings compared by :func:`refit_sessions`: the defaults, then sessions of up to
#: 300 / 400 requests that a missed slate does not end, with a rating likelier per request (a
#: lower no-click utility). Ratings come in bursts: MovieLens asks for 15+ at sign-up.
SESSION_SETTINGS: tuple[dict[str, Any], ...] = (
    {},
    {"exit_base": -4.5, "exit_no_click": 0.0, "max_session_requests": 300, "no_click_utility": 3.0},
    {"exit_base": -4.5, "exit_no_click": 0.0, "max_session_requests": 400, "no_click_utility": 2.0},
)
#: Churn settings compared: the defaults, then a hazard of 0.55-0.65 per session end (most
#: MovieLens users rate on a single day and never return).
CHURN_SETTINGS: tuple[dict[str, Any], ...] = ({}, {"churn_min": 0.55, "churn_max": 0.65})
#: Return-gap settings compared: the defaults (1-10 days), then 2-20 days.
GAP_SETTINGS: tuple[dict[str, Any], ...] = ({}, {"gap_min_days": 2.0, "gap_max_days": 20.0})


def _candidate(session: dict[str, Any], churn: dict[str, Any], gap: dict[str, Any]) -> dict:
    dynamics = {"dynamics": dict(session)} if session else {}
    return dynamics | ({"retention": {**churn, **gap}} if churn or gap else {})


#: Every combination of the three, the defaults first: what :func:`refit_sessions` compares.
SESSION_CANDIDATES: tuple[dict[str, Any], ...] = tuple(
    _candidate(a, b, c) for a in SESSION_SETTINGS for b in CHURN_SETTINGS for c in GAP_SETTINGS
)


#: What :func:`refit_sessions` chose on each world's training period (split 0.8, seed 0):
#: ``(overrides, exposure power)``. ``simrec calibrate --refit`` recomputes it; a study on a
#: MovieLens world whose conclusions rest on sessions and returns can apply the overrides.
REFITTED: dict[str, tuple[dict[str, Any], float]] = {
    "movielens-100k": (SESSION_CANDIDATES[11], 0.25),
    "movielens-1m": (SESSION_CANDIDATES[11], 0.5),
}

#: Exposure powers compared in the second stage of :func:`refit_sessions`.
EXPOSURE_POWERS: tuple[float, ...] = (0.0, 0.25, 0.5)


def session_loss(table: pd.DataFrame) -> float:
    """Distance of a period's simulated activity from the real one (smaller is closer).

    ``|log(volume ratio)| + |log(mean gap ratio)| + |difference of the log-odds of the
    single-day shares|``: the clicks per active user, the mean gap between active days and
    the share of users active on a single day -- what session, return and churn settings
    decide -- each on a log scale. (A first version took the plain difference of the
    single-day shares; for ML-1M it chose settings with no extra churn that matched the
    training period's volume and missed the held-out period's by 3x: docs/movielens.md.)
    """
    real, sim = table["real"], table["simulated"]

    def log_odds(p: float) -> float:
        p = min(max(float(p), 1e-6), 1.0 - 1e-6)
        return float(np.log(p / (1.0 - p)))

    return float(
        abs(np.log(real["per_user_mean"] / sim["per_user_mean"]))
        + abs(np.log(real["gap_mean_days"] / sim["gap_mean_days"]))
        + abs(log_odds(real["single_day_users"]) - log_odds(sim["single_day_users"]))
    )


def refit_sessions(
    world: str = "movielens-100k",
    split: float = 0.8,
    candidates: tuple[dict[str, Any], ...] = SESSION_CANDIDATES,
    powers: tuple[float, ...] = EXPOSURE_POWERS,
    seed: int = 0,
    progress: bool = False,
) -> tuple[dict[str, Any], float, pd.DataFrame]:
    """Activity settings and exposure closest to the real training period, in two stages.

    1. Every candidate of ``candidates`` runs with the exposure power 0.5; the one with the
       smallest :func:`session_loss` wins.
    2. With it, every exposure power of ``powers`` runs; the one whose item Gini (clicks over
       movies) is closest to the real one wins: the replayed exposure stands for the
       platform's own recommender, which the data does not record.

    Only the training period is simulated and compared: the held-out period plays no part.

    Returns:
        ``(overrides, exposure power, table of every run's training statistics)``.
    """
    import json

    import pandas as pd
    from tqdm.auto import tqdm

    runs = [(k, 0.5) for k in range(len(candidates))] + [(None, p) for p in powers]
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(runs), desc="refit activity", unit="run", disable=not progress)
    best = 0
    for stage, (k, power) in enumerate(runs):
        if k is None:  # stage 2 starts: the stage-1 winner
            frame = pd.DataFrame(rows)
            best = int(frame["loss"].iloc[: len(candidates)].idxmin())
            k = best
        over = candidates[k]
        table = temporal_calibration(world, split, over, seed, power, train_only=True)["train"]
        sim, real = table["simulated"], table["real"]
        rows.append(
            {
                "stage": 1 if stage < len(candidates) else 2,
                "candidate": k,
                "exposure power": power,
                "settings": json.dumps(over, sort_keys=True) if over else "defaults",
                "per_user_mean": sim["per_user_mean"],
                "gap_mean_days": sim["gap_mean_days"],
                "single_day_users": sim["single_day_users"],
                "loss": session_loss(table),
                "item_gini": sim["item_gini"],
                "|item_gini - real|": abs(sim["item_gini"] - real["item_gini"]),
            }
        )
        bar.update()
    bar.close()
    frame = pd.DataFrame(rows)
    second = frame[frame["stage"] == 2]
    power = float(second.loc[second["|item_gini - real|"].idxmin(), "exposure power"])
    return candidates[best], power, frame
