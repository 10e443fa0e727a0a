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

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simrec.agent import Agent, AgentContext, make_agent
from simrec.clock import Calendar
from simrec.config import Config, Intervention, replace_path
from simrec.engine import Engine
from simrec.errors import InvalidActionError, SimrecError, in_context
from simrec.log import EventLog
from simrec.metrics import daily_metrics, run_totals
from simrec.metrics.reference import PAIRS, chaney_pairs, reference_popularity
from simrec.metrics.users import user_table, user_totals
from simrec.resources import check_memory
from simrec.rng import make_streams
from simrec.supply import CreatorEconomy
from simrec.types import Cost, readonly
from simrec.usermodel import Component
from simrec.worlds import World, check_catalog, make_world

__all__ = ["Simulation", "SimulationResult"]


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


class _Run:
    """Calendar hooks binding one engine, one agent and the cost ledger.

    Every call into the agent goes through :meth:`call`, so that whatever an agent raises
    -- and every invalid slate it returns -- names the agent, the seed, the day and the
    method.
    """

    def __init__(self, engine: Engine, agent: Agent, progress: Any, label: str, seed: int) -> None:
        self.engine = engine
        self.agent = agent
        self.progress = progress
        self.label = label
        self.seed = seed
        self.day = 0
        self.recommend_seconds = 0.0
        self.requests = 0
        self.calls = 0
        self.pool_items = 0
        self.fit_seconds = 0.0
        self.fits = 0
        self.supply: CreatorEconomy | None = None

    def where(self, method: str) -> str:
        """``agent 'label' (seed s, day d, method)``: the prefix of an agent's errors."""
        return f"agent {self.label!r} (seed {self.seed}, day {self.day}, {method})"

    def call(self, method: str, *args: Any) -> Any:
        """Call an agent method; any exception it raises is re-raised with :meth:`where`."""
        try:
            return getattr(self.agent, method)(*args)
        except Exception as err:
            raise in_context(err, self.where(method)) from err

    def on_day_start(self, day: int) -> None:
        self.day = day
        if self.supply is not None:
            self.supply.start_day(day)
        released = self.engine.set_day(day)
        if released.size and day > 0:
            self.call("on_items_released", readonly(released), float(day))

    def on_day_end(self, day: int) -> None:
        self.engine.log.days.append(**self.engine.snapshot(day))
        if self.progress is not None:
            self.progress.update(1)

    def on_intervention(self, intervention: Intervention) -> None:
        cfg = self.engine.config
        for key, value in intervention.set.items():
            cfg = replace_path(cfg, key, value, allowed=("dynamics", "retention", "economy"))
        self.engine.set_config(cfg)

    def on_retrain(self, now: float) -> None:
        t0 = time.perf_counter()
        self.call("retrain", now)
        self.fit_seconds += time.perf_counter() - t0
        self.fits += 1

    def on_tick(self, now: float) -> float | None:
        batch = self.engine.open_requests(now)
        if batch is None:
            return self.engine.next_due()
        t0 = time.perf_counter()
        slates = self.call("recommend", batch)
        self.recommend_seconds += time.perf_counter() - t0
        self.requests += len(batch)
        self.calls += 1
        width = batch.candidates.shape[1] if batch.candidates is not None else batch.available.size
        self.pool_items += len(batch) * width
        try:
            feedback = self.engine.serve(batch, slates)
        except InvalidActionError as err:
            raise in_context(err, self.where("recommend")) from None
        if self.supply is not None:
            self.supply.record(feedback)
        self.call("observe", feedback)
        return None


def _name_of(agent: Agent) -> str:
    """The registered name of the agent's own class, else the class name."""
    return agent.name if "name" in type(agent).__dict__ and agent.name else type(agent).__name__


class Simulation:
    """Runs agents on worlds built from one configuration.

    Args:
        config: The run configuration (defaults: :class:`~simrec.config.Config`).
        components: User-model components replacing the configured ones, by role (e.g.
            ``{"retention": MyRetention()}``; see :mod:`simrec.usermodel`).
    """

    def __init__(
        self, config: Config | None = None, components: Mapping[str, Component] | None = None
    ) -> None:
        self.config = config if config is not None else Config()
        self.components = dict(components or {})
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

        Returns:
            The :class:`SimulationResult`.

        Raises:
            ConfigError: The run would not fit in memory, or the catalog holds fewer items
                than a request needs on some day.
            SimrecError: An agent instance declares ``reads_hidden_state`` without
                ``allow_hidden_state``.
            AgentError: The agent raised (the message names agent, seed, day and method).
            InvalidActionError: The agent returned an invalid slate (named likewise).
        """
        t_start = time.perf_counter()
        cfg = self.config
        registered = isinstance(agent, str)
        if registered:
            agent = make_agent(agent, **(agent_params or {}))  # only oracle names read truth
        name = label or _name_of(agent)
        if agent.reads_hidden_state and not (registered or allow_hidden_state):
            raise SimrecError(
                f"agent {name!r} declares "
                "reads_hidden_state: pass allow_hidden_state=True to Simulation.run to give it "
                "the hidden state (recorded in the result), or register it under an oracle name"
            )
        check_memory(cfg)
        streams = make_streams(seed)
        world = make_world(cfg.world, streams.world, streams.arrivals, cfg.simulation.days)
        supply = CreatorEconomy(world, cfg, streams.supply) if cfg.world.supply.enabled else None
        check_catalog(world.items, cfg, seed)
        log = EventLog(
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
        engine = Engine(world, cfg, streams.behaviour, log, self.components)
        _measure_against(world, engine, log, streams.measure)
        run = _Run(engine, agent, None, name, seed)
        run.supply = supply
        run.call(
            "setup",
            AgentContext(
                world=world.observable,
                rng=streams.agent,
                slate_size=cfg.simulation.slate_size,
                n_candidates=cfg.simulation.candidates,
                retrain_every_days=cfg.simulation.retrain_every_days,
                config=cfg,
                _ground_truth=engine.ground_truth if agent.reads_hidden_state else None,
            ),
        )
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=cfg.simulation.days,
                desc=f"{name} seed {seed}",
                unit="day",
                leave=False,
            )
        run.progress = bar
        try:
            self.calendar.run(run)
        finally:
            if bar is not None:
                bar.close()
        engine.close_open_sessions(float(cfg.simulation.days))
        tables = log.tables()
        days = cfg.simulation.days
        daily = daily_metrics(tables, days)
        totals = run_totals(tables, days, daily=daily)
        if supply is not None:
            for column, values in supply.daily().items():
                daily[column] = values
            totals |= supply.totals()
        import pandas as pd  # lazily, as daily_metrics does: `import simrec` stays light

        users = pd.DataFrame(user_table(tables, days))
        base = run.call("cost")
        # Whole-run measures an agent reports about itself (e.g. the privacy it spent).
        totals |= {k: float(v) for k, v in base.extra.get("totals", {}).items()}
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
            extra=dict(base.extra),
        )
        return SimulationResult(
            agent=name,
            seed=seed,
            config=cfg,
            log=log,
            daily=daily,
            totals=totals | user_totals(users),
            cost=cost,
            wall_seconds=time.perf_counter() - t_start,
            hidden_state_read=agent.reads_hidden_state,
            users=users,
            creators=None if supply is None else pd.DataFrame(supply.table()),
        )


def _measure_against(world: World, engine: Engine, log: EventLog, rng: np.random.Generator) -> None:
    """Store what the metrics of every agent of this world and seed are measured against.

    The user pairs homogenization follows and the reference popularity of every item
    (:mod:`simrec.metrics.reference`), from the day-0 state before any request.
    """
    cohort = np.flatnonzero(world.users.arrival_day == 0.0)
    a, b = chaney_pairs(world.user_truth.interest, cohort, PAIRS, rng)
    log.pairs = {"a": a, "b": b}
    truth = engine.ground_truth()
    if hasattr(engine.model.choice, "item_utility"):
        utility = truth.utility
    else:  # a researcher's choice component without utilities: the true match
        utility = truth.match
    log.items["reference"] = reference_popularity(utility, cohort, world.n_items, rng)
