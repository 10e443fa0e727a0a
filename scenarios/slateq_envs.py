"""SlateQ vs its myopic twin vs random on the simrec gymnasium envs, over training seeds.

Question: on `simrec/InterestEvolution-v0` (slate of 2 from 10, engagement reward) is SlateQ
at least as good as the myopic agent (the same learner with gamma = 0), and both better than
random? On `simrec/LongTermSatisfaction-v0` (50% clickbait), does SlateQ trained for a
long-term reward keep more users (retention at the 60-day horizon, lifetime engagement) than
the same learner trained for clicks with gamma = 0?
Units: mean episode reward (the env's reward, per user life); retention = share of users not
churned at the horizon; engagement in minutes per user life. Each learner is trained with
`--seeds` training seeds and evaluated on the same 500 users (same env seeds) per training
seed; the table gives the mean over training seeds with a 95% t-interval across them.
Expected runtime: ~6 minutes on 2 cores with the defaults (100k env steps per training).

    python scenarios/slateq_envs.py                       # both envs, 3 training seeds
    python scenarios/slateq_envs.py --env interest_evolution --steps 50000 --seeds 2

Needs the ``torch`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

#: (label, training reward, gamma) per env preset; evaluation uses the env's own reward.
SETUPS = {
    "interest_evolution": [
        ("slateq", "engagement", 0.9),
        ("myopic", "engagement", 0.0),
    ],
    "long_term_satisfaction": [
        ("slateq-long-term", "long-term", 0.99),
        ("myopic-click", "click", 0.0),
    ],
}
EVAL_REWARD = {"interest_evolution": "engagement", "long_term_satisfaction": "click"}


def t_ci(x: list[float]) -> tuple[float, float]:
    """Mean and 95% t half-width over training seeds."""
    from simrec.runner.results import t_quantile_975

    a = np.asarray(x, dtype=float)
    if len(a) < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), float(t_quantile_975(len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a)))


def run(preset: str, steps: int, seeds: int, episodes: int) -> dict[str, dict[str, list[float]]]:
    """Train every learner of ``preset`` on each training seed; evaluate; add random."""
    from simrec_agents.rl.evaluate import evaluate_policy
    from simrec_agents.rl.slateq import greedy_policy, train_slateq

    results: dict[str, dict[str, list[float]]] = {}
    reward = EVAL_REWARD[preset]
    for label, train_reward, gamma in SETUPS[preset]:
        for seed in range(seeds):
            t0 = time.perf_counter()
            net, spec, stats = train_slateq(
                preset, train_reward, steps=steps, gamma=gamma, seed=seed
            )
            out = evaluate_policy(greedy_policy(net, spec["slate_size"]), preset, reward, episodes)
            row = results.setdefault(label, {})
            for k, (m, _) in out.summary().items():
                row.setdefault(k, []).append(m)
            row.setdefault("train_seconds", []).append(stats.seconds)
            print(f"  {preset} {label} seed {seed}: {time.perf_counter() - t0:.1f} s", flush=True)
    rng = np.random.default_rng(0)
    k = 2 if preset == "interest_evolution" else 1

    def random_policy(obs: dict) -> np.ndarray:
        B, C = obs["candidates"].shape[:2]
        idx = np.argsort(rng.random((B, C)), axis=1)[:, :k]
        return idx[:, 0] if k == 1 else idx

    out = evaluate_policy(random_policy, preset, reward, episodes)
    results["random"] = {key: [m] for key, (m, _) in out.summary().items()}
    return results


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", choices=[*SETUPS, "both"], default="both")
    p.add_argument("--steps", type=int, default=100_000, help="env steps per training")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per learner")
    p.add_argument("--episodes", type=int, default=500, help="evaluation users")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    presets = list(SETUPS) if a.env == "both" else [a.env]
    everything = {}
    for preset in presets:
        res = run(preset, a.steps, a.seeds, a.episodes)
        everything[preset] = res
        print(
            f"\n{preset}: {a.steps:,} env steps per training, {a.seeds} training seeds, "
            f"{a.episodes} evaluation users (mean ± 95% CI over training seeds)"
        )
        print(
            f"{'policy':18s} {'episode reward':>18s} {'retention':>16s} {'engagement':>18s} "
            f"{'train s':>8s}"
        )
        for label, row in res.items():
            r, e, ret = t_ci(row["reward"]), t_ci(row["engagement"]), t_ci(row["retention"])
            train = np.mean(row.get("train_seconds", [0.0]))
            print(
                f"{label:18s} {r[0]:>9.3f} ± {r[1]:<6.3f} {ret[0]:>8.3f} ± {ret[1]:<5.3f} "
                f"{e[0]:>9.2f} ± {e[1]:<6.2f} {train:>8.1f}"
            )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(everything, fh, indent=1)
    return everything


if __name__ == "__main__":
    main()
