"""``sb3-ppo`` / ``sb3-dqn``: stable-baselines3 policies trained on a simrec env, as agents.

:func:`train_policy` trains PPO or DQN with stable-baselines3, unmodified, on
``simrec/UserLifetime-v0`` with a preset and a reward, with TensorBoard logging (``logdir``),
periodic checkpoints (``checkpoint_every`` steps) and a saved policy (``out/policy.zip`` plus
``out/meta.json`` describing the env it was trained on). :class:`SB3PPOAgent` and
:class:`SB3DQNAgent` load such a policy by ``path`` -- or train one at setup from ``preset``,
``reward`` and ``timesteps``, seeded from the agent's stream -- and serve it through the
common agent protocol: each request's observation is rebuilt from observable data
(:mod:`simrec_agents.rl.obs`) and the whole batch goes through one ``model.predict``.

Loading uses stable-baselines3's own ``PPO.load`` / ``DQN.load``. An SB3 zip stores the
network weights as tensors but some settings (spaces, schedules) with cloudpickle, which can
run code when read: load only policies you trained yourself or trust, never one from an
unknown source. The scenario must use the training env's candidate count and slate size
(``simulation.candidates``, ``simulation.slate_size``); a mismatch is a clear error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from simrec_agents.base import dense_flops
from simrec_agents.rl.obs import PopulationObservation, check_preset_reward

from simrec.agent import Agent
from simrec.errors import ConfigError, DependencyNotInstalled
from simrec.types import Cost, Feedback, RequestBatch

__all__ = ["SB3DQNAgent", "SB3PPOAgent", "train_policy"]

ENV_ID = "simrec/UserLifetime-v0"


def _sb3():
    try:
        import stable_baselines3
    except ImportError as err:
        raise DependencyNotInstalled(
            "sb3 agents need stable-baselines3; install it with pip install 'simrec[rl]'"
        ) from err
    return stable_baselines3


def train_policy(
    algo: str,
    preset: str = "long_term_satisfaction",
    reward: Any = "click",
    timesteps: int = 50_000,
    seed: int = 0,
    *,
    out: str | Path | None = None,
    logdir: str | Path | None = None,
    checkpoint_every: int = 0,
    n_envs: int = 4,
    gamma: float = 0.9,
    env_kwargs: dict | None = None,
    **hyper: Any,
):
    """Train PPO or DQN on ``simrec/UserLifetime-v0`` with ``preset`` and ``reward``.

    Args:
        algo: ``"ppo"`` or ``"dqn"``.
        preset: Env preset.
        reward: Reward name or weights (:data:`simrec.config.REWARDS`).
        timesteps: Environment steps.
        seed: Seed of the env episodes and the networks.
        out: Folder for ``policy.zip``, ``meta.json`` and ``checkpoints/`` (optional).
        logdir: TensorBoard log folder (optional; needs the ``tensorboard`` package).
        checkpoint_every: Save a checkpoint every this many steps (0: none; needs ``out``).
        n_envs: Parallel env copies (PPO; DQN uses one).
        gamma: Discount.
        env_kwargs: Other env keyword arguments (e.g. ``{"env": {"warmup_users": 3000}}``).
        **hyper: Further SB3 constructor arguments (override the defaults below).

    Returns:
        The trained model.
    """
    check_preset_reward(preset, reward)
    sb3 = _sb3()
    import torch
    from stable_baselines3.common.callbacks import CheckpointCallback
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    kwargs = {"preset": preset, "reward": reward, "render_mode": None, **(env_kwargs or {})}
    defaults = {
        "ppo": (n_envs, {"n_steps": 128, "batch_size": 128, "learning_rate": 3e-3}),
        "dqn": (1, {"learning_starts": 500, "exploration_fraction": 0.3}),
    }
    if algo not in defaults:
        raise ConfigError(f"algo: expected 'ppo' or 'dqn', got {algo!r}")
    copies, options = defaults[algo]
    venv = make_vec_env(ENV_ID, n_envs=copies, seed=seed, env_kwargs=kwargs)
    model = (sb3.PPO if algo == "ppo" else sb3.DQN)(
        "MultiInputPolicy",
        venv,
        seed=seed,
        gamma=gamma,
        device="cpu",
        tensorboard_log=None if logdir is None else str(logdir),
        **(options | hyper),
    )
    callbacks = []
    if out is not None and checkpoint_every > 0:
        callbacks.append(
            CheckpointCallback(
                max(1, checkpoint_every // max(venv.num_envs, 1)),
                str(Path(out) / "checkpoints"),
                name_prefix=algo,
            )
        )
    t0 = time.perf_counter()
    model.learn(timesteps, callback=callbacks or None)
    seconds = time.perf_counter() - t0
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / "policy.zip")
        meta = {
            "algo": algo,
            "env_id": ENV_ID,
            "preset": preset,
            "reward": reward,
            "timesteps": timesteps,
            "seed": seed,
            "gamma": gamma,
            "train_seconds": seconds,
            "env_kwargs": env_kwargs or {},
        }
        (out / "meta.json").write_text(json.dumps(meta, indent=1))
    model.train_seconds = seconds
    return model


class _SB3Agent(Agent):
    """A trained SB3 policy serving population requests (see the module docstring).

    Args:
        path: A ``policy.zip`` written by :func:`train_policy` (or ``model.save``).
        preset: Env preset to train on when no ``path`` is given.
        reward: Training reward when no ``path`` is given.
        timesteps: Training steps when no ``path`` is given.
        deterministic: Greedy actions (else sampled from the policy).
        train: Other :func:`train_policy` options.
    """

    algo: ClassVar[str] = ""

    def __init__(
        self,
        path: str | None = None,
        preset: str = "long_term_satisfaction",
        reward: Any = "click",
        timesteps: int = 50_000,
        deterministic: bool = True,
        train: dict | None = None,
    ) -> None:
        check_preset_reward(preset, reward)
        if not isinstance(timesteps, int) or timesteps < 1:
            raise ConfigError(f"timesteps: expected a positive integer, got {timesteps!r}")
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"path: no policy file at {path!r}")
        self.path, self.preset, self.reward = path, preset, reward
        self.timesteps, self.deterministic = timesteps, deterministic
        self.train_options = dict(train or {})
        self.train_seconds = 0.0

    def setup(self, context) -> None:
        """Load or train the policy; check it fits the scenario; build the observer."""
        super().setup(context)
        sb3 = _sb3()
        cls = sb3.PPO if self.algo == "ppo" else sb3.DQN
        if self.path is not None:
            self.model = cls.load(self.path, device="cpu")
        else:
            seed = int(self.rng.integers(0, 2**31))
            self.model = train_policy(
                self.algo, self.preset, self.reward, self.timesteps, seed, **self.train_options
            )
            self.train_seconds = self.model.train_seconds
        space = self.model.observation_space
        C, L = space["candidates"].shape[0], space["history"].shape[0]
        G = context.world.n_genres
        if space["profile"].shape[0] != 1 + G:
            raise ConfigError(
                f"world.n_genres: this policy was trained on {space['profile'].shape[0] - 1} "
                f"genres, the scenario's world has {G}"
            )
        action = self.model.action_space
        K = 1 if action.shape == () else int(action.shape[0])
        if context.slate_size != K:
            raise ConfigError(
                f"simulation.slate_size: this policy builds slates of {K}, got {context.slate_size}"
            )
        self.observer = PopulationObservation(context.world, C, L)

    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """One batched ``predict`` over the requests' observations."""
        obs = self.observer(batch)
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        idx = np.asarray(action, dtype=np.int64).reshape(len(batch), -1)
        idx = _distinct(idx, batch.candidates.shape[1])
        return np.take_along_axis(batch.candidates, idx, axis=1)

    def observe(self, feedback: Feedback) -> None:
        """Update the observation builder."""
        self.observer.observe(feedback)

    def cost(self) -> Cost:
        """Policy parameters; training seconds in ``extra``."""
        n = sum(p.numel() for p in self.model.policy.parameters())
        return Cost(params=n, trainable_params=n, extra={"train_seconds": self.train_seconds})

    def request_flops(self, pool: float, batch: float) -> float:
        """The policy network's dense layers once per request."""
        return dense_flops(self.model.policy)


def _distinct(idx: np.ndarray, C: int) -> np.ndarray:
    """Repeated candidate indices in a row take the lowest unused ones (as the env's "fill")."""
    out = idx.copy()
    for r in np.flatnonzero([len(set(row)) < len(row) for row in out.tolist()]):
        seen: set[int] = set()
        free = iter(i for i in range(C) if i not in set(out[r].tolist()))
        for j, x in enumerate(out[r].tolist()):
            out[r, j] = next(free) if x in seen else x
            seen.add(int(out[r, j]))
    return out


class SB3PPOAgent(_SB3Agent):
    """PPO (see :class:`_SB3Agent`)."""

    name = "sb3-ppo"
    algo = "ppo"


class SB3DQNAgent(_SB3Agent):
    """DQN (see :class:`_SB3Agent`); needs a ``Discrete`` action space (slate size 1)."""

    name = "sb3-dqn"
    algo = "dqn"
