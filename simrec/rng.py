r"""Seeded random streams.

One run seed is expanded by :class:`numpy.random.SeedSequence` into named, independent child
streams, so that every component draws from its own generator and none can shift another's
draws:

* ``world``     -- building the catalog and the population (a :class:`numpy.random.Generator`);
* ``arrivals``  -- arrival times of users (a :class:`numpy.random.Generator`);
* ``agent``     -- the recommender's own randomness (a :class:`numpy.random.Generator`);
* ``behaviour`` -- every draw a user makes (click, purchase, session exit, return gap, churn,
  interest random walk, candidate retrieval), a :class:`CounterStream`.

Why the behaviour stream is counter-based
-----------------------------------------
Common random numbers (CRN) make paired comparisons of two agents precise: the same user
should meet the same luck under both. A sequential generator cannot give that, because which
users are active at a tick depends on the agent, so the k-th number drawn would go to different
users. :class:`CounterStream` instead derives each uniform from
:math:`h(\text{key}, \text{purpose}, \text{user}, \text{counter}, \text{lane})`, where the
counter is the user's own request or visit number: user *j*'s *n*-th request gets the same
uniforms under every agent. The key is drawn from the ``behaviour`` child of the
:class:`~numpy.random.SeedSequence`; *h* is the SplitMix64 finaliser applied once per input
word (the same counter-based idea as Philox/Random123, as used by JAX and numpy's ``Philox``),
vectorised in numpy. No global RNG is used anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from simrec.errors import ConfigError

__all__ = ["CounterStream", "Purpose", "Streams", "distinct_integers", "make_streams"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53


class Purpose(IntEnum):
    """What a behavioural draw is used for; each purpose is an independent sub-stream."""

    CHOICE = 1
    PURCHASE = 2
    ENGAGEMENT = 3
    SESSION_EXIT = 4
    RETURN_GAP = 5
    CHURN = 6
    RANDOM_WALK = 7
    CANDIDATES = 8
    FIRST_VISIT = 9


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@dataclass(frozen=True)
class CounterStream:
    """Counter-based uniforms keyed by (purpose, user, counter, lane).

    Attributes:
        key: 64-bit key drawn from the run's seed sequence.

    >>> s = CounterStream(key=12345)
    >>> a = s.uniform(Purpose.CHOICE, np.array([0, 1, 2]), np.array([5, 5, 5]))
    >>> b = s.uniform(Purpose.CHOICE, np.array([2, 0]), np.array([5, 5]))
    >>> bool(a[2] == b[0] and a[0] == b[1])
    True
    """

    key: int

    def bits(
        self, purpose: int, users: np.ndarray, counters: np.ndarray, lanes: int | None = None
    ) -> np.ndarray:
        """Return raw uint64 hashes, shape ``(B,)`` or ``(B, lanes)``.

        Args:
            purpose: A :class:`Purpose` (or any small int) selecting the sub-stream.
            users: User ids, shape ``(B,)``.
            counters: Per-user counters (request or visit numbers), shape ``(B,)``.
            lanes: Number of independent draws per (user, counter); ``None`` for one.
        """
        with np.errstate(over="ignore"):
            x = _mix(np.uint64(self.key) ^ (np.uint64(purpose) * _GOLDEN))
            x = _mix(x + np.asarray(users, dtype=np.uint64) * _GOLDEN)
            x = _mix(x ^ np.asarray(counters, dtype=np.uint64))
            if lanes is not None:
                lane = np.arange(1, lanes + 1, dtype=np.uint64) * _GOLDEN
                x = _mix(x[:, None] + lane[None, :])
        return x

    def uniform(
        self, purpose: int, users: np.ndarray, counters: np.ndarray, lanes: int | None = None
    ) -> np.ndarray:
        """Uniforms in [0, 1) with 53-bit resolution, shape ``(B,)`` or ``(B, lanes)``."""
        return (self.bits(purpose, users, counters, lanes) >> _S11).astype(np.float64) * _TO_UNIT

    def normal(
        self, purpose: int, users: np.ndarray, counters: np.ndarray, lanes: int
    ) -> np.ndarray:
        """Standard normals by Box-Muller, shape ``(B, lanes)``."""
        u = self.uniform(purpose, users, counters, 2 * lanes)
        u1, u2 = u[:, :lanes], u[:, lanes:]
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


@dataclass(frozen=True)
class Streams:
    """The named streams of one run, all derived from one seed.

    Attributes:
        seed: The run seed.
        world: Generator for building the world.
        arrivals: Generator for user arrival times.
        agent: Generator handed to the agent.
        behaviour: Counter-based stream for every user draw.
    """

    seed: int
    world: np.random.Generator
    arrivals: np.random.Generator
    agent: np.random.Generator
    behaviour: CounterStream


def make_streams(seed: int) -> Streams:
    """Expand one seed into the named streams of a run.

    Args:
        seed: Non-negative integer run seed.

    Returns:
        The :class:`Streams`; the same seed always gives the same streams.

    >>> a, b = make_streams(7), make_streams(7)
    >>> bool(a.world.random() == b.world.random())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    root = np.random.SeedSequence(int(seed))
    world, arrivals, agent, behaviour = root.spawn(4)
    key = int(behaviour.generate_state(1, dtype=np.uint64)[0])
    return Streams(
        seed=int(seed),
        world=np.random.default_rng(world),
        arrivals=np.random.default_rng(arrivals),
        agent=np.random.default_rng(agent),
        behaviour=CounterStream(key=key),
    )


def distinct_integers(draw: Callable[[int, int], np.ndarray], n: int, k: int) -> np.ndarray:
    """Draw ``k`` distinct integers in ``[0, n)`` per row.

    Args:
        draw: ``draw(round, width)`` returns uniforms of shape ``(B, width)``; each round
            must give fresh draws (same arguments, same draws: the result is deterministic).
        n: Size of the range.
        k: Draws per row, ``k <= n``.

    Returns:
        ``(B, k)`` int64, distinct within each row, in random order.

    Sparse draws (``4k <= n``) redraw only the duplicates; dense ones rank ``n`` random keys.

    >>> g = np.random.default_rng(0)
    >>> x = distinct_integers(lambda r, w: g.random((1000, w)), 10, 8)
    >>> bool(all(len(set(row)) == 8 for row in x.tolist()))
    True
    """
    if not 0 <= k <= n:
        raise ValueError(f"distinct_integers: expected 0 <= k <= n, got k={k}, n={n}")
    if 4 * k > n:
        return np.argsort(draw(0, n), axis=1, kind="stable")[:, :k].astype(np.int64)
    idx = np.floor(draw(0, k) * n).astype(np.int64)
    for r in range(1, 64):
        order = np.argsort(idx, axis=1, kind="stable")
        srt = np.take_along_axis(idx, order, axis=1)
        dup_sorted = np.zeros_like(idx, dtype=bool)
        dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
        if not dup_sorted.any():
            return idx
        dup = np.zeros_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        fresh = np.floor(draw(r, k) * n).astype(np.int64)
        idx = np.where(dup, fresh, idx)
    return np.argsort(draw(64, n), axis=1, kind="stable")[:, :k].astype(np.int64)
