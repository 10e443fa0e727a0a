"""stable-baselines3 trains on the simrec envs unmodified (needs the ``rl`` extra)."""

import runpy
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="needs the rl extra: pip install 'simrec[rl]'")

import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


TRAIN = runpy.run_path(str(REPO / "scenarios" / "train_ppo.py"))


@pytest.mark.parametrize("env_id", ["simrec/UserLifetime-v0", "simrec/Retention-v0"])
def test_sb3_env_checker_accepts_the_envs(env_id):
    sb3_check_env(gym.make(env_id).unwrapped, warn=False)


def test_observations_are_of_order_one():
    """No feature needs a normalisation wrapper: every value is within a few units of 0."""
    env = gym.make_vec("simrec/LongTermSatisfaction-v0", num_envs=64)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    biggest = {k: 0.0 for k in obs}
    for _ in range(300):
        obs, *_ = env.step(rng.integers(0, 10, 64))
        for k, v in obs.items():
            biggest[k] = max(biggest[k], float(np.abs(v).max()))
    assert all(v < 10.0 for v in biggest.values()), biggest
    assert biggest["context"] > 1.0  # not all zero: days and visits on a log scale


@pytest.mark.slow
def test_ppo_with_the_documented_defaults_beats_random(tmp_path):
    # The example script with its defaults (UserLifetime-v0, 30k steps, gamma 0.99): what a
    # new user runs first. Both policies meet the same 300 held-out users.
    out = TRAIN["main"](["--episodes", "300"])
    (ppo, ppo_ci), (rand, rand_ci) = out["ppo"]["reward"], out["random"]["reward"]
    assert ppo - ppo_ci > rand + rand_ci, (ppo, rand)
    model = out["model"]
    model.save(tmp_path / "ppo.zip")
    again = PPO.load(tmp_path / "ppo.zip", device="cpu")
    obs, _ = gym.make("simrec/UserLifetime-v0").reset(seed=1)
    assert again.predict(obs, deterministic=True)[0] == model.predict(obs, deterministic=True)[0]


def test_candidate_scorer_scores_each_candidate_with_one_network():
    """Permuting the candidates permutes the PPO logits and the DQN Q-values alike."""
    from simrec_agents.rl.sb3 import train_policy

    for algo, preset in (("ppo", "interest_evolution"), ("dqn", "long_term_satisfaction")):
        model = train_policy(
            algo,
            preset,
            timesteps=64,
            n_envs=1,
            **({"n_steps": 64, "batch_size": 64} if algo == "ppo" else {"learning_starts": 32}),
            env_kwargs={"env": {"warmup_users": 0}},
        )
        env = gym.make_vec(
            f"simrec/{'InterestEvolution' if algo == 'ppo' else 'LongTermSatisfaction'}-v0",
            num_envs=4,
            env={"warmup_users": 0},
        )
        obs, _ = env.reset(seed=3)
        perm = np.random.default_rng(0).permutation(obs["candidates"].shape[1])
        shuffled = dict(obs, candidates=obs["candidates"][:, perm])
        policy = model.policy
        with torch.no_grad():
            t, _ = policy.obs_to_tensor(obs)
            u, _ = policy.obs_to_tensor(shuffled)
            if algo == "ppo":
                a = policy.get_distribution(t).distribution[0].logits
                b = policy.get_distribution(u).distribution[0].logits
            else:
                a, b = policy.q_net(t), policy.q_net(u)
        np.testing.assert_allclose(b.numpy(), a.numpy()[:, perm], rtol=1e-5, atol=1e-6)


def test_dqn_trains_on_the_discrete_variant(tmp_path):
    from simrec_agents.rl.sb3 import train_policy

    model = train_policy(
        "dqn", "long_term_satisfaction", timesteps=600, learning_starts=100, buffer_size=2000
    )
    env = gym.make("simrec/LongTermSatisfaction-v0")
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
    model.save(tmp_path / "dqn.zip")
    again = DQN.load(tmp_path / "dqn.zip", device="cpu")
    assert again.predict(obs, deterministic=True)[0] == action


def test_sb3_own_multi_input_policy_still_trains():
    venv = make_vec_env(
        "simrec/LongTermSatisfaction-v0", n_envs=1, seed=0, env_kwargs={"render_mode": None}
    )
    model = PPO("MultiInputPolicy", venv, seed=0, n_steps=64, batch_size=64, device="cpu")
    model.learn(64)
    obs, _ = gym.make("simrec/LongTermSatisfaction-v0").reset(seed=0)
    assert 0 <= int(model.predict(obs, deterministic=True)[0]) < 10


@pytest.mark.slow  # a fresh interpreter importing torch and stable-baselines3: 7-9 s
def test_training_script_runs():
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "scenarios" / "train_ppo.py"),
            "--timesteps",
            "256",
            "--episodes",
            "2",
            "--n-envs",
            "2",
            "--n-steps",
            "64",
            "--batch-size",
            "64",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(REPO)},
    )
    assert "random :" in out.stdout and "ppo    :" in out.stdout and "gamma 0.99" in out.stdout
