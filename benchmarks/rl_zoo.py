"""The RL reference table: every env x every learner that fits it x training seeds.

    python benchmarks/rl_zoo.py --out results/rl_zoo                # the whole grid, 3 seeds
    python benchmarks/rl_zoo.py --out results/rl_zoo --env simrec/InterestEvolution-v0
    python benchmarks/rl_zoo.py --out results/rl_zoo --report-only  # table + figure again

Each finished cell (learner, seed, env) is written to ``OUT/cells/*.json`` as soon as it
ends (atomically); a stopped run started again skips the cells already there. At the end
``OUT/table.md`` holds the table (the one in ``docs/rl.md``) and ``OUT/curves.png`` the
learning curves (training-episode return against env steps, mean over seeds).
What is trained and how it is compared: ``simrec_agents.rl.zoo``.
Expected runtime: ~35 minutes for the whole grid on 2 cores (2 workers).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def curves_figure(cells: list[dict], path: Path) -> None:
    """Training-episode return against env steps, mean over seeds, one panel per env."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({c["env"] for c in cells if c.get("curve")})
    if not envs:
        return
    fig, axes = plt.subplots(1, len(envs), figsize=(4.2 * len(envs), 3.4), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        labels = sorted({c["label"] for c in cells if c["env"] == env and c.get("curve")})
        for label in labels:
            cs = [c for c in cells if c["env"] == env and c["label"] == label]
            steps = cs[0]["steps"]
            edges = np.linspace(0, steps, 21)
            per_seed = []
            for c in cs:
                x = np.array([p[0] for p in c["curve"]])
                y = np.array([p[1] for p in c["curve"]])
                idx = np.digitize(x, edges[1:-1])
                per_seed.append(
                    [y[idx == i].mean() if (idx == i).any() else np.nan for i in range(20)]
                )
            mid = (edges[:-1] + edges[1:]) / 2
            y = np.array(per_seed, dtype=float)
            seen = ~np.isnan(y).all(axis=0)  # bins where some seed finished an episode
            mean = np.nanmean(y[:, seen], axis=0)
            ax.plot(mid[seen], mean, label=f"{label} ({cs[0]['train_reward']})")
        ax.set_title(env.split("/")[-1], fontsize=10)
        ax.set_xlabel("env steps")
        ax.set_ylabel("training-episode return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    from simrec_agents.rl import zoo

    from simrec.errors import ConfigError

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="results/rl_zoo")
    p.add_argument("--env", action="append", default=None, help="env id (repeatable)")
    p.add_argument("--learner", action="append", default=None, help="learner label (repeatable)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per learner")
    p.add_argument("--episodes", type=int, default=2000, help="evaluation users per env")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--steps", type=int, default=None, help="training steps of every learner (another --out)"
    )
    p.add_argument("--report-only", action="store_true")
    a = p.parse_args(argv)
    out = Path(a.out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    envs = a.env or list(zoo.GRID)
    try:
        cells = zoo.run_grid(
            out,
            envs,
            a.learner,
            a.seeds,
            a.episodes,
            a.workers,
            steps=a.steps,
            run=not a.report_only,
        )
    except ConfigError as err:
        sys.exit(f"error: {err}")
    table = zoo.summarise(cells)
    md = zoo.markdown(table, cells)
    (out / "table.md").write_text(md + "\n")
    curves_figure(cells, out / "curves.png")
    print(md)
    return table


if __name__ == "__main__":
    main()
