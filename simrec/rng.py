r"""Seeded random streams.

One run seed is expanded by :class:`numpy.random.SeedSequence` into named, independent child
streams, so that every component draws from its own generator and none can shift another's
draws:

* ``world``     -- building the catalog and the population (a :class:`numpy.random.Generator`);
* ``arrivals``  -- arrival times of users (a :class:`numpy.random.Generator`);
* ``agent``     -- the recommender's own randomness (a :class:`numpy.random.Generator`
  whose ``seed_seq`` does not hold the run seed);
* ``behaviour`` -- every draw a user makes (click, purchase, session exit, return gap, churn,
  interest random walk, candidate retrieval), a :class:`CounterStream`;
* ``measure``   -- the measurement's own draws (the user pairs homogenization follows, the
  users the reference popularity is computed over): the same for every agent of a seed
  (a :class:`numpy.random.Generator`; spawned fifth, so the other four are unchanged).

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

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from simrec.errors import ConfigError

__all__ = [
    "SEED_MAX",
    "CounterStream",
    "KeyedDraws",
    "Purpose",
    "Streams",
    "check_seed",
    "derived_purpose",
    "distinct_integers",
    "has_duplicates",
    "keyed_bits",
    "keyed_normal",
    "keyed_uniform",
    "make_streams",
]

# The constants as 0-d arrays: numpy applies an operator to an array and a 0-d array faster
# than to an array and a scalar (a sizeable part of the cost of a tick of a few requests).
_M1 = np.array(0xBF58476D1CE4E5B9, dtype=np.uint64)
_M2 = np.array(0x94D049BB133111EB, dtype=np.uint64)
_GOLDEN_INT = 0x9E3779B97F4A7C15
_GOLDEN = np.uint64(_GOLDEN_INT)
_MASK64 = (1 << 64) - 1
_S30, _S27, _S31, _S11 = (np.array(k, dtype=np.uint64) for k in (30, 27, 31, 11))
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
    LOG_SAMPLE = 10
    AB_ASSIGNMENT = 11
    SHARE = 12
    CREATOR_EXIT = 13
    CREATOR_PRODUCTION = 14


#: Derived purposes start here, above any built-in :class:`Purpose`.
DERIVED_PURPOSE_BASE = 2**16


def derived_purpose(name: str) -> int:
    """The draw purpose of a named part (an added component): a stable id from its name.

    Distinct from every built-in :class:`Purpose`; two names share one with probability
    about 2**-31 per pair (a model checks its components' for clashes).

    >>> derived_purpose("boredom") == derived_purpose("boredom") != derived_purpose("other")
    True
    """
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"simrec-purpose").digest()
    return DERIVED_PURPOSE_BASE + int.from_bytes(digest, "little") % (2**31 - DERIVED_PURPOSE_BASE)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic), in place: ``x`` is reused."""
    t = x >> _S30
    x ^= t
    x *= _M1
    np.right_shift(x, _S27, out=t)
    x ^= t
    x *= _M2
    np.right_shift(x, _S31, out=t)
    x ^= t
    return x


_WORDS: dict[int, np.uint64] = {}


def _word(n: int) -> np.uint64:
    """``n`` times the golden-ratio constant modulo 2**64 (a purpose's or a lane's word)."""
    w = _WORDS.get(n)
    if w is None:
        w = _WORDS[int(n)] = np.uint64((int(n) * _GOLDEN_INT) & _MASK64)
    return w


def _lane_words(lanes: int | Sequence[int]) -> np.ndarray:
    """The words of lanes ``1..lanes`` (an int) or of the given 1-based lane numbers."""
    if isinstance(lanes, int):
        return _words_of(lanes)
    return _words_of(tuple(int(n) for n in lanes))


@functools.lru_cache(maxsize=1024)
def _words_of(numbers: int | tuple[int, ...]) -> np.ndarray:
    """The words of lanes ``1..numbers`` (an int) or of the given lane numbers (cached)."""
    lanes = range(1, numbers + 1) if isinstance(numbers, int) else numbers
    words = np.array([_word(n) for n in lanes], dtype=np.uint64)
    words.flags.writeable = False
    return words


def keyed_bits(
    keys: np.ndarray,
    purpose: int,
    counters: np.ndarray,
    lanes: int | Sequence[int] | None = None,
) -> np.ndarray:
    """Raw uint64 hashes of (per-row key, purpose, counter[, lane]), ``(B,)`` or ``(B, lanes)``.

    Args:
        keys: One 64-bit stream key per row (a user's key), ``(B,)`` uint64.
        purpose: A :class:`Purpose` (or any small int) selecting the sub-stream.
        counters: Per-row counters (request or visit numbers), ``(B,)``.
        lanes: Number of independent draws per row (lanes ``1..lanes``), or the 1-based
            lane numbers wanted; ``None`` for one draw without a lane.
    """
    x = np.bitwise_xor(np.asarray(keys, dtype=np.uint64), _word(purpose))
    _mix(x)
    x ^= np.asarray(counters, dtype=np.uint64)
    _mix(x)
    return x if lanes is None else _with_lanes(x, lanes)


def _with_lanes(x: np.ndarray, lanes: int | Sequence[int]) -> np.ndarray:
    """The lane hashes ``(B, n)`` of the per-row hashes ``x (B,)``."""
    return _mix(x[:, None] + _lane_words(lanes)[None, :])


def _to_unit(bits: np.ndarray) -> np.ndarray:
    """53-bit uniforms in [0, 1) from raw hashes."""
    return (bits >> _S11).astype(np.float64) * _TO_UNIT


def _box_muller(u: np.ndarray, lanes: int) -> np.ndarray:
    """Standard normals ``(B, lanes)`` from uniforms ``(B, 2 * lanes)``."""
    u1, u2 = u[:, :lanes], u[:, lanes:]
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def keyed_uniform(
    keys: np.ndarray,
    purpose: int,
    counters: np.ndarray,
    lanes: int | Sequence[int] | None = None,
) -> np.ndarray:
    """Uniforms in [0, 1) with 53-bit resolution (see :func:`keyed_bits`)."""
    return _to_unit(keyed_bits(keys, purpose, counters, lanes))


def keyed_normal(keys: np.ndarray, purpose: int, counters: np.ndarray, lanes: int) -> np.ndarray:
    """Standard normals by Box-Muller, ``(B, lanes)`` (see :func:`keyed_bits`)."""
    return _box_muller(keyed_uniform(keys, purpose, counters, 2 * lanes), lanes)


@functools.cache
def _batch_plan(purposes: tuple[int, ...]) -> tuple[dict[int, int], np.ndarray]:
    """Column of each distinct purpose in a batch's hashes, and the purposes' words ``(1, P)``."""
    column = {p: j for j, p in enumerate(dict.fromkeys(int(p) for p in purposes))}
    return column, np.array([[_word(p) for p in column]], dtype=np.uint64)


class KeyedDraws:
    """The counter-based draws of one batch of rows, several purposes hashed in one pass.

    Row *b* draws what :func:`keyed_uniform` gives for ``(keys[b], purpose, counters[b])``,
    bit for bit; the purposes named up front are hashed together, as one ``(B, P)`` array,
    the first time any of them is asked for (a tick of a few requests then pays for one
    hash, not one per purpose). Other purposes, and every purpose of a batch of more than
    :attr:`BATCH_ROWS` rows (where a purpose drawn for a few rows only would cost more to
    hash for all), are hashed when asked, for the rows asked.

    The hash's first stage mixes the key with the purpose only; a caller that keeps it per
    row (:meth:`first_stage`: the engine does, per user) passes it as ``first`` and the
    draws skip it.

    Args:
        keys: One stream key per row ``(B,)`` uint64.
        counters: One counter per row ``(B,)``.
        purposes: The purposes to hash together.
        first: :meth:`first_stage` of ``keys`` and ``purposes``, ``(B, P)``, or ``None``.

    >>> keys, counters = np.array([3, 4], dtype=np.uint64), np.array([7, 9])
    >>> d = KeyedDraws(keys, counters, (Purpose.CHOICE, Purpose.SESSION_EXIT))
    >>> bool((d.uniform(Purpose.CHOICE) == keyed_uniform(keys, Purpose.CHOICE, counters)).all())
    True
    >>> bool(d.uniform(Purpose.SESSION_EXIT, np.array([1]))[0]
    ...      == keyed_uniform(keys[1:], Purpose.SESSION_EXIT, counters[1:])[0])
    True
    >>> first = KeyedDraws.first_stage(keys, (Purpose.CHOICE,))
    >>> bool((KeyedDraws(keys, counters, (Purpose.CHOICE,), first).uniform(Purpose.CHOICE)
    ...       == keyed_uniform(keys, Purpose.CHOICE, counters)).all())
    True
    """

    #: Rows above which purposes are hashed one at a time, for the rows asked.
    BATCH_ROWS = 1_024

    __slots__ = ("_batched", "_column", "_first", "_hashes", "_words", "counters", "keys")

    def __init__(
        self,
        keys: np.ndarray,
        counters: np.ndarray,
        purposes: Sequence[int] = (),
        first: np.ndarray | None = None,
    ) -> None:
        """Bind the rows; nothing is hashed until a draw is asked for."""
        self.keys, self.counters, self._first = keys, counters, first
        self._column, self._words = _batch_plan(tuple(purposes))
        self._batched = len(keys) <= self.BATCH_ROWS
        self._hashes: np.ndarray | None = None

    @staticmethod
    def first_stage(keys: np.ndarray, purposes: Sequence[int]) -> np.ndarray:
        """The first stage of the hash of each key and purpose, ``(B, P)`` (see the class)."""
        words = _batch_plan(tuple(purposes))[1]
        return _mix(np.bitwise_xor(np.asarray(keys, dtype=np.uint64)[:, None], words))

    def __len__(self) -> int:
        """Number of rows B."""
        return len(self.keys)

    def bits(
        self,
        purpose: int,
        rows: np.ndarray | None = None,
        lanes: int | Sequence[int] | None = None,
    ) -> np.ndarray:
        """:func:`keyed_bits` of the rows ``rows`` (all when ``None``)."""
        j = self._column.get(int(purpose))
        counters = self.counters if rows is None else self.counters[rows]
        if j is None or not (self._batched or self._first is not None):
            keys = self.keys if rows is None else self.keys[rows]
            return keyed_bits(keys, purpose, counters, lanes)
        if not self._batched:  # one purpose, the rows asked, from the kept first stage
            x = self._first[:, j] if rows is None else self._first[rows, j]  # type: ignore[index]
            x = _mix(x ^ np.asarray(counters, dtype=np.uint64))
            return x if lanes is None else _with_lanes(x, lanes)
        if self._hashes is None:
            if self._first is None:
                h = np.bitwise_xor(np.asarray(self.keys, dtype=np.uint64)[:, None], self._words)
                _mix(h)
            else:
                h = self._first.copy()
            h ^= np.asarray(self.counters, dtype=np.uint64)[:, None]
            self._hashes = _mix(h)
        x = self._hashes[:, j] if rows is None else self._hashes[rows, j]
        return x.copy() if lanes is None else _with_lanes(x, lanes)

    def uniform(
        self,
        purpose: int,
        rows: np.ndarray | None = None,
        lanes: int | Sequence[int] | None = None,
    ) -> np.ndarray:
        """:func:`keyed_uniform` of the rows ``rows`` (all when ``None``)."""
        return _to_unit(self.bits(purpose, rows, lanes))

    def normal(self, purpose: int, rows: np.ndarray | None = None, lanes: int = 1) -> np.ndarray:
        """:func:`keyed_normal` of the rows ``rows`` (all when ``None``)."""
        return _box_muller(self.uniform(purpose, rows, 2 * lanes), lanes)

    def ranked_uniform(self, purpose: int, rows: np.ndarray | None, rank: int) -> np.ndarray:
        """The ``rank``-th of several uniforms of each row, ``(B,)``.

        Rank 0 is the draw without a lane (what a row drawing once gets); rank ``r > 0`` is
        lane ``r``.
        """
        if rank == 0:
            return self.uniform(purpose, rows)
        return self.uniform(purpose, rows, rank)[:, rank - 1]

    def ranked_normal(self, purpose: int, rows: np.ndarray | None, rank: int) -> np.ndarray:
        """The ``rank``-th standard normal of each row, ``(B,)``.

        Column ``rank`` of ``normal(purpose, rows, rank + 1)``: all ``rank + 1`` columns
        are computed, in the layout :func:`keyed_normal` uses (numpy's transcendental loops
        may round differently over other memory layouts on some CPUs).
        """
        return self.normal(purpose, rows, rank + 1)[:, rank]


@dataclass(frozen=True)
class CounterStream:
    """Counter-based uniforms keyed by (user, purpose, counter, lane).

    Each user gets a 64-bit key derived from the run key (:meth:`user_keys`); the engine stores
    the keys and draws with :func:`keyed_uniform`. A gymnasium env gives each episode's user a
    key of its own drawn from the env's ``np_random``.

    Attributes:
        key: 64-bit run key drawn from the run's seed sequence.

    >>> s = CounterStream(key=12345)
    >>> a = s.uniform(Purpose.CHOICE, np.array([0, 1, 2]), np.array([5, 5, 5]))
    >>> b = s.uniform(Purpose.CHOICE, np.array([2, 0]), np.array([5, 5]))
    >>> bool(a[2] == b[0] and a[0] == b[1])
    True
    """

    key: int

    def user_keys(self, users: np.ndarray) -> np.ndarray:
        """The stream key of each user id, ``(B,)`` uint64."""
        base = _mix(np.full(1, self.key, dtype=np.uint64))
        return _mix(base + np.asarray(users, dtype=np.uint64) * _GOLDEN)

    def uniform(
        self, purpose: int, users: np.ndarray, counters: np.ndarray, lanes: int | None = None
    ) -> np.ndarray:
        """Uniforms in [0, 1) for user ids ``users``, ``(B,)`` or ``(B, lanes)``."""
        return keyed_uniform(self.user_keys(users), purpose, counters, lanes)

    def normal(
        self, purpose: int, users: np.ndarray, counters: np.ndarray, lanes: int
    ) -> np.ndarray:
        """Standard normals for user ids ``users``, ``(B, lanes)``."""
        return keyed_normal(self.user_keys(users), purpose, counters, lanes)


@dataclass(frozen=True)
class Streams:
    """The named streams of one run, all derived from one seed.

    Attributes:
        seed: The run seed.
        world: Generator for building the world.
        arrivals: Generator for user arrival times.
        agent: Generator handed to the agent.
        behaviour: Counter-based stream for every user draw.
        measure: Generator for the metrics' samples (never seen by the agent or the users).
        supply: Generator of the creator economy (entry schedule, creator keys).
    """

    seed: int
    world: np.random.Generator
    arrivals: np.random.Generator
    agent: np.random.Generator
    behaviour: CounterStream
    measure: np.random.Generator
    supply: np.random.Generator


#: Largest seed (seeds are stored as int64 in results).
SEED_MAX = 2**63 - 1


def check_seed(seed: object, name: str = "seed") -> None:
    """Refuse a seed that is not an integer in ``[0, 2**63 - 1]``.

    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    simrec.errors.ConfigError: seed: expected an integer in [0, 2**63 - 1], got -1
    """
    if (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer))
        or not 0 <= int(seed) <= SEED_MAX
    ):
        raise ConfigError(f"{name}: expected an integer in [0, 2**63 - 1], got {seed!r}")


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
    check_seed(seed)
    root = np.random.SeedSequence(int(seed))
    # spawn(6)'s first five children are spawn(5)'s: adding a stream changes none of them.
    world, arrivals, agent, behaviour, measure, supply = root.spawn(6)
    key = int(behaviour.generate_state(1, dtype=np.uint64)[0])
    return Streams(
        seed=int(seed),
        world=np.random.default_rng(world),
        arrivals=np.random.default_rng(arrivals),
        agent=_opaque(agent),
        behaviour=CounterStream(key=key),
        measure=np.random.default_rng(measure),
        supply=np.random.default_rng(supply),
    )


def _opaque(seq: np.random.SeedSequence) -> np.random.Generator:
    """The generator ``default_rng(seq)`` gives, without ``seq`` (whose entropy is the seed).

    The bit generator starts in the same state (the same draws), but its ``seed_seq`` is a
    new sequence whose entropy is a hash of that state, so that ``spawn`` stays deterministic
    and the object handed to an agent does not hold the run seed.
    """
    state = np.random.PCG64(seq).state
    bits = np.random.PCG64(np.random.SeedSequence(seq.generate_state(4)))
    bits.state = state
    return np.random.Generator(bits)


def has_duplicates(a: np.ndarray) -> np.ndarray:
    """Whether each row of the integer array ``a (B, K)`` repeats a value, ``(B,)`` bool.

    Short rows of a large batch compare every pair of columns (each comparison runs over
    all rows at once); long rows, and small batches, are sorted.

    >>> has_duplicates(np.array([[1, 2, 1], [3, 4, 5]])).tolist()
    [True, False]
    """
    B, K = a.shape
    if K > 16 or B < 50 * (K - 1):  # long rows, or few (a sort then costs less than K^2/2 calls)
        srt = np.sort(a, axis=1)
        return (srt[:, 1:] == srt[:, :-1]).any(axis=1)
    fits = a.size == 0 or (int(a.min()) >= -(2**31) and int(a.max()) < 2**31)
    cols = np.ascontiguousarray(a.T, dtype=np.int32 if fits else a.dtype)  # (K, B)
    dup = np.zeros(B, dtype=bool)
    hit = np.empty(B, dtype=bool)
    for j in range(1, K):
        for i in range(j):
            np.equal(cols[j], cols[i], out=hit)
            dup |= hit
    return dup


def distinct_integers(
    draw: Callable[[int, int], np.ndarray], n: int | np.ndarray, k: int
) -> np.ndarray:
    """Draw ``k`` distinct integers in ``[0, n)`` per row.

    Args:
        draw: ``draw(round, width)`` returns uniforms of shape ``(B, width)``; each round
            must give fresh draws (same arguments, same draws: the result is deterministic).
        n: Size of the range, one for all rows or one per row ``(B,)``.
        k: Draws per row, ``k <= min(n)``.

    Returns:
        ``(B, k)`` int64, distinct within each row, in random order.

    Sparse draws (``4k <= min(n)``) redraw only the duplicates; dense ones rank ``max(n)``
    random keys (keys past a row's ``n`` never win).

    >>> g = np.random.default_rng(0)
    >>> x = distinct_integers(lambda r, w: g.random((1000, w)), 10, 8)
    >>> bool(all(len(set(row)) == 8 for row in x.tolist()))
    True
    """
    n_min, n_max = int(np.min(n)), int(np.max(n))
    if not 0 <= k <= n_min:
        raise ValueError(f"distinct_integers: expected 0 <= k <= n, got k={k}, n={n_min}")
    n_col = np.asarray(n)[:, None] if np.ndim(n) else np.asarray(n)

    def dense(r: int) -> np.ndarray:
        keys = draw(r, n_max)
        if np.ndim(n):
            keys = np.where(np.arange(n_max)[None, :] < n_col, keys, np.inf)
        return np.argsort(keys, axis=1, kind="stable")[:, :k].astype(np.int64)

    if 4 * k > n_min:
        return dense(0)
    idx = (draw(0, k) * n_col).astype(np.int64)  # truncation is floor: the draws are >= 0
    rows = np.flatnonzero(has_duplicates(idx))  # the common case -- none -- needs only this
    for r in range(1, 64):
        if rows.size == 0:
            return idx
        # Only the rows holding a duplicate change; the draw is still made for every row so
        # that a sequential generator advances the same whatever the duplicates.
        sub = idx[rows]
        order = np.argsort(sub, axis=1, kind="stable")
        srt = np.take_along_axis(sub, order, axis=1)
        dup_sorted = np.zeros_like(sub, dtype=bool)
        dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
        dup = np.zeros_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        fresh = (draw(r, k)[rows] * (n_col[rows] if np.ndim(n) else n_col)).astype(np.int64)
        idx[rows] = np.where(dup, fresh, sub)
        rows = rows[has_duplicates(idx[rows])]
    return dense(64)
