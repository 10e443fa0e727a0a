"""Scale: a population simulation with a million users, its wall time and peak memory.

    python benchmarks/scale.py                          # 1,000,000 users x 30 days
    python benchmarks/scale.py --users 100000 --days 5 --json out.json

The run is a normal `Simulation.run` (default dynamics: sessions, returns, churn, the
calendar, daily metrics) with the random agent over M = 10,000 items, K = 10; the impression
log keeps 1% of the requests' slates (`simulation.log_impressions`) and spills its full
chunks to a temporary folder, while every count metric stays exact. Peak memory is the
process's maximum resident set size; memory per user divides it by N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--slate", type=int, default=10)
    p.add_argument("--log-share", type=float, default=0.01)
    p.add_argument("--agent", default="random")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)

    from simrec import Simulation
    from simrec.config import Config, from_dict

    cfg = from_dict(
        Config,
        {
            "world": {"items": {"n_items": a.items}, "users": {"n_users": a.users}},
            "simulation": {
                "days": a.days,
                "slate_size": a.slate,
                "log_impressions": a.log_share,
            },
        },
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as spill:
        r = Simulation(cfg).run(a.agent, seed=0, progress=True, log_dir=spill)
        logged = len(r.log.impressions)
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out = {
        "users": a.users,
        "items": a.items,
        "days": a.days,
        "wall_seconds": wall,
        "user_steps": r.cost.requests,
        "user_steps_per_s": r.cost.requests / wall,
        "impressions": r.totals["impressions"],
        "logged_rows": logged,
        "peak_rss_mb": rss_mb,
        "bytes_per_user": rss_mb * 2**20 / a.users,
        "retention": r.totals["retention"],
        "clicks": r.totals["clicks"],
    }
    print(
        f"{a.users:,} users x {a.items:,} items x {a.days} days ({a.agent}): {wall:,.0f} s, "
        f"{r.cost.requests:,} user-steps ({out['user_steps_per_s']:,.0f}/s), "
        f"{r.totals['impressions']:,.0f} impressions ({logged:,} rows logged), "
        f"peak RSS {rss_mb:,.0f} MB ({out['bytes_per_user']:,.0f} bytes/user)"
    )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    main()
