"""Evaluate a policy on a simrec env: many users' whole lives at once, per-episode outcomes.

A policy is a callable from a batched observation to actions. The reference policies here
need to know the env they act in (the slate size; the oracles its hidden state):
:func:`evaluate_policy` calls their ``bind(env)`` first.

- :func:`random_policy`: K distinct candidates uniformly at random.
- :func:`popularity_policy`: the K candidates with the highest observed popularity (the
  warm-up CTR feature): a greedy one-step rule that needs no training.
- :func:`oracle_policy`: the K candidates of highest true value of consumption
  (``"value"``: quality x match - letdown, what raises satisfaction) or of highest true
  click utility (``"utility"``, the myopic oracle: match, appeal, fatigue), read from the
  env's hidden state (:class:`simrec.engine.truth.GroundTruth`). They are references, not
  learners: no policy that sees only observations can be expected to reach them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from simrec.envs.vector import UserLifetimeVectorEnv

__all__ = [
    "EpisodeOutcomes",
    "Policy",
    "evaluate_policy",
    "mean_ci",
    "oracle_policy",
    "popularity_policy",
    "random_policy",
    "top_k_actions",
]

#: A batched policy: an observation (arrays of ``B`` requests) to ``B`` actions.
Policy: TypeAlias = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class EpisodeOutcomes:
    """One entry per episode (user life).

    Attributes:
        reward: Total reward of the episode (the env's reward).
        clicks: Clicks.
        engagement: Minutes of engagement (lifetime engagement).
        churned: Whether the user churned before the horizon.
        days: Days on the platform when the episode ended.
    """

    reward: np.ndarray
    clicks: np.ndarray
    engagement: np.ndarray
    churned: np.ndarray
    days: np.ndarray

    def summary(self) -> dict[str, tuple[float, float]]:
        """Mean and 95% CI half-width (normal approximation) of each outcome."""
        out = {k: mean_ci(getattr(self, k)) for k in ("reward", "clicks", "engagement", "days")}
        out["retention"] = mean_ci(1.0 - self.churned.astype(float))
        return out


def mean_ci(x: np.ndarray) -> tuple[float, float]:
    """Mean and 1.96 standard errors."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(1.96 * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else 0.0


def evaluate_policy(
    policy: Policy,
    preset: str,
    reward: str | dict[str, float] = "click",
    episodes: int = 500,
    seed: int = 10_000,
    **env_kwargs: Any,
) -> EpisodeOutcomes:
    """Run ``episodes`` users' lives in parallel, each to its end, under ``policy``.

    Args:
        policy: Batched observation -> actions (candidate indices, ``(B,)`` or ``(B, K)``).
        preset: Env preset.
        reward: Reward the env reports (outcomes other than ``reward`` do not depend on it).
        episodes: Users (sub-envs); sub-env *i* is seeded ``seed + i``, so two policies
            evaluated with the same seed meet the same users.
        seed: Base seed.
        **env_kwargs: Env keyword arguments.
    """
    env = UserLifetimeVectorEnv(episodes, preset=preset, reward=reward, **env_kwargs)
    if hasattr(policy, "bind"):
        policy.bind(env)
    obs, _ = env.reset(seed=seed)
    n = episodes
    total, clicks, minutes = np.zeros(n), np.zeros(n), np.zeros(n)
    churned, days = np.zeros(n, bool), np.zeros(n)
    live = np.ones(n, bool)
    while live.any():
        obs, r, term, trunc, info = env.step(np.asarray(policy(obs)))
        total += np.where(live, r, 0.0)
        clicks += np.where(live, info["clicked"], 0.0)
        minutes += np.where(live, info["engagement"], 0.0)
        ended = live & (term | trunc)
        churned[ended] = term[ended]
        days[ended] = info["day"][ended]
        live &= ~ended
    return EpisodeOutcomes(total, clicks, minutes, churned, days)


def top_k_actions(scores: np.ndarray, k: int) -> np.ndarray:
    """The env action of the ``k`` highest scores per row: ``(B,)`` if ``k == 1``, else ``(B, k)``.

    >>> top_k_actions(np.array([[0.1, 0.9, 0.5]]), 2).tolist()
    [[1, 2]]
    """
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return top[:, 0] if k == 1 else top


class _EnvPolicy:
    """A reference policy: ranks the candidates by a score, takes the top K."""

    def __init__(self) -> None:
        self.env: UserLifetimeVectorEnv | None = None

    def bind(self, env: UserLifetimeVectorEnv) -> None:
        """Remember the env (slate size; hidden state for the oracles)."""
        self.env = env

    def _bound(self) -> UserLifetimeVectorEnv:
        """The env of :meth:`bind`."""
        if self.env is None:
            raise RuntimeError("a reference policy acts only after bind(env)")
        return self.env

    def scores(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        env = self._bound()
        return top_k_actions(self.scores(obs), env.core.K)


class _Random(_EnvPolicy):
    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def scores(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.rng.random(obs["candidates"].shape[:2])


class _Popularity(_EnvPolicy):
    def scores(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        G = self._bound().core.n_genres  # candidates: genre one-hot, log price, age, popularity
        return obs["candidates"][:, :, G + 2]


class _Oracle(_EnvPolicy):
    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in ("value", "utility"):
            raise ValueError(f"kind: expected 'value' or 'utility', got {kind!r}")
        self.kind = kind

    def bind(self, env: UserLifetimeVectorEnv) -> None:
        super().bind(env)
        self.truth = env.core.engine.ground_truth()

    def scores(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        core = self._bound().core
        slots = np.arange(core.n)
        return np.asarray(getattr(self.truth, self.kind)(slots, core.cands[slots]))


def random_policy(seed: int = 0) -> _EnvPolicy:
    """K distinct candidates uniformly at random (its own seeded stream)."""
    return _Random(seed)


def popularity_policy() -> _EnvPolicy:
    """The K candidates of highest observed popularity (warm-up CTR)."""
    return _Popularity()


def oracle_policy(kind: str = "value") -> _EnvPolicy:
    """The K candidates of highest true ``value`` or click ``utility`` (hidden state)."""
    return _Oracle(kind)
