"""The native vector version of the lifetime envs (gymnasium's ``vector_entry_point``).

``gymnasium.make_vec("simrec/UserLifetime-v0", num_envs=4096)`` steps 4,096 users as one
array operation on one engine over one shared catalog. Sub-env *i* is seeded like
``SyncVectorEnv`` seeds it (``seed + i``), draws its users from its own ``np_random`` and
follows gymnasium's ``NEXT_STEP`` autoreset (the step after an episode ends resets that
sub-env, with reward 0), so the trajectories equal those of
``make_vec(..., vectorization_mode="sync")`` for the same seeds and actions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from simrec.config import Config, EnvConfig
from simrec.engine import as_array
from simrec.envs.core import LifetimeCore
from simrec.envs.lifetime import make_spaces, resolve
from simrec.errors import ConfigError, InvalidActionError
from simrec.rng import check_seed

__all__ = ["UserLifetimeVectorEnv"]


class UserLifetimeVectorEnv(VectorEnv):
    """``num_envs`` user lifetimes stepped as one batch (see the module docstring).

    Args:
        num_envs: Number of sub-envs (users stepped together).
        preset: As for :class:`~simrec.envs.lifetime.UserLifetimeEnv`.
        config: As for the single env.
        env: As for the single env.
        reward: As for the single env.
        item_vectors: As for the single env.
        **kwargs: The single env's shortcuts (``slate_size``, ``candidates``, ...).
    """

    # gymnasium declares metadata as an instance attribute with a class default
    metadata: dict[str, Any] = {  # noqa: RUF012
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        num_envs: int,
        preset: str = "user_lifetime",
        config: Config | dict | None = None,
        env: EnvConfig | dict | None = None,
        reward: Any = None,
        item_vectors: np.ndarray | None = None,
        **kwargs: Any,
    ) -> None:
        """Build the vector env."""
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs: expected a positive integer, got {num_envs!r}")
        cfg, env_cfg = resolve(preset, config, env, reward, **kwargs)
        self.num_envs = num_envs
        self.core = LifetimeCore(cfg, env_cfg, num_envs, item_vectors)
        self.single_observation_space, self.single_action_space = make_spaces(self.core)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._slots = np.arange(num_envs)
        self._rngs: list[np.random.Generator] = []
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every sub-env; an int seed gives sub-env *i* the seed ``seed + i``."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            check_seed(seed)
            check_seed(int(seed) + self.num_envs - 1, "seed + num_envs - 1")
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            if not isinstance(seed, (list, tuple)):
                raise ConfigError(
                    f"seed: expected None, an integer or a list of {self.num_envs} seeds, "
                    f"got {seed!r}"
                )
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ConfigError(
                    f"seed: expected {self.num_envs} seeds (one per sub-env), got {len(seeds)}"
                )
            for i, s in enumerate(seeds):
                if s is not None:
                    check_seed(s, f"seed[{i}]")
        self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self.core.reset_slots(self._slots, self._rngs)
        self._autoreset[:] = False
        info = {"candidates": self.core.cands.copy(), "day": np.zeros(self.num_envs)}
        return self.core.observe(self._slots), info

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; sub-envs whose episode ended last step are reset instead."""
        if not self._rngs:
            raise ResetNeeded("Cannot call step() before reset() on the simrec vector env")
        actions = as_array(actions, "actions")
        n = self.num_envs
        if actions.ndim == 0 or actions.shape[0] != n:
            raise InvalidActionError(
                f"actions: expected one action per sub-env, shape ({n}, ...), got {actions.shape}"
            )
        reward = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        info: dict[str, Any] = {}
        live = self._slots[~self._autoreset]
        resets = self._slots[self._autoreset]
        if resets.size:
            self.core.reset_slots(resets, [self._rngs[i] for i in resets])
        if live.size:
            result = self.core.step(live, actions[live])
            reward[live] = result.reward
            terminated[live] = result.terminated
            truncated[live] = result.truncated
            for key, value in result.info.items():
                full = np.zeros((n, *value.shape[1:]), dtype=value.dtype)
                full[live] = value
                info[key] = full
                info[f"_{key}"] = ~self._autoreset
        info["candidates"] = self.core.cands.copy()
        self._autoreset = terminated | truncated
        return self.core.observe(self._slots), reward, terminated, truncated, info
