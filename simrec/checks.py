"""Conformance kit for simrec environments.

:func:`check_env` runs gymnasium's own ``check_env`` and then the simrec checks:

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
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env as gym_check_env

__all__ = ["check_determinism", "check_env", "check_invariants", "check_pickle"]

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
    out = [env.reset(seed=seed)]
    for _ in range(steps):
        step = env.step(env.action_space.sample())
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    return out


def check_invariants(source: EnvSource, steps: int = 1000, seed: int = 0) -> int:
    """Step randomly and assert simrec's invariants; returns the number of episodes ended."""
    env = _make(source)
    core = env.unwrapped.core
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    ended = 0
    for t in range(steps):
        cands = info["candidates"]
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        where = f"step {t}"
        assert env.observation_space.contains(obs), f"{where}: observation outside the space"
        assert np.isfinite(reward), f"{where}: reward {reward} is not finite"
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
