"""Train stable-baselines3 on a simrec gymnasium env and compare it with a random policy.

Question: does an unmodified SB3 agent learn to recommend better than random on a simrec
env? (Units: mean episode reward over evaluation episodes, with its standard error.)
Expected runtime: ~25 s for PPO on the `learnable` preset with the defaults on 2 cores.

    python scenarios/train_ppo.py                                   # PPO, learnable preset
    python scenarios/train_ppo.py --algo dqn --timesteps 20000      # DQN on Discrete(C)
    python scenarios/train_ppo.py --env simrec/LongTermSatisfaction-v0 --preset "" \
        --timesteps 50000 --reward long-term --out policies/ppo_lts_longterm \
        --logdir runs/tb --checkpoint-every 10000
    # then in a scenario:  - name: sb3-ppo
    #                         params: {path: policies/ppo_lts_longterm/policy.zip,
    #                                  sha256: <"sha256" of policies/ppo_lts_longterm/meta.json>}

Needs the ``rl`` extra (torch 2.13.0 CPU and stable-baselines3).
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np

import simrec  # noqa: F401 - registers the envs
from simrec.envs import ENV_IDS


def evaluate(env_id: str, kwargs: dict, policy, episodes: int, seed: int) -> tuple[float, float]:
    """Mean and standard error of the episode reward of ``policy(obs, env) -> action``."""
    env = gym.make(env_id, **kwargs)
    env.action_space.seed(seed)
    totals = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs, env))
            total += reward
            done = terminated or truncated
        totals.append(total)
    return float(np.mean(totals)), float(np.std(totals, ddof=1) / np.sqrt(len(totals)))


def train(env_id: str, kwargs: dict, algo: str, timesteps: int, seed: int, logdir: str | None):
    """Train PPO or DQN with SB3 on the env (the library's :func:`train_policy`)."""
    from simrec_agents.rl.sb3 import train_policy

    preset = kwargs.get("preset") or ENV_IDS[env_id]
    extra = {k: v for k, v in kwargs.items() if k not in ("preset", "render_mode", "reward")}
    return train_policy(
        algo,
        preset,
        kwargs.get("reward", "click"),
        timesteps,
        seed,
        logdir=logdir,
        gamma=0.5,
        env_kwargs=extra,
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="simrec/UserLifetime-v0")
    p.add_argument("--preset", default="learnable", help="preset kwarg ('' for the id's own)")
    p.add_argument("--algo", choices=["ppo", "dqn"], default="ppo")
    p.add_argument("--timesteps", type=int, default=15_000)
    p.add_argument("--episodes", type=int, default=30, help="evaluation episodes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logdir", default=None, help="TensorBoard log folder (optional)")
    p.add_argument("--reward", default="click", help="click, engagement, return, long-term")
    p.add_argument("--save", default=None, help="save the trained policy (SB3 .zip)")
    p.add_argument(
        "--out",
        default=None,
        help="folder for policy.zip + meta.json (+ checkpoints/), loadable by sb3-ppo/sb3-dqn",
    )
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints")
    args = p.parse_args(argv)
    kwargs = {"preset": args.preset} if args.preset else {}
    kwargs["reward"] = args.reward
    kwargs["render_mode"] = None  # SB3 asks for rgb_array by default; simrec renders nothing
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    t0 = time.perf_counter()
    if args.out:
        from simrec_agents.rl.sb3 import train_policy

        model = train_policy(
            args.algo,
            args.preset or ENV_IDS[args.env],
            args.reward,
            args.timesteps,
            args.seed,
            out=args.out,
            logdir=args.logdir,
            checkpoint_every=args.checkpoint_every,
            gamma=0.5,
        )
    else:
        model = train(args.env, kwargs, args.algo, args.timesteps, args.seed, args.logdir)
    seconds = time.perf_counter() - t0
    eval_seed = 10_000 + args.seed
    rand = evaluate(
        args.env, kwargs, lambda obs, env: env.action_space.sample(), args.episodes, eval_seed
    )
    trained = evaluate(
        args.env,
        kwargs,
        lambda obs, env: model.predict(obs, deterministic=True)[0],
        args.episodes,
        eval_seed,
    )
    print(
        f"{args.algo} on {args.env} ({args.preset or 'default'} preset), "
        f"{args.timesteps} steps in {seconds:.1f} s"
    )
    print(f"  random : {rand[0]:.2f} ± {rand[1]:.2f} mean episode reward")
    print(f"  {args.algo:7s}: {trained[0]:.2f} ± {trained[1]:.2f}")
    if args.save:
        model.save(args.save)
    return {"random": rand[0], args.algo: trained[0], "seconds": seconds}


if __name__ == "__main__":
    main()
