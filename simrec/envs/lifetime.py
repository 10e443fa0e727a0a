"""``simrec/UserLifetime-v0``: one user's life on the platform as one episode."""

from __future__ import annotations

import dataclasses
from copy import deepcopy
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector.utils import batch_space

from simrec.config import REWARDS, Config, EnvConfig, RewardConfig, from_dict, to_dict
from simrec.engine import as_array
from simrec.envs.core import LifetimeCore
from simrec.envs.observation import LOG_PRICE_BOUND, MAX_AGE, PRIOR_CTR
from simrec.envs.presets import PRESETS
from simrec.errors import ConfigError, UnknownNameError, suggest
from simrec.rng import check_seed
from simrec.worlds.base import AGE_RANGE, scale_age

__all__ = ["BatchedSlateSpace", "SlateSpace", "UserLifetimeEnv", "make_spaces", "resolve"]

#: Keyword arguments every env accepts besides ``preset``, ``config``, ``env``.
SHORTCUTS = {
    "slate_size": ("config", "simulation.slate_size"),
    "candidates": ("env", "candidates"),
    "history_length": ("env", "history_length"),
    "horizon_days": ("env", "horizon_days"),
    "world_seed": ("env", "world_seed"),
    "slate_duplicates": ("env", "slate_duplicates"),
}


def _reward(value: Any) -> RewardConfig:
    if isinstance(value, RewardConfig):
        return value
    if isinstance(value, str):
        if value not in REWARDS:
            raise ConfigError(
                f"reward: unknown reward {value!r}{suggest(value, REWARDS)}; expected one of "
                f"{', '.join(REWARDS)} or a mapping of weights"
            )
        return from_dict(RewardConfig, REWARDS[value], path="reward")
    return from_dict(RewardConfig, value, path="reward")


def resolve(
    preset: str = "user_lifetime",
    config: Config | dict | None = None,
    env: EnvConfig | dict | None = None,
    reward: Any = None,
    **kwargs: Any,
) -> tuple[Config, EnvConfig]:
    """Build the (Config, EnvConfig) of an env from a preset and overrides.

    Args:
        preset: A name of :data:`simrec.envs.presets.PRESETS`.
        config: A full :class:`~simrec.config.Config`, or a mapping of overrides.
        env: A full :class:`~simrec.config.EnvConfig`, or a mapping of overrides.
        reward: A reward name (``click``, ``engagement``, ``revenue``, ``return``,
            ``long-term``), a mapping of :class:`~simrec.config.RewardConfig` weights, or one.
        **kwargs: Shortcuts ``slate_size``, ``candidates``, ``history_length``,
            ``horizon_days``, ``world_seed``.

    Raises:
        UnknownNameError: Unknown preset.
        ConfigError: An unknown keyword (with the closest valid one) or an invalid value.
    """
    if preset not in PRESETS:
        raise UnknownNameError(
            f"preset: unknown preset {preset!r}{suggest(preset, PRESETS)}; "
            f"known: {', '.join(PRESETS)}"
        )
    base_cfg, base_env = PRESETS[preset]()
    valid = ["preset", "config", "env", "reward", "item_vectors", *SHORTCUTS]
    for key in kwargs:
        if key not in SHORTCUTS:
            raise ConfigError(
                f"{key}: unknown argument of the simrec envs{suggest(key, valid)}; "
                f"valid: {', '.join(valid)}"
            )
    cfg_data, env_data = to_dict(base_cfg), to_dict(base_env)
    if isinstance(config, Config):
        cfg_data = to_dict(config)
    elif config is not None:
        cfg_data = _merge(cfg_data, config, "config")
    if isinstance(env, EnvConfig):
        env_data = to_dict(env)
    elif env is not None:
        env_data = _merge(env_data, env, "env")
    for key, value in kwargs.items():
        where, dotted = SHORTCUTS[key]
        target = cfg_data if where == "config" else env_data
        *path, leaf = dotted.split(".")
        for part in path:
            target = target[part]
        target[leaf] = value
    cfg = from_dict(Config, cfg_data)
    env_cfg = from_dict(EnvConfig, env_data)
    if reward is not None:
        env_cfg = dataclasses.replace(env_cfg, reward=_reward(reward))
    return cfg, env_cfg


def _merge(base: dict, over: Any, where: str) -> dict:
    if not isinstance(over, dict):
        raise ConfigError(f"{where}: expected a mapping of overrides, got {over!r}")
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, f"{where}.{key}")
        else:
            out[key] = value
    return out


class SlateSpace(spaces.MultiDiscrete):
    """``MultiDiscrete([C] * K)`` whose samples and members are K *distinct* indices.

    A plain ``MultiDiscrete`` to every library that checks the type (stable-baselines3 does);
    ``sample()`` draws without replacement and ``contains()`` rejects repeated indices.
    """

    def __init__(self, n_candidates: int, slate_size: int, seed: Any = None) -> None:
        """A slate of ``slate_size`` distinct indices into ``n_candidates``."""
        super().__init__([n_candidates] * slate_size, dtype=np.int64, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """K distinct indices, uniformly (masks fall back to ``MultiDiscrete.sample``)."""
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        n, k = int(self.nvec[0]), len(self.nvec)
        return self.np_random.choice(n, size=k, replace=False).astype(self.dtype)

    def contains(self, x: Any) -> bool:
        """A member: in range and no index repeated."""
        return bool(super().contains(x) and len(np.unique(np.asarray(x))) == len(self.nvec))

    def __repr__(self) -> str:
        """``SlateSpace(C, K)``."""
        return f"SlateSpace({int(self.nvec[0])}, {len(self.nvec)})"


class BatchedSlateSpace(spaces.MultiDiscrete):
    """``MultiDiscrete`` of shape ``(n, K)`` over ``C``: one :class:`SlateSpace` per sub-env.

    What ``batch_space(SlateSpace(C, K), n)`` gives (the vector envs' ``action_space``):
    ``sample()`` draws every row without replacement and ``contains()`` rejects a row that
    repeats an index.
    """

    def __init__(self, n: int, n_candidates: int, slate_size: int, seed: Any = None) -> None:
        """``n`` slates of ``slate_size`` distinct indices into ``n_candidates``."""
        super().__init__(
            np.full((n, slate_size), n_candidates, dtype=np.int64), dtype=np.int64, seed=seed
        )

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """``(n, K)`` rows of K distinct indices, uniformly (masks: ``MultiDiscrete``)."""
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        n, k = self.nvec.shape
        keys = self.np_random.random((n, int(self.nvec[0, 0])))
        return np.argsort(keys, axis=1)[:, :k].astype(self.dtype)

    def contains(self, x: Any) -> bool:
        """A member: in range and no index repeated within a row."""
        if not super().contains(x):
            return False
        srt = np.sort(np.asarray(x), axis=1)
        return not bool((srt[:, 1:] == srt[:, :-1]).any())

    def __repr__(self) -> str:
        """``BatchedSlateSpace(n, C, K)``."""
        n, k = self.nvec.shape
        return f"BatchedSlateSpace({n}, {int(self.nvec[0, 0])}, {k})"


@batch_space.register(SlateSpace)
def _batch_slate_space(space: SlateSpace, n: int = 1) -> BatchedSlateSpace:
    return BatchedSlateSpace(n, int(space.nvec[0]), len(space.nvec), seed=deepcopy(space.np_random))


def _box(low: list[np.ndarray | float], high: list[np.ndarray | float], rows: int = 0) -> Any:
    lo = np.concatenate([np.atleast_1d(np.asarray(x, dtype=np.float32)) for x in low])
    hi = np.concatenate([np.atleast_1d(np.asarray(x, dtype=np.float32)) for x in high])
    if rows:
        lo, hi = np.tile(lo, (rows, 1)), np.tile(hi, (rows, 1))
    return spaces.Box(lo, hi, dtype=np.float32)


def make_spaces(core: LifetimeCore) -> tuple[spaces.Dict, spaces.Space]:
    """The single-env observation and action spaces of a core (finite bounds)."""
    G, L, C, K = core.n_genres, core.L, core.C, core.K
    vec = core.item_vectors
    v_lo = [] if vec is None else [vec.min(axis=0)]
    v_hi = [] if vec is None else [vec.max(axis=0)]
    zeros, ones = np.zeros(G), np.ones(G)
    big = float(np.log1p(1e6))  # log1p of days, requests and visits
    obs = spaces.Dict(
        {
            "profile": _box([scale_age(AGE_RANGE[0]), zeros], [scale_age(AGE_RANGE[1]), ones]),
            "history": _box(
                [zeros, -LOG_PRICE_BOUND, *v_lo, 0.0], [ones, LOG_PRICE_BOUND, *v_hi, 1.0], L
            ),
            "context": _box([0.0, 0.0, 0.0, 0.0], [big, big, big, big]),
            "candidates": _box(
                [zeros, -LOG_PRICE_BOUND, 0.0, 0.0, *v_lo],
                [ones, LOG_PRICE_BOUND, np.log1p(MAX_AGE), 1.0 / PRIOR_CTR, *v_hi],
                C,
            ),
        }
    )
    action = spaces.Discrete(C) if K == 1 else SlateSpace(C, K)
    return obs, action


class UserLifetimeEnv(gym.Env):
    """One user's life on a recommendation platform.

    ## Description

    A user with hidden, drifting interests, a satisfaction that decays, genre fatigue and a
    churn hazard visits the platform in sessions. Each step is one recommendation request:
    the policy picks one item (or a slate of K) among C candidates, the user clicks with a
    multinomial-logit choice (or not), and the hidden state updates. Between sessions
    simulated time jumps by the return gap, which grows as satisfaction falls; at each
    session end the user may churn for good. The catalog is shared by every episode; each
    episode draws a new user. Rules and parameters: ``docs/model.md``.

    ## Observation Space

    ``Dict`` of ``float32`` boxes: ``profile (1 + G,)`` (scaled age, one-hot stated genre),
    ``history (L, G + 2 + E)`` (last L consumed items, newest first: genre one-hot, log
    price, optional item vector, validity flag), ``context (4,)`` (``log1p`` of: the day of
    the user's life, days since the previous request, request index in the session, visits
    so far) and ``candidates (C, G + 3 + E)`` (genre one-hot, log price, ``log1p`` of the
    age in 30-day units, warm-up CTR relative to the prior CTR of 0.02, optional item
    vector). Every feature is of order one; no normalisation wrapper is needed. ``E`` is
    the width of the ``item_vectors`` passed at construction (0 if none). The candidates'
    item ids are in ``info["candidates"]``.

    ## Action Space

    ``Discrete(C)`` when ``slate_size == 1``, else ``MultiDiscrete([C] * K)`` (a
    :class:`SlateSpace`, whose samples are distinct): indices into the candidates. A slate
    that repeats an index raises ``InvalidActionError``; with ``slate_duplicates="fill"``
    repeats are replaced by the lowest unused indices instead (for policies such as SB3's
    that sample each slate position independently).

    ## Rewards

    ``click * clicks + engagement * minutes + revenue * currency``, plus at a session end
    ``return_bonus * exp(-gap / return_scale_days)`` if the user will return, minus
    ``churn_penalty`` on churn (``reward=`` a name: ``click`` (default), ``engagement``,
    ``revenue``, ``return``, ``long-term``; or a mapping of weights). Hidden-state
    diagnostics (``satisfaction``, ``churn_hazard``) and per-step metrics are in ``info``,
    never in the reward.

    ## Starting State

    A user drawn from the world's population (the env's ``np_random``), at the start of
    the first session on day 0, with C fresh candidates.

    ## Episode End

    ``terminated`` when the user churns; ``truncated`` when the next visit would fall after
    ``horizon_days``.

    ## Arguments

    ``preset`` (``user_lifetime``, ``interest_evolution``, ``long_term_satisfaction``,
    ``retention``), ``config`` (a :class:`~simrec.config.Config` or overrides), ``env``
    (an :class:`~simrec.config.EnvConfig` or overrides), ``reward``, ``item_vectors``
    (``(M, E)`` array), and the shortcuts ``slate_size``, ``candidates``,
    ``history_length``, ``horizon_days``, ``world_seed``, ``slate_duplicates``. Unknown
    keywords raise :class:`~simrec.errors.ConfigError` naming the closest valid one.

    ## Version History

    * v0: initial version.
    """

    # gymnasium declares metadata as an instance attribute with a class default
    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        preset: str = "user_lifetime",
        config: Config | dict | None = None,
        env: EnvConfig | dict | None = None,
        reward: Any = None,
        item_vectors: np.ndarray | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Build the env (see the class docstring's Arguments)."""
        self.render_mode = render_mode  # accepted for wrappers' sake; nothing is rendered
        cfg, env_cfg = resolve(preset, config, env, reward, **kwargs)
        self.core = LifetimeCore(cfg, env_cfg, 1, item_vectors)
        self.observation_space, self.action_space = make_spaces(self.core)
        self._slot = np.zeros(1, dtype=np.int64)

    @property
    def config(self) -> Config:
        """The resolved world/dynamics configuration."""
        return self.core.config

    @property
    def env_config(self) -> EnvConfig:
        """The resolved env settings."""
        return self.core.env

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.core.observe(self._slot).items()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a new user's life (drawn with the env's ``np_random``)."""
        if seed is not None:
            check_seed(seed)
        super().reset(seed=seed)
        self.core.reset_slots(self._slot, [self.np_random])
        return self._obs(), {"candidates": self.core.cands[0].copy(), "day": 0.0}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Serve one request; see the class docstring."""
        if not self.core.started[0]:
            raise ResetNeeded("Cannot call step() before reset() on simrec/UserLifetime")
        if self.core.done[0]:
            raise ResetNeeded("The episode has ended (churn or horizon); call reset()")
        result = self.core.step(self._slot, as_array(action, "action")[None, ...])
        info = {k: (v[0].item() if v.ndim == 1 else v[0]) for k, v in result.info.items()}
        info["candidates"] = self.core.cands[0].copy()
        return (
            self._obs(),
            float(result.reward[0]),
            bool(result.terminated[0]),
            bool(result.truncated[0]),
            info,
        )
