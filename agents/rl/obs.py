"""The gymnasium env's observation, rebuilt for population requests from observable data.

A policy trained on ``simrec/UserLifetime-v0`` (or a preset) sees per request a ``Dict`` of
``profile``, ``history``, ``context`` and ``candidates`` (:mod:`simrec.envs.core`).
:class:`PopulationObservation` builds the same arrays for a population batch from what an
agent may see: the users' observable profile, the agent's own log of what each user clicked,
the request's candidates and their observable features, and each item's smoothed CTR in the
agent's own log (the env uses a random-exposure warm-up log; the same smoothing). The arrays
are built by the env's own :class:`simrec.envs.observation.ObservationBuilder`.
Context: days since the agent first served the user, days since the user's previous request,
the request's index in its session, and sessions seen so far.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from simrec.config import REWARDS
from simrec.envs.lifetime import resolve
from simrec.envs.observation import ObservationBuilder, newest_first, smoothed_ctr
from simrec.envs.presets import PRESETS
from simrec.errors import ConfigError, suggest
from simrec.types import Feedback, RequestBatch
from simrec.worlds.base import ObservableWorld

__all__ = [
    "SCENARIO",
    "PopulationObservation",
    "check_fits",
    "check_preset_reward",
    "env_shape",
    "space_shape",
    "training_env",
]


#: The training preset that is the scenario itself: the env built from the run's own
#: configuration (world, user model, dynamics, retention, economy, slate size) with the
#: scenario's candidates per request.
SCENARIO = "scenario"


def space_shape(space: spaces.Space, key: str | None = None) -> tuple[int, ...]:
    """The shape of ``space``, or of its entry ``key`` (a ``Dict`` space's).

    gymnasium (and stable-baselines3's policies) type an observation space as a ``Space`` and
    its shape as optional.

    Raises:
        TypeError: ``key`` is given and ``space`` is not a ``Dict``, or the space has no shape.
    """
    if key is not None:
        if not isinstance(space, spaces.Dict):
            raise TypeError(f"expected a Dict space with an entry {key!r}, got {space}")
        space = space[key]
    if space.shape is None:
        raise TypeError(f"expected a space with a shape, got {space}")
    return space.shape


def check_preset_reward(preset: str, reward: object) -> None:
    """Raise ``ConfigError`` for an unknown env preset or reward name (with a suggestion)."""
    known = [SCENARIO, *PRESETS]
    if preset not in known:
        raise ConfigError(
            f"preset: unknown preset {preset!r}{suggest(preset, known)}; known: {', '.join(known)}"
        )
    if isinstance(reward, str) and reward not in REWARDS:
        raise ConfigError(
            f"reward: unknown reward {reward!r}{suggest(reward, REWARDS)}; "
            f"known: {', '.join(REWARDS)}"
        )


def training_env(
    preset: str, context: object, env_kwargs: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The env preset and keyword arguments an RL agent trains on.

    A named preset trains on that preset's world; :data:`SCENARIO` on the env built from the
    run's configuration (``context.config``) with the scenario's candidates per request
    (``env_kwargs["env"]`` may set the rest: horizon, warm-up, history).

    Raises:
        ConfigError: ``scenario`` without a configuration in the context, or without
            candidates (``simulation.candidates: 0``).
    """
    kwargs = dict(env_kwargs or {})
    if preset != SCENARIO:
        return preset, kwargs
    config = getattr(context, "config", None)
    if config is None:
        raise ConfigError("preset: 'scenario' needs the run's configuration in the agent context")
    C = context.n_candidates  # type: ignore[attr-defined]
    if not C:
        raise ConfigError(
            "simulation.candidates: preset 'scenario' trains a policy over C candidates per "
            "request; set simulation.candidates > 0"
        )
    env = {"candidates": C, **kwargs.pop("env", {})}
    return "user_lifetime", {**kwargs, "config": config, "env": env}


def env_shape(
    preset: str, reward: object, env_kwargs: dict[str, Any] | None = None
) -> dict[str, int]:
    """The shapes a policy trained on the env ``preset`` has: C, K, L and G.

    Raises:
        ConfigError: An unknown preset, reward or env argument.
    """
    kwargs = dict(env_kwargs or {})
    kwargs.pop("render_mode", None)
    cfg, env = resolve(preset, reward=reward, **kwargs)
    return {
        "candidates": env.candidates,
        "slate_size": cfg.simulation.slate_size,
        "history_length": env.history_length,
        "n_genres": cfg.world.n_genres,
    }


def check_fits(shape: dict[str, int], context: object, what: str = "this policy") -> None:
    """Raise unless a policy of ``shape`` (see :func:`env_shape`) can serve the scenario.

    The scenario must request ``candidates`` candidates per request (C), slates of
    ``slate_size`` (K), and its world must have ``n_genres`` genres (G).

    Raises:
        ConfigError: Naming the scenario field that does not fit.
    """
    K, C = context.slate_size, context.n_candidates  # type: ignore[attr-defined]
    if K != shape["slate_size"]:
        raise ConfigError(
            f"simulation.slate_size: {what} builds slates of {shape['slate_size']}, got {K}"
        )
    if C != shape["candidates"]:
        raise ConfigError(
            f"simulation.candidates: {what} scores C={shape['candidates']} candidates per "
            f"request (as in its training env), got {C or 'the whole catalog (0)'}"
        )
    G = context.world.n_genres  # type: ignore[attr-defined]
    if "n_genres" in shape and G != shape["n_genres"]:
        raise ConfigError(
            f"world.n_genres: {what} was trained on {shape['n_genres']} genres, the "
            f"scenario's world has {G}"
        )


class PopulationObservation:
    """Env-style observations for population requests (see the module docstring).

    Args:
        world: The observable world.
        candidates: C, the candidates per request the policy was trained on.
        history_length: L.
    """

    def __init__(self, world: ObservableWorld, candidates: int, history_length: int) -> None:
        self.world = world
        self.C, self.L = candidates, history_length
        M, N = world.n_items, world.n_users
        self.build = ObservationBuilder(world.items, world.n_genres, history_length)
        self.shown = np.zeros(M)
        self.clicked = np.zeros(M)
        self.recent = np.full((N, history_length), -1, dtype=np.int64)
        self.recent_next = np.zeros(N, dtype=np.int64)
        self.first = np.full(N, np.nan)
        self.prev = np.full(N, np.nan)
        self.visits = np.zeros(N)

    def check(self, batch: RequestBatch) -> None:
        """Raise unless the batch has candidates of the width the policy was trained on."""
        width = None if batch.candidates is None else batch.candidates.shape[1]
        if width != self.C:
            raise ConfigError(
                f"simulation.candidates: this policy scores C={self.C} candidates per request "
                f"(as in its training env), got {width or 'the whole catalog (0)'}"
            )

    def __call__(self, batch: RequestBatch) -> dict[str, np.ndarray]:
        """Observation arrays ``(B, ...)`` for the batch (updates per-user context)."""
        self.check(batch)
        u, now = batch.users, batch.time
        new = np.isnan(self.first[u])
        self.first[u[new]] = now
        self.visits[u[batch.step == 0]] += 1
        since = np.where(np.isnan(self.prev[u]), 0.0, now - self.prev[u])
        self.prev[u] = now
        context = np.stack(
            [now - self.first[u], since, batch.step.astype(float), self.visits[u]], axis=1
        )
        cands = batch.candidates
        assert cands is not None  # check() refuses a batch without candidates
        return self.build(
            self.world.users.profile[u],
            newest_first(self.recent[u], self.recent_next[u], self.L),
            context,
            cands,
            np.full(len(u), now),
            smoothed_ctr(self.clicked[cands], self.shown[cands]),
        )

    def observe(self, fb: Feedback) -> None:
        """Update the per-item CTR counts and the users' consumed-item buffers."""
        np.add.at(self.shown, fb.slates.ravel(), 1.0)
        np.add.at(self.clicked, fb.slates.ravel(), fb.clicked.ravel().astype(float))
        rows, cols = np.nonzero(fb.clicked)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            user = fb.users[r]
            self.recent[user, self.recent_next[user] % self.L] = fb.slates[r, c]
            self.recent_next[user] += 1
