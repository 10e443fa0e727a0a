"""The impression logger: what the engine writes to the event log.

One row per impression of the logged requests (all of them, or a share drawn per user and
request when ``simulation.log_impressions < 1``, in which case exact per-day and per-item
counts of every impression are kept as well), and one row per ended session. The envs keep
no log (``log=None``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from simrec.engine import slates
from simrec.log import EventLog
from simrec.rng import Purpose, keyed_uniform
from simrec.usermodel import Population

__all__ = ["ImpressionLogger", "Served"]


@dataclass(frozen=True)
class Served:
    """Per-row inputs and outputs of one batch of requests, filled chunk by chunk."""

    keys: np.ndarray
    req: np.ndarray
    s: np.ndarray
    match: np.ndarray
    clicked: np.ndarray
    purchased: np.ndarray
    engaged: np.ndarray
    revenue: np.ndarray
    ended: np.ndarray
    pscore: np.ndarray
    pscore_item: np.ndarray
    pscore_cascade: np.ndarray

    @classmethod
    def empty(cls, keys: np.ndarray, req: np.ndarray, K: int, s_dtype, match_dtype) -> Served:  # noqa: ANN001
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
            pscore=np.full(B, np.nan),
            pscore_item=np.full((B, K), np.nan),
            pscore_cascade=np.full((B, K), np.nan),
        )

    def take(self, rows: slice | np.ndarray) -> Served:
        """The same fields for the batch rows ``rows``."""
        return Served(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


class ImpressionLogger:
    """Writes served requests and ended sessions to an :class:`~simrec.log.EventLog`.

    Args:
        log: The run's event log, or ``None`` to keep none.
    """

    def __init__(self, log: EventLog | None) -> None:
        """Bind the log."""
        self.log = log

    def impressions(self, u: np.ndarray, S: np.ndarray, now: np.ndarray, out: Served) -> None:
        """Append a batch's (sampled) impressions, in blocks that keep temporaries small."""
        if self.log is None:
            return
        block = slates.LOG_BLOCK
        for lo in range(0, len(u), block):
            r = slice(lo, lo + block)
            self._append(u[r], S[r], now[r], out.take(r))

    def _append(self, u: np.ndarray, S: np.ndarray, now: np.ndarray, served: Served) -> None:
        """Append the (sampled) requests' rows; when sampling, count every impression too."""
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
            pscore=np.repeat(served.pscore, K),
            pscore_item=served.pscore_item.ravel(),
            pscore_cascade=served.pscore_cascade.ravel(),
        )

    def sessions(
        self,
        pop: Population,
        users: np.ndarray,
        visit: np.ndarray,
        end: np.ndarray | float,
        gap: np.ndarray | float,
        churned: np.ndarray | bool,
    ) -> None:
        """Append one row per ended session."""
        if self.log is None:
            return
        self.log.sessions.append(
            user=users,
            visit=visit,
            start=pop.session_start[users],
            end=end,
            requests=pop.session_requests[users],
            clicks=pop.session_clicks[users],
            gap=gap,
            churned=churned,
        )
