"""The population simulation: one agent serving every user of a world over many days.

>>> from simrec.config import from_dict, Config
>>> cfg = from_dict(Config, {"world": {"items": {"n_items": 200}, "users": {"n_users": 100}},
...                          "simulation": {"days": 3}})
>>> result = Simulation(cfg).run("random", seed=0)
>>> list(result.daily.index)
[0, 1, 2]
>>> result.totals["clicks"] == Simulation(cfg).run("random", seed=0).totals["clicks"]
True
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simrec.agent import Agent, AgentContext, make_agent
from simrec.clock import Calendar
from simrec.config import Config, Intervention, replace_path
from simrec.engine import Engine
from simrec.engine.platform import Platform, platform_rng
from simrec.errors import AgentError, ConfigError, InvalidActionError, SimrecError, in_context
from simrec.guard import (
    AGENT_TOTALS_PREFIX,
    Deadline,
    agent_error,
    agent_totals,
    counting_interrupts,
    sigint_count,
    swallowed_interrupt,
    user_interrupted,
)
from simrec.log import EventLog
from simrec.metrics import daily_metrics, run_totals
from simrec.metrics.reference import PAIRS, chaney_pairs, reference_popularity
from simrec.metrics.users import user_table, user_totals
from simrec.resources import available_memory, check_memory, estimate_memory
from simrec.rng import make_streams
from simrec.supply import CreatorEconomy
from simrec.types import Cost, readonly
from simrec.usermodel import Component
from simrec.worlds import World, check_catalog, make_world

__all__ = ["AGENT_TOTALS_PREFIX", "Simulation", "SimulationResult", "agent_totals", "not_shareable"]


@dataclass
class SimulationResult:
    """The outcome of one run.

    Attributes:
        agent: The agent's name (or label).
        seed: The run seed.
        config: The configuration the run started with.
        log: The event log.
        daily: Daily metrics, one row per day (see :mod:`simrec.metrics`).
        totals: Whole-run aggregates (see :func:`simrec.metrics.run_totals`), with the
            lifetime value and return rates of :func:`simrec.metrics.users.user_totals`.
        cost: The agent's cost, with measured timings.
        wall_seconds: Wall time of the run.
        users: The per-user table (see :mod:`simrec.metrics.users`), a
            :class:`pandas.DataFrame`.
        creators: The creator table of the creator economy (``None`` without one).
        platform_tables: The tables of the platform dynamics that keep one, by name
            (``creators`` among them), as :class:`pandas.DataFrame`.
        shared_pass: Runs that shared the pass (:meth:`Simulation.run_many`; their
            ``wall_seconds`` is the pass's).
    """

    agent: str
    seed: int
    config: Config
    log: EventLog
    daily: Any
    totals: dict[str, float]
    cost: Cost
    wall_seconds: float
    hidden_state_read: bool = field(default=False)
    users: Any = None
    creators: Any = None
    shared_pass: int = 1
    platform_tables: dict[str, Any] = field(default_factory=dict)


class _Run:
    """One agent's run in a pass: the agent, its event log and its cost ledger.

    Every call into the agent goes through :meth:`call`, so that whatever an agent raises
    -- and every invalid slate it returns -- names the agent, the seed, the day and the
    method.
    """

    def __init__(self, agent: Agent, label: str, seed: int, log: EventLog, copy: int) -> None:
        self.agent = agent
        self.label = label
        self.seed = seed
        self.log = log
        self.copy = copy  # its copy of the population in the pass's engine
        self.day = 0
        self.recommend_seconds = 0.0
        self.requests = 0
        self.calls = 0
        self.pool_items = 0
        self.fit_seconds = 0.0
        self.fits = 0

    def where(self, method: str) -> str:
        """``agent 'label' (seed s, day d, method)``: the prefix of an agent's errors."""
        return f"agent {self.label!r} (seed {self.seed}, day {self.day}, {method})"

    def call(self, method: str, *args: Any) -> Any:
        """Call an agent method; whatever it raises is re-raised with :meth:`where`.

        Any ``BaseException`` -- ``SystemExit`` included -- becomes a
        :class:`~simrec.errors.SimrecError` (:func:`simrec.guard.agent_error`); only the
        user's Ctrl-C passes through as ``KeyboardInterrupt``.
        """
        before = sigint_count()
        try:
            out = getattr(self.agent, method)(*args)
        except BaseException as err:
            if user_interrupted(err, before):
                raise
            raise agent_error(err, self.where(method)) from err
        swallowed_interrupt(before)
        return out


class _Pass:
    """Calendar hooks binding one engine to the runs of a pass.

    One run, or several agents served together, each with its own copy of the population
    (see :class:`~simrec.engine.Engine`).
    """

    def __init__(
        self, engine: Engine, runs: list[_Run], deadline: Deadline, where: dict[str, int]
    ) -> None:
        self.engine, self.runs = engine, runs
        self.progress: Any = None
        self.deadline = deadline
        self.where = where  # the day, for the time limit's message

    def on_day_start(self, day: int) -> None:
        self.where["day"] = day
        self.deadline.check()
        for run in self.runs:
            run.day = day
        released = self.engine.set_day(day)  # the platforms' day starts first
        if released.size and day > 0:
            for run in self.runs:
                run.call("on_items_released", readonly(released), float(day))

    def on_day_end(self, day: int) -> None:
        for run in self.runs:
            run.log.days.append(**self.engine.snapshot(day, run.copy))
        if self.progress is not None:
            self.progress.update(1)

    def on_intervention(self, intervention: Intervention) -> None:
        cfg = self.engine.config
        for key, value in intervention.set.items():
            cfg = replace_path(cfg, key, value, allowed=("dynamics", "retention", "economy"))
        self.engine.set_config(cfg)

    def on_retrain(self, now: float) -> None:
        self.deadline.check()
        for run in self.runs:
            t0 = time.perf_counter()
            run.call("retrain", now)
            run.fit_seconds += time.perf_counter() - t0
            run.fits += 1

    def on_tick(self, now: float) -> float | None:
        self.deadline.check()
        engine = self.engine
        batch = engine.open_requests(now)
        if batch is None:
            return engine.next_due()
        parts = []
        for copy, rows, local in engine.split(batch):
            run = self.runs[copy]
            t0 = time.perf_counter()
            slates = run.call("recommend", local)
            run.recommend_seconds += time.perf_counter() - t0
            run.requests += len(local)
            run.calls += 1
            pool = local.candidates if local.candidates is not None else local.available
            run.pool_items += len(local) * pool.shape[-1]
            try:
                S, propensities = engine.check(local, slates)
            except InvalidActionError as err:
                raise in_context(err, run.where("recommend")) from None
            parts.append((rows, local, S, propensities, run))
        feedback = engine.serve_checked(batch, [p[:4] for p in parts])
        for part, fb in zip(parts, feedback, strict=True):
            for platform in engine.platforms:
                platform.record(fb)
            part[4].call("observe", fb)
        return None


def _label_of(agent: Agent | str) -> str:
    """A registered name, or the name of an agent instance's class."""
    return agent if isinstance(agent, str) else _name_of(agent)


def _name_of(agent: Agent) -> str:
    """The registered name of the agent's own class, else the class name."""
    return agent.name if "name" in type(agent).__dict__ and agent.name else type(agent).__name__


class Simulation:
    """Runs agents on worlds built from one configuration.

    Args:
        config: The run configuration (defaults: :class:`~simrec.config.Config`).
        components: User-model components replacing the configured ones, by role (e.g.
            ``{"retention": MyRetention()}``; see :mod:`simrec.usermodel`).
        platforms: Platform dynamics of your own (:mod:`simrec.engine.platform`): each a
            :class:`~simrec.engine.platform.Platform` subclass (or factory) called as
            ``factory(world, config, rng)`` at the start of every run, ``rng`` its own
            stream (:func:`~simrec.engine.platform.platform_rng` of the seed and its
            ``name``). Their hooks run after the built-in platforms'.
    """

    def __init__(
        self,
        config: Config | None = None,
        components: Mapping[str, Component] | None = None,
        platforms: Sequence[Callable[..., Platform]] = (),
    ) -> None:
        self.config = config if config is not None else Config()
        self.components = dict(components or {})
        self.platforms = tuple(platforms)
        self.calendar = Calendar(self.config.simulation)

    def build_world(self, seed: int) -> World:
        """The world a run with ``seed`` faces (identical for every agent)."""
        s = make_streams(seed)
        return make_world(self.config.world, s.world, s.arrivals, self.config.simulation.days)

    def run(
        self,
        agent: Agent | str,
        seed: int = 0,
        *,
        agent_params: dict[str, Any] | None = None,
        label: str | None = None,
        progress: bool = False,
        log_dir: str | None = None,
        allow_hidden_state: bool = False,
        output_dir: str | Path | None = None,
        time_limit: float | None = None,
    ) -> SimulationResult:
        """Simulate the whole horizon with one agent.

        Args:
            agent: An :class:`~simrec.agent.Agent` instance or a registered name.
            seed: Run seed: the same seed gives every agent the same world and the same
                behavioural draws (common random numbers).
            agent_params: Constructor parameters when ``agent`` is a name.
            label: Name of the agent in the result (default: its registered name).
            progress: Show a progress bar over simulated days.
            log_dir: Write the impression log's full chunks to this folder as the run goes
                (for populations whose log would not fit in memory).
            allow_hidden_state: Give the hidden state to an agent *instance* that declares
                ``reads_hidden_state`` (a registered name gets it only if it is an oracle
                name); recorded in :attr:`SimulationResult.hidden_state_read`.
            output_dir: The folder the agent may write files into
                (:attr:`~simrec.agent.AgentContext.output_dir`; ``simrec run`` gives
                ``<out>/agent-files/<label>/<seed>/``). ``None``: the agent may write none
                -- a path parameter such as ``train.out`` is refused at setup, and nothing
                is written to the current folder.
            time_limit: Wall-clock seconds the run may take (``None``: no limit); past it
                the run stops with :class:`~simrec.errors.TimeLimitError`, inside agent code
                too (:class:`simrec.guard.Deadline`).

        Returns:
            The :class:`SimulationResult`.

        Raises:
            ConfigError: The run would not fit in memory, or the catalog holds fewer items
                than a request needs on some day.
            SimrecError: An agent instance declares ``reads_hidden_state`` without
                ``allow_hidden_state``.
            AgentError: The agent raised -- any exception, ``SystemExit`` and the like
                included (the message names agent, seed, day and method); only the user's
                Ctrl-C passes as ``KeyboardInterrupt`` (:mod:`simrec.guard`).
            InvalidActionError: The agent returned an invalid slate (named likewise).
            TimeLimitError: The run went past ``time_limit``.
        """
        return self.run_many(
            [agent],
            seed,
            agent_params=[agent_params],
            labels=[label],
            progress=progress,
            log_dirs=[log_dir],
            allow_hidden_state=allow_hidden_state,
            output_dirs=[output_dir],
            time_limit=time_limit,
        )[0]

    def run_many(
        self,
        agents: Sequence[Agent | str],
        seed: int = 0,
        *,
        agent_params: Sequence[dict[str, Any] | None] | None = None,
        labels: Sequence[str | None] | None = None,
        progress: bool = False,
        log_dirs: Sequence[str | None] | None = None,
        allow_hidden_state: bool = False,
        output_dirs: Sequence[str | Path | None] | None = None,
        time_limit: float | None = None,
    ) -> list[SimulationResult]:
        """Simulate the whole horizon with several agents in one pass over one world.

        Each agent serves its own copy of the population (:class:`~simrec.engine.Engine`'s
        ``copies``): the same users with the same behavioural draws, stepped together, so
        that a tick's fixed cost is paid once for all of them. Each result is the one
        :meth:`run` gives for that agent alone, row for row in the event log, provided the
        agents keep their state to themselves (no process-wide random state:
        :attr:`~simrec.agent.Agent.isolated_state`); the agents' calls interleave tick by
        tick. Worlds whose users reach each other (:func:`shareable`) run one agent at a time.

        Args:
            agents: Agent instances or registered names.
            seed: Run seed, shared by every agent.
            agent_params: Per agent, constructor parameters when it is a name.
            labels: Per agent, its name in the result.
            progress: Show a progress bar over simulated days.
            log_dirs: Per agent, a folder to spill its impression log to.
            allow_hidden_state: As in :meth:`run`, for every agent.
            output_dirs: Per agent, the folder it may write files into (as in :meth:`run`).
            time_limit: As in :meth:`run`, for the whole pass.

        Returns:
            One :class:`SimulationResult` per agent, in order; ``wall_seconds`` is the
            pass's (``shared_pass`` says how many runs shared it).

        Raises:
            ConfigError: Several agents on a world that is not :func:`shareable`, the runs
                would not fit in memory, or the catalog holds fewer items than a request
                needs on some day.
            SimrecError, AgentError, InvalidActionError, TimeLimitError: As in :meth:`run`.
        """
        n = len(agents)
        names: list[str | None] = list(labels) if labels is not None else [None] * n
        where = {"day": 0}

        def over_limit() -> str:
            who = ", ".join(repr(x or _label_of(a)) for x, a in zip(names, agents, strict=True))
            return (
                f"run {who} (seed {seed}) stopped on day {where['day']}: past its time limit "
                f"of {time_limit:g} s (--time-limit; the scenario's time_limit)"
            )

        with counting_interrupts(), Deadline(time_limit, over_limit) as deadline:
            return self._run_many(
                agents, seed, agent_params, names, progress, log_dirs, allow_hidden_state,
                output_dirs, deadline, where,
            )  # fmt: skip

    def _run_many(
        self,
        agents: Sequence[Agent | str],
        seed: int,
        agent_params: Sequence[dict[str, Any] | None] | None,
        names: list[str | None],
        progress: bool,
        log_dirs: Sequence[str | None] | None,
        allow_hidden_state: bool,
        output_dirs: Sequence[str | Path | None] | None,
        deadline: Deadline,
        where: dict[str, int],
    ) -> list[SimulationResult]:
        """:meth:`run_many` inside its guards (Ctrl-C counted, the time limit armed)."""
        t_start = time.perf_counter()
        cfg = self.config
        n = len(agents)
        params = list(agent_params) if agent_params is not None else [None] * n
        dirs = list(log_dirs) if log_dirs is not None else [None] * n
        outs = list(output_dirs) if output_dirs is not None else [None] * n
        if n > 1 and (why := not_shareable(cfg)):
            raise ConfigError(f"agents: {n} agents cannot share one pass: {why}")
        made: list[tuple[Agent, str]] = []
        for given, p, label in zip(agents, params, names, strict=True):
            registered = isinstance(given, str)
            # only oracle names read truth
            agent = make_agent(given, **(p or {})) if isinstance(given, str) else given
            name = label or _name_of(agent)
            if agent.reads_hidden_state and not (registered or allow_hidden_state):
                raise SimrecError(
                    f"agent {name!r} declares reads_hidden_state: pass allow_hidden_state=True "
                    "to Simulation.run to give it the hidden state (recorded in the result), "
                    "or register it under an oracle name"
                )
            made.append((agent, name))
        check_memory(cfg)
        if n > 1:
            est = estimate_memory(cfg)
            if est.total * n > available_memory():
                raise ConfigError(
                    f"agents: {n} runs in one pass need about {n} x {est.total / 2**30:,.1f} GB; "
                    "run fewer agents at a time"
                )
        streams = make_streams(seed)
        world = make_world(cfg.world, streams.world, streams.arrivals, cfg.simulation.days)
        platforms: list[Platform] = []
        if cfg.world.supply.enabled:
            platforms.append(CreatorEconomy(world, cfg, streams.supply))
        for factory in self.platforms:
            name = getattr(factory, "name", "") or getattr(factory, "__name__", "platform")
            platforms.append(factory(world, cfg, platform_rng(seed, name)))
        check_catalog(world.items, cfg, seed)
        logs = [
            EventLog(
                world.users.arrival_day,
                items={
                    "release_day": world.items.release_day,
                    "expire_day": world.items.expire_day,
                    "genre": world.items.genre,
                    "creator": world.items.creator,
                    "topic": world.item_truth.topic,
                },
                sample=cfg.simulation.log_impressions,
                spill_dir=log_dir,
                n_items=world.n_items,
            )
            for log_dir in dirs
        ]
        engine = Engine(
            world, cfg, streams.behaviour, logs[0] if n == 1 else logs, self.components, n,
            platforms,
        )  # fmt: skip
        _measure_against(world, engine, logs, streams.measure)
        runs = [
            _Run(agent, name, seed, log, copy)
            for copy, ((agent, name), log) in enumerate(zip(made, logs, strict=True))
        ]
        hooks = _Pass(engine, runs, deadline, where)
        for run, output_dir in zip(runs, outs, strict=True):
            truth = None
            if run.agent.reads_hidden_state:
                truth = functools.partial(engine.ground_truth, run.copy)
            run.call(
                "setup",
                AgentContext(
                    world=world.observable,
                    rng=make_streams(seed).agent,  # each agent its own, as in a run alone
                    slate_size=cfg.simulation.slate_size,
                    n_candidates=cfg.simulation.candidates,
                    retrain_every_days=cfg.simulation.retrain_every_days,
                    config=cfg,
                    _ground_truth=truth,
                    output_dir=Path(output_dir) if output_dir is not None else None,
                ),
            )
        if progress:
            from tqdm.auto import tqdm

            desc = runs[0].label if n == 1 else f"{n} agents"
            hooks.progress = tqdm(
                total=cfg.simulation.days, desc=f"{desc} seed {seed}", unit="day", leave=False
            )
        try:
            self.calendar.run(hooks)
        finally:
            if hooks.progress is not None:
                hooks.progress.close()
        engine.close_open_sessions(float(cfg.simulation.days))
        wall = time.perf_counter() - t_start
        return [self._result(run, cfg, engine.platforms, wall, n) for run in runs]

    def _result(
        self,
        run: _Run,
        cfg: Config,
        platforms: Sequence[Platform],
        wall: float,
        shared: int,
    ) -> SimulationResult:
        """The metrics, per-user table and cost of one finished run."""
        tables = run.log.tables()
        days = cfg.simulation.days
        daily = daily_metrics(tables, days)
        totals = run_totals(tables, days, daily=daily)
        tables_of = {}
        for platform in platforms:
            for column, values in platform.daily().items():
                daily[column] = values
            totals |= platform.totals()
            table = platform.table()
            if table is not None:
                tables_of[platform.name] = table
        import pandas as pd  # lazily, as daily_metrics does: `import simrec` stays light

        users = pd.DataFrame(user_table(tables, days))
        base = run.call("cost")
        if not isinstance(base, Cost):
            raise AgentError(
                f"{run.where('cost')}: expected a simrec.types.Cost, got {type(base).__name__}"
            )
        # Whole-run measures an agent reports about itself (e.g. the privacy it spent), under
        # their own names (agent.<key>): never in place of a measure of the simulation's.
        totals = agent_totals(base, run.where("cost")) | totals | user_totals(users)
        pool = run.pool_items / max(run.requests, 1)
        cost = Cost(
            params=base.params,
            trainable_params=base.trainable_params,
            fit_seconds=run.fit_seconds,
            fits=run.fits,
            ms_per_request=1000.0 * run.recommend_seconds / max(run.requests, 1),
            requests=run.requests,
            pool_per_request=pool,
            flops_per_request=float(
                run.call("request_flops", pool, run.requests / max(run.calls, 1))
                if run.requests
                else 0
            ),
            extra=dict(base.extra) if isinstance(base.extra, Mapping) else {},
        )
        return SimulationResult(
            agent=run.label,
            seed=run.seed,
            config=cfg,
            log=run.log,
            daily=daily,
            totals=totals,
            cost=cost,
            wall_seconds=wall,
            hidden_state_read=run.agent.reads_hidden_state,
            users=users,
            creators=pd.DataFrame(tables_of["creators"]) if "creators" in tables_of else None,
            platform_tables={k: pd.DataFrame(v) for k, v in tables_of.items()},
            shared_pass=shared,
        )


def not_shareable(config: Config) -> str:
    """Why runs of ``config`` cannot share one pass (``""``: they can).

    Copies of the population in one engine must not reach each other: the social world's
    feeds, the trending signal and the creator economy are platform-wide channels, each run
    of its own.
    """
    if config.world.kind == "social":
        return "the social world's feeds connect its users"
    if config.world.supply.enabled:
        return "the creator economy (world.supply) answers to each run's exposure"
    trend = [config.dynamics.trend_weight] + [
        iv.set["dynamics.trend_weight"]
        for iv in config.simulation.interventions
        if "dynamics.trend_weight" in iv.set
    ]
    if any(trend):
        return "dynamics.trend_weight > 0 makes the trending signal platform-wide"
    return ""


def _measure_against(
    world: World, engine: Engine, logs: list[EventLog], rng: np.random.Generator
) -> None:
    """Store what the metrics of every agent of this world and seed are measured against.

    The user pairs homogenization follows and the reference popularity of every item
    (:mod:`simrec.metrics.reference`), from the day-0 state before any request (the same
    for every copy of the population).
    """
    cohort = np.flatnonzero(world.users.arrival_day == 0.0)
    a, b = chaney_pairs(world.user_truth.interest, cohort, PAIRS, rng)
    truth = engine.ground_truth()
    if hasattr(engine.model.choice, "item_utility"):
        utility = truth.utility
    else:  # a researcher's choice component without utilities: the true match
        utility = truth.match
    reference = reference_popularity(utility, cohort, world.n_items, rng)
    for log in logs:
        log.pairs = {"a": a, "b": b}
        log.items["reference"] = reference
