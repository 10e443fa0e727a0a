"""Before and after: this checkout's engine, oracles and quickstart against another checkout.

    git worktree add /tmp/simrec-base <commit>           # the code to compare against
    python benchmarks/compare.py --base /tmp/simrec-base --json compare.json

Each measurement runs in a fresh interpreter whose ``simrec`` is one tree or the other
(``PYTHONPATH``), the two trees alternating, so that a drift of the machine hits both alike;
the table gives medians and the median of the paired ratios (after / before). The
measurements are this checkout's :mod:`simrec.bench` functions, loaded from its file into
either tree's process: they use only the engine, world, log and simulation APIs both trees
have, so the harness is the same and only the code measured differs.

- ``engine N``: :func:`simrec.bench.engine_throughput` (user-steps/s, the random agent's
  slates included) and its ratio to :func:`simrec.bench.reference_throughput`, run beside it;
- ``tick``: :func:`simrec.bench.tick_cost`, the fixed cost of a tick and the cost per request;
- ``oracle`` / ``myopic-oracle``: :func:`simrec.bench.oracle_cost`, ms per request in the
  quickstart's world;
- ``quickstart``: wall seconds of ``simrec run scenarios/quickstart.yaml`` (both trees run
  their own copy of the scenario), report and figures included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
BENCH = HERE / "simrec" / "bench.py"

_CALL = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("simrec_bench_harness", {bench!r})
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
print(json.dumps(getattr(bench, sys.argv[1])(**json.loads(sys.argv[2]))))
"""


_PATHS: dict[Path, str] = {}


def _import_path(tree: Path) -> str:
    """A folder whose ``simrec`` and ``simrec_agents`` are ``tree``'s (symlinks): the agents
    of the compared tree, not those of whichever checkout is installed."""
    if tree not in _PATHS:
        folder = Path(tempfile.mkdtemp(prefix="simrec-compare-path-"))
        (folder / "simrec").symlink_to(tree / "simrec")
        (folder / "simrec_agents").symlink_to(tree / "agents")
        _PATHS[tree] = str(folder)
    return _PATHS[tree]


def _env(tree: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": _import_path(tree),
        "OMP_NUM_THREADS": "1",
        "SIMREC_ENGINE_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def measure(tree: Path, fn: str, **kwargs) -> dict:
    """``simrec.bench.<fn>(**kwargs)`` (this checkout's harness) against ``tree``'s simrec."""
    out = subprocess.run(
        [sys.executable, "-c", _CALL.format(bench=str(BENCH)), fn, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        env=_env(tree),
        cwd=tree,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{fn}({kwargs}) on {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def quickstart(tree: Path) -> dict:
    """Wall seconds of the README's quickstart command (fresh folder) run from ``tree``."""
    with tempfile.TemporaryDirectory(prefix="simrec-compare-") as tmp:
        code = "import sys; from simrec.cli import main; sys.exit(main())"
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code, "run", "scenarios/quickstart.yaml", "--out", tmp + "/qs",
             "--no-progress"],
            capture_output=True, text=True, env=_env(tree), cwd=tree,
        )  # fmt: skip
        wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"quickstart on {tree} failed:\n{out.stderr[-3000:]}")
    return {"wall_seconds": wall}


def _paired(before: list[float], after: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(after, before, strict=True))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, type=Path, help="the checkout to compare against")
    p.add_argument("--sizes", default="1000,100000", help="engine populations N")
    p.add_argument("--ticks", type=int, default=10, help="timed ticks of the engine runs")
    p.add_argument("--repeats", type=int, default=3, help="pairs of runs per measurement")
    p.add_argument("--quickstart", type=int, default=1, help="pairs of quickstart runs (0: skip)")
    p.add_argument("--tick-sizes", default="1,2,4,8,16,32,64,128", help="sizes of the fit")
    p.add_argument("--tick-ticks", type=int, default=200, help="ticks per size of the fit")
    p.add_argument("--oracle-users", type=int, default=2_000, help="users and items")
    p.add_argument("--oracle-days", type=int, default=3, help="days of the oracle runs (0: skip)")
    p.add_argument("--json", default=None, help="write the results here")
    a = p.parse_args(argv)
    tick = {"sizes": [int(x) for x in a.tick_sizes.split(",") if x], "ticks": a.tick_ticks}
    oracle = {"n_users": a.oracle_users, "n_items": a.oracle_users, "days": a.oracle_days}
    trees = {"before": a.base.resolve(), "after": HERE}
    rows: list[dict] = []

    def compare(label: str, runs, repeats: int, report: list[tuple[str, str, str]]) -> None:
        """Run ``runs(tree)`` ``repeats`` times per tree, alternating; one row per
        ``(key, unit, name)`` of ``report``."""
        got: dict[str, list[dict]] = {"before": [], "after": []}
        for _ in range(repeats):
            for side in ("before", "after"):  # alternating: drifts hit both
                got[side].append(runs(trees[side]))
        for key, unit, name in report:
            vb = [r[key] for r in got["before"]]
            va = [r[key] for r in got["after"]]
            row = {
                "measure": f"{label} {name}".strip(),
                "unit": unit,
                "before": statistics.median(vb),
                "after": statistics.median(va),
                "after/before": _paired(vb, va),
                "runs": got,
            }
            extra = ""
            if "reference" in got["before"][0]:
                for side in ("before", "after"):
                    row[f"{side}_vs_reference"] = statistics.median(
                        r["engine"] / r["reference"] for r in got[side]
                    )
                extra = (
                    f"; engine/reference {row['before_vs_reference']:.2f} -> "
                    f"{row['after_vs_reference']:.2f}"
                )
            rows.append(row)
            print(
                f"{row['measure']:>28s}: {row['before']:12,.4g} -> {row['after']:12,.4g} "
                f"{unit} (after/before {row['after/before']:.2f}{extra})",
                flush=True,
            )

    for n in [int(x) for x in a.sizes.split(",") if x]:

        def engine(tree: Path, n: int = n) -> dict:
            e = measure(tree, "engine_throughput", n_users=n, ticks=a.ticks)
            r = measure(tree, "reference_throughput", n_users=n, ticks=a.ticks)
            return {"engine": e["user_steps_per_s"], "reference": r["user_steps_per_s"]}

        compare(f"engine N={n:,}", engine, a.repeats, [("engine", "user-steps/s", "")])
    if tick["sizes"]:
        compare(
            "tick",
            lambda t: measure(t, "tick_cost", **tick),
            a.repeats,
            [("fixed_ms", "ms", "fixed cost"), ("ms_per_request", "ms", "per request")],
        )
    for agent in ("oracle", "myopic-oracle") if a.oracle_days else ():
        compare(
            agent,
            lambda t, agent=agent: measure(t, "oracle_cost", agent=agent, **oracle),
            a.repeats,
            [("ms_per_request", "ms", "per request")],
        )
    if a.quickstart:
        compare("quickstart", quickstart, a.quickstart, [("wall_seconds", "s", "wall")])
    result = {"base": str(trees["before"]), "after": str(HERE), "rows": rows}
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
