"""Records exchanged between the engine, the agents and the results.

All records are frozen dataclasses of numpy arrays, one row per request (batch dimension B)
and one column per slate position (K). The arrays of a :class:`RequestBatch` and a
:class:`Feedback` are read-only (:func:`readonly`): an agent that writes into them gets a
``ValueError`` instead of silently changing the simulation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Cost",
    "Feedback",
    "Propensities",
    "RequestBatch",
    "SlateProbabilities",
    "StochasticSlates",
    "freeze_arrays",
    "readonly",
]


def readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` that cannot be made writeable again.

    ``a`` itself is marked read-only too: a view of a read-only base refuses
    ``flags.writeable = True``, so whoever holds only the view cannot write through it.

    >>> v = readonly(np.arange(3))
    >>> v[0] = 5
    Traceback (most recent call last):
    ...
    ValueError: assignment destination is read-only
    >>> v.flags.writeable = True
    Traceback (most recent call last):
    ...
    ValueError: cannot set WRITEABLE flag to True of this array
    """
    if not isinstance(a, np.ndarray):
        return a
    a.flags.writeable = False
    return a.view()  # a view of a read-only array is read-only


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def freeze_arrays(record: object) -> None:
    """Replace every array field of a frozen dataclass ``record`` by a :func:`readonly` view."""
    setattr_ = object.__setattr__
    for name in _field_names(type(record)):
        value = getattr(record, name)
        if isinstance(value, np.ndarray):  # readonly(value), inlined: it runs every tick
            value.flags.writeable = False
            setattr_(record, name, value.view())


@dataclass(frozen=True)
class RequestBatch:
    """The recommendation requests open at one tick.

    Attributes:
        users: Requesting user ids, ``(B,)`` int64.
        time: Simulated time of the tick, days since the start.
        step: Index of the request within its session (0 = first), ``(B,)`` int32.
        available: Sorted ids of the items in the catalog at ``time``, ``(A,)`` int64.
        candidates: Candidate ids per request ``(B, C)``, or ``None`` when the agent may
            recommend any available item.
        slate_size: K, the number of items each slate must hold.
    """

    users: np.ndarray
    time: float
    step: np.ndarray
    available: np.ndarray
    candidates: np.ndarray | None
    slate_size: int

    def __post_init__(self) -> None:
        """Make every array read-only (see :func:`readonly`)."""
        freeze_arrays(self)

    @property
    def day(self) -> int:
        """The day of the tick (``floor(time)``)."""
        return int(np.floor(self.time))

    def __len__(self) -> int:
        """Number of requests B."""
        return len(self.users)


@dataclass(frozen=True)
class Propensities:
    r"""A stochastic policy's probabilities of the slates it served, for off-policy evaluation.

    With slate :math:`s = (i_0, \dots, i_{K-1})` drawn for request *x*:

    Attributes:
        slate: :math:`\pi(s \mid x)`, the probability of the whole ordered slate ``(B,)``.
        item: :math:`\pi(i_k \text{ at } k \mid x)`, the marginal probability that the item
            is at its position ``(B, K)``.
        cascade: :math:`\pi(i_0, \dots, i_k \mid x)`, the probability of the slate's first
            ``k + 1`` positions ``(B, K)`` (the last column equals ``slate``).
    """

    slate: np.ndarray
    item: np.ndarray
    cascade: np.ndarray

    @classmethod
    def unknown(cls, B: int, K: int) -> Propensities:
        """NaN everywhere: a policy that does not say."""
        return cls(np.full(B, np.nan), np.full((B, K), np.nan), np.full((B, K), np.nan))


@dataclass(frozen=True)
class StochasticSlates:
    """Slates with the probabilities a stochastic agent drew them with.

    An agent's ``recommend`` may return this instead of a bare ``(B, K)`` array; the
    propensities are logged with the impressions (columns ``pscore``, ``pscore_item`` and
    ``pscore_cascade``).

    Attributes:
        items: Item ids ``(B, K)``.
        propensities: The :class:`Propensities` of these slates.
    """

    items: np.ndarray
    propensities: Propensities


@runtime_checkable
class SlateProbabilities(Protocol):
    """A policy that gives the probability of any slate (the target of off-policy evaluation).

    The stochastic wrappers of ``simrec_agents.stochastic`` (epsilon-greedy, softmax) have it.
    """

    def probabilities(self, batch: RequestBatch, slates: np.ndarray) -> Propensities:
        """The :class:`Propensities` of ``slates`` ``(B, K)`` for the requests of ``batch``."""
        ...

    def first_item_probabilities(self, batch: RequestBatch) -> np.ndarray:
        """The probability of each of ``batch.candidates`` at the first position ``(B, C)``."""
        ...


@dataclass(frozen=True)
class Feedback:
    """What the platform observes after serving a batch: the logged impressions.

    Attributes:
        users: User ids ``(B,)``.
        time: Simulated time, days.
        slates: Served item ids ``(B, K)``.
        clicked: Click per impression ``(B, K)`` bool (at most one per row under the logit
            and the cascade choice models; any number under the position-based model).
        purchased: Purchase per impression ``(B, K)`` bool.
        engagement: Minutes spent per impression ``(B, K)`` float32 (0 unless clicked).
        revenue: Revenue per impression ``(B, K)`` float32, currency.
        session_ended: Whether the user left after this request ``(B,)`` bool.
    """

    users: np.ndarray
    time: float
    slates: np.ndarray
    clicked: np.ndarray
    purchased: np.ndarray
    engagement: np.ndarray
    revenue: np.ndarray
    session_ended: np.ndarray

    def __post_init__(self) -> None:
        """Make every array read-only (see :func:`readonly`)."""
        freeze_arrays(self)

    def __len__(self) -> int:
        """Number of requests B."""
        return len(self.users)


@dataclass(frozen=True)
class Cost:
    """An agent's compute cost.

    Attributes:
        params: Parameters of the model (trainable and frozen).
        trainable_params: Parameters updated by training.
        fit_seconds: Total wall seconds spent in ``retrain`` over the run.
        fits: Number of ``retrain`` calls.
        ms_per_request: Mean wall milliseconds of ``recommend`` per request.
        requests: Requests served.
        pool_per_request: Mean number of items in a request's pool (candidates or catalog).
        flops_per_request: Estimated floating-point operations of the agent's model to serve
            one request of the run's mean pool and batch size (:meth:`Agent.request_flops`;
            top-K selection and exclusions not counted).
        extra: Agent-specific entries (e.g. encoder seconds, FLOPs per request), kept under
            ``extra`` in the run's ``cost.json``. Its ``"totals"`` entry, a mapping of names
            to numbers, holds whole-run measures the agent reports about itself: they join
            the run's totals (``totals.json``, ``summary.csv``) under their own names,
            ``agent.<name>`` (:func:`simrec.guard.agent_totals`), so an agent can never
            report a measure in place of one the simulation computes (``clicks``,
            ``retention``, ...).
    """

    params: int = 0
    trainable_params: int = 0
    fit_seconds: float = 0.0
    fits: int = 0
    ms_per_request: float = 0.0
    requests: int = 0
    pool_per_request: float = 0.0
    flops_per_request: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
