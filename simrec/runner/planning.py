"""What a sweep runs: a scenario's runs, checked before any starts, grouped into passes.

A scenario (after the command-line overrides, :func:`resolve`) is expanded into its
agent x seed runs (:func:`plan`, agent-major), each a :class:`RunSpec` fully determined by
(scenario config, agent spec, seed). :func:`preflight` checks the whole sweep before any
folder is made; :func:`group_runs` turns the runs to do into tasks, runs of one folder and
seed sharing a simulation pass where their agents allow it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simrec.agent import Agent, AgentContext, make_agent
from simrec.config import AgentSpec, ScenarioConfig, replace_path
from simrec.errors import ConfigError, SimrecError, suggest
from simrec.guard import agent_error, counting_interrupts, sigint_count, user_interrupted
from simrec.metrics import Metric
from simrec.metrics.custom import registered_from_python
from simrec.resources import check_memory
from simrec.rng import make_streams
from simrec.simulation import not_shareable
from simrec.worlds import build_items, check_catalog, make_world

__all__ = [
    "MAX_PASS",
    "PYTHON_AGENT",
    "RunSpec",
    "group_runs",
    "plan",
    "preflight",
    "python_agents",
    "resolve",
]


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: what to simulate and where to write it."""

    scenario: ScenarioConfig
    agent: AgentSpec
    seed: int
    out: str
    events: float = 0.0  # share of impressions saved to events.parquet
    show_days: bool = False  # a progress bar over simulated days (in-process runs)
    #: For an agent given as a Python object: makes a fresh instance for this run (the run
    #: then executes in the calling process).
    factory: Callable[[], Agent] | None = field(default=None, compare=False, repr=False)
    #: Custom metrics registered from Python in the calling process (registered again in a
    #: worker process before the run).
    metrics: tuple[Metric, ...] = field(default=(), compare=False, repr=False)

    def agent_object(self) -> Any:
        """The agent object or class given to the runner (``None``: a registered name)."""
        if isinstance(self.factory, functools.partial):
            return self.factory.args[0]  # an instance, deep-copied for every run
        return self.factory


def resolve(
    scenario: ScenarioConfig,
    *,
    seeds: Sequence[int] | None = None,
    agents: Sequence[str] | None = None,
    days: int | None = None,
    smoke: bool = False,
    settings: Sequence[tuple[str, Any]] = (),
) -> ScenarioConfig:
    """Apply command-line overrides to a scenario (validated like the YAML).

    ``settings`` are ``(dotted key, value)`` pairs (``--set KEY=VALUE``), applied after the
    smoke variant and before ``days``/``seeds``.

    Raises:
        ConfigError: An unknown agent label (with suggestion) or an invalid override.
    """
    if smoke:
        scenario = scenario.smoke_variant()
    for key, value in settings:
        scenario = replace_path(scenario, key, value)
    if days is not None:
        scenario = replace_path(scenario, "simulation.days", days)
    if seeds is not None:
        scenario = replace_path(scenario, "seeds", list(seeds))
    if agents is not None:
        labels = [a.key for a in scenario.agents]
        chosen = []
        for name in agents:
            if name not in labels:
                raise ConfigError(
                    f"--agents: {name!r} is not an agent of scenario {scenario.name!r}"
                    f"{suggest(name, labels)}; its agents: {', '.join(labels)}"
                )
            chosen.append(scenario.agents[labels.index(name)])
        baseline = scenario.baseline if scenario.baseline in agents else ""
        scenario = dataclasses.replace(scenario, agents=tuple(chosen), baseline=baseline)
    return scenario


def plan(
    scenario: ScenarioConfig,
    out: Path,
    events: float = 0.0,
    show_days: bool = False,
    factories: dict[str, Callable[[], Agent]] | None = None,
) -> list[RunSpec]:
    """All (agent, seed) runs of the scenario, agent-major."""
    factories = factories or {}
    custom = registered_from_python()
    return [
        RunSpec(
            scenario, agent, seed, str(out), events, show_days, factories.get(agent.key), custom
        )
        for agent in scenario.agents
        for seed in scenario.seeds
    ]


#: Prefix of the ``name`` recorded for an agent given as a Python object.
PYTHON_AGENT = "python:"


def python_agents(
    scenario: ScenarioConfig, agents: dict[str, Any]
) -> tuple[ScenarioConfig, dict[str, Callable[[], Agent]]]:
    """Add agents given as Python classes or instances to a scenario.

    Each becomes an agent of the scenario under its label (a plain name), recorded in
    ``config.yaml`` as ``name: "python:<module>.<class>"``; every run gets a fresh object:
    a class is instantiated without arguments, an instance is deep-copied, so no state
    passes from one seed to the next.

    Raises:
        ConfigError: A label that is not a plain name or repeats one of the scenario, or a
            value that is neither an :class:`~simrec.agent.Agent` subclass nor an instance.
    """
    import copy

    from simrec.config import AgentSpec, check_plain_name

    labels = {a.key for a in scenario.agents}
    specs = []
    factories: dict[str, Callable[[], Agent]] = {}
    for label, obj in agents.items():
        check_plain_name(f"agents[{label!r}]", label)
        if label in labels:
            raise ConfigError(
                f"agents[{label!r}]: the scenario already has an agent labelled {label!r}; "
                "choose another label"
            )
        factory: Callable[[], Agent]
        if isinstance(obj, type) and issubclass(obj, Agent):
            cls, factory = obj, obj
        elif isinstance(obj, Agent):
            cls, factory = type(obj), functools.partial(copy.deepcopy, obj)
        else:
            raise ConfigError(
                f"agents[{label!r}]: expected an Agent subclass or instance, got "
                f"{type(obj).__name__}"
            )
        name = f"{PYTHON_AGENT}{cls.__module__}.{cls.__qualname__}"
        specs.append(AgentSpec(name=name, label=label))
        factories[label] = factory
        labels.add(label)
    return dataclasses.replace(scenario, agents=(*scenario.agents, *specs)), factories


def preflight(
    scenario: ScenarioConfig, factories: dict[str, Callable[[], Agent]] | None = None
) -> None:
    """Check a whole sweep before any run starts (and before any folder is made).

    Checked: the memory a run needs (:func:`simrec.resources.check_memory`); every seed's
    catalog holds enough items for a request on every day
    (:func:`simrec.worlds.check_catalog`); every agent is constructed with its parameters
    and checked against the first seed's world (:meth:`simrec.agent.Agent.check`: slate
    size, candidates, policy files, ...).

    Raises:
        ConfigError: Or another :class:`SimrecError`; an agent's error names the agent.
    """
    cfg = scenario.config
    check_memory(cfg)
    for seed in scenario.seeds:
        check_catalog(
            build_items(cfg.world, make_streams(seed).world, cfg.simulation.days), cfg, seed
        )
    first = make_streams(scenario.seeds[0])
    world = make_world(cfg.world, first.world, first.arrivals, cfg.simulation.days)
    for i, spec in enumerate(scenario.agents):
        context = AgentContext(
            world=world.observable,
            rng=make_streams(scenario.seeds[0]).agent,
            slate_size=cfg.simulation.slate_size,
            n_candidates=cfg.simulation.candidates,
            retrain_every_days=cfg.simulation.retrain_every_days,
            config=cfg,
        )
        before = sigint_count()
        try:
            with counting_interrupts():  # a Ctrl-C stays the user's (simrec.guard)
                factory = (factories or {}).get(spec.key)
                agent = factory() if factory else make_agent(spec.name, **dict(spec.params))
                agent.check(context)
        except BaseException as err:  # agent code: SystemExit & co. too (simrec.guard)
            if user_interrupted(err, before):
                raise
            raise agent_error(err, f"agents[{i}] {spec.key!r} (preflight)") from err


#: Most runs one pass serves (each adds a copy of the population to the engine).
MAX_PASS = 8


def group_runs(todo: Sequence[RunSpec], workers: int = 1) -> list[tuple[RunSpec, ...]]:
    """The runs of ``todo`` as tasks: groups that may share one pass, others alone.

    Runs share a pass when they belong to the same folder and seed, their world keeps users
    apart (:func:`~simrec.simulation.not_shareable`) and their agents keep their state to
    themselves (:attr:`~simrec.agent.Agent.isolated_state`; agents given as Python objects
    run alone). A folder-and-seed's group is split so that there are at least ``workers``
    tasks when it can be, and into passes of at most :data:`MAX_PASS` runs. Every run of a
    scenario with a ``time_limit`` runs alone: the limit is per run.
    """
    isolated: dict[tuple[str, str], bool] = {}

    def may_share(spec: RunSpec) -> bool:
        if spec.factory is not None or not_shareable(spec.scenario.config):
            return False
        if spec.scenario.time_limit:  # each run alone: the limit is the run's
            return False
        key = (spec.agent.name, repr(sorted(spec.agent.params.items())))
        if key not in isolated:
            try:
                agent = make_agent(spec.agent.name, **dict(spec.agent.params))
                isolated[key] = bool(agent.isolated_state)
            except SimrecError:  # the run alone raises it, naming the agent
                isolated[key] = False
        return isolated[key]

    alone: list[tuple[RunSpec, ...]] = []
    groups: dict[tuple[str, int], list[RunSpec]] = {}
    for spec in todo:
        if may_share(spec):
            groups.setdefault((spec.out, spec.seed), []).append(spec)
        else:
            alone.append((spec,))
    splits = max(1, -(-workers // max(len(groups), 1)))  # ceil(workers / groups)
    tasks = []
    for specs in groups.values():
        k = max(min(splits, len(specs)), -(-len(specs) // MAX_PASS))
        tasks += [tuple(specs[i::k]) for i in range(k)]  # balanced, each in plan order
    return [*tasks, *alone]
