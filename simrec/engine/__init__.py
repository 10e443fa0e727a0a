r"""The population engine: it orchestrates the parts that serve one tick.

The parts, each in its own module: the population state (:mod:`simrec.usermodel.population`,
a struct of arrays), the user model (:mod:`simrec.usermodel`, a composition of components:
choice -> engagement -> purchase -> drift -> satisfaction -> memory -> fatigue -> session
exit, and retention at session ends), the session scheduler (:mod:`.scheduler`), the
candidate sampler (:mod:`.candidates`), the slate checks (:mod:`.slates`) and the impression
logger (:mod:`.logger`). One tick of the calendar is two calls:

1. :meth:`Engine.open_requests` starts the sessions that are due and returns one
   :class:`~simrec.types.RequestBatch` holding every user with an open session;
2. :meth:`Engine.serve` checks the agent's slates, computes each shown item's true match
   :math:`\langle u_j, z_i\rangle`, runs the requests through the user model in chunks of
   users (optionally on threads: every update of a row touches only its user), counts them in
   the sessions, logs the impressions and ends the sessions that ended.

Every behavioural draw comes from the run's counter-based stream keyed by the user and the
user's own request (or visit) number, so two agents meet the same luck for the same user
(common random numbers), whatever the composition. See ``docs/model.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from simrec._malloc import keep_freed_heap
from simrec.config import Config
from simrec.engine import slates
from simrec.engine.candidates import CandidateSampler
from simrec.engine.logger import ImpressionLogger, Served
from simrec.engine.scheduler import SessionScheduler
from simrec.engine.slates import as_array, check_propensities, validate_slates
from simrec.engine.social import SocialChannel
from simrec.engine.trending import Trending
from simrec.engine.truth import GroundTruth
from simrec.errors import ConfigError
from simrec.log import EventLog
from simrec.rng import CounterStream, KeyedDraws
from simrec.types import Feedback, Propensities, RequestBatch, StochasticSlates
from simrec.usermodel import Component, Items, Request, UserModel
from simrec.usermodel.arrays import row_membership, row_scores
from simrec.worlds.base import World

__all__ = [
    "Engine",
    "GroundTruth",
    "SocialChannel",
    "Trending",
    "as_array",
    "row_membership",
    "row_scores",
    "slates",
    "validate_slates",
]

#: Rows per chunk of the user-model step (its temporaries stay in cache).
MATCH_CHUNK = 16_384
#: Rows per topic gather within a chunk (a (rows, K, d) block that stays in L2).
GATHER_ROWS = 1_024
#: Threads over the chunks ($SIMREC_ENGINE_THREADS, default 1). The numpy kernels release
#: the GIL; chunks write disjoint rows, so results do not depend on it.
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


class Engine:
    """The population, its user model, sessions and log, stepped tick by tick.

    The population's state variables read as attributes (``engine.satisfaction``,
    ``engine.next_visit``, ...).

    Args:
        world: The built world.
        config: The run configuration (``config.user_model`` names the components).
        behaviour: The run's counter-based behaviour stream (each user gets its key).
        log: Event log to append to, or ``None`` to keep no log (the gymnasium envs).
        components: Component instances replacing the configured ones, by role.
    """

    def __init__(
        self,
        world: World,
        config: Config,
        behaviour: CounterStream,
        log: EventLog | None,
        components: Mapping[str, Component] | None = None,
    ) -> None:
        keep_freed_heap()  # see simrec._malloc: no page faults for each step's temporaries
        self.world, self.log = world, log
        N, M = world.n_users, world.n_items
        self.n_users, self.n_items = N, M
        it = world.item_truth
        #: The platform-wide trending signal (kept for every run: the user model reads it
        #: only when ``dynamics.trend_weight > 0``, and only then is it updated).
        self.trending = Trending(M, config.dynamics.trend_tau_days)
        self.items = Items(it.topic, it.quality, it.appeal, world.items.genre.astype(np.int32),
                           world.items.price, self.trending.signal)  # fmt: skip
        dims = {"M": M, "d": world.dim, "G": len(world.genre_names),
                "L": config.dynamics.recent_items}  # fmt: skip
        self.model = UserModel(config, dims, components)
        #: Sharing along the follow graph (the social world), else ``None``.
        self.social = None
        if world.social is not None:
            if not hasattr(self.model.choice, "social"):
                raise ConfigError(
                    f"world.kind: {world.name!r} shares items along a follow graph, but the "
                    f"choice component {type(self.model.choice).__name__} does not read the "
                    "feeds (expected a subclass of simrec.usermodel.ChoiceComponent)"
                )
            self.social = SocialChannel(world.social, config.world.social, M)
            self.model.choice.social = self.social
        self.pop = pop = self.model.population(N)
        pop.keys[:] = behaviour.user_keys(np.arange(N))
        pop.interest[:] = world.user_truth.interest
        pop.interest0[:] = world.user_truth.interest
        self.model.init_users(pop, np.arange(N), world.user_truth)
        self.logger = ImpressionLogger(log)
        self.scheduler = SessionScheduler(pop, self.model, self.logger, world.users.arrival_day)
        self.candidates = CandidateSampler(pop)
        self.available_mask = np.zeros(M, dtype=bool)
        self.available = np.zeros(0, dtype=np.int64)
        self.config = config
        self._match_dtype = np.result_type(pop.interest.dtype, self.items.topic.dtype)
        self._s_dtype = pop.satisfaction.dtype if "satisfaction" in pop.variables else np.float32

    def __getattr__(self, name: str) -> np.ndarray:
        """The population's state variables read as the engine's attributes."""
        pop = self.__dict__.get("pop")
        if pop is not None and name in pop.variables:
            return getattr(pop, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def recent(self) -> np.ndarray:
        """Recently consumed items ``(N, L)``, a view (-1 = empty; a ring, see ``recent_next``)."""
        return self.pop.recent.T

    def set_config(self, config: Config) -> None:
        """Apply new parameters (an intervention); a new buffer length empties the buffers."""
        self.config = config
        self.model.bind(config)
        self.trending.tau = config.dynamics.trend_tau_days
        L = config.dynamics.recent_items
        if self.pop.recent.shape[0] != L:
            self.pop.dims["L"] = L
            for var in self.model.by_role["memory"].state_vars(self.pop.dims):
                self.pop.resize(var)

    def set_day(self, day: int) -> np.ndarray:
        """Refresh the catalog for ``day``; return the ids released on that day."""
        self.available_mask = self.world.items.available(float(day))
        self.available = np.flatnonzero(self.available_mask).astype(np.int64)
        return np.flatnonzero(self.world.items.release_day == day).astype(np.int64)

    def reset_users(
        self, slots: np.ndarray, truth: object, keys: np.ndarray, now: np.ndarray
    ) -> None:
        """Put new users into ``slots`` (the gymnasium envs): fresh state, visit due ``now``."""
        pop = self.pop
        pop.reset(slots)
        pop.keys[slots] = keys
        pop.interest[slots] = truth.interest  # type: ignore[attr-defined]
        pop.interest0[slots] = truth.interest  # type: ignore[attr-defined]
        self.model.init_users(pop, slots, truth)
        pop.next_visit[slots] = now
        pop.last_seen[slots] = now

    def ground_truth(self) -> GroundTruth:
        """The hidden-state accessor (for ``oracle*`` agents only)."""
        return GroundTruth(self)

    # ------------------------------------------------------------------ the step

    def next_due(self) -> float:
        """Earliest pending visit time of an idle, non-churned user (inf if none)."""
        return self.scheduler.next_due()

    def start_sessions(self, users: np.ndarray, now: np.ndarray) -> None:
        """Open a session for each user at its time ``now``."""
        self.scheduler.start(users, now)

    def sample_indices(self, users: np.ndarray, n: int | np.ndarray, k: int) -> np.ndarray:
        """``k`` distinct candidate indices in ``[0, n)`` per user (see :mod:`.candidates`)."""
        return self.candidates.indices(users, n, k)

    def open_requests(self, now: float) -> RequestBatch | None:
        """Start due sessions and return the batch of all open requests (``None`` if none)."""
        due, users = self.scheduler.active(now)
        if due.size:
            self.scheduler.start(due, np.full(due.size, now))
            users = np.union1d(users, due) if users.size else due
        if users.size == 0:
            return None
        C = self.config.simulation.candidates
        cands = None
        if C > 0:
            cands = self.available[self.candidates.indices(users, len(self.available), C)]
        if self.social is not None:
            self.social.now = now
            if cands is not None:
                cands = self.social.into_candidates(users, cands, self.available_mask)
        return RequestBatch(
            users=users,
            time=now,
            step=self.pop.session_requests[users],
            available=self.available,
            candidates=cands,
            slate_size=self.config.simulation.slate_size,
        )

    def serve(self, batch: RequestBatch, slates: object) -> Feedback:
        """Serve the agent's slates to the batch and apply every state update.

        ``slates`` is the ``(B, K)`` item ids, or a :class:`~simrec.types.StochasticSlates`
        whose propensities are logged with the impressions.

        Raises:
            InvalidActionError: The slates are malformed (see :func:`validate_slates`).
        """
        propensities = None
        if isinstance(slates, StochasticSlates):
            slates, propensities = slates.items, slates.propensities
        S = validate_slates(
            slates, batch.users, batch.slate_size, self.n_items, self.available_mask,
            batch.candidates,
        )  # fmt: skip
        if propensities is not None:
            check_propensities(propensities, S.shape)
        now = np.full(len(batch), batch.time)
        return self._serve(batch.users, S, now, propensities, batch.time)

    def serve_rows(
        self,
        u: np.ndarray,
        S: np.ndarray,
        now: np.ndarray,
        propensities: Propensities | None = None,
    ) -> Feedback:
        """Apply one request per row, each at its own time.

        Users ``u (B,)`` (distinct) are shown validated slates ``S (B, K)`` at times
        ``now (B,)`` (days). Sessions that end get their churn draw and next visit. The
        rows go through :meth:`_serve_chunk` in chunks of ``MATCH_CHUNK``; the result does
        not depend on the chunking.
        """
        return self._serve(u, S, now, propensities, None)

    def _serve(
        self,
        u: np.ndarray,
        S: np.ndarray,
        now: np.ndarray,
        propensities: Propensities | None,
        time: float | None,
    ) -> Feedback:
        """:meth:`serve_rows`; ``time`` is the one time of every row when there is one."""
        pop = self.pop
        if propensities is not None:
            propensities = Propensities(
                *(np.asarray(getattr(propensities, k), dtype=np.float64)
                  for k in ("slate", "item", "cascade"))
            )  # fmt: skip
        out = Served.empty(
            pop.keys[u], pop.requests[u], S.shape[1], self._s_dtype, self._match_dtype,
            propensities,
        )  # fmt: skip
        n = len(u)
        if n <= MATCH_CHUNK:
            self._serve_chunk(u, S, now, slice(0, n), out)
        else:
            _over_chunks(n, lambda rows: self._serve_chunk(u, S, now, rows, out))
        self.logger.impressions(u, S, now, out, time)
        if self.config.dynamics.trend_weight and n:
            self.trending.add(S, out.clicked, float(now.max()))
        if self.social is not None:
            self.social.share(u, S, out.clicked, out.keys, out.req, float(now.max()))
        if out.ended.any():
            self.scheduler.end(u[out.ended], now[out.ended])
        return Feedback(
            users=u,
            time=float(now[0]) if n else 0.0,
            slates=S,
            clicked=out.clicked,
            purchased=out.purchased,
            engagement=out.engaged,
            revenue=out.revenue,
            session_ended=out.ended,
        )

    def _serve_chunk(
        self, u_all: np.ndarray, S_all: np.ndarray, now_all: np.ndarray, rows: slice, out: Served
    ) -> None:
        """The user model's update of the batch rows ``rows`` (see :meth:`serve_rows`)."""
        pop, items = self.pop, self.items
        u, S, now = u_all[rows], S_all[rows], now_all[rows]
        # Each row's match is its own sum of products (einsum, no BLAS), so that a row's
        # result does not depend on the batch (the vector env equals sync envs).
        match = out.match[rows]
        interest = pop.interest.take(u, axis=0)
        for lo in range(0, len(u), GATHER_ROWS):  # a (GATHER_ROWS, K, d) gather fits in L2
            part = slice(lo, lo + GATHER_ROWS)
            np.einsum("bd,bkd->bk", interest[part], items.topic.take(S[part], axis=0),
                      out=match[part])  # fmt: skip
        keys, req = out.keys[rows], out.req[rows]
        r = Request(
            pop, items, u=u, S=S, now=now, keys=keys, req=req, dt=now - pop.last_seen[u],
            draws=KeyedDraws(keys, req, self.model.draws), match=match, genres=items.genre[S],
            s_logged=out.s[rows], clicked=out.clicked[rows], purchased=out.purchased[rows],
            engaged=out.engaged[rows], revenue=out.revenue[rows], ended=out.ended[rows],
        )  # fmt: skip
        self.model.serve(r)
        # The session counts this request before the exit decision (request and minute budgets).
        pop.session_requests[u] += 1
        if r.clicked.any():  # engagement is nonzero on clicks only
            pop.session_clicks[u] += np.count_nonzero(r.clicked, axis=1).astype(np.int32)
            pop.session_minutes[u] += r.engaged.sum(axis=1)
        self.model.exit(r)
        pop.requests[u] += 1
        pop.last_seen[u] = now

    def close_open_sessions(self, now: float) -> None:
        """Log the sessions still open at the horizon (censored)."""
        self.scheduler.close_open(now)

    def snapshot(self, day: int) -> dict[str, float]:
        """Population aggregates at the end of ``day`` (for the ``days`` table)."""
        pop, t = self.pop, float(day + 1)
        arrived = self.world.users.arrival_day < t
        alive = arrived & ~(pop.churn_time < t)
        sat = self.model.satisfaction
        cohort = self.world.users.arrival_day == 0.0
        if "satisfaction" in pop.variables and hasattr(sat, "level"):
            s = sat.level(pop.satisfaction[alive], t - pop.last_seen[alive])
            # The day-0 cohort, churned users included with their level when they left.
            until = np.minimum(t, pop.churn_time[cohort])
            s0 = sat.level(pop.satisfaction[cohort], until - pop.last_seen[cohort])
        else:
            s = s0 = np.zeros(0)
        return {
            "day": day,
            "arrived": int(arrived.sum()),
            "alive": int(alive.sum()),
            "satisfaction": float(s.mean()) if s.size else float("nan"),
            "satisfaction_cohort": float(s0.mean()) if s0.size else float("nan"),
            "interest_drift": float(
                1.0 - (pop.interest[alive] * pop.interest0[alive]).sum(axis=1).mean()
            )
            if alive.any()
            else float("nan"),
            "available_items": int(self.available_mask.sum()),
        }
