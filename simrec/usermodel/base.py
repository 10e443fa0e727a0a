r"""The component protocol of the user model, and the request a chunk of users is served.

A user model is an ordered composition of components (:class:`simrec.usermodel.UserModel`),
one per role: ``choice`` -> ``engagement`` -> ``purchase`` -> ``drift`` -> ``satisfaction``
-> ``memory`` -> ``fatigue`` -> ``session_exit``, and ``retention`` at session ends. Serving a
chunk of requests runs, for every component in that order, :meth:`Component.prepare`
(before the choice: decay since the last request) and then :meth:`Component.respond`.

Components talk through a :class:`Request`: the engine fills its inputs (users ``u``,
slates ``S``, times, the users' stream keys and request counters, the true ``match``
:math:`\langle u_j, z_i\rangle` of every shown item, their ``genres``, ``dt`` since the
user's last request), and each component reads the signals it declares in ``reads`` and
sets those in ``writes``. Per-user state lives in the :class:`~simrec.usermodel.Population`;
a component declares the variables it owns in ``state`` and those of others it touches in
``uses``. :class:`~simrec.usermodel.UserModel` checks the declarations when it composes
the components, so a component that reads what nobody wrote fails at construction.

Every draw comes from the counter-based behavioural stream keyed by the user and the
user's request (or visit) number (:func:`simrec.rng.keyed_uniform`), so common random
numbers hold across agents whatever the composition. A choice model may click several
items of a slate (the position-based model): the clicks of a request are ranked by position
and every per-click update runs once per rank (:meth:`Clicks.by_rank`); rank 0 draws exactly
what a one-click model draws (:func:`rank_uniform`, :func:`rank_normal`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from simrec.config import Config, Params
from simrec.rng import KeyedDraws, derived_purpose
from simrec.usermodel.population import Population, StateVar

__all__ = [
    "BASE_SIGNALS",
    "BASE_STATE",
    "OUTPUT_SIGNALS",
    "Clicks",
    "Component",
    "Items",
    "Request",
    "RetentionComponent",
    "rank_normal",
    "rank_uniform",
]

#: Request signals the engine sets before any component runs.
BASE_SIGNALS = ("u", "S", "now", "keys", "req", "dt", "draws", "match", "genres")
#: The engine's output arrays components fill (the log's and the feedback's columns).
OUTPUT_SIGNALS = frozenset({"s_logged", "clicked", "purchased", "engaged", "revenue", "ended"})

#: State the engine itself keeps: stream keys, the hidden interest, and the session
#: schedule (``simrec.engine.scheduler``).
BASE_STATE = (
    StateVar("keys", np.uint64, doc="the user's behaviour-stream key"),
    StateVar("interest", np.float32, ("d",), doc="hidden interest u_j (unit vector)"),
    StateVar("interest0", np.float32, ("d",), doc="interest on arrival (for drift metrics)"),
    StateVar("churned", bool, doc="left for good"),
    StateVar("churn_time", np.float64, fill=np.inf, doc="time of churn, days (inf: none)"),
    StateVar("in_session", bool, doc="a session is open"),
    StateVar("session_start", np.float64, doc="start of the current session, days"),
    StateVar("session_requests", np.int32, doc="requests in the current session"),
    StateVar("session_clicks", np.int32, doc="clicks in the current session"),
    StateVar("session_minutes", np.float32, doc="engagement in the current session, minutes"),
    StateVar("visits", np.int64, doc="sessions started (the counter of visit-level draws)"),
    StateVar("requests", np.int64, doc="requests served (the counter of request draws)"),
    StateVar("next_visit", np.float64, doc="time of the next visit, days (inf: never)"),
    StateVar("last_seen", np.float64, doc="time of the last request or arrival, days"),
    StateVar("newcomer", bool, doc="new to the platform: arrived after day 0, or put into an env"),
)


@dataclass(frozen=True)
class Items:
    """The item columns the user model reads, length M (hidden and observable).

    Attributes:
        topic: Hidden topics z_i ``(M, d)``.
        quality: Hidden quality q_i.
        appeal: Hidden appeal a_i.
        genre: Genre ids (int32).
        price: Prices.
        trend: The platform-wide trending signal (float32; see
            :class:`simrec.engine.trending.Trending`), or ``None`` where none is kept.
    """

    topic: np.ndarray
    quality: np.ndarray
    appeal: np.ndarray
    genre: np.ndarray
    price: np.ndarray
    trend: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of items M."""
        return len(self.quality)


class Clicks:
    """The clicks of a chunk of requests, ordered by row then position.

    Attributes:
        rows: Request row of each click.
        pos: Slate position of each click.
        item: Item id of each click.
        match: True match of the user with the clicked item.
        rank: Order of the click within its request (0: the first, top-most).
    """

    def __init__(self, clicked: np.ndarray, S: np.ndarray, match: np.ndarray) -> None:
        """Collect the clicks of the mask ``clicked (B, K)``."""
        self.rows, self.pos = np.nonzero(clicked)
        self.item = S[self.rows, self.pos]
        self.match = match[self.rows, self.pos]
        if self.rows.size and (self.rows[1:] == self.rows[:-1]).any():
            start = np.flatnonzero(np.r_[True, self.rows[1:] != self.rows[:-1]])
            first = np.repeat(start, np.diff(np.r_[start, self.rows.size]))
            self.rank = np.arange(self.rows.size) - first
        else:
            self.rank = np.zeros(self.rows.size, dtype=np.int64)

    def __len__(self) -> int:
        """Number of clicks."""
        return int(self.rows.size)

    def by_rank(self) -> Iterator[tuple[int, np.ndarray | slice]]:
        """``(rank, indices into the clicks)``, rank 0 first; each row at most once per rank."""
        if not self.rank.any():  # at most one click per request: every click at once
            yield 0, slice(None)
            return
        for r in range(int(self.rank.max()) + 1):
            yield r, np.flatnonzero(self.rank == r)


def rank_uniform(keys: np.ndarray, purpose: int, counters: np.ndarray, rank: int) -> np.ndarray:
    """One uniform per row for the ``rank``-th click of a request (rank 0: no lane)."""
    return KeyedDraws(keys, counters).ranked_uniform(purpose, None, rank)


def rank_normal(keys: np.ndarray, purpose: int, counters: np.ndarray, rank: int) -> np.ndarray:
    """One standard normal per row for the ``rank``-th click of a request."""
    return KeyedDraws(keys, counters).ranked_normal(purpose, None, rank)


class Request:
    """One chunk of requests, passed through the components in order.

    The engine sets the inputs of :data:`BASE_SIGNALS` and the output arrays the log and
    the agent's feedback read; components add their signals as attributes.

    Attributes:
        pop: The population state.
        items: The item columns.
        u: Users ``(B,)``.
        S: Slates ``(B, K)``.
        now: Time of each request ``(B,)``, days.
        keys: The users' stream keys ``(B,)``.
        req: The users' request counters before this request ``(B,)``.
        dt: Days since each user's last request ``(B,)``.
        draws: The rows' counter-based draws keyed by ``(keys, req)``
            (:class:`~simrec.rng.KeyedDraws`; the purposes the components declare in
            ``draws`` are hashed together).
        match: True match of each shown item ``(B, K)`` (logged).
        genres: Genre of each shown item ``(B, K)``.
        s_logged: Satisfaction at the request, before its update ``(B,)`` (logged).
        clicked, purchased, engaged, revenue: Per impression ``(B, K)`` (logged, fed back).
        ended: Whether the user leaves after the request ``(B,)``.
    """

    def __init__(self, pop: Population, items: Items, **fields: Any) -> None:
        """Bind the population, the items and the engine's inputs and output views."""
        self.pop, self.items = pop, items
        self.__dict__.update(fields)

    if TYPE_CHECKING:  # signals are set by name at run time (the model checks them)

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


class Component:
    """A part of the user model (see the module docstring).

    Subclasses set the class attributes below and override the hooks they need; a
    component's parameters are read from the run's :class:`~simrec.config.Config` in
    :meth:`bind` (called again when an intervention changes the configuration): the
    built-ins' from the ``dynamics``, ``retention`` and ``economy`` sections, a component
    that declares ``Params`` from ``user_model.params.<its key>`` (as ``self.params``).

    Attributes:
        role: The slot it fills (``"choice"``, ``"engagement"``, ... ``"retention"``).
        state: The per-user state variables it owns.
        uses: State variables owned by other components (or :data:`BASE_STATE`) it reads
            or writes.
        reads: Request signals it reads.
        prepares: Request signals its :meth:`prepare` sets (there for every component's
            :meth:`respond`).
        writes: Request signals its :meth:`respond` sets (there for the components after
            it).
        draws: The purposes it draws keyed by the request (``r.draws``): declared, they are
            hashed with the other components' in one pass over the chunk (undeclared ones
            give the same numbers, hashed on their own).
    """

    role: ClassVar[str] = ""
    #: The name it is registered and keyed by when added (``user_model.add``).
    name: ClassVar[str] = ""
    #: Its parameters (a :class:`simrec.config.Params` dataclass), or ``None``.
    Params: ClassVar[type[Params] | None] = None
    state: ClassVar[tuple[StateVar, ...]] = ()
    uses: ClassVar[tuple[str, ...]] = ()
    reads: ClassVar[tuple[str, ...]] = ()
    prepares: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    draws: ClassVar[tuple[int, ...]] = ()

    #: Its key in the model: its role, or its added name (set by the model).
    key: str = ""

    def bind(self, config: Config) -> None:
        """Take the (new) configuration, and its parameters (``self.params``) from it."""
        self.config = config
        if self.Params is not None:
            given = config.user_model.params.get(self.key)
            self.params = given if isinstance(given, self.Params) else self.Params()

    def purpose(self, label: str = "") -> int:
        """A draw purpose of its own, derived from its key (and ``label``: several purposes).

        Request-keyed draws of an added component use it: ``r.draws.uniform(self.purpose())``.
        """
        return derived_purpose(f"{self.key}:{label}" if label else self.key)

    def state_vars(self, dims: dict[str, int]) -> tuple[StateVar, ...]:
        """The state it owns, given the dimensions (``N``, ``M``, ``d``, ``G``, ``L``)."""
        return self.state

    def init_users(self, pop: Population, users: np.ndarray, truth: Any) -> None:
        """Initial state of ``users`` from their hidden truth (a ``UserTruth``, rows = users)."""

    def prepare(self, r: Request) -> None:
        """Before the choice: e.g. decay since the user's last request."""

    def respond(self, r: Request) -> None:
        """The component's update of the request."""

    def on_session_start(self, pop: Population, users: np.ndarray, now: np.ndarray) -> None:
        """``users`` start a session at ``now`` (before their ``visits`` count grows)."""


class RetentionComponent(Component):
    """The ``retention`` role: when users come back, and whether they leave for good."""

    role: ClassVar[str] = "retention"

    def first_visit(self, pop: Population, users: np.ndarray) -> np.ndarray:
        """Days from time 0 to the first visit of ``users`` of the day-0 cohort."""
        raise NotImplementedError

    def end_session(
        self, pop: Population, users: np.ndarray, visit: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """At the end of visit ``visit``: ``(churned bool, gap to the next visit in days)``."""
        raise NotImplementedError

    def hazard(self, pop: Population, users: np.ndarray) -> np.ndarray:
        """The churn probability at a session end now (a diagnostic, e.g. for env info)."""
        raise NotImplementedError
