"""Sharing along the follow graph of the social world (:mod:`simrec.worlds.social`).

After each served batch, every click is shared with the clicking user's followers with
probability ``world.social.share_probability`` (a draw keyed by the user, the request and
the slate position: the same click is shared under every agent). A shared item enters each
follower's *feed* -- the latest ``feed_size`` shared items, each kept ``share_days`` days --
and from there

* raises the follower's utility of the item by ``share_boost`` whoever recommends it (the
  choice component adds :meth:`SocialChannel.boost`; the oracles' ground truth sees it too);
* enters the follower's candidates: the ``feed_candidates`` latest available feed items not
  already among a request's sampled candidates replace the last random ones (when the
  scenario samples candidates; otherwise the whole catalog is the pool anyway).

Sharing runs after the user-model step of a batch, on the whole batch at once (it writes
other users' rows, so it cannot run in the per-chunk threads).
"""

from __future__ import annotations

import numpy as np

from simrec.config import Config, SocialConfig
from simrec.engine.platform import Platform
from simrec.rng import Purpose, keyed_uniform
from simrec.usermodel.arrays import row_membership
from simrec.worlds.base import SocialGraph

__all__ = ["SocialChannel"]


class SocialChannel(Platform):
    """The feeds of shared items of every user (a :class:`~simrec.engine.platform.Platform`).

    Args:
        graph: The follow graph.
        config: ``world.social``.
        n_items: M.
    """

    def __init__(self, graph: SocialGraph, config: SocialConfig, n_items: int) -> None:
        """Empty feeds."""
        self.graph, self.config, self.n_items = graph, config, n_items
        n, size = graph.n_users, config.feed_size
        self.feed = np.full((n, size), -1, dtype=np.int64)
        self.when = np.full((n, size), -np.inf)
        self.next = np.zeros(n, dtype=np.int64)
        #: The time the feeds are read at (set by the engine at every tick).
        self.now = 0.0
        #: Feed entries written so far.
        self.deliveries = 0

    name = "social"
    state = ("feed", "when", "next")

    def connects_users(self, config: Config) -> bool:
        """Always: a user's clicks reach the followers' feeds."""
        return True

    def candidates(
        self,
        users: np.ndarray,
        candidates: np.ndarray | None,
        available: np.ndarray,
        now: float,
    ) -> np.ndarray | None:
        """Read the feeds at ``now``; the latest feed items join the candidates."""
        self.now = now
        return None if candidates is None else self.into_candidates(users, candidates, available)

    def served(
        self,
        users: np.ndarray,
        slates: np.ndarray,
        clicked: np.ndarray,
        keys: np.ndarray,
        req: np.ndarray,
        now: float,
    ) -> None:
        """Share the batch's clicks with the followers."""
        self.share(users, slates, clicked, keys, req, now)

    def active(self, users: np.ndarray) -> np.ndarray:
        """The users' feeds ``(B, feed_size)`` now: expired entries are -1."""
        feed = self.feed[users]
        feed[self.when[users] < self.now - self.config.share_days] = -1
        return feed

    def boost(self, users: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Utility added to items ``ids (B, X)`` for ``users (B,)``: the boost if in the feed."""
        inside = row_membership(ids, self.active(users), self.n_items)
        return inside.astype(np.float32) * np.float32(self.config.share_boost)

    def into_candidates(
        self, users: np.ndarray, candidates: np.ndarray, available: np.ndarray
    ) -> np.ndarray:
        """The candidates ``(B, C)`` with the latest available feed items in the last columns."""
        F = min(self.config.feed_candidates, candidates.shape[1])
        if F == 0 or len(users) == 0:
            return candidates
        feed = self.active(users)
        ok = feed >= 0
        ok[ok] = available[feed[ok]]
        ok &= ~row_membership(np.where(ok, feed, 0), candidates, self.n_items)
        when = np.where(ok, self.when[users], -np.inf)
        order = np.argsort(-when, axis=1, kind="stable")  # the latest first
        feed = np.take_along_axis(np.where(ok, feed, -1), order, axis=1)
        out = candidates.copy()
        chosen = np.full((len(users), F), -1, dtype=np.int64)
        C = candidates.shape[1]
        for col in range(feed.shape[1]):
            item = feed[:, col]
            # the next free column of each row, and no item twice (a feed may repeat one)
            taken = (chosen >= 0).sum(axis=1)
            fresh = (item >= 0) & (taken < F) & ~(chosen == item[:, None]).any(axis=1)
            rows = np.flatnonzero(fresh)
            chosen[rows, taken[rows]] = item[rows]
            out[rows, C - 1 - taken[rows]] = item[rows]
        return out

    def share(
        self,
        users: np.ndarray,
        slates: np.ndarray,
        clicked: np.ndarray,
        keys: np.ndarray,
        requests: np.ndarray,
        now: float,
    ) -> None:
        """Share a served batch's clicks with the clickers' followers (module docstring)."""
        rows, pos = np.nonzero(clicked)
        if rows.size == 0 or self.config.share_probability == 0.0:
            return
        K = slates.shape[1]
        draw = keyed_uniform(keys[rows], Purpose.SHARE, requests[rows] * K + pos)
        keep = draw < self.config.share_probability
        sharers, items = users[rows[keep]], slates[rows[keep], pos[keep]]
        idx, follower = self.graph.followers_of(sharers)
        if follower.size == 0:
            return
        item = items[idx]
        order = np.argsort(follower, kind="stable")
        follower, item = follower[order], item[order]
        rank = np.arange(len(follower)) - np.searchsorted(follower, follower)
        slot = (self.next[follower] + rank) % self.feed.shape[1]
        self.feed[follower, slot] = item
        self.when[follower, slot] = now
        got, count = np.unique(follower, return_counts=True)
        self.next[got] += count
        self.deliveries += len(follower)
