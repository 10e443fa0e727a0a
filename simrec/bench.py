"""Throughput benchmarks: the engine, a minimal numpy reference, the event log, the envs.

A **user-step** is one user shown one slate and responding, with every state update applied
(and, for the engine, logged). :func:`engine_throughput` drives the population engine with
uniformly random slates of K items from a catalog of M, with every user in session on every
tick (no session exit, no churn: the work per step is the same, the count is exact);
:func:`reference_throughput` runs a deliberately minimal pure-numpy loop of the same per-step
work -- scoring the K shown items, multinomial-logit choice with a no-click option, interest
drift toward the clicked item, satisfaction decay and update, a churn draw -- with no logging,
no fatigue, no economy, in user chunks of 16,384 on the same number of threads as the
engine, as the practical limit of this machine; :func:`log_throughput`
appends impression rows to the columnar log and writes them to Parquet;
:func:`vector_env_throughput` steps the gymnasium vector envs; :func:`tick_cost` fits the
engine's fixed cost per tick and its cost per request; :func:`oracle_cost` measures the
oracles' milliseconds per request.

``simrec bench`` runs them with repeats and prints medians (``--json`` to save them); each
engine and reference run has a fresh process (so that its peak memory is its own), the two
alternate, and the ratio is the median of the paired ratios.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "bench_config",
    "engine_throughput",
    "log_throughput",
    "main",
    "oracle_cost",
    "reference_throughput",
    "tick_cost",
    "vector_env_throughput",
]


#: Impression rows above which the engine benchmark spills its log to disk.
SPILL_ABOVE_ROWS = 50_000_000


def bench_config(n_users: int, n_items: int, slate: int, dim: int, days: float = 1.0):  # noqa: ANN201
    """A config where every user is in session on every tick and nobody churns."""
    from simrec.config import Config, from_dict

    return from_dict(
        Config,
        {
            "world": {
                "dim": dim,
                "items": {"n_items": n_items},
                "users": {"n_users": n_users},
            },
            "dynamics": {"exit_base": -50.0, "max_session_requests": 2**30},
            "retention": {"churn_min": 0.0, "churn_max": 0.0},
            "simulation": {"days": max(1, int(np.ceil(days))), "slate_size": slate},
        },
    )


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def engine_throughput(
    n_users: int,
    n_items: int = 10_000,
    slate: int = 10,
    dim: int = 32,
    ticks: int = 10,
    log: bool = True,
    seed: int = 0,
    flush_dir: str | Path | None = None,
) -> dict[str, float]:
    """User-steps per second of the engine (see the module docstring).

    Args:
        n_users: N.
        n_items: M.
        slate: K.
        dim: d.
        ticks: Ticks timed (after one untimed warm-up tick).
        log: Keep the event log (impressions, sessions).
        seed: Run seed.
        flush_dir: Spill the impression log's full chunks to this folder; by default a log
            of more than ``SPILL_ABOVE_ROWS`` rows spills to a temporary folder (as a large
            run would), a smaller one stays in memory.

    Returns:
        ``user_steps_per_s``, ``seconds``, ``user_steps``, ``rss_mb`` (peak of the process).
    """
    from simrec.engine import Engine
    from simrec.log import EventLog
    from simrec.rng import distinct_integers, make_streams
    from simrec.worlds import make_world

    rows = n_users * slate * (ticks + 1)
    if log and flush_dir is None and rows > SPILL_ABOVE_ROWS:
        with tempfile.TemporaryDirectory(prefix="simrec-bench-") as tmp:
            return engine_throughput(n_users, n_items, slate, dim, ticks, log, seed, tmp)
    cfg = bench_config(n_users, n_items, slate, dim)
    s = make_streams(seed)
    world = make_world(cfg.world, s.world, s.arrivals, 1.0)
    ev = (
        EventLog(world.users.arrival_day, spill_dir=flush_dir, n_items=world.n_items)
        if log
        else None
    )
    engine = Engine(world, cfg, s.behaviour, ev)
    engine.set_day(0)
    engine.next_visit[:] = 0.0
    rng = s.agent
    tick = cfg.simulation.tick_minutes / 1440.0
    M = len(engine.available)

    def step(t: float) -> int:
        batch = engine.open_requests(t)
        assert batch is not None  # every user is in session on every tick
        idx = distinct_integers(lambda _r, w: rng.random((len(batch), w)), M, slate)
        engine.serve(batch, engine.available[idx])
        return len(batch)

    step(0.0)
    done, t0 = 0, time.perf_counter()
    for k in range(1, ticks + 1):
        done += step(k * tick)
    if ev is not None:
        ev.flush()  # spilled chunks still being written count too
    seconds = time.perf_counter() - t0
    return {
        "user_steps_per_s": done / seconds,
        "seconds": seconds,
        "user_steps": float(done),
        "rss_mb": _peak_rss_mb(),
    }


def _uniforms(rng: np.random.Generator, rows: int) -> Callable[[int, int], np.ndarray]:
    """A :func:`~simrec.rng.distinct_integers` draw of ``rows`` rows from ``rng``."""
    return lambda _round, width: rng.random((rows, width))


def tick_cost(
    sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128),
    n_items: int = 10_000,
    slate: int = 10,
    dim: int = 32,
    ticks: int = 200,
    rounds: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """The engine's fixed cost per tick and its cost per request.

    For each batch size B of ``sizes``, a world of B users (all in session on every tick, as
    in :func:`engine_throughput`) serves ``ticks`` ticks of slates drawn before the clock
    starts (the agent's time does not count), in ``rounds`` rounds over the sizes. A
    least-squares line through the median milliseconds per tick of each size against B
    gives the fixed cost of a tick (its intercept) and the cost of one more request (its
    slope). The milliseconds are the process's CPU time, which other work on a busy machine
    disturbs less than the wall clock (the engine's one background thread, the log's, is
    counted too).

    Returns:
        ``fixed_ms`` (per tick), ``ms_per_request``, and ``points``: ``[B, ms per tick]``.
    """
    from simrec.engine import Engine
    from simrec.log import EventLog
    from simrec.rng import distinct_integers, make_streams
    from simrec.worlds import make_world

    runs = []
    for n in sizes:
        cfg = bench_config(n, n_items, slate, dim, days=2 * rounds * ticks)
        s = make_streams(seed)
        world = make_world(cfg.world, s.world, s.arrivals, 1.0)
        engine = Engine(world, cfg, s.behaviour, EventLog(world.users.arrival_day))
        engine.set_day(0)
        engine.next_visit[:] = 0.0
        avail, draw = engine.available, _uniforms(s.agent, n)
        slates = [avail[distinct_integers(draw, len(avail), slate)] for _ in range(ticks)]
        runs.append((n, engine, slates, cfg.simulation.tick_minutes / 1440.0))
    times: dict[int, list[float]] = {n: [] for n in sizes}
    clock = 0
    for _ in range(rounds + 1):  # the first round warms up and is not counted
        for n, engine, slates, tick in runs:
            t0 = time.process_time()
            for k in range(ticks):
                batch = engine.open_requests((clock + k) * tick)
                assert batch is not None  # every user is in session on every tick
                engine.serve(batch, slates[k])
            times[n].append(1000.0 * (time.process_time() - t0) / ticks)
        clock += ticks
    points = [[n, statistics.median(times[n][1:])] for n in sizes]
    x, y = np.array(points).T
    slope, intercept = np.polyfit(x, y, 1)
    return {"fixed_ms": float(intercept), "ms_per_request": float(slope), "points": points}


def oracle_cost(
    n_users: int = 2_000, n_items: int = 2_000, days: int = 3, agent: str = "oracle"
) -> dict[str, float]:
    """Milliseconds per request of an oracle over the whole catalog, in a population run.

    The quickstart's world (2,000 users and items, slates of 5, 15-minute ticks) for
    ``days`` days; the time is what the run's cost ledger measures around ``recommend``.
    """
    from simrec import Simulation
    from simrec.config import Config, from_dict

    cfg = from_dict(
        Config,
        {
            "world": {"items": {"n_items": n_items}, "users": {"n_users": n_users}},
            "simulation": {"days": days, "slate_size": 5, "tick_minutes": 15.0},
        },
    )
    result = Simulation(cfg).run(agent, seed=0)
    return {
        "ms_per_request": result.cost.ms_per_request,
        "requests": float(result.cost.requests),
        "wall_seconds": result.wall_seconds,
    }


def reference_throughput(
    n_users: int,
    n_items: int = 10_000,
    slate: int = 10,
    dim: int = 32,
    ticks: int = 10,
    seed: int = 0,
    threads: int = 1,
    chunk: int = 16_384,
) -> dict[str, float]:
    """User-steps per second of the minimal numpy reference loop (no logging).

    Users go in chunks of ``chunk`` (whole-population temporaries are slower once they leave
    the cache), on ``threads`` threads; each chunk has its own generator. It runs under the
    same allocator setting as the engine (:mod:`simrec._malloc`).
    """
    from concurrent.futures import ThreadPoolExecutor

    from simrec._malloc import keep_freed_heap

    keep_freed_heap()
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_items, dim)).astype(np.float32)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    u = rng.standard_normal((n_users, dim)).astype(np.float32)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    sat = np.full(n_users, 0.7, dtype=np.float32)
    q = rng.random(n_items, dtype=np.float32)
    alive = np.ones(n_users, dtype=bool)
    parts = [slice(lo, min(lo + chunk, n_users)) for lo in range(0, n_users, chunk)]
    seeds = typing.cast(np.random.SeedSequence, rng.bit_generator.seed_seq)
    gens = [np.random.default_rng(g) for g in seeds.spawn(len(parts))]

    def step_part(i: int) -> None:
        rows, g = parts[i], gens[i]
        n = rows.stop - rows.start
        ur = u[rows]  # a view: updated in place
        S = g.integers(0, n_items, size=(n, slate))
        match = np.einsum("nd,nkd->nk", ur, np.take(z, S, axis=0))  # candidate scoring
        ev = np.exp(5.0 * match)  # MNL with a no-click option of utility 0
        cum = np.cumsum(ev, axis=1)
        draw = g.random(n, dtype=np.float32) * (cum[:, -1] + 1.0)
        k = (cum < draw[:, None]).sum(axis=1)
        hit = np.flatnonzero(k < slate)
        ci = S[hit, k[hit]]
        ur[hit] += 0.05 * (z[ci] - ur[hit])  # interest drift
        ur[hit] /= np.linalg.norm(ur[hit], axis=1, keepdims=True)
        s = sat[rows]
        s[:] = 0.5 + (s - 0.5) * np.float32(0.99)  # satisfaction decay
        s[hit] += 0.1 * (q[ci] - s[hit])
        alive[rows] &= g.random(n, dtype=np.float32) >= 0.001 * (1.0 - s)  # churn

    pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def step() -> None:
        if pool is None:
            for i in range(len(parts)):
                step_part(i)
        else:
            list(pool.map(step_part, range(len(parts))))

    step()
    t0 = time.perf_counter()
    for _ in range(ticks):
        step()
    seconds = time.perf_counter() - t0
    if pool is not None:
        pool.shutdown()
    done = n_users * ticks
    return {"user_steps_per_s": done / seconds, "seconds": seconds, "user_steps": float(done)}


def log_throughput(rows: int = 2_000_000, batch: int = 100_000) -> dict[str, float]:
    """Rows per second of appending impression rows and of writing them to Parquet."""
    from simrec.log import IMPRESSION_SCHEMA, Table

    batch = max(1, min(batch, rows))
    rng = np.random.default_rng(0)
    cols: dict[str, Any] = {
        name: (rng.random(batch) * 100).astype(dtype) for name, dtype in IMPRESSION_SCHEMA.items()
    }
    table = Table(IMPRESSION_SCHEMA)
    t0 = time.perf_counter()
    for _ in range(rows // batch):
        table.append(**cols)
    append_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table.to_frame().to_parquet(Path(tmp) / "impressions.parquet", index=False)
        write_s = time.perf_counter() - t0
    n = (rows // batch) * batch
    return {"append_rows_per_s": n / append_s, "parquet_rows_per_s": n / write_s, "rows": float(n)}


def vector_env_throughput(num_envs: int = 4096, steps: int = 20, mode: str = "native") -> float:
    """Sub-env steps per second of ``simrec/UserLifetime-v0`` as a vector env."""
    import warnings

    import gymnasium as gym

    import simrec  # noqa: F401 - registers the envs

    warnings.filterwarnings("ignore", category=UserWarning)
    kw: dict[str, Any] = {} if mode == "native" else {"vectorization_mode": "sync"}
    env = gym.make_vec("simrec/UserLifetime-v0", num_envs=num_envs, **kw)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n = int(getattr(env.single_action_space, "n"))  # noqa: B009 - a Discrete space
    acts = [rng.integers(0, n, size=num_envs) for _ in range(steps)]
    env.step(acts[0])
    t0 = time.perf_counter()
    for a in acts:
        env.step(a)
    return num_envs * steps / (time.perf_counter() - t0)


def _in_fresh_process(fn: str, kwargs: dict[str, Any], threads: int = 1) -> dict[str, float]:
    """Run ``simrec.bench.<fn>(**kwargs)`` in a new interpreter (its own peak memory)."""
    import os
    import subprocess

    code = (
        "import json, sys; from simrec import bench; "
        f"print(json.dumps(bench.{fn}(**json.loads(sys.argv[1]))))"
    )
    env = {**os.environ, "SIMREC_ENGINE_THREADS": str(threads), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench {fn}({kwargs}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``simrec bench``: run the benchmarks, print a table of medians, optionally save JSON."""
    import argparse

    p = argparse.ArgumentParser(prog="simrec bench", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000", help="engine populations N")
    p.add_argument("--items", type=int, default=10_000, help="M")
    p.add_argument("--slate", type=int, default=10, help="K")
    p.add_argument("--dim", type=int, default=32, help="d")
    p.add_argument("--ticks", type=int, default=10, help="timed ticks per run")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    p.add_argument("--env-users", type=int, default=4096, help="vector env sub-envs (0: skip)")
    p.add_argument("--log-rows", type=int, default=2_000_000, help="log benchmark rows (0: skip)")
    p.add_argument(
        "--threads", type=int, default=1, help="threads over user chunks (engine and reference)"
    )
    p.add_argument(
        "--tick-sizes",
        default="1,2,4,8,16,32,64,128",
        help="batch sizes of the fixed-cost fit (empty: skip)",
    )
    p.add_argument("--tick-ticks", type=int, default=200, help="ticks per size of the fit")
    p.add_argument(
        "--oracle-days", type=int, default=3, help="days of the oracle cost runs (0: skip)"
    )
    p.add_argument(
        "--oracle-users", type=int, default=2_000, help="users (and items) of the oracle runs"
    )
    p.add_argument("--json", default=None, help="write the results here")
    a = p.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",") if x]
    common = {"n_items": a.items, "slate": a.slate, "dim": a.dim, "ticks": a.ticks}
    results: dict[str, Any] = {"settings": vars(a), "engine": []}
    print(
        f"M={a.items:,} items, K={a.slate}, d={a.dim}, {a.ticks} ticks, "
        f"median of {a.repeats} (ratio: of paired runs); user-steps/s; engine threads {a.threads}"
    )
    print(
        f"{'N':>9s} {'engine':>12s} {'reference':>12s} {'ratio':>7s} {'peak RSS MB':>12s} "
        f"{'bytes/user':>11s}"
    )
    for n in sizes:
        # Engine and reference alternate, so that drifts of the machine hit both alike; the
        # ratio is the median of the per-pair ratios.
        eng, ref = [], []
        for _ in range(a.repeats):
            eng.append(_in_fresh_process("engine_throughput", {"n_users": n, **common}, a.threads))
            ref.append(
                _in_fresh_process(
                    "reference_throughput", {"n_users": n, "threads": a.threads, **common}
                )
            )
        e = statistics.median(r["user_steps_per_s"] for r in eng)
        r = statistics.median(x["user_steps_per_s"] for x in ref)
        ratio = statistics.median(
            x["user_steps_per_s"] / y["user_steps_per_s"] for x, y in zip(eng, ref, strict=True)
        )
        rss = statistics.median(x["rss_mb"] for x in eng)
        row = {
            "n_users": n,
            "engine": e,
            "reference": r,
            "ratio": ratio,
            "peak_rss_mb": rss,
            "bytes_per_user": rss * 2**20 / n,
        }
        results["engine"].append(row)
        print(
            f"{n:>9,d} {e:>12,.0f} {r:>12,.0f} {ratio:>7.2f} {rss:>12,.0f} "
            f"{row['bytes_per_user']:>11,.0f}"
        )
    tick_sizes = [int(x) for x in a.tick_sizes.split(",") if x]
    if tick_sizes:
        ticks = [
            _in_fresh_process("tick_cost", {"sizes": tick_sizes, "n_items": a.items,
                                            "slate": a.slate, "dim": a.dim,
                                            "ticks": a.tick_ticks})
            for _ in range(a.repeats)
        ]  # fmt: skip
        fixed = statistics.median(x["fixed_ms"] for x in ticks)
        per = statistics.median(x["ms_per_request"] for x in ticks)
        results["tick"] = {"fixed_ms": fixed, "ms_per_request": per, "runs": ticks}
        print(
            f"engine tick, {min(tick_sizes)}-{max(tick_sizes)} requests: fixed "
            f"{1000 * fixed:,.0f} us per tick + {1000 * per:,.1f} us per request"
        )
    if a.oracle_days:
        results["oracles"] = {}
        for agent in ("oracle", "myopic-oracle"):
            runs = [
                _in_fresh_process(
                    "oracle_cost",
                    {
                        "days": a.oracle_days,
                        "agent": agent,
                        "n_users": a.oracle_users,
                        "n_items": a.oracle_users,
                    },
                )
                for _ in range(a.repeats)
            ]
            ms = statistics.median(x["ms_per_request"] for x in runs)
            results["oracles"][agent] = {"ms_per_request": ms, "runs": runs}
            print(
                f"{agent}, {a.oracle_users:,} users and items, {a.oracle_days} days: "
                f"{1000 * ms:,.1f} us per request"
            )
    if a.env_users:
        nat = statistics.median(
            vector_env_throughput(a.env_users, 20, "native") for _ in range(a.repeats)
        )
        syn = statistics.median(
            vector_env_throughput(a.env_users, 2, "sync") for _ in range(a.repeats)
        )
        results["vector_env"] = {"native": nat, "sync": syn, "ratio": nat / syn}
        print(
            f"vector env, {a.env_users:,} users: native {nat:,.0f} steps/s, sync {syn:,.0f}, "
            f"ratio {nat / syn:.0f}x"
        )
    if a.log_rows:
        logs = [log_throughput(a.log_rows) for _ in range(a.repeats)]
        app = statistics.median(x["append_rows_per_s"] for x in logs)
        pq = statistics.median(x["parquet_rows_per_s"] for x in logs)
        results["log"] = {"append_rows_per_s": app, "parquet_rows_per_s": pq}
        print(f"event log: append {app:,.0f} rows/s, Parquet write {pq:,.0f} rows/s")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return results
