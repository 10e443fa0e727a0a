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
network weights as tensors but some settings (spaces, schedules) with cloudpickle, which
**runs code when read**: loading a policy file trusts whoever wrote it as much as running
their Python. So a scenario that names a policy file must also give its ``sha256``
(``train_policy`` writes it to ``meta.json``; or ``sha256sum policy.zip``): the file is read
once, its hash checked, and only those verified bytes are loaded; a missing or different
hash is refused before anything is unpickled. Pin only files you trained yourself or trust.
The scenario must use the training env's candidate count and slate size
(``simulation.candidates``, ``simulation.slate_size``); a mismatch is refused before any run
starts (:meth:`_SB3Agent.check`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from simrec_agents.base import dense_flops
from simrec_agents.rl.obs import (
    PopulationObservation,
    check_fits,
    check_preset_reward,
    env_shape,
    space_shape,
    training_env,
)

from simrec.agent import Agent, AgentContext, check_output_path
from simrec.config import to_dict
from simrec.errors import ConfigError, DependencyNotInstalled
from simrec.types import Cost, Feedback, RequestBatch

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = ["DEFAULTS", "GAMMA", "SB3DQNAgent", "SB3PPOAgent", "train_policy"]

ENV_ID = "simrec/UserLifetime-v0"


def _sb3() -> ModuleType:
    try:
        import stable_baselines3
    except ImportError as err:
        raise DependencyNotInstalled(
            "sb3 agents need stable-baselines3; install it with pip install 'simrec[rl]'"
        ) from err
    return stable_baselines3


#: Training settings of :func:`train_policy` per algorithm (the reference table's, see
#: ``docs/rl.md``): PPO on 8 env copies, 256 steps each per rollout, 4 epochs of minibatches
#: of 256, learning rate 1e-3, entropy bonus 0.01; DQN with a 50k replay buffer, learning
#: from step 1,000, a gradient step every 4 env steps, epsilon falling to 0.05 over the first
#: 20% of training, the target network copied every 1,000 steps.
DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {
        "n_envs": 8,
        "n_steps": 256,
        "batch_size": 256,
        "n_epochs": 4,
        "learning_rate": 1e-3,
        "ent_coef": 0.01,
    },
    "dqn": {
        "n_envs": 1,
        "buffer_size": 50_000,
        "learning_starts": 1_000,
        "train_freq": 4,
        "exploration_fraction": 0.2,
        "learning_rate": 1e-3,
        "target_update_interval": 1_000,
    },
}
#: The discount of :func:`train_policy` unless given: near 1, so that what a recommendation
#: does to the user's later visits counts (gamma = 0 is the myopic learner).
GAMMA = 0.99
POLICIES = ("candidate", "mlp")
#: The ``train`` options of the agents that name folders written to: each a path relative to
#: the run's output folder (:meth:`simrec.agent.AgentContext.output_path`).
WRITES = ("out", "logdir")


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
    gamma: float = GAMMA,
    policy: str = "candidate",
    env_kwargs: dict[str, Any] | None = None,
    callback: Any = None,
    **hyper: Any,
) -> Any:
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
        gamma: Discount (:data:`GAMMA`; 0 trains the myopic twin).
        policy: ``"candidate"`` (one network scores every candidate,
            :mod:`simrec_agents.rl.sb3_policies`) or ``"mlp"`` (SB3's ``MultiInputPolicy``).
        env_kwargs: Other env keyword arguments (e.g. ``{"env": {"warmup_users": 3000}}``).
        callback: An SB3 callback (or list) run during ``learn`` besides the checkpoints.
        **hyper: ``n_envs`` (env copies) and SB3 constructor arguments; they override
            :data:`DEFAULTS`.

    Returns:
        The trained model, an SB3 ``PPO`` or ``DQN`` with an attribute of its own,
        ``model.train_seconds``: the seconds ``learn`` took.
    """
    check_preset_reward(preset, reward)
    if algo not in DEFAULTS:
        raise ConfigError(f"algo: expected 'ppo' or 'dqn', got {algo!r}")
    if policy not in POLICIES:
        raise ConfigError(f"policy: expected one of {', '.join(POLICIES)}, got {policy!r}")
    if not 0.0 <= gamma <= 1.0:
        raise ConfigError(f"gamma: expected a discount in [0, 1], got {gamma!r}")
    sb3 = _sb3()
    import torch
    from simrec_agents.rl.sb3_policies import CandidateDQNPolicy, CandidatePPOPolicy
    from stable_baselines3.common.callbacks import CheckpointCallback
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    # SB3 samples each slate position independently: repeats take unused candidates.
    kwargs = {
        "preset": preset,
        "reward": reward,
        "render_mode": None,
        "slate_duplicates": "fill",
        **(env_kwargs or {}),
    }
    options = DEFAULTS[algo] | hyper
    copies = int(options.pop("n_envs"))
    venv = make_vec_env(ENV_ID, n_envs=copies, seed=seed, env_kwargs=kwargs)
    classes = {"ppo": (sb3.PPO, CandidatePPOPolicy), "dqn": (sb3.DQN, CandidateDQNPolicy)}
    cls, candidate_policy = classes[algo]
    model = cls(
        candidate_policy if policy == "candidate" else "MultiInputPolicy",
        venv,
        seed=seed,
        gamma=gamma,
        device="cpu",
        tensorboard_log=None if logdir is None else str(logdir),
        **options,
    )
    callbacks = (
        [] if callback is None else list(callback if isinstance(callback, list) else [callback])
    )
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
            "sha256": hashlib.sha256((out / "policy.zip").read_bytes()).hexdigest(),
            "algo": algo,
            "env_id": ENV_ID,
            "preset": preset,
            "reward": reward,
            "timesteps": timesteps,
            "seed": seed,
            "gamma": gamma,
            "policy": policy,
            "hyperparameters": options | {"n_envs": copies},
            "train_seconds": seconds,
            "env_kwargs": env_kwargs or {},
        }
        (out / "meta.json").write_text(json.dumps(meta, indent=1, default=_plain))
    model.train_seconds = seconds
    return model


def _plain(obj: Any) -> Any:
    """JSON form of a config object in ``meta.json``."""
    return to_dict(obj) if dataclasses.is_dataclass(obj) else str(obj)


def read_verified(path: str, sha256: str | None) -> bytes:
    """The bytes of a policy file whose sha256 is ``sha256`` (see the module docstring).

    Raises:
        ConfigError: No file, no ``sha256`` given, or a file with another hash.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError(f"path: cannot read the policy file {path!r} ({err.strerror})") from None
    actual = hashlib.sha256(data).hexdigest()
    if sha256 is None:
        raise ConfigError(
            f"sha256: loading the policy file {path!r} runs code stored in it (pickled "
            f"objects), so the scenario must pin its sha256; this file's is {actual} -- add "
            f"`sha256: {actual}` to the agent's params only if you trust the file"
        )
    if actual != sha256.lower():
        raise ConfigError(
            f"sha256: the policy file {path!r} has sha256 {actual}, the scenario expects "
            f"{sha256}; the file changed since it was pinned (refusing to load it)"
        )
    return data


class _SB3Agent(Agent):
    """A trained SB3 policy serving population requests (see the module docstring).

    Args:
        path: A ``policy.zip`` written by :func:`train_policy` (or ``model.save``).
        sha256: The sha256 of ``path`` (required with ``path``; in ``meta.json``).
        preset: Env preset to train on when no ``path`` is given, or ``"scenario"``: the env
            built from the run's own configuration (world, user model, dynamics, slate
            size, candidates).
        reward: Training reward when no ``path`` is given.
        timesteps: Training steps when no ``path`` is given.
        deterministic: Greedy actions (else sampled from the policy).
        train: Other :func:`train_policy` options. The folders it writes, ``out`` (the
            policy, its ``meta.json`` and checkpoints) and ``logdir`` (TensorBoard), are
            paths relative to the run's output folder
            (:attr:`~simrec.agent.AgentContext.output_dir`: under ``simrec run``,
            ``<out>/agent-files/<label>/<seed>/``); an absolute path, ``..`` or a symbolic
            link leading out of it is refused (:data:`WRITES`).
    """

    algo: ClassVar[str] = ""

    def __init__(
        self,
        path: str | None = None,
        sha256: str | None = None,
        preset: str = "long_term_satisfaction",
        reward: Any = "click",
        timesteps: int = 50_000,
        deterministic: bool = True,
        train: dict[str, Any] | None = None,
    ) -> None:
        check_preset_reward(preset, reward)
        if not isinstance(timesteps, int) or timesteps < 1:
            raise ConfigError(f"timesteps: expected a positive integer, got {timesteps!r}")
        if not isinstance(deterministic, bool):
            raise ConfigError(f"deterministic: expected true or false, got {deterministic!r}")
        if sha256 is not None and not (
            isinstance(sha256, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha256)
        ):
            raise ConfigError(f"sha256: expected 64 hexadecimal digits, got {sha256!r}")
        if path is not None:
            read_verified(path, sha256)
        self.path, self.sha256, self.preset, self.reward = path, sha256, preset, reward
        self.timesteps, self.deterministic = timesteps, deterministic
        self.train_options = dict(train or {})
        if "tensorboard_log" in self.train_options:
            raise ConfigError(
                "train.tensorboard_log: set train.logdir instead (a path relative to the "
                f"run's output folder), got {self.train_options['tensorboard_log']!r}"
            )
        for key in WRITES:
            if self.train_options.get(key) is not None:
                check_output_path(f"train.{key}", self.train_options[key])
        self.train_seconds = 0.0

    def _load(self) -> BaseAlgorithm:
        """The policy at ``path``, loaded from bytes whose sha256 was just checked."""
        assert self.path is not None  # called only for an agent with a policy file
        sb3 = _sb3()
        cls = sb3.PPO if self.algo == "ppo" else sb3.DQN
        return cls.load(io.BytesIO(read_verified(self.path, self.sha256)), device="cpu")

    def check(self, context: AgentContext) -> None:
        """The policy (loaded, or the one training would give) fits the scenario."""
        if self.path is not None:
            shape = _model_shape(self._load())
        else:
            preset, kwargs = training_env(
                self.preset, context, self.train_options.get("env_kwargs")
            )
            shape = env_shape(preset, self.reward, kwargs)
            if self.algo == "dqn" and shape["slate_size"] != 1:
                raise ConfigError(
                    f"preset: sb3-dqn needs a Discrete action (slate size 1); preset "
                    f"{self.preset!r} builds slates of {shape['slate_size']}"
                )
        check_fits(shape, context, f"this {self.name} policy")

    def setup(self, context: AgentContext) -> None:
        """Load or train the policy; check it fits the scenario; build the observer."""
        super().setup(context)
        self.model: BaseAlgorithm
        if self.path is not None:
            self.model = self._load()
        else:
            seed = int(self.rng.integers(0, 2**31))
            preset, kwargs = training_env(
                self.preset, context, self.train_options.get("env_kwargs")
            )
            options = {**self.train_options, "env_kwargs": kwargs}
            for key in WRITES:  # inside the run's own folder (checked, links followed)
                if options.get(key) is not None:
                    options[key] = context.output_path(f"train.{key}", options[key])
            model = train_policy(self.algo, preset, self.reward, self.timesteps, seed, **options)
            self.model = model
            self.train_seconds = model.train_seconds
        shape = _model_shape(self.model)
        check_fits(shape, context, f"this {self.name} policy")
        self.observer = PopulationObservation(
            context.world, shape["candidates"], shape["history_length"]
        )

    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """One batched ``predict`` over the requests' observations."""
        obs = self.observer(batch)
        candidates = batch.candidates
        assert candidates is not None  # the observer refuses a batch without candidates
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        idx = np.asarray(action, dtype=np.int64).reshape(len(batch), -1)
        idx = _distinct(idx, candidates.shape[1])
        return np.take_along_axis(candidates, idx, axis=1)

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


def _model_shape(model: BaseAlgorithm) -> dict[str, int]:
    """C, K, L and G of a trained SB3 model, read from its spaces."""
    space, action = model.observation_space, space_shape(model.action_space)
    return {
        "candidates": int(space_shape(space, "candidates")[0]),
        "slate_size": 1 if action == () else int(action[0]),
        "history_length": int(space_shape(space, "history")[0]),
        "n_genres": int(space_shape(space, "profile")[0]) - 1,
    }


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
    """A stable-baselines3 PPO policy trained on a simrec env, serving the population."""

    name = "sb3-ppo"
    algo = "ppo"
    #: check_agent: 64 PPO steps in the check's own world, over 10 candidates.
    check_agent_params: ClassVar[dict[str, Any]] = {
        "preset": "scenario",
        "timesteps": 64,
        "train": {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1},
    }
    check_agent_settings: ClassVar[dict[str, Any]] = {"simulation.candidates": 10}


class SB3DQNAgent(_SB3Agent):
    """A stable-baselines3 DQN policy (slate size 1) trained on a simrec env, serving."""

    name = "sb3-dqn"
    algo = "dqn"
    #: check_agent: 64 DQN steps in the check's own world, one of 10 candidates per slate.
    check_agent_params: ClassVar[dict[str, Any]] = {
        "preset": "scenario",
        "timesteps": 64,
        "train": {"learning_starts": 16, "buffer_size": 1000},
    }
    check_agent_settings: ClassVar[dict[str, Any]] = {
        "simulation.candidates": 10,
        "simulation.slate_size": 1,
    }
