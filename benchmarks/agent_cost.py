"""Compute cost of the agents at a given scale: fit seconds per retrain and ms per request.

    python benchmarks/agent_cost.py --users 10000 --items 2000 --days 3
    python benchmarks/agent_cost.py --agents mf,als --json cost.json

Each agent serves the synthetic world for ``--days`` days with daily retraining; the
simulation times ``recommend`` and ``retrain`` (``Cost``). Reported: parameters, mean fit
seconds per retrain, the last retrain's seconds (the largest log), ms per request, the
encoder seconds and texts encoded of language-model agents (cache misses only: point
``SIMREC_CACHE`` at an empty folder to measure a cold cache), and the run's wall seconds.
"""

from __future__ import annotations

import argparse
import json
import time

from simrec import Simulation, make_agent
from simrec.config import Config, from_dict


def measure(name: str, cfg: Config, seed: int) -> dict:
    agent = make_agent(name)
    fit_times: list[float] = []
    if hasattr(agent, "retrain"):
        inner = agent.retrain

        def timed(now: float) -> None:
            t = time.perf_counter()
            inner(now)
            fit_times.append(time.perf_counter() - t)

        agent.retrain = timed  # per-retrain timings for the table
    r = Simulation(cfg).run(agent, seed=seed)
    fits = [t for t in fit_times if t > 0] or [0.0]
    return {
        "agent": name,
        "params": r.cost.params,
        "trainable_params": r.cost.trainable_params,
        "flops_per_request": r.cost.flops_per_request,
        "fits": r.cost.fits,
        "fit_seconds_mean": r.cost.fit_seconds / max(r.cost.fits, 1),
        "fit_seconds_last": fits[-1],
        "ms_per_request": r.cost.ms_per_request,
        "requests": r.cost.requests,
        "wall_seconds": r.wall_seconds,
        "clicks": r.totals["clicks"],
        "encoder_seconds": float(r.cost.extra.get("encoder_seconds", 0.0)),
        "texts_encoded": int(r.cost.extra.get("texts_encoded", 0)),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", default="random,popularity,mf,ncf,item-knn,als")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--items", type=int, default=2_000)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    cfg = from_dict(
        Config,
        {
            "world": {"items": {"n_items": a.items}, "users": {"n_users": a.users}},
            "simulation": {"days": a.days, "retrain_every_days": 1.0},
        },
    )
    rows = [measure(name, cfg, a.seed) for name in a.agents.split(",")]
    print(f"{a.users:,} users x {a.items:,} items, {a.days} days, daily retraining, seed {a.seed}")
    print(
        f"{'agent':12s} {'params':>10s} {'fit s/retrain':>14s} {'last fit s':>11s} "
        f"{'ms/request':>11s} {'FLOPs/req':>10s} {'encoder s':>10s} {'texts':>7s} "
        f"{'requests':>9s} {'wall s':>8s}"
    )
    for r in rows:
        print(
            f"{r['agent']:12s} {r['params']:>10,d} {r['fit_seconds_mean']:>14.3f} "
            f"{r['fit_seconds_last']:>11.3f} {r['ms_per_request']:>11.4f} "
            f"{r['flops_per_request']:>10.3g} {r['encoder_seconds']:>10.2f} "
            f"{r['texts_encoded']:>7,d} "
            f"{r['requests']:>9,d} {r['wall_seconds']:>8.1f}"
        )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
