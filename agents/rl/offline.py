"""Offline RL: logged trajectories of a simrec env as a Minari dataset, and behaviour cloning.

:func:`collect_dataset` runs a behaviour policy for ``episodes`` user lives of a registered
env (side by side on its native vector env) and writes them with Minari's
``create_dataset_from_buffers`` as a Minari dataset (Arrow format) under ``root``
(Minari's ``MINARI_DATASETS_PATH``, ``~/.minari/datasets`` if not given). Schema
of each episode (one user's life, one step per recommendation request):

==================  ===============================================================
``observations``    the env's ``Dict`` observation (``profile``, ``history``, ``context``,
                    ``candidates``; ``docs/envs.md``), one more entry than actions
``actions``         the candidate index (``Discrete(C)``) or K distinct indices
``rewards``         the env's reward of the step (the ``reward`` the env was made with)
``terminations``    the user churned
``truncations``     the next visit fell past the horizon
``infos``           per step: ``clicked``, ``click_position``, ``engagement``, ``revenue``,
                    ``session_ended``, ``return_gap``, ``day``, and the hidden
                    ``satisfaction`` and ``churn_hazard`` (for evaluation only: a
                    learner that reads them sees what no platform sees)
==================  ===============================================================

The dataset's metadata keep the env id and its keyword arguments (``preset``, ``reward``)
so that ``dataset.recover_environment()`` rebuilds the env, the behaviour policy's name
(``algorithm_name``) and, as the reference scores, the mean return of the random policy
and of the oracle on other users.

:func:`train_bc` fits a behaviour-cloning policy on a dataset's (observation, action)
pairs: the candidate-scoring network of :mod:`simrec_agents.rl.sb3_policies`, trained by
cross-entropy over the candidates (each slate position against the same scores).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from simrec.envs import ENV_IDS
from simrec.errors import ConfigError, DependencyNotInstalled

if TYPE_CHECKING:
    from minari import MinariDataset
    from simrec_agents.rl.evaluate import Policy

    from simrec.envs.vector import UserLifetimeVectorEnv

__all__ = [
    "BEHAVIOURS",
    "behaviour_policy",
    "collect_dataset",
    "load_dataset",
    "stack",
    "train_bc",
]

#: Behaviour policies by name (:mod:`simrec_agents.rl.evaluate`).
BEHAVIOURS = ("random", "popularity", "myopic-oracle", "oracle")
#: Info keys recorded per step (zeros at reset: Minari keeps one more info than actions).
INFO_KEYS = (
    "clicked",
    "click_position",
    "engagement",
    "revenue",
    "session_ended",
    "return_gap",
    "day",
    "satisfaction",
    "churn_hazard",
)


def _minari() -> ModuleType:
    try:
        import minari
    except ImportError as err:
        raise DependencyNotInstalled(
            "offline datasets need minari; install it with pip install 'simrec[rl]'"
        ) from err
    return minari


@contextlib.contextmanager
def _root(root: str | Path | None) -> Iterator[None]:
    """Minari reads its dataset folder from the environment: set it for the block only."""
    if root is None:
        yield
        return
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(Path(root).resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def behaviour_policy(name: str, seed: int = 0) -> Policy:
    """The reference policy ``name`` of :data:`BEHAVIOURS` (random: seeded with ``seed``)."""
    from simrec_agents.rl.evaluate import oracle_policy, popularity_policy, random_policy

    if name not in BEHAVIOURS:
        raise ConfigError(
            f"behaviour: unknown behaviour policy {name!r}; known: {', '.join(BEHAVIOURS)}"
        )
    return {
        "random": lambda: random_policy(seed),
        "popularity": popularity_policy,
        "myopic-oracle": lambda: oracle_policy("utility"),
        "oracle": lambda: oracle_policy("value"),
    }[name]()


def collect_dataset(
    dataset_id: str,
    env_id: str = "simrec/LongTermSatisfaction-v0",
    behaviour: str | Policy = "popularity",
    episodes: int = 500,
    seed: int = 0,
    *,
    root: str | Path | None = None,
    reward: str | None = None,
    description: str | None = None,
    reference_episodes: int = 200,
    progress: bool = False,
) -> MinariDataset:
    """Run ``behaviour`` for ``episodes`` user lives on ``env_id``; write a Minari dataset.

    The lives run side by side on the native vector env (sub-env *i* seeded ``seed + i``,
    so the users are those of ``gymnasium.make(env_id).reset(seed=seed + i)``).

    Args:
        dataset_id: Minari id, ``namespace/name-vN`` (e.g. ``simrec/lts-popularity-v0``).
        env_id: A registered simrec env id.
        behaviour: A name of :data:`BEHAVIOURS`, or a callable from a batched observation
            to batched actions (e.g. a trained policy; ``bind(env)`` is called if it has it).
        episodes: User lives; episode *i* starts from env seed ``seed + i``.
        seed: First env seed (and the random behaviour's stream).
        root: Folder of the datasets (Minari's ``MINARI_DATASETS_PATH``).
        reward: The env's reward (default: the env id's own).
        description: Dataset description (a default names env, behaviour and episodes).
        reference_episodes: Users (seeds from ``seed + episodes``) of the reference scores:
            the random policy's mean return (``ref_min_score``) and the oracle's
            (``ref_max_score``).
        progress: Show a progress bar.

    Returns:
        The written ``minari.MinariDataset``.

    Raises:
        ConfigError: Unknown env id or behaviour; a dataset with this id already in ``root``.
    """
    minari = _minari()
    from minari import create_dataset_from_buffers
    from minari.data_collector import EpisodeBuffer

    from simrec.envs.vector import UserLifetimeVectorEnv

    if env_id not in ENV_IDS:
        raise ConfigError(f"env_id: unknown env {env_id!r}; known: {', '.join(ENV_IDS)}")
    if not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"episodes: expected a positive integer, got {episodes!r}")
    kwargs: dict[str, Any] = {"slate_duplicates": "fill"}
    if reward is not None:
        kwargs["reward"] = reward
    name = behaviour if isinstance(behaviour, str) else getattr(behaviour, "__name__", "policy")
    policy = behaviour_policy(behaviour, seed) if isinstance(behaviour, str) else behaviour
    with _root(root):
        if dataset_id in minari.list_local_datasets():
            raise ConfigError(
                f"dataset_id: a dataset {dataset_id!r} already exists in "
                f"{os.environ.get('MINARI_DATASETS_PATH', '~/.minari/datasets')}; choose "
                f"another id or delete it (minari.delete_dataset)"
            )
        env = UserLifetimeVectorEnv(episodes, preset=ENV_IDS[env_id], **kwargs)
        buffers = _rollout(env, policy, seed, progress)
        lo, hi = (
            _mean_return(
                env_id, kwargs, behaviour_policy(b, seed), seed + episodes, reference_episodes
            )
            for b in ("random", "oracle")
        )
        single = gym.make(env_id, render_mode=None, **kwargs)
        return create_dataset_from_buffers(
            dataset_id,
            [EpisodeBuffer(**b) for b in buffers],
            env=single,
            algorithm_name=name,
            observation_space=single.observation_space,
            action_space=single.action_space,
            ref_min_score=lo,
            ref_max_score=hi,
            description=description
            or (
                f"{episodes} user lives of {env_id} under the {name} policy (env seeds "
                f"{seed}..{seed + episodes - 1}); written by simrec_agents.rl.offline"
            ),
            data_format="arrow",
            requirements=["simrec"],
        )


def _rollout(
    env: UserLifetimeVectorEnv, policy: Policy, seed: int, progress: bool
) -> list[dict[str, Any]]:
    """Every sub-env's life to its end under ``policy``; one episode buffer per user."""
    from tqdm.auto import tqdm

    if hasattr(policy, "bind"):
        policy.bind(env)
    n = env.num_envs
    obs, _ = env.reset(seed=seed)
    steps_obs, steps_act, steps_rew, steps_term, steps_trunc, steps_info = [obs], [], [], [], [], []
    live, lives = np.ones(n, bool), []
    bar = tqdm(total=n, disable=not progress, desc="user lives")
    while live.any():
        action = np.asarray(policy(obs))
        obs, r, term, trunc, info = env.step(action)
        lives.append(live.copy())
        steps_obs.append(obs)
        steps_act.append(action)
        steps_rew.append(r)
        steps_term.append(term)
        steps_trunc.append(trunc)
        steps_info.append({k: np.asarray(info[k]) for k in INFO_KEYS})
        ended = live & (term | trunc)
        bar.update(int(ended.sum()))
        live &= ~ended
    bar.close()
    alive = np.array(lives)  # (T, n): the slot was in its episode at step t
    buffers = []
    for i in range(n):
        T = int(alive[:, i].sum())  # an episode's steps are the first T (it never restarts)
        zero = {k: np.zeros(1, steps_info[0][k].dtype) for k in INFO_KEYS}
        buffers.append(
            {
                "id": i,
                "seed": seed + i,
                "observations": {k: np.stack([o[k][i] for o in steps_obs[: T + 1]]) for k in obs},
                "actions": np.stack([a[i] for a in steps_act[:T]]),
                "rewards": np.array([x[i] for x in steps_rew[:T]], np.float64),
                "terminations": np.array([x[i] for x in steps_term[:T]], bool),
                "truncations": np.array([x[i] for x in steps_trunc[:T]], bool),
                # Lists: Minari 0.5.4's Arrow storage cannot read back 1-d info arrays.
                "infos": {
                    k: np.concatenate([zero[k], [d[k][i] for d in steps_info[:T]]]).tolist()
                    for k in INFO_KEYS
                },
            }
        )
    return buffers


def _mean_return(env_id: str, kwargs: dict[str, Any], policy: Policy, seed: int, n: int) -> float:
    from simrec_agents.rl.evaluate import evaluate_policy

    reward = kwargs.get("reward")
    extra = {k: v for k, v in kwargs.items() if k not in ("render_mode", "reward")}
    preset = ENV_IDS[env_id]
    out = evaluate_policy(policy, preset, reward or _env_reward(env_id), n, seed, **extra)
    return float(out.reward.mean())


def _env_reward(env_id: str) -> Any:
    from simrec.envs.lifetime import resolve

    return resolve(ENV_IDS[env_id])[1].reward


def load_dataset(dataset_id: str, root: str | Path | None = None) -> MinariDataset:
    """The Minari dataset ``dataset_id`` under ``root`` (no download)."""
    minari = _minari()
    with _root(root):
        return minari.load_dataset(dataset_id)


def stack(dataset: MinariDataset) -> dict[str, Any]:
    """Every step of a dataset as arrays.

    Keys: ``obs`` (a dict: the observation *before* each action), ``actions``, ``rewards``,
    ``terminations``, ``truncations``, ``episode`` (the episode id of each step).
    """
    parts: dict[str, list[np.ndarray]] = {
        "actions": [],
        "rewards": [],
        "terminations": [],
        "truncations": [],
        "episode": [],
    }
    obs: dict[str, list[np.ndarray]] = {}
    for ep in dataset.iterate_episodes():
        n = len(ep.actions)
        for k, v in ep.observations.items():
            obs.setdefault(k, []).append(np.asarray(v)[:n])
        parts["actions"].append(np.asarray(ep.actions))
        parts["rewards"].append(np.asarray(ep.rewards))
        parts["terminations"].append(np.asarray(ep.terminations))
        parts["truncations"].append(np.asarray(ep.truncations))
        parts["episode"].append(np.full(n, ep.id))
    out: dict[str, Any] = {k: np.concatenate(v) for k, v in parts.items()}
    out["obs"] = {k: np.concatenate(v) for k, v in obs.items()}
    return out


def train_bc(
    dataset: MinariDataset,
    *,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[Policy, list[float]]:
    """Fit a behaviour-cloning policy on a dataset's (observation, action) pairs.

    Returns:
        The policy (greedy top-K of the scores,
        :func:`simrec_agents.rl.reinforce_env.greedy_scores_policy`) and the mean training
        loss of each epoch.
    """
    import torch
    from simrec_agents.cf.torch_util import torch_setup
    from simrec_agents.rl.reinforce_env import greedy_scores_policy
    from simrec_agents.rl.sb3_policies import CandidateScorer

    torch_setup()
    data = stack(dataset)
    obs = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in data["obs"].items()}
    actions = torch.as_tensor(data["actions"], dtype=torch.int64)
    if actions.ndim == 1:
        actions = actions[:, None]
    space = dataset.observation_space
    C, K = space["candidates"].shape[0], actions.shape[1]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        scorer = CandidateScorer(space)
    opt = torch.optim.Adam(scorer.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n, losses = len(actions), []
    for _ in range(epochs):
        order, total = torch.randperm(n, generator=gen), 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            logits = scorer({k: v[idx] for k, v in obs.items()})[:, :C]
            per_position = [
                torch.nn.functional.cross_entropy(logits, actions[idx, j]) for j in range(K)
            ]
            loss = sum(per_position[1:], per_position[0]) / K  # K >= 1: a tensor
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
    return greedy_scores_policy(scorer.eval(), K), losses
