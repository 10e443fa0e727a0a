"""The session scheduler: who visits when.

A user is idle until ``next_visit``; at a tick every idle, non-churned user whose visit is
due starts a session (the components' session-start hooks run first: the interest random
walk), stays in it for one request per tick, and at the end of a session the retention
component decides whether the user churns and, if not, when the next visit comes. The
day-0 cohort's first visits follow the retention component's ``first_visit`` (a returning
population, not a burst at time 0); later users first visit on arrival.
"""

from __future__ import annotations

import numpy as np

from simrec.engine.logger import ImpressionLogger, SplitLogger
from simrec.usermodel import Population, UserModel

__all__ = ["SessionScheduler"]


class SessionScheduler:
    """Starts and ends sessions over the population's scheduling state.

    Args:
        pop: The population (its :data:`~simrec.usermodel.BASE_STATE` scheduling columns).
        model: The user model (its session-start hooks and retention component).
        logger: Where ended sessions are logged.
        arrival: Arrival day of every user.
    """

    def __init__(
        self,
        pop: Population,
        model: UserModel,
        logger: ImpressionLogger | SplitLogger,
        arrival: np.ndarray,
    ) -> None:
        """Schedule every user's first visit."""
        self.pop, self.model, self.logger = pop, model, logger
        arrival = np.asarray(arrival, dtype=np.float64)
        first = model.retention.first_visit(pop, np.arange(pop.n))
        pop.next_visit[:] = np.where(arrival == 0.0, first, arrival)
        pop.last_seen[:] = arrival
        pop.newcomer[:] = arrival > 0.0

    def next_due(self) -> float:
        """Earliest pending visit of an idle, non-churned user (inf if none)."""
        pop = self.pop
        idle = ~pop.in_session & ~pop.churned
        return float(pop.next_visit[idle].min()) if idle.any() else float("inf")

    def active(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """The users due to start a session at ``now``, and those in one, both sorted.

        ``due`` are the idle, non-churned users whose visit is due. One scan of the
        population finds both: a user in session has ``next_visit`` at or before the start
        of the session (:meth:`start` keeps it so), and a churned user never comes back
        (``next_visit`` is inf), so both sets lie among the users with ``next_visit <= now``.
        """
        pop = self.pop
        cand = np.flatnonzero(pop.next_visit <= now)
        busy = pop.in_session[cand]
        due = cand[~busy & ~pop.churned[cand]]
        return due, cand[busy]

    def due(self, now: float) -> np.ndarray:
        """Idle, non-churned users whose visit is due at ``now``."""
        return self.active(now)[0]

    def start(self, users: np.ndarray, now: np.ndarray) -> None:
        """Open a session for each user at its time ``now`` (session-start hooks first)."""
        pop = self.pop
        self.model.on_session_start(pop, users, now)
        pop.in_session[users] = True
        # A session that starts before its visit was due (a gymnasium env's reset) moves the
        # visit to the start: in session, next_visit <= now holds (see active()).
        pop.next_visit[users] = np.minimum(pop.next_visit[users], now)
        pop.session_start[users] = now
        pop.session_requests[users] = 0
        pop.session_clicks[users] = 0
        pop.session_minutes[users] = 0.0
        pop.visits[users] += 1

    def end(self, users: np.ndarray, now: np.ndarray) -> None:
        """Close the users' sessions at ``now``: churn, else the next visit; log them."""
        pop = self.pop
        visit = pop.visits[users]
        churn, gap = self.model.retention.end_session(pop, users, visit)
        pop.next_visit[users] = now + gap
        pop.in_session[users] = False
        pop.churned[users[churn]] = True
        pop.churn_time[users[churn]] = now[churn]
        self.logger.sessions(pop, users, visit, now, gap, churn)

    def close_open(self, now: float) -> None:
        """Log the sessions still open at the horizon (gap NaN: censored, no churn draw)."""
        pop = self.pop
        users = np.flatnonzero(pop.in_session)
        pop.in_session[users] = False
        self.logger.sessions(pop, users, pop.visits[users], now, np.nan, False)
