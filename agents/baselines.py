"""Baselines: random, popularity, and the two oracles (upper bounds that read hidden state).

* ``random`` -- uniformly random distinct items from the request's pool.
* ``popularity`` -- the items clicked most over the last ``window_days`` (its own logs),
  excluding the items recently shown to the user (so a session does not repeat the same
  slate); ties broken at random.
* ``oracle`` -- ranks by the true value of consumption to the user now, as the user model's
  satisfaction component values it (the default's: quality times match minus the clickbait
  letdown), skipping items the user consumed recently. An upper bound for long-term outcomes,
  not for clicks; ``click_weight`` adds a share of the click utility (a mild change).
* ``myopic-oracle`` -- ranks by the true click utility (match, appeal, fatigue, repeats):
  the best possible short-term click maximiser, blind to what follows.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np
from simrec_agents.base import item_pool, sample_distinct, scores_top_k

from simrec.agent import Agent, AgentContext
from simrec.engine import row_membership
from simrec.types import Cost, Feedback, RequestBatch

if TYPE_CHECKING:
    from simrec.engine.truth import GroundTruth

__all__ = ["MyopicOracleAgent", "OracleAgent", "PopularityAgent", "RandomAgent"]


class RandomAgent(Agent):
    """Uniformly random distinct items from the request's pool."""

    isolated_state = True  # draws from self.rng only

    name = "random"

    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """Random slates."""
        return sample_distinct(self.rng, item_pool(batch), batch.slate_size)

    def scores(self, batch: RequestBatch, pool: np.ndarray) -> np.ndarray:
        """The same score for every item (a stochastic wrapper of it is uniform)."""
        return np.zeros(pool.shape)


class PopularityAgent(Agent):
    """Most-clicked items over a recent window, from the agent's own logs.

    Args:
        window_days: Days of clicks counted (a sliding window of whole days).
        exclude_recent: How many of the items last shown to a user are excluded from that
            user's slates (0: none).
    """

    isolated_state = True  # draws from self.rng only

    name = "popularity"

    def __init__(self, window_days: int = 7, exclude_recent: int = 50) -> None:
        """Validate and store the parameters."""
        if not isinstance(window_days, int) or window_days < 1:
            raise ValueError(f"window_days: expected an integer >= 1, got {window_days!r}")
        if not isinstance(exclude_recent, int) or exclude_recent < 0:
            raise ValueError(f"exclude_recent: expected an integer >= 0, got {exclude_recent!r}")
        self.window_days = window_days
        self.exclude_recent = exclude_recent

    def setup(self, context: AgentContext) -> None:
        """Allocate click counters."""
        super().setup(context)
        M, N = context.world.n_items, context.world.n_users
        self.days: deque[tuple[int, np.ndarray]] = deque()
        self.counts = np.zeros(M)
        self.recent = np.full((N, max(self.exclude_recent, 1)), -1, dtype=np.int64)
        self.recent_next = np.zeros(N, dtype=np.int64)

    def _roll(self, day: int) -> None:
        while self.days and self.days[0][0] <= day - self.window_days:
            _, old = self.days.popleft()
            self.counts -= old
        if not self.days or self.days[-1][0] != day:
            self.days.append((day, np.zeros_like(self.counts)))

    def observe(self, feedback: Feedback) -> None:
        """Count clicks and remember the items shown to each user."""
        self._roll(int(np.floor(feedback.time)))
        items = feedback.slates[feedback.clicked]
        np.add.at(self.days[-1][1], items, 1.0)
        np.add.at(self.counts, items, 1.0)
        if self.exclude_recent:
            users, K = feedback.users, feedback.slates.shape[1]
            L = self.recent.shape[1]
            slots = (self.recent_next[users][:, None] + np.arange(K)[None, :]) % L
            self.recent[users[:, None], slots] = feedback.slates
            self.recent_next[users] += K

    def scores(self, batch: RequestBatch, pool: np.ndarray) -> np.ndarray:
        """Windowed clicks of the pool ``(B, P)``; recently shown items ``-inf``."""
        self._roll(batch.day)
        if pool.strides[0] == 0:  # the whole catalog (a broadcast view): one gather
            scores = np.broadcast_to(self.counts[pool[0]], pool.shape).astype(np.float64)
        else:
            scores = self.counts[pool].astype(np.float64)
        if self.exclude_recent:
            seen = row_membership(pool, self.recent[batch.users], len(self.counts))
            scores[seen] = -np.inf
        return scores

    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """Top items by windowed clicks with random tie-breaks."""
        pool = item_pool(batch)
        scores = self.scores(batch, pool)
        scores += self.rng.random(pool.shape)  # tie-breaks, in place
        return scores_top_k(pool, scores, batch.slate_size)

    def cost(self) -> Cost:
        """One counter per item."""
        return Cost(params=len(self.counts))

    def request_flops(self, pool: float, batch: float) -> float:
        """One addition per pool item (count + tie-break)."""
        return pool


class _Oracle(Agent):
    """Shared part of the oracles: take the ground truth, rank the pool by a true score."""

    isolated_state = True  # draws from self.rng only

    reads_hidden_state = True

    def setup(self, context: AgentContext) -> None:
        """Take the ground-truth accessor."""
        super().setup(context)
        self.truth: GroundTruth = context.ground_truth()

    def scores(self, batch: RequestBatch, pool: np.ndarray) -> np.ndarray:
        """True scores of the pool ``(B, P)``; higher is better."""
        raise NotImplementedError

    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """The best items of the pool by the oracle's score."""
        pool = item_pool(batch)
        return scores_top_k(pool, self.scores(batch, pool), batch.slate_size)


class OracleAgent(_Oracle):
    """Ranks by the true value of consumption (the satisfaction component's), hidden state.

    Args:
        click_weight: Weight of the true click utility (appeal included) added to the value:
            0 (the default) ranks by value alone; a small weight is a mild ranking change
            toward what gets clicked (the utility is in logit units, several per unit of
            value, so 0.02 moves a score by about a tenth of the value's range).
    """

    name = "oracle"

    def __init__(self, click_weight: float = 0.0) -> None:
        """Validate and store the parameter."""
        if isinstance(click_weight, bool) or not isinstance(click_weight, int | float):
            raise ValueError(f"click_weight: expected a number >= 0, got {click_weight!r}")
        if not 0.0 <= click_weight < float("inf"):
            raise ValueError(f"click_weight: expected a finite number >= 0, got {click_weight!r}")
        self.click_weight = float(click_weight)

    def request_flops(self, pool: float, batch: float) -> float:
        """Per item: the match (a d-dim dot product) and the value's few terms."""
        extra = 2 * self.truth.dim + 10 if self.click_weight else 0
        return (2 * self.truth.dim + 6 + extra) * pool

    def scores(self, batch: RequestBatch, pool: np.ndarray) -> np.ndarray:
        """True experienced value; recently consumed items are excluded."""
        scores = np.array(self.truth.value(batch.users, pool))  # a writeable copy
        if self.click_weight:
            scores += self.click_weight * self.truth.utility(batch.users, pool)
        recent = self.truth.recent(batch.users)
        scores[row_membership(pool, recent, self.context.world.n_items)] = -np.inf
        return scores


class MyopicOracleAgent(_Oracle):
    """Ranks by the true click utility now (appeal included), hidden state."""

    name = "myopic-oracle"

    def request_flops(self, pool: float, batch: float) -> float:
        """Per item: the match (a d-dim dot product) and the utility's terms."""
        return (2 * self.truth.dim + 10) * pool

    def scores(self, batch: RequestBatch, pool: np.ndarray) -> np.ndarray:
        """True click utility (match, appeal, fatigue, repeats)."""
        return self.truth.utility(batch.users, pool)
