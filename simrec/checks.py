"""Conformance kits for simrec environments and agents.

Environments. :func:`check_env` runs gymnasium's own ``check_env`` and then the simrec checks:

* :func:`check_invariants` -- over random steps: observations inside the space, a finite
  reward, probabilities (satisfaction, churn hazard) in [0, 1], revenue and engagement
  non-negative, the served slate distinct and drawn from the candidates, a churned user
  stays churned (stepping a finished episode raises ``ResetNeeded``);
* :func:`check_determinism` -- two instances, the same seed and actions, identical
  trajectories;
* :func:`check_pickle` -- a pickled and restored env continues exactly like the original.

Each raises :class:`AssertionError` naming the step and the quantity that failed. Usage:
``simrec.checks.check_env("simrec/UserLifetime-v0")`` or, for an env of one's own,
``check_env(lambda: MyEnv(...))``.

Agents. :func:`check_agent` runs an agent (a registered name, or a factory of instances) on a
tiny world (:func:`agent_check_config`) and checks, naming the agent and the check in the
:class:`AssertionError` of any failure:

* ``params`` -- :func:`simrec.make_agent` refuses an unknown parameter, and a wrongly typed
  value of each parameter whose default is a number or a bool, with a
  :class:`~simrec.errors.ConfigError` naming the field, the value and what was expected
  (registered names only);
* ``valid slates`` -- every ``recommend`` answer holds integer ids of shape ``(B, K)``,
  distinct per row, available now and among the request's candidates;
* ``determinism`` -- two runs with the same seed serve identical slates;
* ``observable-only`` -- a fresh agent set up in the same world with every hidden array
  shuffled (:func:`shuffled_hidden_state`: item topics, quality, appeal; user interests,
  satisfaction, ...) and handed the first run's requests, feedback and retrain calls serves
  the same slates. Agents that declare ``reads_hidden_state`` (the oracles) are exempt.

``tests/agents/test_check_agent.py`` runs it over every registered agent.
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env as gym_check_env

from simrec.agent import Agent, AgentContext, agent_class, agent_parameters, make_agent
from simrec.config import Config, from_dict, with_settings
from simrec.engine.slates import check_propensities, validate_slates
from simrec.errors import ConfigError, InvalidActionError, SimrecError
from simrec.rng import make_streams
from simrec.simulation import Simulation
from simrec.types import Cost, Feedback, RequestBatch, StochasticSlates
from simrec.worlds import World

__all__ = [
    "AgentCheckReport",
    "agent_check_config",
    "check_agent",
    "check_determinism",
    "check_env",
    "check_invariants",
    "check_pickle",
    "shuffled_hidden_state",
]

EnvSource = str | Callable[[], gym.Env]


def _make(source: EnvSource) -> gym.Env:
    return gym.make(source) if isinstance(source, str) else source()


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    x, y = np.asarray(a), np.asarray(b)
    return bool(np.array_equal(x, y, equal_nan=x.dtype.kind == "f"))


def _rollout(env: gym.Env, steps: int, seed: int) -> list[tuple]:
    """Trajectory of ``steps`` steps under actions from a seeded action space."""
    env.action_space.seed(seed)
    out: list[tuple] = [env.reset(seed=seed)]
    for _ in range(steps):
        step = env.step(env.action_space.sample())
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    return out


def check_invariants(source: EnvSource, steps: int = 1000, seed: int = 0) -> int:
    """Step randomly and assert simrec's invariants; returns the number of episodes ended."""
    env = _make(source)
    core = env.unwrapped.core  # type: ignore[attr-defined]  # a simrec env
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    ended = 0
    for t in range(steps):
        cands = info["candidates"]
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        where = f"step {t}"
        assert env.observation_space.contains(obs), f"{where}: observation outside the space"
        assert np.isfinite(float(reward)), f"{where}: reward {reward} is not finite"
        for key in ("satisfaction", "churn_hazard"):
            assert 0.0 <= info[key] <= 1.0, f"{where}: {key}={info[key]} outside [0, 1]"
        assert info["revenue"] >= 0.0, f"{where}: negative revenue {info['revenue']}"
        assert info["engagement"] >= 0.0, f"{where}: negative engagement {info['engagement']}"
        slate = np.asarray(info["slate"])
        assert len(set(slate.tolist())) == len(slate), f"{where}: repeated items {slate}"
        assert np.isin(slate, cands).all(), f"{where}: slate {slate} not among the candidates"
        if terminated:
            assert core.engine.churned[0], f"{where}: terminated without churn"
        if terminated or truncated:
            ended += 1
            try:
                env.step(env.action_space.sample())
            except (ResetNeeded, gym.error.Error):
                pass
            else:
                raise AssertionError(f"{where}: stepping a finished episode did not raise")
            if terminated:
                assert core.engine.churned[0], f"{where}: a churned user came back"
            obs, info = env.reset()
    return ended


def check_determinism(source: EnvSource, steps: int = 300, seed: int = 0) -> None:
    """Two instances with the same seed and actions give identical trajectories."""
    a, b = _rollout(_make(source), steps, seed), _rollout(_make(source), steps, seed)
    for t, (x, y) in enumerate(zip(a, b, strict=True)):
        assert _equal(x, y), f"step {t}: the two instances diverged"


def check_pickle(source: EnvSource, steps: int = 50, seed: int = 0) -> None:
    """A pickled and restored env continues exactly like the original."""
    env = _make(source)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(steps // 2):
        if any(env.step(env.action_space.sample())[2:4]):
            env.reset()
    clone = pickle.loads(pickle.dumps(env))
    actions = [env.action_space.sample() for _ in range(steps // 2)]
    for t, act in enumerate(actions):
        x, y = env.step(act), clone.step(act)
        assert _equal(x, y), f"step {t} after unpickling: the copy diverged"
        if x[2] or x[3]:
            assert _equal(env.reset(), clone.reset()), "reset after unpickling diverged"


def check_env(source: EnvSource, steps: int = 1000, seed: int = 0) -> None:
    """Run gymnasium's ``check_env``, then simrec's invariants, determinism and pickling.

    Args:
        source: A registered id or a zero-argument env factory.
        steps: Random steps for the invariant check.
        seed: Seed of the rollouts.
    """
    gym_check_env(_make(source).unwrapped, skip_render_check=True)
    check_invariants(source, steps, seed)
    check_determinism(source, min(steps, 300), seed)
    check_pickle(source, 50, seed)


# ----------------------------------------------------------------------------------- agents

AgentSource = str | Callable[[], Agent]


@dataclass(frozen=True)
class AgentCheckReport:
    """What :func:`check_agent` checked of one agent (returned when every check passed).

    Attributes:
        agent: The agent's name (its registered name, else its class's).
        passed: The checks that ran, in order.
        skipped: Each check not run, with why.
        requests: Requests the agent served in one run of the check's world.
        clicks: Clicks logged in that run.
        retrains: ``retrain`` calls in that run.
        seconds: Wall seconds of the whole check.
    """

    agent: str
    passed: tuple[str, ...]
    skipped: dict[str, str]
    requests: int
    clicks: int
    retrains: int
    seconds: float


def agent_check_config(
    days: int = 3,
    n_users: int = 100,
    n_items: int = 120,
    settings: Mapping[str, Any] | None = None,
) -> Config:
    """The tiny world of :func:`check_agent`.

    A synthetic world whose users return within hours, a tenth of the catalog released over
    the run, a retrain every day.

    Args:
        days: Horizon, days.
        n_users: Users N.
        n_items: Items M (all releases).
        settings: Dotted settings applied last (an agent's ``check_agent_settings``).
    """
    cfg = from_dict(
        Config,
        {
            "world": {
                "items": {
                    "n_items": n_items,
                    "initial_fraction": 0.9,
                    "release_over_days": float(max(days - 1, 1)),
                },
                "users": {"n_users": n_users},
            },
            "retention": {"gap_min_days": 0.3, "gap_max_days": 6.0},
            "simulation": {"days": days, "tick_minutes": 30.0, "retrain_every_days": 1.0},
        },
    )
    return with_settings(cfg, dict(settings or {}))


def shuffled_hidden_state(world: World, rng: np.random.Generator) -> World:
    """``world`` with every hidden array permuted along its first axis.

    Every array of the hidden tables (``item_truth``: topics, quality, appeal, ...;
    ``user_truth``: interests, satisfaction, ...) is permuted; the observable tables are the
    same objects. An agent that sees only observable data cannot tell the two worlds apart.
    """

    def shuffled(table: Any) -> Any:
        perms: dict[int, np.ndarray] = {}
        new = {}
        for f in dataclasses.fields(table):
            a = getattr(table, f.name)
            if isinstance(a, np.ndarray) and a.ndim >= 1 and len(a) > 1:
                if len(a) not in perms:
                    perm = rng.permutation(len(a))
                    perms[len(a)] = np.roll(perm, 1) if (perm == np.arange(len(a))).all() else perm
                new[f.name] = a[perms[len(a)]]
        return dataclasses.replace(table, **new)

    return dataclasses.replace(
        world, item_truth=shuffled(world.item_truth), user_truth=shuffled(world.user_truth)
    )


def _copy(record: Any) -> Any:
    """A request batch or feedback with its own copies of the arrays (kept for a replay)."""
    return dataclasses.replace(
        record,
        **{
            f.name: np.array(getattr(record, f.name))
            for f in dataclasses.fields(record)
            if isinstance(getattr(record, f.name), np.ndarray)
        },
    )


class _CheckFailed(AssertionError):
    """A check failed inside a run (raised through the simulation's agent calls)."""


class _Recording(Agent):
    """Wraps the checked agent in a run: checks each answer, records every call."""

    def __init__(self, inner: Agent, label: str) -> None:
        self.inner, self.label = inner, label
        self.reads_hidden_state = inner.reads_hidden_state
        self.events: list[tuple[str, Any, Any]] = []
        self.slates: list[tuple[RequestBatch, np.ndarray]] = []
        self.requests = self.clicks = self.retrains = 0

    def setup(self, context: AgentContext) -> None:
        super().setup(context)
        self.n_items = context.world.n_items
        self.inner.setup(context)

    def recommend(self, batch: RequestBatch) -> Any:
        out = self.inner.recommend(batch)
        items = out.items if isinstance(out, StochasticSlates) else out
        available = np.zeros(self.n_items, dtype=bool)
        available[batch.available] = True
        try:
            S = validate_slates(
                items, batch.users, batch.slate_size, self.n_items, available, batch.candidates
            )
            if isinstance(out, StochasticSlates):
                check_propensities(out.propensities, S.shape)
        except InvalidActionError as err:
            raise _CheckFailed(
                f"agent {self.label!r} failed the check 'valid slates': recommend call "
                f"{len(self.slates)} (day {batch.day}, {len(batch)} requests) answered "
                f"{err}"
            ) from None
        kept = _copy(batch)
        self.slates.append((kept, S))
        self.events.append(("recommend", kept, S))
        self.requests += len(batch)
        return out

    def observe(self, feedback: Feedback) -> None:
        self.events.append(("observe", _copy(feedback), None))
        self.clicks += int(np.asarray(feedback.clicked).sum())
        self.inner.observe(feedback)

    def retrain(self, now: float) -> None:
        self.events.append(("retrain", now, None))
        self.retrains += 1
        self.inner.retrain(now)

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        self.events.append(("on_items_released", np.array(items), now))
        self.inner.on_items_released(items, now)

    def cost(self) -> Cost:
        return self.inner.cost()

    def request_flops(self, pool: float, batch: float) -> float:
        return self.inner.request_flops(pool, batch)


def _first_difference(
    label: str, check: str, what: str, a: list, b: list, first: str, second: str
) -> None:
    """Raise naming the first recommend call whose slates differ between two records."""
    for i, ((batch, x), (_, y)) in enumerate(zip(a, b, strict=False)):
        if x.shape != y.shape or not np.array_equal(x, y):
            rows = np.flatnonzero((x != y).any(axis=1)) if x.shape == y.shape else [0]
            r = int(rows[0])
            raise AssertionError(
                f"agent {label!r} failed the check {check!r}: {what}, recommend call {i} "
                f"(day {batch.day}) served other slates: request {r} (user "
                f"{int(batch.users[r])}) got {x[r].tolist()} {first}, "
                f"{y[r].tolist() if len(y) > r else y.tolist()} {second}"
                + (f" ({len(rows)} of {len(x)} requests differ)" if x.shape == y.shape else "")
            )
    if len(a) != len(b):
        raise AssertionError(
            f"agent {label!r} failed the check {check!r}: {what}, {len(a)} recommend calls "
            f"{first}, {len(b)} {second}"
        )


def _run(sim: Simulation, agent: Agent, label: str, seed: int) -> _Recording:
    """One recorded run; a failure of the agent's own code is an ``AssertionError``."""
    rec = _Recording(agent, label)
    try:
        sim.run(rec, seed, label=label, allow_hidden_state=rec.reads_hidden_state)
    except SimrecError as err:
        cause: BaseException | None = err
        while cause is not None:  # a check of ours failed inside the run
            if isinstance(cause, _CheckFailed):
                raise AssertionError(str(cause)) from None
            cause = cause.__cause__ or cause.__context__
        raise AssertionError(
            f"agent {label!r} failed the check 'runs': a run of the check's world raised "
            f"{type(err).__name__}: {err}"
        ) from err
    return rec


def _check_params(name: str) -> None:
    """``make_agent`` refuses an unknown parameter and wrongly typed numbers and bools."""
    label = name
    probes: list[tuple[str, Any]] = [("no_such_parameter", 1)]
    for pname, p in agent_parameters(agent_class(name))[0].items():
        if isinstance(p.default, bool):
            probes.append((pname, "yes"))
        elif isinstance(p.default, (int, float)):
            probes.append((pname, "lots"))
    for pname, value in probes:
        call = f"make_agent({name!r}, {pname}={value!r})"
        try:
            make_agent(name, **{pname: value})
        except ConfigError as err:
            msg = str(err)
            if pname not in msg or (pname != "no_such_parameter" and repr(value) not in msg):
                raise AssertionError(
                    f"agent {label!r} failed the check 'params': {call} raised ConfigError "
                    f"{msg!r}, which does not name the field {pname!r} and the value {value!r}"
                ) from None
            if "expected" not in msg and "unknown parameter" not in msg:
                raise AssertionError(
                    f"agent {label!r} failed the check 'params': {call} raised ConfigError "
                    f"{msg!r}, which does not say what was expected"
                ) from None
        except Exception as err:
            raise AssertionError(
                f"agent {label!r} failed the check 'params': {call} raised "
                f"{type(err).__name__}: {err}; expected a ConfigError naming the field, the "
                "value and what was expected"
            ) from err
        else:
            raise AssertionError(
                f"agent {label!r} failed the check 'params': {call} was accepted; expected a "
                "ConfigError naming the field, the value and what was expected"
            )


def check_agent(
    agent: AgentSource,
    params: Mapping[str, Any] | None = None,
    *,
    config: Config | None = None,
    days: int = 3,
    n_users: int = 100,
    n_items: int = 120,
    seed: int = 0,
) -> AgentCheckReport:
    """Check an agent against the agent contract on a tiny world (see the module docstring).

    Three runs of the world: two with ``seed`` (valid slates, determinism) and a replay of
    the first to a fresh agent in the world with its hidden state shuffled (observable-only).

    Args:
        agent: A registered name, or a zero-argument factory of fresh agent instances (the
            ``params`` check then does not run: it checks :func:`~simrec.make_agent`).
        params: Constructor parameters of a registered agent, over the class's
            ``check_agent_params`` (what keeps a heavy agent's check quick).
        config: The world to check in, used as is; default :func:`agent_check_config` of
            ``days``, ``n_users`` and ``n_items`` with the class's ``check_agent_settings``.
        days: Horizon of the default world, days.
        n_users: Users of the default world.
        n_items: Items of the default world.
        seed: Seed of the runs.

    Returns:
        An :class:`AgentCheckReport` of the checks that ran.

    Raises:
        AssertionError: A check failed; the message names the agent, the check and what
            differed.
        UnknownNameError, DependencyNotInstalled: As :func:`~simrec.make_agent`.
    """
    t0 = time.perf_counter()
    passed: list[str] = []
    skipped: dict[str, str] = {}
    if isinstance(agent, str):
        name = agent
        cls = agent_class(name)
        kwargs = {**cls.check_agent_params, **(params or {})}

        def make() -> Agent:
            return make_agent(name, **kwargs)

        label = name
        _check_params(name)
        passed.append("params")
        first_agent = make()
    else:
        if params:
            raise ConfigError("params: only for a registered agent name; a factory makes its own")
        make = agent
        first_agent = make()
        cls = type(first_agent)
        label = cls.name or cls.__name__
        skipped["params"] = "the agent was given as a factory, not a registered name"
    if config is None:
        config = agent_check_config(days, n_users, n_items, cls.check_agent_settings)
    sim = Simulation(config)

    first = _run(sim, first_agent, label, seed)
    if not first.slates or first.clicks == 0:
        raise AssertionError(
            f"agent {label!r}: the check's world gave it {first.requests} requests and "
            f"{first.clicks} clicks; give check_agent a larger world (n_users, days)"
        )
    passed.append("valid slates")

    second = _run(sim, make(), label, seed)
    _first_difference(
        label,
        "determinism",
        f"two runs with seed {seed}",
        first.slates,
        second.slates,
        "in the first",
        "in the second",
    )
    passed.append("determinism")

    if first.reads_hidden_state:
        skipped["observable-only"] = "the agent declares reads_hidden_state (an oracle)"
    else:
        _replay(make(), label, config, seed, first)
        passed.append("observable-only")
    return AgentCheckReport(
        label,
        tuple(passed),
        skipped,
        first.requests,
        first.clicks,
        first.retrains,
        time.perf_counter() - t0,
    )


def _replay(agent: Agent, label: str, config: Config, seed: int, run: _Recording) -> None:
    """Hand ``run``'s calls to ``agent`` in its world with the hidden state shuffled.

    Its slates must be ``run``'s.
    """
    what = (
        "with every hidden array shuffled (item topics, quality, appeal; user interests, "
        "satisfaction, ...) and the same observable world, requests and feedback"
    )
    world = shuffled_hidden_state(Simulation(config).build_world(seed), np.random.default_rng(seed))
    sim = config.simulation
    served: list[tuple[RequestBatch, np.ndarray]] = []
    try:
        agent.setup(
            AgentContext(
                world=world.observable,
                rng=make_streams(seed).agent,
                slate_size=sim.slate_size,
                n_candidates=sim.candidates,
                retrain_every_days=sim.retrain_every_days,
                config=config,
            )
        )
        for kind, arg, extra in run.events:
            if kind == "recommend":
                out = agent.recommend(arg)
                items = out.items if isinstance(out, StochasticSlates) else out
                served.append((arg, np.asarray(items, dtype=np.int64)))
            elif kind == "on_items_released":
                agent.on_items_released(arg, extra)
            else:
                getattr(agent, kind)(arg)
    except Exception as err:
        raise AssertionError(
            f"agent {label!r} failed the check 'observable-only': {what}, the replay raised "
            f"{type(err).__name__}: {err}"
        ) from err
    _first_difference(
        label,
        "observable-only",
        what,
        served,
        run.slates,
        "with the hidden state shuffled",
        "in the run",
    )
