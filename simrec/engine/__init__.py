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

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np

from simrec._malloc import keep_freed_heap
from simrec.config import Config
from simrec.engine import slates
from simrec.engine.candidates import CandidateSampler
from simrec.engine.logger import ImpressionLogger, Served, SplitLogger
from simrec.engine.platform import Platform
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
from simrec.worlds.base import UserTruth, World

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


def _tiled(truth: UserTruth, copies: int) -> UserTruth:
    """``truth`` with every user's row repeated ``copies`` times, copy after copy."""
    if copies == 1:
        return truth
    return UserTruth(
        **{
            f.name: np.tile(
                getattr(truth, f.name), (copies,) + (1,) * (getattr(truth, f.name).ndim - 1)
            )
            for f in dataclasses.fields(truth)
        }
    )


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

    With ``copies > 1`` the engine holds that many copies of the world's population, one
    per run of a pass that serves several agents at once (:meth:`split`,
    :meth:`serve_checked`): copy ``c`` is population rows ``[c N, (c + 1) N)``, every copy
    starts from the same state and each user draws with the same key in every copy, so a copy
    steps exactly as a run of its own would; each copy logs to its own event log with its
    own user ids. The platform-wide channels (the social world's feeds, trending) would mix
    the copies, so they are refused.

    Args:
        world: The built world.
        config: The run configuration (``config.user_model`` names the components).
        behaviour: The run's counter-based behaviour stream (each user gets its key).
        log: Event log to append to, or ``None`` to keep no log (the gymnasium envs); with
            ``copies > 1``, a sequence of one log per copy.
        components: Component instances replacing the configured ones, by role.
        copies: Copies of the population.
        platforms: Platform dynamics besides trending and the social feeds (e.g. the
            creator economy), in the order their hooks run (:mod:`simrec.engine.platform`).

    Raises:
        ConfigError: ``copies > 1`` with a platform that connects users (a social world,
            ``dynamics.trend_weight > 0``, the creator economy).
    """

    def __init__(
        self,
        world: World,
        config: Config,
        behaviour: CounterStream,
        log: EventLog | Sequence[EventLog] | None,
        components: Mapping[str, Component] | None = None,
        copies: int = 1,
        platforms: Sequence[Platform] = (),
    ) -> None:
        keep_freed_heap()  # see simrec._malloc: no page faults for each step's temporaries
        self.world, self.log, self.copies = world, log, copies
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
        #: The platform dynamics, in the order their hooks run (engine.platform).
        self.platforms: list[Platform] = [
            self.trending,
            *([self.social] if self.social is not None else []),
            *platforms,
        ]
        connecting = [
            p.name or type(p).__name__ for p in self.platforms if p.connects_users(config)
        ]
        if copies > 1 and connecting:
            raise ConfigError(
                f"copies: {copies} runs in one pass need users who do not reach each other, "
                f"but the platform's {', '.join(connecting)} connect them"
            )
        for platform in self.platforms:
            platform.bind(config)
        self.pop = pop = self.model.population(copies * N)
        rows = np.arange(copies * N)
        pop.keys[:] = behaviour.user_keys(rows % N)  # the same key in every copy
        truth = _tiled(world.user_truth, copies)
        pop.interest[:] = truth.interest
        pop.interest0[:] = truth.interest
        self.model.init_users(pop, rows, truth)
        #: The first stage of every user's hash of the components' request-keyed purposes
        #: (rng.KeyedDraws.first_stage; it depends on the key alone, so it is kept).
        self._first = KeyedDraws.first_stage(pop.keys, self.model.draws)
        if copies == 1:
            self.logger: ImpressionLogger | SplitLogger = ImpressionLogger(log)  # type: ignore[arg-type]
        else:
            logs = list(log) if log is not None else [None] * copies  # type: ignore[arg-type]
            self.logger = SplitLogger([ImpressionLogger(x) for x in logs], N)
        arrival = np.tile(world.users.arrival_day, copies)
        self.scheduler = SessionScheduler(pop, self.model, self.logger, arrival)
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
        for platform in self.platforms:
            platform.bind(config)
        L = config.dynamics.recent_items
        if self.pop.recent.shape[0] != L:
            self.pop.dims["L"] = L
            for var in self.model.by_role["memory"].state_vars(self.pop.dims):
                self.pop.resize(var)

    def set_day(self, day: int) -> np.ndarray:
        """Start the platforms' day, refresh the catalog; return the ids released that day."""
        for platform in self.platforms:
            platform.start_day(day)
        mask = self.world.items.available(float(day))
        for platform in self.platforms:
            mask = platform.catalog(day, mask)
        self.available_mask = mask
        self.available = np.flatnonzero(self.available_mask).astype(np.int64)
        return np.flatnonzero(self.world.items.release_day == day).astype(np.int64)

    def reset_users(
        self, slots: np.ndarray, truth: object, keys: np.ndarray, now: np.ndarray
    ) -> None:
        """Put new users into ``slots`` (the gymnasium envs): fresh state, visit due ``now``."""
        pop = self.pop
        pop.reset(slots)
        pop.keys[slots] = keys
        self._first[slots] = KeyedDraws.first_stage(pop.keys[slots], self.model.draws)
        pop.interest[slots] = truth.interest  # type: ignore[attr-defined]
        pop.interest0[slots] = truth.interest  # type: ignore[attr-defined]
        self.model.init_users(pop, slots, truth)
        pop.next_visit[slots] = now
        pop.last_seen[slots] = now
        pop.newcomer[slots] = True  # a user put into an env slot starts their life there

    def ground_truth(self, copy: int = 0) -> GroundTruth:
        """The hidden-state accessor (for ``oracle*`` agents only) of copy ``copy``."""
        return GroundTruth(self, offset=copy * self.n_users)

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
        for platform in self.platforms:
            cands = platform.candidates(users, cands, self.available_mask, now)
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
        S, propensities = self.check(batch, slates)
        now = np.full(len(batch), batch.time)
        return self._serve(batch.users, S, now, propensities, batch.time)

    def check(self, batch: RequestBatch, slates: object) -> tuple[np.ndarray, Propensities | None]:
        """The validated ``(B, K)`` slates and the propensities of an agent's answer.

        Raises:
            InvalidActionError: The slates are malformed (see :func:`validate_slates`).
        """
        propensities = None
        if isinstance(slates, StochasticSlates):
            propensities = slates.propensities
            slates = slates.items
        S = validate_slates(
            slates, batch.users, batch.slate_size, self.n_items, self.available_mask,
            batch.candidates,
        )  # fmt: skip
        if propensities is not None:
            check_propensities(propensities, S.shape)
        return S, propensities

    def split(self, batch: RequestBatch) -> list[tuple[int, slice, RequestBatch]]:
        """``(copy, rows, the copy's batch)`` of each copy with requests in ``batch``.

        The copy's batch holds its rows with its own user ids (see the class docstring).
        """
        if self.copies == 1:
            return [(0, slice(0, len(batch)), batch)]
        N = self.n_users
        edges = [0, *np.searchsorted(batch.users, np.arange(1, self.copies) * N).tolist()]
        edges.append(len(batch))
        parts = []
        for c, (lo, hi) in enumerate(pairwise(edges)):
            if hi > lo:
                rows = slice(lo, hi)
                cands = None if batch.candidates is None else batch.candidates[rows]
                local = RequestBatch(
                    users=batch.users[rows] - c * N, time=batch.time, step=batch.step[rows],
                    available=batch.available, candidates=cands, slate_size=batch.slate_size,
                )  # fmt: skip
                parts.append((c, rows, local))
        return parts

    def serve_checked(
        self,
        batch: RequestBatch,
        parts: Sequence[tuple[slice, RequestBatch, np.ndarray, Propensities | None]],
    ) -> list[Feedback]:
        """Serve the copies' checked slates (:meth:`split`, :meth:`check`) in one pass.

        ``parts`` are ``(rows, the copy's batch, slates, propensities)`` covering the batch's
        rows in order; each copy gets the feedback of its rows, with its own user ids.
        """
        S = np.concatenate([p[2] for p in parts]) if len(parts) > 1 else parts[0][2]
        props = [p[3] for p in parts]
        propensities = None
        if any(p is not None for p in props):
            K = S.shape[1]
            filled = [
                p if p is not None else Propensities.unknown(len(local.users), K)
                for (_, local, _, _), p in zip(parts, props, strict=True)
            ]
            propensities = Propensities(
                *(np.concatenate([np.asarray(getattr(p, k), dtype=np.float64) for p in filled])
                  for k in ("slate", "item", "cascade"))
            )  # fmt: skip
        fb = self._serve(batch.users, S, np.full(len(batch), batch.time), propensities, batch.time)
        if len(parts) == 1 and parts[0][1] is batch:
            return [fb]
        return [
            Feedback(
                users=local.users,
                time=fb.time,
                slates=fb.slates[rows],
                clicked=fb.clicked[rows],
                purchased=fb.purchased[rows],
                engagement=fb.engagement[rows],
                revenue=fb.revenue[rows],
                session_ended=fb.session_ended[rows],
            )
            for rows, local, _, _ in parts
        ]

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
        if n:
            latest = float(now.max())
            for platform in self.platforms:
                platform.served(u, S, out.clicked, out.keys, out.req, latest)
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
            draws=KeyedDraws(keys, req, self.model.draws, self._first[u]), match=match,
            genres=items.genre[S],
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

    def snapshot(self, day: int, copy: int = 0) -> dict[str, float]:
        """Aggregates of copy ``copy`` of the population at the end of ``day``.

        One row of the ``days`` table.
        """
        pop, t = self.pop, float(day + 1)
        part = slice(copy * self.n_users, (copy + 1) * self.n_users)
        churn_time, last_seen = pop.churn_time[part], pop.last_seen[part]
        arrived = self.world.users.arrival_day < t
        alive = arrived & ~(churn_time < t)
        sat = self.model.satisfaction
        cohort = self.world.users.arrival_day == 0.0
        if "satisfaction" in pop.variables and hasattr(sat, "level"):
            level, rows = pop.satisfaction[part], np.arange(part.start, part.stop)
            s = sat.level(level[alive], t - last_seen[alive], rows[alive], pop)
            # The day-0 cohort, churned users included with their level when they left.
            until = np.minimum(t, churn_time[cohort])
            s0 = sat.level(level[cohort], until - last_seen[cohort], rows[cohort], pop)
        else:
            s = s0 = np.zeros(0)
        interest, interest0 = pop.interest[part], pop.interest0[part]
        return {
            "day": day,
            "arrived": int(arrived.sum()),
            "alive": int(alive.sum()),
            "satisfaction": float(s.mean()) if s.size else float("nan"),
            "satisfaction_cohort": float(s0.mean()) if s0.size else float("nan"),
            "interest_drift": float(1.0 - (interest[alive] * interest0[alive]).sum(axis=1).mean())
            if alive.any()
            else float("nan"),
            "available_items": int(self.available_mask.sum()),
        }
