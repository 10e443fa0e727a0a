"""The negative control (Lee et al., SIGIR 2022): long-term RL vs a greedy one-step learner,
with the long-term dynamics on and off.

Question: when what a recommendation does to the user lasts (satisfaction moves return
gaps, churn and session length; interests drift; fatigue builds), does a learner trained for
the long term (the `long-term` reward, gamma 0.99) beat its myopic twin (the same algorithm
trained on clicks with gamma 0, a greedy one-step model)? And when nothing lasts
(`long_term_satisfaction_static`: the same catalog, users and choice model with every
lasting effect switched off), is the greedy learner at least as good, as Lee et al. found on
public review data where feedback has little long-term effect?
Units: per user life (60 days), mean over training seeds; the differences are paired on
the same 2,000 held-out users, 95% CIs combining training seeds and users
(`simrec_agents.rl.zoo.compare`). Expected runtime: ~15 minutes on 2 cores (PPO, 3 seeds;
add `--learner dqn --learner dqn-myopic` for ~12 more).

    python scenarios/negative_control.py --out results/negative_control
    python scenarios/negative_control.py --out results/rl_zoo    # reuse the zoo's cells

Each cell is written as it finishes (`OUT/cells/*.json`, shared with benchmarks/rl_zoo.py):
a stopped run resumes. Needs the ``rl`` extra.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

OUTCOMES = {"long_term": "long-term return", "retention": "retention", "clicks": "clicks"}


def main(argv: list[str] | None = None) -> dict:
    """Run (or read) the cells of both worlds; print and return the paired differences."""
    from simrec_agents.rl import zoo

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="results/negative_control")
    p.add_argument("--learner", action="append", default=None, help="default: ppo, ppo-myopic")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--episodes", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="training steps (default: 50k)")
    a = p.parse_args(argv)
    learners = a.learner or ["ppo", "ppo-myopic"]
    worlds = {"on": "simrec/LongTermSatisfaction-v0", "off": zoo.STATIC}
    cells = zoo.run_grid(
        a.out, list(worlds.values()), learners, a.seeds, a.episodes, a.workers, steps=a.steps
    )
    result: dict = {}
    print(
        "long-term learner minus its myopic twin (same users, paired; mean ± 95% CI), "
        f"{a.seeds} training seeds, {a.episodes} users\n"
    )
    print(
        f"{'long-term dynamics':20s} {'pair':22s} "
        + " ".join(f"{v:>20s}" for v in OUTCOMES.values())
    )
    for side, env in worlds.items():
        by: dict[str, list[dict]] = {}
        for c in cells:
            if c["env"] == env:
                by.setdefault(c["label"], []).append(c)
        for lr in zoo.GRID[env][1]:
            twin = f"{lr.label}-myopic"
            if lr.role != "long-term" or lr.label not in by or twin not in by:
                continue
            diffs = {k: zoo.compare(by[lr.label], by[twin], k) for k in OUTCOMES}
            result[(side, lr.label)] = diffs
            print(
                f"{side:20s} {lr.label + ' - ' + twin:22s} "
                + " ".join(f"{m:>+11.3f} ± {h:<7.3f}" for m, h in diffs.values())
            )
    print(
        "\nReading: with the dynamics on, a positive long-term-return and retention column is "
        "RL winning;\nwith them off, a column that is negative or whose CI covers 0 is the "
        "greedy learner at least as good."
    )
    return result


if __name__ == "__main__":
    main()
