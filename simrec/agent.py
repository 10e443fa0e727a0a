"""The agent protocol and the agent registry.

Every recommender implements :class:`Agent`:

* ``check(context)`` -- optional, before any run of a sweep: cheap checks against the world;
* ``setup(context)`` -- once, with the observable world and the agent's random stream;
* ``recommend(batch) -> (B, K) item ids`` -- one call per tick for every open request;
* ``observe(feedback)`` -- the logged impressions of that batch;
* ``retrain(now)`` -- called by the calendar on the scenario's schedule;
* ``on_items_released(items, now)`` -- new items entered the catalog;
* ``cost()`` -- parameter counts and agent-specific cost entries (the simulation measures
  wall time of ``recommend`` and ``retrain`` itself).

Agents see only observable data and their own logs, as read-only arrays. Only agents
registered under a name containing ``oracle`` may set ``reads_hidden_state = True`` (an
instance passed to :meth:`simrec.Simulation.run` needs ``allow_hidden_state=True``, which
the result records); they reach the hidden state through the one accessor
:meth:`AgentContext.ground_truth`, which answers with read-only arrays and never hands out
the engine. These guards keep an agent from reading or changing the simulation by accident;
they cannot stop deliberate tampering from code running in the same Python process.

Agents are found by name in the entry-point group ``simrec.agents``: simrec's own
``pyproject.toml`` registers the built-in ones (``simrec_agents``) there exactly as a
third-party package registers its own, so ``simrec`` never names ``simrec_agents`` and runs
without it.
"""

from __future__ import annotations

import importlib
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any, ClassVar

import numpy as np

from simrec.config import Config, read_only_copy
from simrec.errors import (
    ConfigError,
    DependencyNotInstalled,
    SimrecError,
    UnknownNameError,
    suggest,
)
from simrec.guard import agent_error, counting_interrupts, sigint_count, user_interrupted
from simrec.plugins import group_entry_points
from simrec.types import Cost, Feedback, RequestBatch, StochasticSlates
from simrec.worlds.base import ObservableWorld

__all__ = [
    "ENTRY_POINT_GROUP",
    "Agent",
    "AgentContext",
    "AgentInfo",
    "agent_class",
    "agent_parameters",
    "agent_summary",
    "available_agents",
    "check_output_path",
    "make_agent",
]

ENTRY_POINT_GROUP = "simrec.agents"


@dataclass(frozen=True)
class AgentContext:
    """What an agent is given at setup.

    Attributes:
        world: Observable tables of items and users.
        rng: The agent's own random stream.
        slate_size: K.
        n_candidates: C per request (0: the whole available catalog).
        retrain_every_days: The calendar's retraining period (0: never).
        config: The run's configuration: the rules and parameters of the simulated world,
            no per-user or per-item hidden state. An agent that trains in a simulator of its
            own reads it to build that simulator from the same rules (the RL agents with
            ``preset: scenario``) -- a best case a real platform does not have. It is a
            deep, read-only copy made for this context (:func:`~simrec.config.read_only_copy`):
            assigning a field raises ``dataclasses.FrozenInstanceError`` (an
            ``AttributeError``), writing into a mapping or sequence inside it (an
            intervention's ``set``, ...) a ``TypeError`` saying it is read-only; and since
            the copy is this run's own, nothing an agent does to it reaches the caller's
            configuration or any later run. Build a changed configuration with
            :func:`~simrec.config.replace_path` or :func:`~simrec.config.with_settings`.
        output_dir: The folder this run's agent may write files into
            (``<out>/agent-files/<label>/<seed>/`` under ``simrec run``; ``None`` when the
            run has none, e.g. :meth:`simrec.Simulation.run` without ``output_dir``). An
            agent resolves a path it was given with :meth:`output_path`.
    """

    world: ObservableWorld
    rng: np.random.Generator
    slate_size: int
    n_candidates: int
    retrain_every_days: float
    config: Config | None = None
    _ground_truth: Callable[[], Any] | None = None
    output_dir: Path | None = None

    def __post_init__(self) -> None:
        """Replace ``config`` by this context's own read-only copy (agents are untrusted)."""
        if self.config is not None:
            object.__setattr__(self, "config", read_only_copy(self.config))

    def output_path(self, field: str, value: str | PathLike[str]) -> Path:
        """Where the agent writes what its parameter ``field`` names: inside :attr:`output_dir`.

        ``value`` must be a relative path without ``..`` (:func:`check_output_path`); it is
        resolved against :attr:`output_dir` (made if missing) and must stay inside it once
        symbolic links are followed.

        Raises:
            ConfigError: Naming ``field`` and ``value``: the run has no output folder, or
                the path leaves it.
        """
        check_output_path(field, value)
        if self.output_dir is None:
            raise ConfigError(
                f"{field}: the agent was asked to write files ({str(value)!r}) but this run "
                "has no output folder; under `simrec run` it is "
                "<out>/agent-files/<label>/<seed>/, from Python pass output_dir= to "
                "Simulation.run (nothing is written to the current folder unless asked)"
            )
        root = Path(self.output_dir)
        root.mkdir(parents=True, exist_ok=True)
        real_root = root.resolve()
        path = (root / value).resolve()
        if path != real_root and real_root not in path.parents:
            raise ConfigError(
                f"{field}: expected a path inside the run's output folder {str(root)!r}, got "
                f"{str(value)!r}, which leads to {str(path)!r} (through a symbolic link)"
            )
        return path

    def ground_truth(self) -> Any:
        """The hidden-state accessor; only for agents with ``reads_hidden_state = True``.

        Raises:
            SimrecError: The agent did not declare that it reads hidden state.
        """
        if self._ground_truth is None:
            raise SimrecError(
                "ground_truth(): hidden state is only given to oracle agents "
                "(class attribute reads_hidden_state = True, registered name with 'oracle')"
            )
        return self._ground_truth()


class Agent(ABC):
    """Base class of every recommender (see the module docstring for the protocol)."""

    #: Registered name, set by subclasses.
    name: ClassVar[str] = ""
    #: True only for oracle baselines.
    reads_hidden_state: bool = False
    #: True when the agent keeps all its state to itself: every draw from ``self.rng`` (or
    #: generators seeded from it), no process-wide state (numpy's, torch's or Python's
    #: global generators, a framework's global seed) and nothing shared with other agents.
    #: Runs of such agents may then share one pass over the population
    #: (:meth:`simrec.Simulation.run_many`), with results identical to runs alone; the
    #: scenario runner does so only for them. Default ``False``: each run alone.
    isolated_state: ClassVar[bool] = False
    #: Constructor parameters under which :func:`simrec.checks.check_agent` checks the agent
    #: when given none (merged under any given): what keeps the check of a tiny world quick,
    #: e.g. a small training budget. Not used by runs.
    check_agent_params: ClassVar[Mapping[str, Any]] = {}
    #: Dotted configuration settings the world of :func:`simrec.checks.check_agent` needs for
    #: this agent, e.g. ``{"simulation.candidates": 10}`` for a policy over C candidates.
    check_agent_settings: ClassVar[Mapping[str, Any]] = {}

    def setup(self, context: AgentContext) -> None:
        """Receive the observable world and the agent's random stream."""
        self.context = context
        self.rng = context.rng

    def check(self, context: AgentContext) -> None:  # noqa: B027 - optional hook
        """Cheap checks of this agent against the world and the scenario, before any run.

        The runner calls it for every agent of a sweep before the first run starts (and
        before a results folder is made), so that a mistake in the fifth agent does not
        surface after four have run. Check what can fail later -- the slate size or the
        candidates a trained policy needs, a policy file -- and raise
        :class:`~simrec.errors.ConfigError` naming the field; do no expensive work
        (training, encoding the catalog). ``context`` is what :meth:`setup` would get,
        except that it never holds the hidden state. Default: nothing to check.
        """

    @abstractmethod
    def recommend(self, batch: RequestBatch) -> np.ndarray | StochasticSlates:
        """Return item ids ``(len(batch), batch.slate_size)``, distinct per row.

        A stochastic agent may return :class:`~simrec.types.StochasticSlates` instead: the
        slates with the probabilities it drew them with (logged for off-policy evaluation).
        """

    def observe(self, feedback: Feedback) -> None:  # noqa: B027 - optional hook
        """Receive the logged impressions of the last batch (default: ignore)."""

    def retrain(self, now: float) -> None:  # noqa: B027 - optional hook
        """Refit on the data seen so far; called on the calendar's schedule (default: no-op)."""

    def on_items_released(self, items: np.ndarray, now: float) -> None:  # noqa: B027
        """Items ``items`` entered the catalog at ``now`` (default: ignore)."""

    def cost(self) -> Cost:
        """Parameter counts and agent-specific cost entries (timings are measured outside)."""
        return Cost()

    def request_flops(self, pool: float, batch: float) -> float:
        """Estimated model FLOPs to serve one request (default 0: no model arithmetic).

        Multiply-adds count as two operations; top-K selection, exclusions and random draws
        are not counted. Work done once per ``recommend`` call (e.g. transforming the whole
        catalog) is divided by the batch size.

        Args:
            pool: Mean number of items in a request's pool.
            batch: Mean number of requests per ``recommend`` call.
        """
        return 0.0


@dataclass(frozen=True)
class AgentInfo:
    """A registry entry.

    Attributes:
        name: Registered name.
        target: ``"module:Class"``.
        extras: pip extras the agent needs (``pip install 'simrec[extra]'``).
        summary: One line.
    """

    name: str
    target: str
    extras: tuple[str, ...] = ()
    summary: str = ""


def available_agents() -> dict[str, AgentInfo]:
    """Every agent registered under the ``simrec.agents`` entry-point group.

    The built-in agents are registered there too, by simrec's own ``pyproject.toml``; a name
    registered twice keeps its first registration.
    """
    found: dict[str, AgentInfo] = {}
    for ep in group_entry_points(ENTRY_POINT_GROUP):
        found.setdefault(ep.name, AgentInfo(ep.name, f"{ep.module}:{ep.attr}", tuple(ep.extras)))
    return found


def agent_summary(info: AgentInfo) -> str:
    """One line on the agent: its class docstring's first line (this imports the class).

    ``"(not installed)"`` when the agent's module or an extra it needs is missing.
    """
    if info.summary:
        return info.summary
    try:
        cls = _load(info)
    except DependencyNotInstalled:
        return "(not installed)"
    return (inspect.getdoc(cls) or "").splitlines()[0] if inspect.getdoc(cls) else ""


def agent_class(name: str) -> type[Agent]:
    """The class registered under ``name`` (imported; nothing instantiated).

    Raises:
        UnknownNameError: No agent has this name.
        DependencyNotInstalled: Its module or an extra it needs is missing.
    """
    return _load(_info(name))


def _info(name: str) -> AgentInfo:
    agents = available_agents()
    if name not in agents:
        raise UnknownNameError(
            f"agent {name!r} is not registered{suggest(name, agents)}; "
            f"known agents: {', '.join(sorted(agents))}"
        )
    return agents[name]


def _import(info: AgentInfo, module: str) -> Any:
    """The agent's module (a missing one: DependencyNotInstalled).

    ``SystemExit`` and the like raised while importing it become an AgentError
    (:mod:`simrec.guard`).
    """
    before = sigint_count()
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and (err.name == module or module.startswith(err.name + ".")):
            raise DependencyNotInstalled(
                f"agent {info.name!r} is registered as {info.target}, but its module "
                f"{err.name!r} is not installed"
            ) from err
        extra = info.extras[0] if info.extras else "all"
        raise DependencyNotInstalled(
            f"agent {info.name!r} needs the package {err.name!r}; install it with "
            f"pip install 'simrec[{extra}]'"
        ) from err
    except BaseException as err:  # SystemExit & co. from agent code: simrec.guard
        if isinstance(err, Exception) or user_interrupted(err, before):
            raise
        raise agent_error(err, f"agent {info.name!r} (importing {module})") from err


def _load(info: AgentInfo) -> type[Agent]:
    module, _, attr = info.target.partition(":")
    with counting_interrupts():
        mod = _import(info, module)
    cls = getattr(mod, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise SimrecError(f"agent {info.name!r}: {info.target} is not a simrec Agent class")
    if cls.reads_hidden_state and "oracle" not in info.name:
        raise SimrecError(
            f"agent {info.name!r} reads hidden state but is not registered as an oracle"
        )
    return cls


def agent_parameters(cls: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """Keyword parameters of ``cls(...)``, following ``**kwargs`` passed up the MRO.

    Returns the parameters by name (the nearest class's declaration first) and whether
    arbitrary keywords are still accepted at the top.
    """
    found: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        sig = inspect.signature(init)
        for p in sig.parameters.values():
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                found.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return found, False
    return found, klass is not object


def check_output_path(field: str, value: Any) -> None:
    """Refuse an agent parameter naming a file or folder to write outside the run's folder.

    Files an agent writes go under its run's output folder
    (:attr:`AgentContext.output_dir`), so a path parameter must be relative, non-empty and
    free of ``..``; call this from the agent's constructor, so that a bad path is refused
    before any run starts (and before a results folder is made), and resolve the path at
    setup with :meth:`AgentContext.output_path`.

    Raises:
        ConfigError: Naming the field, the value and what was expected.

    >>> check_output_path("train.out", "policy")
    >>> check_output_path("train.out", "/tmp/x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simrec.errors.ConfigError: train.out: expected a relative path inside the run's ...
    """
    text = str(value) if isinstance(value, (str, PathLike)) else None
    parts = PurePath(text).parts if text else ()
    if (
        not text
        or "\0" in text
        or PurePath(text).is_absolute()
        or PureWindowsPath(text).is_absolute()
        or text.startswith("~")
        or ".." in parts
        or ".." in PureWindowsPath(text).parts
    ):
        raise ConfigError(
            f"{field}: expected a relative path inside the run's output folder "
            "(<out>/agent-files/<label>/<seed>/ under `simrec run`), without '..', "
            f"got {value!r}"
        )


def _check_finite(where: str, value: Any) -> None:
    """Refuse NaN and infinite numbers anywhere in an agent's parameters."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(f"{where}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(f"{where}[{i}]", v)


def make_agent(name: str, **params: Any) -> Agent:
    """Instantiate a registered agent.

    Args:
        name: Registered agent name (see :func:`available_agents`).
        **params: Constructor keyword arguments.

    Raises:
        UnknownNameError: No agent has this name (the message suggests the closest).
        ConfigError: A parameter is unknown or invalid for this agent.
        DependencyNotInstalled: The agent's optional dependencies are missing.
    """
    cls = agent_class(name)
    _check_finite(f"agents.{name}.params", params)
    declared, accepts_any = agent_parameters(cls)
    valid = list(declared)
    unknown = [k for k in params if k not in valid and not accepts_any]
    if unknown:
        raise ConfigError(
            f"agents.{name}.params.{unknown[0]}: unknown parameter"
            f"{suggest(unknown[0], valid)}; valid parameters: {', '.join(valid) or '(none)'}"
        )
    with counting_interrupts():
        return _construct(name, cls, params)


def _construct(name: str, cls: type[Agent], params: dict[str, Any]) -> Agent:
    """``cls(**params)``: bad parameters as ConfigError, SystemExit & co. as AgentError."""
    before = sigint_count()
    try:
        return cls(**params)
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"agents.{name}.params: {err}") from err
    except BaseException as err:  # SystemExit & co. from agent code: simrec.guard
        if isinstance(err, Exception) or user_interrupted(err, before):
            raise
        raise agent_error(err, f"agent {name!r} (constructor)") from err
