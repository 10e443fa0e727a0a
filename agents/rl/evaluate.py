"""Evaluate a policy on a simrec env: many users' whole lives at once, per-episode outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simrec.envs.vector import UserLifetimeVectorEnv

__all__ = ["EpisodeOutcomes", "evaluate_policy", "mean_ci"]


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
    policy: Callable[[dict[str, np.ndarray]], np.ndarray],
    preset: str,
    reward: str | dict = "click",
    episodes: int = 500,
    seed: int = 10_000,
    **env_kwargs,
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
