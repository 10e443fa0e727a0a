"""Throughput of the gymnasium envs: single env, native vector env and sync vector env.

    python benchmarks/vector_env.py                 # table of medians
    python benchmarks/vector_env.py --json out.json --repeats 5

Steps/s count sub-env steps (one request served to one user). The native and sync vector
envs are measured in the same process, on the same id, seed and random actions, so their
ratio is a like-for-like comparison on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import gymnasium as gym
import numpy as np

import simrec  # noqa: F401 - registers the envs

warnings.filterwarnings("ignore", category=UserWarning)


def single(env_id: str, steps: int) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    t = time.perf_counter()
    for _ in range(steps):
        if any(env.step(env.action_space.sample())[2:4]):
            env.reset()
    return steps / (time.perf_counter() - t)


def vector(env_id: str, mode: str, num_envs: int, steps: int) -> float:
    kw = {} if mode == "native" else {"vectorization_mode": "sync"}
    env = gym.make_vec(env_id, num_envs=num_envs, **kw)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n = env.single_action_space.n
    acts = [rng.integers(0, n, size=num_envs) for _ in range(steps)]
    t = time.perf_counter()
    for a in acts:
        env.step(a)
    return num_envs * steps / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="simrec/UserLifetime-v0")
    p.add_argument("--num-envs", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--single-steps", type=int, default=3000)
    p.add_argument("--native-steps", type=int, default=50)
    p.add_argument("--sync-steps", type=int, default=3)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    runs = {
        "single": [single(a.env, a.single_steps) for _ in range(a.repeats)],
        "native": [vector(a.env, "native", a.num_envs, a.native_steps) for _ in range(a.repeats)],
        "sync": [vector(a.env, "sync", a.num_envs, a.sync_steps) for _ in range(a.repeats)],
    }
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "env": a.env,
        "num_envs": a.num_envs,
        "repeats": a.repeats,
        "runs": runs,
        "median_steps_per_s": med,
        "native_over_sync": med["native"] / med["sync"],
    }
    print(f"{a.env}, {a.num_envs} sub-envs, median of {a.repeats} runs (steps/s):")
    for k in ("single", "native", "sync"):
        print(f"  {k:7s} {med[k]:>12,.0f}")
    print(f"  native / sync = {result['native_over_sync']:.1f}x")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return result


if __name__ == "__main__":
    main()
