"""Train stable-baselines3 on a simrec gymnasium env and compare it with a random policy.

Question: does an unmodified SB3 agent learn to recommend better than random on a simrec
env? Units: mean reward per user life (the training reward) over evaluation users, with its
95% CI; both policies meet the same users (same env seeds), unseen in training.
Expected runtime: ~1 minute for PPO on `simrec/UserLifetime-v0` with the defaults on 2 cores
(30k steps; `docs/rl.md` has the reference table for every env).

    python scenarios/train_ppo.py                                   # PPO, UserLifetime-v0
    python scenarios/train_ppo.py --algo dqn                        # DQN on Discrete(C)
    python scenarios/train_ppo.py --env simrec/LongTermSatisfaction-v0 --reward long-term \\
        --timesteps 100000 --gamma 0.99 --out policies/ppo_lts --logdir runs/tb
    # then in a scenario:  - name: sb3-ppo
    #                         params: {path: policies/ppo_lts/policy.zip,
    #                                  sha256: <"sha256" of policies/ppo_lts/meta.json>}

Every training setting is a flag; the defaults are `simrec_agents.rl.sb3.DEFAULTS` and
gamma = 0.99 (long-term rewards need a discount near 1; `--gamma 0` is the myopic learner).
Observations are already of order one (log-scaled context and ages, popularity relative to
the prior CTR): no `VecNormalize` is needed. `--policy mlp` trains SB3's own
`MultiInputPolicy` instead of the candidate-scoring policy.

Needs the ``rl`` extra (torch 2.13.0 CPU and stable-baselines3).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

import simrec  # noqa: F401 - registers the envs
from simrec.envs import ENV_IDS

#: Flag -> SB3 argument, per algorithm (None: the default of simrec_agents.rl.sb3.DEFAULTS).
FLAGS = {
    "ppo": ["n_envs", "n_steps", "batch_size", "n_epochs", "learning_rate", "ent_coef"],
    "dqn": [
        "learning_rate",
        "buffer_size",
        "learning_starts",
        "train_freq",
        "exploration_fraction",
        "target_update_interval",
    ],
}


def main(argv: list[str] | None = None) -> dict:
    """Train, evaluate both policies; returns ``{"seconds", "model", name: summary}``."""
    from simrec_agents.rl.evaluate import evaluate_policy, random_policy
    from simrec_agents.rl.sb3 import GAMMA, train_policy

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="simrec/UserLifetime-v0", choices=list(ENV_IDS))
    p.add_argument("--algo", choices=["ppo", "dqn"], default="ppo")
    p.add_argument("--timesteps", type=int, default=30_000)
    p.add_argument("--reward", default="click", help="click, engagement, return, long-term")
    p.add_argument("--gamma", type=float, default=GAMMA, help="discount (0: myopic)")
    p.add_argument("--policy", choices=["candidate", "mlp"], default="candidate")
    p.add_argument("--episodes", type=int, default=300, help="evaluation users")
    p.add_argument("--seed", type=int, default=0)
    for name in sorted({f for flags in FLAGS.values() for f in flags}):
        kind = float if name in ("learning_rate", "ent_coef", "exploration_fraction") else int
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    p.add_argument("--logdir", default=None, help="TensorBoard log folder (optional)")
    p.add_argument(
        "--out",
        default=None,
        help="folder for policy.zip + meta.json (+ checkpoints/), loadable by sb3-ppo/sb3-dqn",
    )
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints")
    args = p.parse_args(argv)
    preset = ENV_IDS[args.env]
    hyper = {k: getattr(args, k) for k in FLAGS[args.algo] if getattr(args, k) is not None}
    model = train_policy(
        args.algo,
        preset,
        args.reward,
        args.timesteps,
        args.seed,
        out=args.out,
        logdir=args.logdir,
        checkpoint_every=args.checkpoint_every,
        gamma=args.gamma,
        policy=args.policy,
        **hyper,
    )

    def trained(obs: dict) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    t0 = time.perf_counter()
    seed = 10_000 + args.seed  # evaluation users no training episode met
    kw = {"slate_duplicates": "fill"}
    rows = {
        "random": evaluate_policy(
            random_policy(seed), preset, args.reward, args.episodes, seed, **kw
        ),
        args.algo: evaluate_policy(trained, preset, args.reward, args.episodes, seed, **kw),
    }
    print(
        f"{args.algo} on {args.env}, reward {args.reward}, gamma {args.gamma}: "
        f"{args.timesteps:,} steps in {model.train_seconds:.1f} s "
        f"(evaluation {time.perf_counter() - t0:.1f} s, {args.episodes} users)"
    )
    out: dict = {"seconds": model.train_seconds, "model": model}
    for name, outcome in rows.items():
        s = outcome.summary()
        print(
            f"  {name:7s}: reward {s['reward'][0]:.2f} ± {s['reward'][1]:.2f} per user life, "
            f"retention {s['retention'][0]:.3f} ± {s['retention'][1]:.3f}"
        )
        out[name] = s
    return out


if __name__ == "__main__":
    main()
