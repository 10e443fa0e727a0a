"""Offline RL from logged data: export a policy's trajectories as a Minari dataset, clone it.

Question: from nothing but the logs of a recommender that saw more than the logs hold (the
myopic oracle: it ranks by the users' true click utility), how much of its clicks does a
behaviour-cloning policy trained on the observable features recover?
Units: clicks and long-term return per user life, retention at the 60-day horizon, mean ±
95% CI over 1,000 held-out users (env seeds 10,000+, none in the dataset), the same users
for every policy. Expected runtime: ~1 minute on 2 cores with the defaults.

    python scenarios/offline_bc.py                              # LTS, myopic-oracle logs
    python scenarios/offline_bc.py --behaviour popularity --episodes 300 --root /tmp/minari

The dataset is written under `--root` (default: Minari's own folder, ~/.minari/datasets) as
`simrec/<env>-<behaviour>-v0`; load it again with `minari.load_dataset(id)` (with
MINARI_DATASETS_PATH=<root>) or `simrec_agents.rl.offline.load_dataset(id, root)`.
Schema: `simrec_agents.rl.offline` and docs/rl.md. Needs the ``rl`` extra.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> dict:
    """Collect, clone, evaluate; returns ``{policy: summary}`` and the dataset."""
    from simrec_agents.rl import offline
    from simrec_agents.rl.evaluate import evaluate_policy, random_policy

    import simrec  # noqa: F401 - registers the envs
    from simrec.envs import ENV_IDS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="simrec/LongTermSatisfaction-v0", choices=list(ENV_IDS))
    p.add_argument("--behaviour", default="myopic-oracle", choices=offline.BEHAVIOURS)
    p.add_argument("--episodes", type=int, default=500, help="logged user lives")
    p.add_argument("--epochs", type=int, default=20, help="behaviour-cloning epochs")
    p.add_argument("--eval-users", type=int, default=1000)
    p.add_argument("--root", default=None, help="dataset folder (default: a temporary one)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    root = a.root or tempfile.mkdtemp(prefix="simrec-minari-")
    name = a.env.split("/")[-1].removesuffix("-v0").lower()
    dataset_id = f"simrec/{name}-{a.behaviour}-v0"
    t0 = time.perf_counter()
    dataset = offline.collect_dataset(dataset_id, a.env, a.behaviour, a.episodes, a.seed, root=root)
    t1 = time.perf_counter()
    policy, losses = offline.train_bc(dataset, epochs=a.epochs, seed=a.seed)
    t2 = time.perf_counter()
    print(
        f"{dataset_id}: {dataset.total_episodes} user lives, {dataset.total_steps:,} steps, "
        f"written to {root} in {t1 - t0:.1f} s; behaviour cloning {a.epochs} epochs in "
        f"{t2 - t1:.1f} s (loss {losses[0]:.3f} -> {losses[-1]:.3f})"
    )
    preset = ENV_IDS[a.env]
    seed = 10_000
    rows = {}
    for label, pol in (
        ("random", random_policy(seed)),
        (f"{a.behaviour} (logging)", offline.behaviour_policy(a.behaviour, a.seed)),
        ("behaviour cloning", policy),
    ):
        own = evaluate_policy(pol, preset, "click", a.eval_users, seed, slate_duplicates="fill")
        rows[label] = own.summary()
    print(f"{'policy':26s} {'clicks':>15s} {'retention':>15s} {'days':>15s}")
    for label, s in rows.items():
        print(
            f"{label:26s} {s['clicks'][0]:>8.2f} ± {s['clicks'][1]:<4.2f} "
            f"{s['retention'][0]:>8.3f} ± {s['retention'][1]:<4.3f} "
            f"{s['days'][0]:>8.1f} ± {s['days'][1]:<4.1f}"
        )
    return {"rows": rows, "dataset": dataset, "losses": losses}


if __name__ == "__main__":
    main()
