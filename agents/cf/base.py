"""Pieces every collaborative-filtering agent shares.

* :class:`Interactions` -- the agent's own log, built from ``observe(feedback)``: every
  impression (user, item, click, time) in columnar chunks, the per-user recently consumed
  items, and windowed click counts for the popularity fallback;
* :class:`CFAgent` -- the agent skeleton: scoring the request's pool (candidates or the
  whole catalog) with the model, excluding items the user already consumed (configurable),
  exploration (epsilon-greedy or a softmax temperature, via Gumbel top-K), the cold-start
  fallback (popularity for users with no clicks; a neutral score for items with no data),
  retraining on the calendar's schedule, and the cost report.

Subclasses implement :meth:`CFAgent.fit` (warm-started training on the log) and
:meth:`CFAgent.score` (model scores of a pool), and report :meth:`CFAgent.n_params`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from simrec_agents.base import item_pool, scores_top_k

from simrec.agent import Agent, AgentContext
from simrec.engine import row_membership
from simrec.log import Table
from simrec.types import Cost, Feedback, RequestBatch

__all__ = ["CFAgent", "Interactions", "UnclickedByUser", "check_params", "rank_within"]


def check_params(**checks: tuple[object, str]) -> None:
    """Validate hyperparameters given as ``name=(value, rule)``.

    Rules: ``"pos_int"``, ``"nonneg_int"``, ``"pos"``, ``"nonneg"``, ``"prob"``; a failure
    raises ``ValueError`` naming the parameter and the value.

    >>> check_params(dim=(8, "pos_int"), lr=(0.01, "pos"))
    >>> check_params(dim=(0, "pos_int"))
    Traceback (most recent call last):
    ...
    ValueError: dim: expected a positive integer, got 0
    """
    rules = {
        "pos_int": ("a positive integer", lambda v: isinstance(v, int) and v > 0),
        "nonneg_int": ("a non-negative integer", lambda v: isinstance(v, int) and v >= 0),
        "pos": ("a positive number", lambda v: isinstance(v, (int, float)) and v > 0),
        "nonneg": ("a number >= 0", lambda v: isinstance(v, (int, float)) and v >= 0),
        "prob": ("a number in [0, 1]", lambda v: isinstance(v, (int, float)) and 0 <= v <= 1),
    }
    for name, (value, rule) in checks.items():
        what, ok = rules[rule]
        if isinstance(value, bool) or not ok(value):
            raise ValueError(f"{name}: expected {what}, got {value!r}")


def rank_within(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each entry of ``keys``: how many equal entries come before it, and how many in all.

    Lets a batch's clicks of one user be applied in order (rank 0 first), e.g. the clicks of
    a batch flattened row by row: request order, then slate position within a request.

    >>> rank, count = rank_within(np.array([7, 3, 7, 7, 3]))
    >>> rank.tolist(), count.tolist()
    ([0, 0, 1, 2, 1], [3, 2, 3, 3, 2])
    """
    keys = np.asarray(keys)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    n = len(keys)
    first = np.ones(n, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]  # the first entry of each run of equal keys
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, n))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, sizes)
    count = np.empty(n, dtype=np.int64)
    count[order] = np.repeat(sizes, sizes)
    return rank, count


class Interactions:
    """The agent's own log of impressions, grown by :meth:`add`.

    Args:
        n_users: Number of users N.
        n_items: Number of items M.
        recent: Length of the per-user buffer of consumed (clicked) items.
        shown: Length of the per-user buffer of shown items.
    """

    SCHEMA: ClassVar[dict[str, type]] = {
        "user": np.int32,
        "item": np.int32,
        "click": np.bool_,
        "time": np.float32,
    }

    def __init__(self, n_users: int, n_items: int, recent: int = 50, shown: int = 25) -> None:
        self.n_users, self.n_items = n_users, n_items
        self.table = Table(self.SCHEMA)
        self.consumed = np.full((n_users, max(recent, 1)), -1, dtype=np.int64)
        self.consumed_next = np.zeros(n_users, dtype=np.int64)
        self.shown = np.full((n_users, max(shown, 1)), -1, dtype=np.int64)
        self.shown_next = np.zeros(n_users, dtype=np.int64)
        self.user_clicks = np.zeros(n_users, dtype=np.int64)
        self.item_shown = np.zeros(n_items, dtype=np.int64)
        self.item_clicks = np.zeros(n_items, dtype=np.int64)
        self._daily: dict[int, np.ndarray] = {}

    def add(self, fb: Feedback) -> None:
        """Append the impressions of one batch.

        Every click enters its user's buffer of consumed items, in order: the batch's
        requests in order, a request's clicks in slate order (several per slate under the
        position-based choice model; several requests of one user in a batch).
        """
        K = fb.slates.shape[1]
        users = np.repeat(fb.users, K)
        items = fb.slates.ravel()
        clicks = fb.clicked.ravel()
        self.table.append(user=users, item=items, click=clicks, time=fb.time)
        np.add.at(self.item_shown, items, 1)
        cu, ci = users[clicks], items[clicks]
        np.add.at(self.item_clicks, ci, 1)
        np.add.at(self.user_clicks, cu, 1)
        # ``cu``, ``ci`` run row by row (request, then slate position): the order of the
        # ring. Of a user's clicks beyond its length only the last L can remain, so only
        # those are written (each slot once).
        L = self.consumed.shape[1]
        rank, count = rank_within(cu)
        keep = rank >= count - L
        ku = cu[keep]
        self.consumed[ku, (self.consumed_next[ku] + rank[keep]) % L] = ci[keep]
        np.add.at(self.consumed_next, cu, 1)
        S = self.shown.shape[1]
        slots = (self.shown_next[fb.users][:, None] + np.arange(K)[None, :]) % S
        self.shown[fb.users[:, None], slots] = fb.slates
        self.shown_next[fb.users] += K
        day = int(np.floor(fb.time))
        counts = self._daily.setdefault(day, np.zeros(self.n_items, dtype=np.int64))
        np.add.at(counts, ci, 1)

    def columns(self) -> dict[str, np.ndarray]:
        """All logged impressions as columns."""
        return self.table.columns()

    def popularity(self, day: int, window_days: int) -> np.ndarray:
        """Clicks per item over the last ``window_days`` days (including ``day``)."""
        out = np.zeros(self.n_items)
        for d, counts in self._daily.items():
            if day - window_days < d <= day:
                out += counts
        return out


class UnclickedByUser:
    """The log's impressions without click, sorted by user (stably), kept up to date.

    The log only grows, so each :meth:`update` merges the new rows into the sorted arrays: the
    result equals a stable sort of the whole log by user, at the cost of the new rows (the
    sort of a sorted run plus a short one is near-linear).
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Empty: no row of any log seen."""
        self.rows = 0
        self.users = np.zeros(0, dtype=np.int64)
        self.items = np.zeros(0, dtype=np.int64)

    def update(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) of the unclicked impressions of ``data``, sorted by user."""
        n = len(data["user"])
        if n < self.rows:  # not the log this index has seen grow: start again
            self._reset()
        new = slice(self.rows, n)
        keep = ~data["click"][new]
        users = np.concatenate([self.users, data["user"][new][keep].astype(np.int64)])
        items = np.concatenate([self.items, data["item"][new][keep].astype(np.int64)])
        order = np.argsort(users, kind="stable")
        self.users, self.items, self.rows = users[order], items[order], n
        return self.users, self.items


class CFAgent(Agent):
    """Skeleton of a CF agent (see the module docstring).

    Args:
        exclude_consumed: Never recommend an item among the user's last consumed ones.
        exclude_shown: How many of the items last shown to the user are not shown again
            (0: none), so a session does not repeat the slate the user just passed over.
        epsilon: Probability that each slate position is replaced by a random pool item
            not in the slate (positions beyond the pool's unused items keep their ranked
            item: with ``candidates`` equal to ``slate_size``, exploration changes nothing).
        temperature: Softmax temperature of Gumbel top-K sampling over standardised scores
            (0: greedy top-K).
        popularity_window_days: Window of the popularity fallback.
        recent_consumed: How many consumed items per user are remembered for exclusion.
    """

    #: Serve users with no click by popularity (content agents score them from text).
    popularity_for_cold_users: ClassVar[bool] = True
    #: Give items with no logged impression the row's mean score (content agents don't).
    neutral_cold_items: ClassVar[bool] = True

    def __init__(
        self,
        exclude_consumed: bool = True,
        exclude_shown: int = 25,
        epsilon: float = 0.0,
        temperature: float = 0.0,
        popularity_window_days: int = 7,
        recent_consumed: int = 50,
    ) -> None:
        """Validate and store the shared hyperparameters."""
        check_params(
            epsilon=(epsilon, "prob"),
            temperature=(temperature, "nonneg"),
            popularity_window_days=(popularity_window_days, "pos_int"),
            recent_consumed=(recent_consumed, "pos_int"),
            exclude_shown=(exclude_shown, "nonneg_int"),
        )
        if not isinstance(exclude_consumed, bool):
            raise ValueError(f"exclude_consumed: expected true or false, got {exclude_consumed!r}")
        self.exclude_consumed = exclude_consumed
        self.exclude_shown = exclude_shown
        self.epsilon = epsilon
        self.temperature = temperature
        self.popularity_window_days = popularity_window_days
        self.recent_consumed = recent_consumed
        self.fitted = False
        self.fits = 0
        self.last_fit = -np.inf  # time of the previous retrain (days)

    def setup(self, context: AgentContext) -> None:
        """Allocate the log and build the (untrained) model."""
        super().setup(context)
        w = context.world
        self.log = Interactions(w.n_users, w.n_items, self.recent_consumed, self.exclude_shown)
        self.unclicked = UnclickedByUser()  # the log's negatives by user, for training
        self.build(w.n_users, w.n_items)

    # ------------------------------------------------------------------ to implement

    def build(self, n_users: int, n_items: int) -> None:
        """Create the model's parameters (once; retraining warm-starts from them)."""

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        """Train on the logged impressions ``data`` (warm start)."""
        raise NotImplementedError

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """Model scores ``(B, P)`` of ``pool`` items for ``users``."""
        raise NotImplementedError

    def n_params(self) -> tuple[int, int]:
        """(total, trainable) parameter counts."""
        return 0, 0

    def score_flops(self, pool: float, batch: float) -> float:
        """Estimated FLOPs of :meth:`score` per request (see :meth:`Agent.request_flops`)."""
        return 0.0

    # ------------------------------------------------------------------ protocol

    def observe(self, feedback: Feedback) -> None:
        """Log the impressions."""
        self.log.add(feedback)

    def retrain(self, now: float) -> None:
        """Refit on everything logged so far (skipped while no click was logged)."""
        if self.log.item_clicks.sum() == 0:
            return
        self.fit(self.log.columns(), now)
        self.fitted = True
        self.fits += 1
        self.last_fit = now

    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """Top-K by model score with fallbacks, exclusions and exploration."""
        pool = item_pool(batch)
        B, K = len(batch), batch.slate_size
        shared = pool.strides[0] == 0  # one pool for every request: look items up once
        ids = pool[:1] if shared else pool
        pop = self.rng.random(pool.shape)  # random tie-breaks among equals
        pop *= 1e-3
        pop += self.log.popularity(batch.day, self.popularity_window_days)[ids]
        if self.fitted:
            scores = np.asarray(self.score(batch.users, pool), dtype=np.float64)
            # Items with no logged impression get the row's mean score (neutral), so new
            # items are neither favoured nor buried by untrained embeddings.
            cold_item = np.broadcast_to(self.log.item_shown[ids] == 0, pool.shape)
            if self.neutral_cold_items and cold_item.any():
                # The mean over each row's warm items (0 when none is warm), summed as
                # numpy's nanmean sums.
                count = (~cold_item).sum(axis=1)
                mean = np.where(cold_item, 0.0, scores).sum(axis=1) / np.maximum(count, 1)
                scores = np.where(cold_item, mean[:, None], scores)
            # Users with no click yet fall back to popularity.
            if self.popularity_for_cold_users:
                cold_user = self.log.user_clicks[batch.users] == 0
                scores[cold_user] = pop[cold_user]
        else:
            scores = pop.copy()
        banned = np.zeros(pool.shape, dtype=bool)
        if self.exclude_consumed:
            banned |= row_membership(pool, self.log.consumed[batch.users], self.log.n_items)
        if self.exclude_shown:
            banned |= row_membership(pool, self.log.shown[batch.users], self.log.n_items)
        # Never ban so much that fewer than K items remain (tiny pools).
        enough = (~banned).sum(axis=1, keepdims=True) >= K
        scores[banned & enough] = -np.inf
        if self.temperature > 0:
            finite = np.isfinite(scores)
            mu = np.nanmean(np.where(finite, scores, np.nan), axis=1, keepdims=True)
            sd = np.nanstd(np.where(finite, scores, np.nan), axis=1, keepdims=True) + 1e-9
            gumbel = -np.log(-np.log(self.rng.random(scores.shape) + 1e-300) + 1e-300)
            scores = np.where(finite, (scores - mu) / sd / self.temperature + gumbel, -np.inf)
        slates = scores_top_k(pool, scores, K)
        if self.epsilon > 0:
            slates = self._explore(slates, pool, B, K)
        return slates

    def _explore(self, slates: np.ndarray, pool: np.ndarray, B: int, K: int) -> np.ndarray:
        """Epsilon-greedy: swap drawn slate positions for random unused pool items.

        Each position is drawn with probability epsilon and gets a random pool item not in
        the slate (distinct within the slate). When a request's pool has fewer such unused
        items than drawn positions (a pool hardly larger than the slate, e.g. ``candidates``
        equal to ``slate_size``), only as many positions as there are unused items, chosen
        at random among the drawn ones, are swapped; the others keep their ranked item (with
        no unused item the slate is kept as it is).
        """
        swap = self.rng.random((B, K)) < self.epsilon
        if not swap.any():
            return slates
        out = slates.copy()
        for r in np.flatnonzero(swap.any(axis=1)):
            taken = set(out[r].tolist())
            free = np.setdiff1d(pool[r], np.fromiter(taken, dtype=np.int64), assume_unique=False)
            positions = np.flatnonzero(swap[r])
            if len(free) < len(positions):  # not enough unused items: swap fewer positions
                if not len(free):
                    continue
                positions = np.sort(self.rng.choice(positions, size=len(free), replace=False))
            out[r, positions] = self.rng.choice(free, size=len(positions), replace=False)
        return out

    def cost(self) -> Cost:
        """Parameter counts (timings are measured by the simulation)."""
        total, trainable = self.n_params()
        return Cost(params=total, trainable_params=trainable, extra={"fits": self.fits})

    def request_flops(self, pool: float, batch: float) -> float:
        """Model scoring plus the popularity fallback (window sum per call, one add per item)."""
        window = self.popularity_window_days * self.log.n_items / batch
        return self.score_flops(pool, batch) + pool + window
