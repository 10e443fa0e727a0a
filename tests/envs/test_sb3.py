"""stable-baselines3 trains on the simrec envs unmodified (needs the ``rl`` extra)."""

import runpy
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("stable_baselines3", reason="needs the rl extra: pip install 'simrec[rl]'")

import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

REPO = Path(__file__).resolve().parents[2]
LEARNABLE = {"preset": "learnable", "render_mode": None}

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


TRAIN = runpy.run_path(str(REPO / "scenarios" / "train_ppo.py"))


def mean_episode_reward(policy, episodes=40, seed=5000):
    return TRAIN["evaluate"]("simrec/UserLifetime-v0", LEARNABLE, policy, episodes, seed)


@pytest.mark.parametrize("env_id", ["simrec/UserLifetime-v0", "simrec/Retention-v0"])
def test_sb3_env_checker_accepts_the_envs(env_id):
    sb3_check_env(gym.make(env_id).unwrapped, warn=False)


@pytest.mark.slow
def test_ppo_learns_to_beat_random(tmp_path):
    # The example script's own training function: the test checks what users run.
    model = TRAIN["train"]("simrec/UserLifetime-v0", LEARNABLE, "ppo", 12_000, 0, None)
    rand, rand_se = mean_episode_reward(lambda obs, env: env.action_space.sample())
    ppo, ppo_se = mean_episode_reward(lambda obs, env: model.predict(obs, deterministic=True)[0])
    # Same users (same reset seeds) for both policies; the gap is several standard errors.
    assert ppo > rand + 2 * (rand_se + ppo_se), (ppo, rand)
    model.save(tmp_path / "ppo.zip")
    again = PPO.load(tmp_path / "ppo.zip", device="cpu")
    obs, _ = gym.make("simrec/UserLifetime-v0", **LEARNABLE).reset(seed=1)
    assert again.predict(obs, deterministic=True)[0] == model.predict(obs, deterministic=True)[0]


def test_dqn_trains_on_the_discrete_variant():
    venv = make_vec_env(
        "simrec/LongTermSatisfaction-v0", n_envs=1, seed=0, env_kwargs={"render_mode": None}
    )
    model = DQN(
        "MultiInputPolicy", venv, seed=0, learning_starts=100, buffer_size=2000, device="cpu"
    )
    model.learn(600)
    env = gym.make("simrec/LongTermSatisfaction-v0")
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))


def test_training_script_runs():
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "scenarios" / "train_ppo.py"),
            "--timesteps",
            "256",
            "--episodes",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(REPO)},
    )
    assert "random :" in out.stdout and "ppo    :" in out.stdout
