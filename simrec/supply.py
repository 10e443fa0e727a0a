r"""The creator economy: creators produce items, earn, leave and join (``world.supply``).

The supply side of a platform responds to what its recommender does: creators whose items
get no exposure stop producing or leave, and the catalog a platform has in six months is
shaped by what it recommends now (Mladenov et al., ICML 2020; Hron et al., NeurIPS 2022;
Yao et al., NeurIPS 2023). With ``world.supply.enabled`` the synthetic world's catalog is a
*reservoir*: every item has a creator (creator *c* of genre :math:`g_c`, with its own topic
offset) and is released only when that creator produces it.

Each day *d* (before the day's first request), with :math:`e_c` the impressions and
:math:`y_c` the income of creator *c*'s items over the last ``window_days`` days
(:math:`y_c` = ``revenue_share`` x revenue + ``pay_per_click`` x clicks):

1. **Exit.** An active creator who joined at least ``grace_days`` ago leaves with
   probability :math:`h_c = \text{exit\_max} \cdot 2^{-e_c / \text{exposure\_half}}`: a
   creator without exposure leaves at ``exit_max`` a day, each ``exposure_half`` window
   impressions halve that. A creator who left never returns; their items stay in the
   catalog unless ``withdraw_on_exit``.
2. **Entry.** New creators join on a schedule drawn once per seed (Poisson,
   ``arrivals_per_day``; each takes a free slot of a uniformly drawn genre, at most
   ``new_creators_per_genre`` per genre) and publish their first item on the day they join.
3. **Production.** Every other active creator releases
   :math:`n_c \sim \text{Poisson}(r_c)` new items, with the saturating response
   :math:`r_c = \text{min\_rate} + (\text{max\_rate} - \text{min\_rate})\,
   y_c / (y_c + \text{income\_half})` -- the next items of their reservoir, in order.
   A creator whose reservoir is used up produces no more (counted in
   ``reservoir_exhausted``; make ``world.items.n_items`` larger if it is not 0).

Exits and production draw counter-based uniforms keyed by (creator, day), as the users'
behaviour does: under two agents the same creator on the same day with the same exposure
makes the same decision (common random numbers), and the entry schedule is the same for
every agent of a seed. Agents see a released item exactly as any other (its features, its
``release_day``); an unreleased item has ``release_day = inf`` and is never available.

Metrics (daily and whole-run; :data:`DAILY` and :meth:`CreatorEconomy.totals`):
``creators_active``, ``creator_retention`` (share of the day-0 creators still active),
``creators_joined``, ``items_released``, ``catalog_size``, ``catalog_genre_entropy`` (the
genre entropy of the catalog over its maximum, in [0, 1]), ``creator_income`` and
``income_gini`` (Gini of the window income over active creators).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simrec.config import Config
from simrec.engine.platform import Platform
from simrec.errors import ConfigError, SimrecError
from simrec.metrics import gini
from simrec.rng import Purpose, keyed_uniform
from simrec.types import Feedback, readonly
from simrec.worlds.base import World

__all__ = ["DAILY", "CreatorEconomy", "poisson_from_uniform"]

#: Daily series of the economy, in the order of the daily table.
DAILY = (
    "creators_active",
    "creator_retention",
    "creators_joined",
    "items_released",
    "catalog_size",
    "catalog_genre_entropy",
    "creator_income",
    "income_gini",
)


def poisson_from_uniform(u: np.ndarray, rate: np.ndarray, cap: int = 60) -> np.ndarray:
    """Poisson(``rate``) counts by inverting the CDF at uniforms ``u`` (elementwise).

    >>> poisson_from_uniform(np.array([0.1, 0.5, 0.99]), np.array([1.0, 1.0, 1.0])).tolist()
    [0, 1, 4]
    """
    rate = np.asarray(rate, dtype=np.float64)
    p = np.exp(-rate)
    cdf = p.copy()
    k = np.zeros(rate.shape, dtype=np.int64)
    for n in range(1, cap + 1):
        more = u >= cdf
        if not more.any():
            break
        k += more
        p = p * rate / n
        cdf = cdf + p
    return k


class CreatorEconomy(Platform):
    """The creators of one run: their state, the daily rules and the metrics.

    A :class:`~simrec.engine.platform.Platform` (``start_day``: entries, exits and
    releases; ``record``: exposure and income; ``daily``, ``totals``, ``table``: the
    creator metrics and the ``creators`` table). It connects users: what one run's users
    see decides what the creators publish for all.

    It owns the catalog's ``release_day`` and ``expire_day``: the world's item table gets
    read-only views of its arrays, so the engine and the agents see each release the day
    it happens and nothing earlier.

    Args:
        world: The run's world (built with ``world.supply.enabled``); its item table is
            re-pointed at the economy's arrays.
        config: The run configuration.
        rng: The run's ``supply`` stream (entry schedule and creator keys).

    Raises:
        ConfigError: The world has no creator slots laid out for an economy.
    """

    name = "creators"
    state = ("joined", "left", "release", "expire", "exposure", "income_total", "produced")

    def connects_users(self, config: Config) -> bool:
        """Always: exposure under one agent decides the supply every user sees."""
        return True

    def __init__(self, world: World, config: Config, rng: np.random.Generator) -> None:
        s = config.world.supply
        self.config, self.days = s, config.simulation.days
        self.shelf_life = config.world.items.shelf_life_days
        per_genre = s.initial_creators_per_genre + s.new_creators_per_genre
        G = config.world.n_genres
        self.C = C = G * per_genre
        items = world.items
        self.creator = np.asarray(items.creator, dtype=np.int64)
        if len(self.creator) and int(self.creator.max()) >= C:
            raise ConfigError(
                f"world.supply: the world's items have creator ids up to "
                f"{int(self.creator.max())}, expected below {C} (n_genres x creator slots); "
                f"world.kind {config.world.kind!r} does not support the creator economy"
            )
        self.genre_of_item = np.asarray(items.genre, dtype=np.int64)
        self.n_genres = G
        self.release = np.array(items.release_day, dtype=np.float32)
        self.expire = np.array(items.expire_day, dtype=np.float32)
        object.__setattr__(items, "release_day", readonly(self.release.view()))
        object.__setattr__(items, "expire_day", readonly(self.expire.view()))
        # Creators: slots 0..initial-1 of each genre are present on day 0.
        slot = np.arange(C) % per_genre
        self.genre = np.arange(C) // per_genre
        self.initial = slot < s.initial_creators_per_genre
        self.joined = np.where(self.initial, 0.0, np.inf)
        self.left = np.full(C, np.inf)
        # Reservoir: each creator's unreleased items in id order.
        pending = np.flatnonzero(~np.isfinite(self.release))
        order = pending[np.argsort(self.creator[pending], kind="stable")]
        self.queue = order
        counts = np.bincount(self.creator[order], minlength=C)
        self.next = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.end = self.next + counts
        self.exhausted = np.zeros(C, dtype=bool)
        # Entry schedule, the same for every agent of this seed.
        self.schedule = self._entry_schedule(rng, per_genre)
        self.keys = rng.integers(0, 2**63, size=C, dtype=np.uint64)
        # Window of exposure, clicks and revenue by creator: a ring over days.
        W = s.window_days
        self.exposure = np.zeros((W, C))
        self.clicks = np.zeros((W, C))
        self.revenue = np.zeros((W, C))
        self.income_total = np.zeros(C)
        self.exposure_total = np.zeros(C)
        self.produced = np.zeros(C, dtype=np.int64)
        self.day = 0
        self.rows: list[dict[str, float]] = []

    # ------------------------------------------------------------------ rules

    def _entry_schedule(self, rng: np.random.Generator, per_genre: int) -> dict[int, np.ndarray]:
        """Day -> creators joining that day (free slots of uniformly drawn genres)."""
        s = self.config
        free = [
            list(rng.permutation(np.flatnonzero((self.genre == g) & ~self.initial)))
            for g in range(self.n_genres)
        ]
        schedule: dict[int, np.ndarray] = {}
        for day in range(1, self.days):
            n = int(rng.poisson(s.arrivals_per_day)) if s.arrivals_per_day > 0 else 0
            joining = []
            for g in rng.integers(0, self.n_genres, size=n):
                if free[g]:
                    joining.append(int(free[g].pop()))
            if joining:
                schedule[day] = np.array(joining, dtype=np.int64)
        return schedule

    def window(self) -> tuple[np.ndarray, np.ndarray]:
        """Each creator's window impressions and income ``(C,)`` (the last window days)."""
        s = self.config
        income = s.revenue_share * self.revenue.sum(0) + s.pay_per_click * self.clicks.sum(0)
        return self.exposure.sum(0), income

    def active(self, day: float) -> np.ndarray:
        """Creators who have joined and not left by ``day``, ``(C,)`` bool."""
        return (self.joined <= day) & (day < self.left)

    def exit_hazard(self, exposure: np.ndarray) -> np.ndarray:
        """Daily chance of leaving given window impressions."""
        s = self.config
        return s.exit_max * np.exp2(-exposure / s.exposure_half)

    def production_rate(self, income: np.ndarray) -> np.ndarray:
        """Expected items a day given window income (saturating)."""
        s = self.config
        return s.min_rate + (s.max_rate - s.min_rate) * income / (income + s.income_half)

    def start_day(self, day: int) -> None:
        """Apply the day's exits, entries and production (before its first request)."""
        self.day = day
        exposure, income = self.window()
        if day > 0:
            active = self.active(day)
            may_leave = active & (day - self.joined >= self.config.grace_days)
            u = keyed_uniform(self.keys, Purpose.CREATOR_EXIT, np.full(self.C, day))
            leaving = may_leave & (u < self.exit_hazard(exposure))
            self.left[leaving] = day
            if self.config.withdraw_on_exit and leaving.any():
                gone = leaving[self.creator] & (self.release <= day) & (self.expire > day)
                self.expire[gone] = day
            producing = active & ~leaving
            u = keyed_uniform(self.keys, Purpose.CREATOR_PRODUCTION, np.full(self.C, day))
            count = np.where(producing, poisson_from_uniform(u, self.production_rate(income)), 0)
            joining = self.schedule.get(day, np.zeros(0, dtype=np.int64))
            self.joined[joining] = day
            count[joining] = 1  # a creator joins by publishing
            released = self._release(count, day)
        else:
            released = 0
        self.rows.append(self._daily_row(day, released, income))
        self.exposure[day % self.config.window_days] = 0.0  # the slot records day `day` now
        self.clicks[day % self.config.window_days] = 0.0
        self.revenue[day % self.config.window_days] = 0.0

    def _release(self, count: np.ndarray, day: int) -> int:
        """Release up to ``count[c]`` reservoir items of each creator on ``day``."""
        room = self.end - self.next
        take = np.minimum(count, room)
        self.exhausted |= count > room
        if not take.any():
            return 0
        creators = np.repeat(np.arange(self.C), take)
        offsets = np.arange(len(creators)) - np.repeat(np.cumsum(take) - take, take)
        ids = self.queue[self.next[creators] + offsets]
        self.next += take
        self.produced += take
        self.release[ids] = day
        self.expire[ids] = day + self.shelf_life
        return len(ids)

    def record(self, feedback: Feedback) -> None:
        """Add a served batch's impressions, clicks and revenue to its creators."""
        slot = self.day % self.config.window_days
        c = self.creator[np.asarray(feedback.slates).ravel()]
        shown = np.bincount(c, minlength=self.C)
        clicks = np.bincount(c, weights=np.asarray(feedback.clicked).ravel(), minlength=self.C)
        revenue = np.bincount(c, weights=np.asarray(feedback.revenue).ravel(), minlength=self.C)
        self.exposure[slot] += shown
        self.clicks[slot] += clicks
        self.revenue[slot] += revenue
        self.exposure_total += shown
        s = self.config
        self.income_total += s.revenue_share * revenue + s.pay_per_click * clicks

    # ------------------------------------------------------------------ metrics

    def _daily_row(self, day: int, released: int, income: np.ndarray) -> dict[str, float]:
        active = self.active(day)
        available = (self.release <= day) & (day < self.expire)
        genres = np.bincount(self.genre_of_item[available], minlength=self.n_genres)
        p = genres[genres > 0] / max(genres.sum(), 1)
        entropy = (
            float(-(p * np.log(p)).sum() / np.log(self.n_genres)) if self.n_genres > 1 else 1.0
        )
        live = income[active]  # the window's income (exits do not change it)
        return {
            "creators_active": float(active.sum()),
            "creator_retention": float(active[self.initial].mean()),
            "creators_joined": float(np.isfinite(self.joined[~self.initial]).sum()),
            "items_released": float(released),
            "catalog_size": float(available.sum()),
            "catalog_genre_entropy": entropy,
            "creator_income": float(income.sum()),
            "income_gini": gini(live) if live.size and live.sum() > 0 else float("nan"),
        }

    def daily(self) -> dict[str, np.ndarray]:
        """The daily series (:data:`DAILY`), one value per simulated day."""
        if len(self.rows) != self.days:
            raise SimrecError(
                f"creator economy: {len(self.rows)} days recorded, expected {self.days}"
            )
        return {name: np.array([r[name] for r in self.rows]) for name in DAILY}

    def lifetimes(self) -> tuple[np.ndarray, np.ndarray]:
        """Days active and whether the exit was observed, for every creator who joined."""
        came = np.isfinite(self.joined)
        end = np.minimum(self.left[came], float(self.days))
        return end - self.joined[came], np.isfinite(self.left[came])

    def totals(self) -> dict[str, float]:
        """Whole-run metrics of the economy (end of run, and sums over it)."""
        d = self.daily()
        last = self.days - 1
        came = np.isfinite(self.joined)
        new = came & ~self.initial
        life0 = np.minimum(self.left[self.initial], float(self.days))
        ever = self.income_total[came]
        return {
            "creators_active": float(d["creators_active"][last]),
            "creator_retention": float(d["creator_retention"][last]),
            "creator_rmst_days": float(life0.mean()),
            "creators_joined": float(new.sum()),
            "new_creator_retention": float((self.left[new] > last).mean())
            if new.any()
            else float("nan"),
            "items_released": float(d["items_released"][1:].sum()),
            "catalog_size": float(d["catalog_size"][last]),
            "catalog_genre_entropy": float(d["catalog_genre_entropy"][last]),
            "creator_income": float(self.income_total.sum()),
            "income_gini": gini(ever) if ever.sum() > 0 else float("nan"),
            "reservoir_exhausted": float(self.exhausted.sum()),
        }

    def table(self) -> dict[str, Any]:
        """One row per creator slot: genre, join and exit day, items, impressions, income."""
        return {
            "creator": np.arange(self.C),
            "genre": self.genre,
            "initial": self.initial,
            "joined_day": self.joined,
            "left_day": self.left,
            "items_produced": self.produced,
            "impressions": self.exposure_total,
            "income": self.income_total,
        }
