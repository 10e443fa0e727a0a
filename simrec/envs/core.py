r"""The shared core of the single-user gymnasium envs and their native vector version.

:class:`LifetimeCore` runs ``n`` *slots*, each holding one user's life on the platform, over
one shared catalog, on the population engine (:class:`simrec.engine.Engine`, no event log).
Every slot keeps its own clock (days since that user's first visit). A step serves one
request per stepped slot:

1. the action indexes the slot's C candidates (one index, or K distinct ones for a slate);
2. the engine applies choice and every state update for all stepped slots at once;
3. a slot whose session ended either churned (``terminated``), or jumps to its next visit
   (time passes between sessions: satisfaction decays, interest random-walks); a next visit
   past the horizon ends the episode (``truncated``);
4. each continuing slot gets C fresh distinct candidates among the items in the catalog at
   its own time.

Users are drawn per episode from the world's population with the slot's ``np_random``,
which also draws the user's behaviour-stream key; so a slot's trajectory depends only on its
own seed and actions, whatever the other slots do. The native vector env and ``n`` single
envs therefore produce the same trajectories for the same seeds.

The observation is built by :class:`simrec.envs.observation.ObservationBuilder` (the same
builder the RL agents use when they serve a population); popularity is the item's smoothed
CTR in a random-exposure warm-up log over a background population, computed once per
catalog.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from simrec.config import Config, EnvConfig, replace_path
from simrec.engine import Engine, as_array
from simrec.envs.observation import ObservationBuilder, newest_first, smoothed_ctr
from simrec.errors import ConfigError, InvalidActionError, SimrecError
from simrec.log import EventLog
from simrec.resources import check_memory
from simrec.rng import CounterStream, make_streams
from simrec.worlds import World, fewest_available, make_world, new_users

__all__ = ["Catalog", "LifetimeCore", "StepResult", "catalog_for"]

#: Bounds of observation features (the values are clipped to them).


@dataclass(frozen=True)
class Catalog:
    """A built world shared by every slot, with precomputed observable item features."""

    world: World
    popularity: np.ndarray  # (M,): warm-up CTR, smoothed
    order: np.ndarray  # item ids sorted by release day
    release_sorted: np.ndarray
    expire_sorted: np.ndarray


def _warmup_popularity(world: World, config: Config, env: EnvConfig) -> np.ndarray:
    """Smoothed CTR of each item under uniformly random slates over a background population."""
    M = world.n_items
    if env.warmup_users == 0:
        return smoothed_ctr(np.zeros(M), np.zeros(M))
    cfg = replace_path(config, "world.users.n_users", env.warmup_users)
    cfg = replace_path(cfg, "world.users.arrivals_per_day", 0.0)
    cfg = replace_path(cfg, "simulation.candidates", 0)  # random slates from the catalog
    streams = make_streams(env.world_seed)
    users, truth = new_users(cfg.world, world, streams.arrivals, env.warmup_users)
    log = EventLog(users.arrival_day)
    bg = replace(world, users=users, user_truth=truth)
    engine = Engine(bg, cfg, streams.behaviour, log)
    rng = streams.agent
    K = cfg.simulation.slate_size
    tick = cfg.simulation.tick_minutes / 1440.0
    for t in np.arange(0.0, env.warmup_days, tick):
        if float(t).is_integer():
            engine.set_day(int(t))
        batch = engine.open_requests(float(t))
        if batch is None:
            continue
        pool = batch.available
        keys = rng.random((len(batch), len(pool)))
        slates = pool[np.argpartition(keys, K - 1, axis=1)[:, :K]]
        engine.serve(batch, slates)
    imp = log.impressions.columns()
    shown = np.bincount(imp["item"], minlength=M)
    clicked = np.bincount(imp["item"], weights=imp["click"], minlength=M)
    return smoothed_ctr(clicked, shown)


@functools.lru_cache(maxsize=8)
def _cached_catalog(config: Config, env: EnvConfig) -> Catalog:
    streams = make_streams(env.world_seed)
    cfg = replace_path(config, "world.users.n_users", 1)
    cfg = replace_path(cfg, "world.users.arrivals_per_day", 0.0)
    world = make_world(cfg.world, streams.world, streams.arrivals, env.horizon_days)
    order = np.argsort(world.items.release_day, kind="stable")
    return Catalog(
        world=world,
        popularity=_warmup_popularity(world, config, env),
        order=order,
        release_sorted=world.items.release_day[order],
        expire_sorted=np.sort(world.items.expire_day),
    )


def catalog_for(config: Config, env: EnvConfig) -> Catalog:
    """The catalog of (config, env settings), built once per process and shared.

    Raises:
        ConfigError: The world is the social one (the envs serve users one at a time, with
            no follow graph between them), or runs the creator economy.
    """
    if config.world.supply.enabled:
        raise ConfigError(
            "world.supply.enabled: the gymnasium envs serve a fixed catalog and do not run the "
            "creator economy; expected false, got true (run it as a population scenario)"
        )
    if config.world.kind == "social":
        raise ConfigError(
            "world.kind: the gymnasium envs serve each user alone and keep no follow graph; "
            "expected a world without one (synthetic, movielens-100k, movielens-1m), got "
            "'social' (run it as a population scenario)"
        )
    key_env = replace(env, reward=type(env.reward)())  # the reward does not shape the catalog
    hashable = replace(config, simulation=replace(config.simulation, interventions=()))
    return _cached_catalog(hashable, key_env)


@dataclass
class StepResult:
    """Per-slot outcome of one step (arrays over the stepped slots)."""

    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict[str, np.ndarray]


class LifetimeCore:
    """``n`` slots of single-user lives over one catalog (see the module docstring).

    Args:
        config: World, dynamics, retention, economy and slate settings.
        env: Env settings (horizon, candidates, history, reward, catalog seed).
        n: Number of slots.
        item_vectors: Optional agent-supplied item vectors ``(M, E)`` added to the item
            features (e.g. language-model embeddings of the item text).
    """

    def __init__(
        self, config: Config, env: EnvConfig, n: int, item_vectors: np.ndarray | None = None
    ) -> None:
        self.config, self.env, self.n = config, env, n
        check_memory(config, n_users=n + env.warmup_users, what="the env")
        self.catalog = catalog_for(config, env)
        world = self.catalog.world
        M, G = world.n_items, len(world.genre_names)
        if item_vectors is not None:
            item_vectors = np.asarray(item_vectors, dtype=np.float32)
            if item_vectors.ndim != 2 or item_vectors.shape[0] != M:
                raise ConfigError(
                    f"item_vectors: expected an array of shape (n_items={M}, E), got "
                    f"{item_vectors.shape}"
                )
            if not np.isfinite(item_vectors).all():
                raise ConfigError("item_vectors: expected finite values")
        self.item_vectors = item_vectors
        self.observation = ObservationBuilder(world.items, G, env.history_length, item_vectors)
        E = 0 if item_vectors is None else item_vectors.shape[1]
        self.n_genres, self.n_vec = G, E
        self.K = config.simulation.slate_size
        self.C = env.candidates
        self.L = env.history_length
        if self.K > self.C:
            raise ConfigError(f"slate_size: expected at most candidates={self.C}, got {self.K}")
        fewest, day = fewest_available(world.items, math.ceil(env.horizon_days))
        if fewest < self.C:
            raise ConfigError(
                f"candidates: expected at most the {fewest} items the catalog holds on day "
                f"{day} of the horizon, got {self.C}"
            )
        self.tick = config.simulation.tick_minutes / 1440.0
        # One engine over n slots; users are put into slots at reset.
        users, truth = new_users(config.world, world, np.random.default_rng(0), n)
        slot_world = replace(world, users=users, user_truth=truth)
        self.engine = Engine(slot_world, config, CounterStream(0), None)
        self.profile = np.zeros((n, 1 + G), dtype=np.float32)
        self.now = np.zeros(n)
        self.prev = np.zeros(n)
        self.cands = np.zeros((n, self.C), dtype=np.int64)
        self.started = np.zeros(n, dtype=bool)
        self.done = np.zeros(n, dtype=bool)

    # ------------------------------------------------------------------ episodes

    def reset_slots(self, slots: np.ndarray, rngs: list[np.random.Generator]) -> None:
        """Start a new user's life in each slot, drawing the user from that slot's rng."""
        world = self.catalog.world
        for slot, rng in zip(slots, rngs, strict=True):
            users, truth = new_users(self.config.world, world, rng, 1)
            key = rng.integers(0, 2**63, dtype=np.int64).astype(np.uint64)
            self.engine.reset_users(np.array([slot]), truth, np.array([key]), np.zeros(1))
            self.profile[slot] = users.profile[0]
        self.now[slots] = 0.0
        self.prev[slots] = 0.0
        self.engine.start_sessions(slots, self.now[slots])
        self.started[slots] = True
        self.done[slots] = False
        self._new_candidates(slots)

    def _new_candidates(self, slots: np.ndarray) -> None:
        c = self.catalog
        t = self.now[slots]
        lo = np.searchsorted(c.expire_sorted, t, side="right")
        hi = np.searchsorted(c.release_sorted, t, side="right")
        n = hi - lo
        if (n < self.C).any():
            raise SimrecError(
                f"only {int(n.min())} items are in the catalog at day {float(t[n.argmin()]):.1f}"
                f", fewer than candidates={self.C}; lower `candidates` or lengthen shelf life"
            )
        pos = self.engine.sample_indices(slots, n, self.C)
        self.cands[slots] = c.order[pos + lo[:, None]]

    # ------------------------------------------------------------------ observations

    def observe(self, slots: np.ndarray) -> dict[str, np.ndarray]:
        """Observation arrays for ``slots`` (leading dimension: the slots)."""
        e = self.engine
        now = self.now[slots]
        context = np.stack(
            [now, now - self.prev[slots], e.session_requests[slots], e.visits[slots]], axis=1
        )
        cands = self.cands[slots]
        return self.observation(
            self.profile[slots].reshape(len(slots), -1),
            newest_first(e.recent[slots], e.recent_next[slots], self.L),
            context,
            cands,
            now,
            self.catalog.popularity[cands],
        )

    # ------------------------------------------------------------------ the step

    def slates(self, slots: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Map actions (candidate indices, ``(B,)`` or ``(B, K)``) to item ids ``(B, K)``.

        Raises:
            InvalidActionError: Wrong dtype or shape, an index out of ``[0, C)``, or a slate
                that repeats a candidate.
        """
        a = as_array(actions, "action")
        B, K, C = len(slots), self.K, self.C
        if a.dtype.kind not in "iu":
            raise InvalidActionError(
                f"action: expected integer candidate indices, got dtype {a.dtype}"
            )
        want = (B,) if K == 1 else (B, K)
        if a.shape == (B, 1) and K == 1:
            a = a[:, 0]
        if a.shape != want:
            raise InvalidActionError(
                f"action: expected shape {want[1:] or '()'} per env, got "
                f"{a.shape[1:] if B > 1 else a.shape}"
            )
        a = a.reshape(B, K).astype(np.int64)
        bad = (a < 0) | (a >= C)
        if bad.any():
            r, c = (int(x[0]) for x in np.nonzero(bad))
            raise InvalidActionError(
                f"action: candidate index {int(a[r, c])} out of range [0, {C})"
            )
        srt = np.sort(a, axis=1)
        dup_rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
        if dup_rows.size and self.env.slate_duplicates == "error":
            raise InvalidActionError(
                f"action: duplicate candidate indices in the slate {a[dup_rows[0]].tolist()}; "
                f"a slate holds {K} distinct candidates (or set slate_duplicates='fill')"
            )
        for d in dup_rows:  # "fill": repeats take the lowest unused candidates, in order
            row, seen = a[d], set()
            free = iter(i for i in range(C) if i not in set(row.tolist()))
            for j, x in enumerate(row.tolist()):
                row[j] = next(free) if x in seen else x
                seen.add(int(row[j]))
        return np.take_along_axis(self.cands[slots], a, axis=1)

    def step(self, slots: np.ndarray, actions: np.ndarray) -> StepResult:
        """Serve one request in each of ``slots`` with ``actions``."""
        if not self.started[slots].all():
            raise SimrecError("step() before reset(): call reset() first")
        if self.done[slots].any():
            raise SimrecError("step() after the episode ended: call reset() first")
        S = self.slates(slots, actions)
        e, rw = self.engine, self.env.reward
        now = self.now[slots]
        fb = e.serve_rows(slots, S, now)
        clicks = fb.clicked.sum(axis=1).astype(np.float64)
        minutes = fb.engagement.sum(axis=1).astype(np.float64)
        revenue = fb.revenue.sum(axis=1).astype(np.float64)
        reward = rw.click * clicks + rw.engagement * minutes + rw.revenue * revenue
        ended = fb.session_ended
        churned = e.churned[slots]
        gap = np.where(ended, e.next_visit[slots] - now, 0.0)
        returning = ended & ~churned
        reward = reward + np.where(
            returning, rw.return_bonus * np.exp(-gap / rw.return_scale_days), 0.0
        )
        reward = reward - np.where(churned, rw.churn_penalty, 0.0)
        next_t = np.where(ended, e.next_visit[slots], now + self.tick)
        truncated = ~churned & (next_t > self.env.horizon_days)
        terminated = churned
        self.done[slots] = terminated | truncated
        go_on = slots[~self.done[slots]]
        self.prev[slots] = now
        self.now[slots] = np.where(self.done[slots], now, next_t)
        back = slots[returning & ~truncated]
        if back.size:
            e.start_sessions(back, self.now[back])
        if go_on.size:
            self._new_candidates(go_on)
        s = e.satisfaction[slots]
        hazard = e.model.retention.hazard(e.pop, slots)
        info = {
            "clicked": clicks > 0,
            # Slate position of the clicked item (-1: no click), for slate-level learners.
            "click_position": np.where(
                fb.clicked.any(axis=1), fb.clicked.argmax(axis=1), -1
            ).astype(np.int64),
            "engagement": minutes,
            "revenue": revenue,
            "session_ended": ended,
            "return_gap": np.where(ended, gap, 0.0),  # days to the next visit; inf: churn
            "day": self.now[slots].copy(),
            "satisfaction": s.astype(np.float64),
            "churn_hazard": hazard,
            "slate": S,
        }
        return StepResult(reward, terminated, truncated, info)
