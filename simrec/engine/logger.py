"""The impression logger: what the engine writes to the event log.

One row per impression of the logged requests (all of them, or a share drawn per user and
request when ``simulation.log_impressions < 1``, in which case exact per-day and per-item
counts of every impression are kept as well), and one row per ended session. The envs keep
no log (``log=None``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

import numpy as np

from simrec.engine import slates
from simrec.log import EventLog
from simrec.rng import Purpose, keyed_uniform
from simrec.types import Propensities
from simrec.usermodel import Population

__all__ = ["ImpressionLogger", "Served", "SplitLogger"]


@dataclass(frozen=True)
class Served:
    """Per-row inputs and outputs of one batch of requests, filled chunk by chunk.

    ``propensities`` are the serving policy's, or ``None`` (logged as NaN).
    """

    keys: np.ndarray
    req: np.ndarray
    s: np.ndarray
    match: np.ndarray
    clicked: np.ndarray
    purchased: np.ndarray
    engaged: np.ndarray
    revenue: np.ndarray
    ended: np.ndarray
    propensities: Propensities | None = None

    @classmethod
    def empty(
        cls,
        keys: np.ndarray,
        req: np.ndarray,
        K: int,
        s_dtype,  # noqa: ANN001
        match_dtype,  # noqa: ANN001
        propensities: Propensities | None = None,
    ) -> Served:
        """Output arrays for ``len(keys)`` requests of slates of ``K``."""
        B = len(keys)
        return cls(
            keys=keys,
            req=req,
            s=np.empty(B, dtype=s_dtype),
            match=np.empty((B, K), dtype=match_dtype),
            clicked=np.zeros((B, K), dtype=bool),
            purchased=np.zeros((B, K), dtype=bool),
            engaged=np.zeros((B, K), dtype=np.float32),
            revenue=np.zeros((B, K), dtype=np.float32),
            ended=np.empty(B, dtype=bool),
            propensities=propensities,
        )

    def take(self, rows: slice | np.ndarray) -> Served:
        """The same fields for the batch rows ``rows``."""
        p = self.propensities
        return Served(
            **{
                f.name: getattr(self, f.name)[rows]
                for f in fields(self)
                if f.name != "propensities"
            },
            propensities=None
            if p is None
            else Propensities(p.slate[rows], p.item[rows], p.cascade[rows]),
        )


class ImpressionLogger:
    """Writes served requests and ended sessions to an :class:`~simrec.log.EventLog`.

    Args:
        log: The run's event log, or ``None`` to keep none.
    """

    def __init__(self, log: EventLog | None) -> None:
        """Bind the log."""
        self.log = log
        self._position_cache = np.zeros(0, dtype=np.int16)
        self._position_k = 0

    def impressions(
        self, u: np.ndarray, S: np.ndarray, now: np.ndarray, out: Served, time: float | None = None
    ) -> None:
        """Append a batch's (sampled) impressions, in blocks that keep temporaries small.

        ``time`` is the one time of every row when the caller knows it (a population tick).
        """
        if self.log is None or len(u) == 0:
            return
        block = slates.LOG_BLOCK
        if len(u) <= block:
            self._append(u, S, now, out, time)
            return
        for lo in range(0, len(u), block):
            r = slice(lo, lo + block)
            self._append(u[r], S[r], now[r], out.take(r), time)

    def _positions(self, B: int, K: int) -> np.ndarray:
        """The position column of ``B`` slates of ``K`` (``0..K-1`` repeated), a cached view."""
        if self._position_k != K or self._position_cache.size < B * K:
            self._position_cache = np.tile(np.arange(K, dtype=np.int16), 2 * B)
            self._position_k = K
        return self._position_cache[: B * K]

    def _append(
        self, u: np.ndarray, S: np.ndarray, now: np.ndarray, served: Served, time: float | None
    ) -> None:
        """Append the (sampled) requests' rows; when sampling, count every impression too."""
        log = self.log
        assert log is not None  # only called with a log
        B, K = S.shape
        one_time = time is not None or bool((now == now[0]).all())  # a population tick
        t = now[0] if time is None else time
        day: Any = np.floor(now) if not one_time or log.sample < 1.0 else None
        days = [] if log.sample >= 1.0 else [np.floor(t)] if one_time else np.unique(day).tolist()
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
            if B == 0:
                return
        p = served.propensities
        log.impressions.append_rows(
            B * K,
            {
                "day": np.floor(t) if one_time else day.repeat(K),
                "time": t if one_time else now.repeat(K),
                "user": u.repeat(K),
                "item": S.ravel(),
                "position": self._positions(B, K),
                "click": served.clicked.ravel(),
                "purchase": served.purchased.ravel(),
                "revenue": served.revenue.ravel(),
                "engagement": served.engaged.ravel(),
                "satisfaction": served.s.repeat(K),
                "match": served.match.ravel(),
                "pscore": np.nan if p is None else p.slate.repeat(K),
                "pscore_item": np.nan if p is None else p.item.ravel(),
                "pscore_cascade": np.nan if p is None else p.cascade.ravel(),
            },
        )

    def sessions(
        self,
        pop: Population,
        users: np.ndarray,
        visit: np.ndarray,
        end: np.ndarray | float,
        gap: np.ndarray | float,
        churned: np.ndarray | bool,
        offset: int = 0,
    ) -> None:
        """Append one row per ended session.

        ``users`` index the population; the log holds ``users - offset``.
        """
        if self.log is None or len(users) == 0:
            return
        self.log.sessions.append_rows(
            len(users),
            {
                "user": users - offset if offset else users,
                "visit": visit,
                "start": pop.session_start[users],
                "end": end,
                "requests": pop.session_requests[users],
                "clicks": pop.session_clicks[users],
                "gap": gap,
                "churned": churned,
            },
        )


def _rows_of(x: Any, rows: slice) -> Any:
    """``x[rows]`` for an array, ``x`` for a scalar."""
    return x[rows] if np.ndim(x) else x


class SplitLogger:
    """The loggers of the copies of a population (several runs in one pass, one log each).

    Copy ``c`` holds population rows ``[c N, (c + 1) N)``; each copy's logger gets the rows
    of its users, with its own user ids ``0 .. N - 1``, in the order they came.

    Args:
        loggers: One logger per copy.
        n_users: N, the users of one copy.
    """

    def __init__(self, loggers: list[ImpressionLogger], n_users: int) -> None:
        """Bind the loggers."""
        self.loggers, self.n = loggers, n_users
        self._starts = np.arange(1, len(loggers)) * n_users

    def _parts(self, users: np.ndarray) -> list[tuple[int, slice]]:
        """``(copy, rows)`` of the sorted population rows ``users``, copies with rows only."""
        edges = [0, *np.searchsorted(users, self._starts).tolist(), len(users)]
        return [(c, slice(lo, hi)) for c, (lo, hi) in enumerate(pairwise(edges)) if hi > lo]

    def impressions(
        self, u: np.ndarray, S: np.ndarray, now: np.ndarray, out: Served, time: float | None = None
    ) -> None:
        """Each copy's impressions to its log."""
        for c, rows in self._parts(u):
            local = u[rows] - c * self.n
            self.loggers[c].impressions(local, S[rows], now[rows], out.take(rows), time)

    def sessions(
        self,
        pop: Population,
        users: np.ndarray,
        visit: np.ndarray,
        end: np.ndarray | float,
        gap: np.ndarray | float,
        churned: np.ndarray | bool,
    ) -> None:
        """Each copy's ended sessions to its log."""
        for c, rows in self._parts(users):
            self.loggers[c].sessions(
                pop, users[rows], visit[rows], _rows_of(end, rows), _rows_of(gap, rows),
                _rows_of(churned, rows), offset=c * self.n,
            )  # fmt: skip
