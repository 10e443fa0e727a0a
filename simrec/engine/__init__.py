r"""The vectorised population engine.

The population is a struct of arrays (no per-user Python objects). One tick of the calendar
is two calls:

1. :meth:`Engine.open_requests` starts the sessions that are due (applying the interest
   random walk since the last visit) and returns one :class:`~simrec.types.RequestBatch`
   holding every user with an open session;
2. :meth:`Engine.serve` validates the agent's slates and applies, vectorised over the batch
   and in this order: satisfaction and fatigue decay since the user's last request ->
   choice (MNL with no-click) -> engagement -> purchase and revenue -> interest drift toward
   the consumed item -> satisfaction update -> fatigue build-up -> session exit -> at session
   end, return gap and churn. It appends one row per impression to the event log.

Every behavioural draw comes from the run's counter-based stream keyed by the user and the
user's own request (or visit) number, so two agents meet the same luck for the same user
(common random numbers). See ``docs/model.md`` for the rules and their parameters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np

from simrec._malloc import keep_freed_heap
from simrec.config import Config
from simrec.dynamics import (
    choice,
    drift,
    economy,
    engagement,
    fatigue,
    retention,
    satisfaction,
    session,
)
from simrec.errors import InvalidActionError
from simrec.log import EventLog
from simrec.rng import (
    CounterStream,
    Purpose,
    distinct_integers,
    has_duplicates,
    keyed_normal,
    keyed_uniform,
)
from simrec.types import Feedback, RequestBatch, readonly
from simrec.worlds.base import World

__all__ = [
    "Engine",
    "GroundTruth",
    "as_array",
    "row_membership",
    "row_scores",
    "validate_slates",
]


def _equal_to_any(rows: np.ndarray, sets: np.ndarray, masked: bool = False) -> np.ndarray:
    """``(X, B)`` bool: whether ``rows[x, b]`` equals some ``sets[l, b]`` (``sets (L, B)``).

    One comparison of whole contiguous rows per set row; ``masked`` ignores negative (empty)
    set entries.
    """
    out = np.zeros(rows.shape, dtype=bool)
    hit = np.empty(rows.shape, dtype=bool)
    for row in sets:
        np.equal(rows, row, out=hit)
        if masked:
            hit &= row >= 0
        out |= hit
    return out


def row_membership(items: np.ndarray, sets: np.ndarray, n_items: int) -> np.ndarray:
    """Whether ``items[b, x]`` is in row ``b`` of ``sets``.

    Args:
        items: Item ids ``(B, X)``.
        sets: Item ids ``(B, L)``; negative entries are ignored (empty slots).
        n_items: Upper bound of the ids.

    Returns:
        ``(B, X)`` bool.

    >>> row_membership(np.array([[1, 2], [1, 2]]), np.array([[2, -1], [-1, -1]]), 3).tolist()
    [[False, True], [False, False]]
    """
    B, X = items.shape
    L = sets.shape[1]
    if X * L <= 4 * n_items:
        # One pass per set column over the transposed items (X, B): long contiguous rows
        # and no (B, X, L) temporary. A negative (empty) set entry can only equal a negative
        # item id, which the masked variant excludes.
        if not B or not L:
            return np.zeros((B, X), dtype=bool)
        masked = bool(items.size) and int(items.min()) < 0
        hi = int(max(items.max(initial=0), sets.max()))
        lo = int(min(items.min(initial=0), sets.min()))
        dtype = np.result_type(items.dtype, sets.dtype)
        for narrow in (np.int16, np.int32):  # compare in the narrowest type that holds the ids
            if (
                np.can_cast(narrow, dtype)
                and np.iinfo(narrow).min <= lo <= hi < np.iinfo(narrow).max
            ):
                dtype = narrow
                break
        rows = np.ascontiguousarray(items.T, dtype=dtype)  # (X, B)
        columns = np.ascontiguousarray(sets.T, dtype=dtype)  # (L, B)
        return np.ascontiguousarray(_equal_to_any(rows, columns, masked).T)
    mark = np.zeros((B, n_items + 1), dtype=bool)
    rows = np.repeat(np.arange(B), sets.shape[1])
    mark[rows, np.where(sets >= 0, sets, n_items).ravel()] = True
    return np.take_along_axis(mark, items, axis=1)


#: Rows per chunk of the choice step (keeps the (rows, K, d) topic gather small).
MATCH_CHUNK = 16_384
#: Rows per topic gather within a chunk (a (rows, K, d) block that stays in cache).
GATHER_ROWS = 1_024
#: Requests per block of the log append and the slate checks (whole-batch temporaries of a
#: million users would be fresh, page-faulted memory on every tick).
LOG_BLOCK = 65_536
#: Threads over the chunks of the choice step ($SIMREC_ENGINE_THREADS, default 1). The
#: numpy kernels release the GIL; chunks write disjoint rows, so results do not depend on it.
THREADS = max(1, int(os.environ.get("SIMREC_ENGINE_THREADS", "1") or 1))
_POOL: ThreadPoolExecutor | None = None


def _over_chunks(n: int, fn: Callable[[slice], None]) -> None:
    """Call ``fn`` on row slices of ``range(n)``, on ``THREADS`` threads when worth it."""
    global _POOL
    chunks = [slice(lo, min(lo + MATCH_CHUNK, n)) for lo in range(0, n, MATCH_CHUNK)]
    if THREADS == 1 or len(chunks) < 2:
        for c in chunks:
            fn(c)
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(THREADS, thread_name_prefix="simrec-engine")
    for f in [_POOL.submit(fn, c) for c in chunks]:
        f.result()


def row_scores(vectors: np.ndarray, item_vectors: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Dot products of row vectors ``(B, d)`` with the vectors of ``items (B, X)``.

    A pool that is the same for every row (a broadcast view, as for the whole catalog) is
    scored with one matrix product instead of a ``(B, X, d)`` gather.
    """
    if items.ndim == 2 and items.strides[0] == 0:
        return vectors @ item_vectors[items[0]].T
    return np.einsum("bd,bxd->bx", vectors, item_vectors[items])


def as_array(x: object, what: str) -> np.ndarray:
    """``np.asarray(x)``, or an :class:`InvalidActionError` naming ``what`` if it is ragged.

    >>> as_array([[1], [2, 3]], "slates")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simrec.errors.InvalidActionError: slates: expected a rectangular array ... ([[1], [2, 3]])
    """
    try:
        return np.asarray(x)
    except (ValueError, TypeError, OverflowError):
        shown = repr(x)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidActionError(
            f"{what}: expected a rectangular array of integers, got a ragged sequence ({shown})"
        ) from None


def validate_slates(
    slates: object,
    users: np.ndarray,
    slate_size: int,
    n_items: int,
    available: np.ndarray | Callable[[np.ndarray], np.ndarray],
    candidates: np.ndarray | None,
) -> np.ndarray:
    """Check an agent's slates and return them as ``(B, K)`` int64.

    Args:
        slates: The agent's output.
        users: Requesting users ``(B,)`` (named in errors).
        slate_size: K.
        n_items: M; ids must lie in ``[0, M)``.
        available: ``(M,)`` bool, items in the catalog now; or a function mapping the
            ``(B, K)`` ids to a ``(B, K)`` availability mask (per-row times).
        candidates: ``(B, C)`` candidate ids, or ``None``.

    Raises:
        InvalidActionError: Wrong type or shape, an id out of range, not available, not
            among the request's candidates, or repeated within a slate.
    """
    a = as_array(slates, "slates")
    B = len(users)
    if a.dtype.kind not in "iu":
        raise InvalidActionError(
            f"slates: expected integer item ids, got dtype {a.dtype} (shape {a.shape})"
        )
    if a.shape != (B, slate_size):
        raise InvalidActionError(
            f"slates: expected shape (B, K) = ({B}, {slate_size}), got {a.shape}"
        )
    a = a.astype(np.int64)  # the engine's own copy: the agent may reuse its buffer
    if callable(available):  # per-row times: ask about the whole batch at once
        in_range = ((a >= 0) & (a < n_items)).all()
        available = available(a) if in_range else np.zeros(a.shape, dtype=bool)
    for lo in range(0, B, LOG_BLOCK):  # blocks keep the temporaries small
        r = slice(lo, lo + LOG_BLOCK)
        ab = a[r]
        ok = (ab >= 0) & (ab < n_items)
        if ok.all():
            ok = available[r] if available.ndim == 2 else available[ab]
            if candidates is not None:
                ok &= (ab[:, :, None] == candidates[r][:, None, :]).any(axis=2)
        if not ok.all() or has_duplicates(ab).any():
            _raise_slate_error(a, users, n_items, available, candidates)
    return a


def _raise_slate_error(
    a: np.ndarray,
    users: np.ndarray,
    n_items: int,
    available: np.ndarray,
    candidates: np.ndarray | None,
) -> None:
    """Raise the :class:`InvalidActionError` for the first failed check over the batch.

    ``available`` is ``(M,)`` per item or, for per-row times, ``(B, K)`` per slate entry.
    """

    def fail(mask: np.ndarray, what: str) -> None:
        r, c = (int(x[0]) for x in np.nonzero(mask))
        raise InvalidActionError(
            f"slates[{r}, {c}] (user {int(users[r])}): item {int(a[r, c])} {what}"
            f" ({int(mask.sum())} bad entries in total)"
        )

    bad = (a < 0) | (a >= n_items)
    if bad.any():
        fail(bad, f"is out of range [0, {n_items})")
    bad = ~(available if available.ndim == 2 else available[a])  # (B, K): the rows' own
    if bad.any():
        fail(bad, "is not in the catalog now (not yet released or expired)")
    if candidates is not None:
        bad = ~(a[:, :, None] == candidates[:, None, :]).any(axis=2)
        if bad.any():
            fail(bad, "is not among the request's candidates")
    dup = has_duplicates(a)
    r = int(np.flatnonzero(dup)[0])
    raise InvalidActionError(
        f"slates[{r}] (user {int(users[r])}): duplicate items in {a[r].tolist()}"
    )


@dataclass(frozen=True)
class _Served:
    """Per-row inputs and outputs of one :meth:`Engine.serve_rows` call, filled by chunks."""

    keys: np.ndarray
    req: np.ndarray
    s: np.ndarray
    match: np.ndarray
    clicked: np.ndarray
    purchased: np.ndarray
    engaged: np.ndarray
    revenue: np.ndarray
    ended: np.ndarray

    def take(self, rows: slice | np.ndarray) -> _Served:
        """The same fields for the batch rows ``rows``."""
        return _Served(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


class GroundTruth:
    """Read access to hidden state, handed only to ``oracle*`` agents.

    It answers questions about the live state and returns fresh, read-only arrays; it holds
    no attribute that leads to the engine or to its arrays.

    Args:
        engine: The engine whose state it answers about (kept in closures only).
    """

    __slots__ = ("_match", "_recent", "_utility", "_value", "dim")

    def __init__(self, engine: Engine) -> None:
        def match(users: np.ndarray, items: np.ndarray) -> np.ndarray:
            return row_scores(engine.interest[users], engine.topic, items)

        def value(users: np.ndarray, items: np.ndarray) -> np.ndarray:
            return satisfaction.experienced_value(
                engine.quality[items],
                match(users, items),
                engine.appeal[items],
                clickbait_penalty=engine.config.dynamics.clickbait_penalty,
            )

        def utility(users: np.ndarray, items: np.ndarray) -> np.ndarray:
            return engine.item_utility(users, items, match(users, items))

        def recent(users: np.ndarray) -> np.ndarray:
            return engine.recent[users]

        self._match, self._value, self._utility, self._recent = match, value, utility, recent
        #: Latent dimension d of interests and topics.
        self.dim = int(engine.topic.shape[1])

    def match(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        r"""True match :math:`\langle u_j, z_i\rangle` for ``users (B,)`` x ``items (B, X)``."""
        return readonly(self._match(users, items))

    def value(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Experienced value of consuming each item now (what raises satisfaction)."""
        return readonly(self._value(users, items))

    def utility(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Choice utility of each item now, without position bias (what drives clicks)."""
        return readonly(self._utility(users, items))

    def recent(self, users: np.ndarray) -> np.ndarray:
        """Recently consumed items ``(B, L)`` (-1 = empty)."""
        return readonly(self._recent(users))


class Engine:
    """Population state and the per-tick step.

    Args:
        world: The built world.
        config: The run configuration.
        behaviour: The run's counter-based behaviour stream (each user gets its key).
        log: Event log to append to, or ``None`` to keep no log (the gymnasium envs).
    """

    def __init__(
        self, world: World, config: Config, behaviour: CounterStream, log: EventLog | None
    ) -> None:
        keep_freed_heap()  # see simrec._malloc: no page faults for each step's temporaries
        self.world = world
        self.log = log
        N, G = world.n_users, len(world.genre_names)
        self.n_users, self.n_items = N, world.n_items
        # Item columns used on the hot path.
        self.topic = world.item_truth.topic
        self.quality = world.item_truth.quality
        self.appeal = world.item_truth.appeal
        self.genre = world.items.genre.astype(np.int32)
        self.price = world.items.price
        self.release_day = world.items.release_day
        self.expire_day = world.items.expire_day
        # Hidden dynamic user state.
        self.keys = behaviour.user_keys(np.arange(N))
        self.interest = world.user_truth.interest.copy()
        self.interest0 = world.user_truth.interest.copy()
        self.satisfaction = world.user_truth.satisfaction.copy()
        self.sensitivity = world.user_truth.price_sensitivity.copy()
        self.fatigue = np.zeros((N, G), dtype=np.float32)
        # Scheduling state.
        self.churned = np.zeros(N, dtype=bool)
        self.churn_time = np.full(N, np.inf)
        self.in_session = np.zeros(N, dtype=bool)
        self.session_start = np.zeros(N)
        self.session_requests = np.zeros(N, dtype=np.int32)
        self.session_clicks = np.zeros(N, dtype=np.int32)
        self.session_minutes = np.zeros(N, dtype=np.float32)
        self.visits = np.zeros(N, dtype=np.int64)
        self.requests = np.zeros(N, dtype=np.int64)
        self.available_mask = np.zeros(self.n_items, dtype=bool)
        self.available = np.zeros(0, dtype=np.int64)
        # Recently consumed items, stored slot-major (L, N): the repeat check compares whole
        # contiguous rows. int16 when the item ids fit. -1 marks an empty slot.
        self._recent_dtype = np.int16 if self.n_items <= np.iinfo(np.int16).max else np.int32
        self._recent = np.full((config.dynamics.recent_items, N), -1, dtype=self._recent_dtype)
        self.recent_next = np.zeros(N, dtype=np.int64)
        self.set_config(config)
        # The day-0 cohort is already a returning population: its first visits follow the
        # stationary renewal of the return-gap process (an exponential with the mean gap at
        # the initial satisfaction), so day 0 is not a burst of every user at once. Later
        # users make their first visit on arrival.
        arrival = world.users.arrival_day.astype(np.float64)
        first = self.return_gaps(np.arange(N), np.zeros(N, dtype=np.int64), Purpose.FIRST_VISIT)
        self.next_visit = np.where(arrival == 0.0, first, arrival)
        self.last_seen = arrival.copy()

    # ------------------------------------------------------------------ configuration

    def set_config(self, config: Config) -> None:
        """Apply (new) parameters, e.g. after an intervention; resizes the recent buffer."""
        self.config = config
        K = config.simulation.slate_size
        self.position = choice.position_bias(K, config.dynamics.position_weight)
        L = config.dynamics.recent_items
        if self._recent.shape[0] != L:
            self._recent = np.full((L, self.n_users), -1, dtype=self._recent_dtype)
            self.recent_next = np.zeros(self.n_users, dtype=np.int64)

    @property
    def recent(self) -> np.ndarray:
        """Recently consumed items ``(N, L)``, a view (-1 = empty; a ring, see ``recent_next``)."""
        return self._recent.T

    def set_day(self, day: int) -> np.ndarray:
        """Refresh the catalog for ``day``; return the ids released on that day."""
        self.available_mask = self.world.items.available(float(day))
        self.available = np.flatnonzero(self.available_mask).astype(np.int64)
        return np.flatnonzero(self.release_day == day).astype(np.int64)

    def reset_users(
        self,
        slots: np.ndarray,
        interest: np.ndarray,
        satisfaction: np.ndarray,
        sensitivity: np.ndarray,
        keys: np.ndarray,
        now: np.ndarray,
    ) -> None:
        """Put new users into ``slots`` (the gymnasium envs): fresh state, visit due ``now``."""
        self.keys[slots] = keys
        self.interest[slots] = interest
        self.interest0[slots] = interest
        self.satisfaction[slots] = satisfaction
        self.sensitivity[slots] = sensitivity
        self.fatigue[slots] = 0.0
        self.recent[slots] = -1
        self.recent_next[slots] = 0
        self.churned[slots] = False
        self.churn_time[slots] = np.inf
        self.in_session[slots] = False
        self.visits[slots] = 0
        self.requests[slots] = 0
        self.next_visit[slots] = now
        self.last_seen[slots] = now

    def ground_truth(self) -> GroundTruth:
        """The hidden-state accessor (for ``oracle*`` agents only)."""
        return GroundTruth(self)

    # ------------------------------------------------------------------ the step

    def next_due(self) -> float:
        """Earliest pending visit time of an idle, non-churned user (inf if none)."""
        idle = ~self.in_session & ~self.churned
        return float(self.next_visit[idle].min()) if idle.any() else float("inf")

    def open_requests(self, now: float) -> RequestBatch | None:
        """Start due sessions and return the batch of all open requests (``None`` if none)."""
        due = np.flatnonzero(~self.in_session & ~self.churned & (self.next_visit <= now))
        if due.size:
            self.start_sessions(due, np.full(due.size, now))
        users = np.flatnonzero(self.in_session)
        if users.size == 0:
            return None
        C = self.config.simulation.candidates
        cands = None
        if C > 0:
            pos = self.sample_indices(users, len(self.available), C)
            cands = self.available[pos]
        return RequestBatch(
            users=users,
            time=now,
            step=self.session_requests[users].copy(),
            available=self.available,
            candidates=cands,
            slate_size=self.config.simulation.slate_size,
        )

    def start_sessions(self, users: np.ndarray, now: np.ndarray) -> None:
        """Open a session for each user at its time ``now`` (interest random walk first)."""
        dyn = self.config.dynamics
        if dyn.random_walk_sd > 0.0:
            xi = keyed_normal(
                self.keys[users], Purpose.RANDOM_WALK, self.visits[users], self.interest.shape[1]
            )
            dt = now - self.last_seen[users]
            self.interest[users] = drift.random_walk(
                self.interest[users], dt, xi, dyn.random_walk_sd
            )
        self.in_session[users] = True
        self.session_start[users] = now
        self.session_requests[users] = 0
        self.session_clicks[users] = 0
        self.session_minutes[users] = 0.0
        self.visits[users] += 1

    def sample_indices(self, users: np.ndarray, n: int | np.ndarray, k: int) -> np.ndarray:
        """``k`` distinct indices in ``[0, n)`` per user, keyed by the user's request number.

        ``n`` is one range for all or one per user; ``k`` is capped at ``min(n)``.
        """
        keys, counters = self.keys[users], self.requests[users]

        def draw(r: int, width: int) -> np.ndarray:
            return keyed_uniform(keys, Purpose.CANDIDATES + 16 * r, counters, width)

        return distinct_integers(draw, n, min(k, int(np.min(n))))

    def return_gaps(self, users: np.ndarray, counters: np.ndarray, purpose: int) -> np.ndarray:
        """Return gaps (days) drawn at the users' current satisfaction."""
        ret = self.config.retention
        return retention.return_gap(
            self.satisfaction[users],
            keyed_uniform(self.keys[users], purpose, counters),
            gap_min=ret.gap_min_days,
            gap_max=ret.gap_max_days,
            shape=ret.gap_shape,
        )

    def item_utility(
        self,
        users: np.ndarray,
        items: np.ndarray,
        match: np.ndarray,
        fatigue_rows: np.ndarray | None = None,
        genres: np.ndarray | None = None,
        repeat: np.ndarray | None = None,
    ) -> np.ndarray:
        """Choice utility (no position bias) of ``items (B, X)`` for ``users (B,)``.

        ``fatigue_rows`` (the users' current fatigue rows), ``genres`` (the items' genres) and
        ``repeat`` (whether each item is among the user's recent ones) when the caller holds
        them.
        """
        dyn = self.config.dynamics
        F = self.fatigue[users] if fatigue_rows is None else fatigue_rows
        if items.strides[0] == 0:  # one pool for all rows (a broadcast view)
            fat = F[:, self.genre[items[0]]]
        else:  # F[b, genre[items[b, x]]] as one flat gather
            B, G = F.shape
            g = self.genre[items] if genres is None else genres
            fat = np.take(np.ascontiguousarray(F).ravel(), g + np.arange(0, B * G, G)[:, None])
        if repeat is None:
            repeat = row_membership(items, self.recent[users], self.n_items)
        return choice.utility(
            match,
            self.appeal[items],
            fat,
            repeat,
            interest_weight=dyn.interest_weight,
            appeal_weight=dyn.appeal_weight,
            fatigue_weight=dyn.fatigue_weight,
            repeat_penalty=dyn.repeat_penalty,
        )

    def _recently_consumed(self, users: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Whether each served item ``S[b, k]`` (valid ids) is among ``users[b]``'s recent."""
        recent = np.take(self._recent, users, axis=1)  # (L, B); an empty slot (-1) never
        shown = np.ascontiguousarray(S.T, dtype=recent.dtype)  # equals a valid id, which fits
        return _equal_to_any(shown, recent).T

    def serve(self, batch: RequestBatch, slates: object) -> Feedback:
        """Serve the agent's slates to the batch and apply every state update.

        Args:
            batch: The batch returned by :meth:`open_requests`.
            slates: Item ids ``(B, K)`` from the agent.

        Returns:
            The observable :class:`~simrec.types.Feedback`.

        Raises:
            InvalidActionError: The slates are malformed (see :func:`validate_slates`).
        """
        S = validate_slates(
            slates,
            batch.users,
            batch.slate_size,
            self.n_items,
            self.available_mask,
            batch.candidates,
        )
        return self.serve_rows(batch.users, S, np.full(len(batch), batch.time))

    def serve_rows(self, u: np.ndarray, S: np.ndarray, now: np.ndarray) -> Feedback:
        """Apply one request per row, each at its own time.

        Users ``u (B,)`` (distinct) are shown validated slates ``S (B, K)`` at times
        ``now (B,)`` (days). Sessions that end get their churn draw and next visit.

        Every update of a row reads and writes only its own user's state, so the batch goes
        through :meth:`_serve_chunk` in chunks of ``MATCH_CHUNK`` rows (optionally on
        threads): the temporaries of a chunk stay in cache and are reused by the allocator,
        and the result does not depend on the chunking.
        """
        B, K = S.shape
        out = _Served(
            keys=self.keys[u],
            req=self.requests[u].copy(),
            s=np.empty(B, dtype=self.satisfaction.dtype),
            match=np.empty((B, K), dtype=np.result_type(self.interest.dtype, self.topic.dtype)),
            clicked=np.zeros((B, K), dtype=bool),
            purchased=np.zeros((B, K), dtype=bool),
            engaged=np.zeros((B, K), dtype=np.float32),
            revenue=np.zeros((B, K), dtype=np.float32),
            ended=np.empty(B, dtype=bool),
        )
        _over_chunks(B, lambda rows: self._serve_chunk(u, S, now, rows, out))
        if self.log is not None:
            for lo in range(0, B, LOG_BLOCK):  # blocks keep the log's temporaries small
                r = slice(lo, lo + LOG_BLOCK)
                self._log_impressions(u[r], S[r], now[r], out.take(r))
        ended = out.ended
        if ended.any():
            self.end_sessions(u[ended], now[ended])
        return Feedback(
            users=u,
            time=float(now[0]) if B else 0.0,
            slates=S,
            clicked=out.clicked,
            purchased=out.purchased,
            engagement=out.engaged,
            revenue=out.revenue,
            session_ended=ended,
        )

    def _serve_chunk(
        self, u_all: np.ndarray, S_all: np.ndarray, now_all: np.ndarray, rows: slice, out: _Served
    ) -> None:
        """The whole per-request update for the batch rows ``rows`` (see :meth:`serve_rows`)."""
        cfg, dyn = self.config, self.config.dynamics
        u, S, now = u_all[rows], S_all[rows], now_all[rows]
        keys, req = out.keys[rows], out.req[rows]
        K = S.shape[1]

        # Decay since the user's last request (between visits this is satisfaction decay).
        dt = now - self.last_seen[u]
        s = satisfaction.decay(
            self.satisfaction[u], dt, dyn.satisfaction_baseline, dyn.satisfaction_tau_days
        )
        out.s[rows] = s
        F = fatigue.decay(self.fatigue[u], dt, dyn.fatigue_tau_days)

        # Choice. Each row's match is its own sum of products (einsum, no BLAS), so that a
        # row's result does not depend on the batch (the vector env equals sync envs).
        match = out.match[rows]
        interest = np.take(self.interest, u, axis=0)
        for lo in range(0, len(u), GATHER_ROWS):  # a (GATHER_ROWS, K, d) gather fits in L2
            part = slice(lo, lo + GATHER_ROWS)
            np.einsum(
                "bd,bkd->bk",
                interest[part],
                np.take(self.topic, S[part], axis=0),
                out=match[part],
            )
        genres = self.genre[S]
        v = (
            self.item_utility(u, S, match, F, genres, self._recently_consumed(u, S))
            + self.position[None, :]
        )
        k = choice.choose(v, dyn.no_click_utility, keyed_uniform(keys, Purpose.CHOICE, req))
        cr = np.flatnonzero(k < K)
        ck = k[cr]
        ci = S[cr, ck]
        cm = match[cr, ck]
        clicked = out.clicked[rows]
        clicked[cr, ck] = True

        # Engagement, purchase and revenue of the clicked items.
        xi = keyed_normal(keys[cr], Purpose.ENGAGEMENT, req[cr], 1)[:, 0]
        eng = engagement.engagement(
            self.quality[ci], cm, xi, minutes=dyn.engagement_minutes, noise=dyn.engagement_noise
        )
        eco = cfg.economy
        p_buy = economy.purchase_probability(
            self.price[ci],
            self.sensitivity[u[cr]],
            cm,
            purchase_max=eco.purchase_max,
            price_scale=eco.price_scale,
        )
        bought = keyed_uniform(keys[cr], Purpose.PURCHASE, req[cr]) < p_buy
        rev = economy.revenue(self.price[ci], bought, margin=eco.margin)
        out.purchased[rows][cr, ck] = bought
        out.engaged[rows][cr, ck] = eng
        out.revenue[rows][cr, ck] = rev

        # Interest drift, satisfaction, recent items, fatigue.
        cu = u[cr]
        self.interest[cu] = drift.consume(self.interest[cu], self.topic[ci], dyn.drift_rate)
        s_new = satisfaction.on_no_click(s, dyn.no_click_penalty)
        value = satisfaction.experienced_value(
            self.quality[ci], cm, self.appeal[ci], clickbait_penalty=dyn.clickbait_penalty
        )
        s_new[cr] = satisfaction.on_click(s[cr], value, dyn.satisfaction_rate)
        self.satisfaction[u] = s_new
        self._recent[self.recent_next[cu] % len(self._recent), cu] = ci
        self.recent_next[cu] += 1
        F = fatigue.accumulate(
            F,
            genres,
            clicked,
            per_exposure=dyn.fatigue_exposure,
            per_click=dyn.fatigue_click,
        )
        self.fatigue[u] = F

        # Session exit.
        any_click = k < K
        p_exit = session.exit_probability(
            s_new,
            F.mean(axis=1),
            any_click,
            base=dyn.exit_base,
            satisfaction_weight=dyn.exit_satisfaction,
            fatigue_weight=dyn.exit_fatigue,
            no_click_weight=dyn.exit_no_click,
        )
        self.session_requests[u] += 1
        self.session_clicks[u] += any_click
        self.session_minutes[cu] += eng
        out.ended[rows] = (
            keyed_uniform(keys, Purpose.SESSION_EXIT, req) < p_exit
        ) | session.forced_exit(
            self.session_requests[u],
            self.session_minutes[u],
            max_requests=dyn.max_session_requests,
            budget_minutes=dyn.session_budget_minutes,
        )
        self.requests[u] += 1
        self.last_seen[u] = now

    def _log_impressions(
        self, u: np.ndarray, S: np.ndarray, now: np.ndarray, served: _Served
    ) -> None:
        """Append the (sampled) requests' rows to the log.

        When sampling, count every impression exactly too (a full log's rows are the counts).
        """
        log = self.log
        B, K = S.shape
        if B == 0:
            return
        day = np.floor(now)
        one_time = bool((now == now[0]).all())  # a population tick
        days = [] if log.sample >= 1.0 else [day[0]] if one_time else np.unique(day).tolist()
        for d in days:
            rows = slice(None) if one_time else day == d
            log.counts.add(
                int(d),
                u[rows],
                S[rows],
                served.clicked[rows],
                served.purchased[rows],
                served.revenue[rows],
                served.engaged[rows],
            )
        if log.sample < 1.0:
            draw = keyed_uniform(served.keys, Purpose.LOG_SAMPLE, served.req)
            keep = np.flatnonzero(draw < log.sample)
            if keep.size < B:
                u, S, now, day = u[keep], S[keep], now[keep], day[keep]
                served = served.take(keep)
                B = len(keep)
        log.impressions.append(
            day=day[0] if one_time and B else np.repeat(day, K),
            time=now[0] if one_time and B else np.repeat(now, K),
            user=np.repeat(u, K),
            item=S.ravel(),
            position=np.tile(np.arange(K, dtype=np.int16), B),
            click=served.clicked.ravel(),
            purchase=served.purchased.ravel(),
            revenue=served.revenue.ravel(),
            engagement=served.engaged.ravel(),
            satisfaction=np.repeat(served.s, K),
            match=served.match.ravel(),
        )

    def end_sessions(self, users: np.ndarray, now: np.ndarray) -> None:
        """Close the users' sessions at ``now``: churn draw, then the next visit time."""
        ret = self.config.retention
        visit = self.visits[users]
        h = retention.churn_hazard(
            self.satisfaction[users],
            h_min=ret.churn_min,
            h_max=ret.churn_max,
            midpoint=ret.churn_midpoint,
            width=ret.churn_width,
        )
        churn = keyed_uniform(self.keys[users], Purpose.CHURN, visit) < h
        gap = np.where(churn, np.inf, self.return_gaps(users, visit, Purpose.RETURN_GAP))
        self.next_visit[users] = now + gap
        self.in_session[users] = False
        self.churned[users[churn]] = True
        self.churn_time[users[churn]] = now[churn]
        if self.log is not None:
            self.log.sessions.append(
                user=users,
                visit=visit,
                start=self.session_start[users],
                end=now,
                requests=self.session_requests[users],
                clicks=self.session_clicks[users],
                gap=gap,
                churned=churn,
            )

    def close_open_sessions(self, now: float) -> None:
        """Log the sessions still open at the horizon (gap NaN: censored, no churn draw)."""
        users = np.flatnonzero(self.in_session)
        self.in_session[users] = False
        if self.log is not None:
            self.log.sessions.append(
                user=users,
                visit=self.visits[users],
                start=self.session_start[users],
                end=now,
                requests=self.session_requests[users],
                clicks=self.session_clicks[users],
                gap=np.nan,
                churned=False,
            )

    # ------------------------------------------------------------------ collection

    def snapshot(self, day: int) -> dict[str, float]:
        """Population aggregates at the end of ``day`` (for the ``days`` table)."""
        t = float(day + 1)
        dyn = self.config.dynamics
        arrived = self.world.users.arrival_day < t
        alive = arrived & ~(self.churn_time < t)
        s = satisfaction.decay(
            self.satisfaction[alive],
            t - self.last_seen[alive],
            dyn.satisfaction_baseline,
            dyn.satisfaction_tau_days,
        )
        return {
            "day": day,
            "arrived": int(arrived.sum()),
            "alive": int(alive.sum()),
            "satisfaction": float(s.mean()) if s.size else float("nan"),
            "interest_drift": float(
                1.0 - (self.interest[alive] * self.interest0[alive]).sum(axis=1).mean()
            )
            if alive.any()
            else float("nan"),
            "available_items": int(self.available_mask.sum()),
        }
