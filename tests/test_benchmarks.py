"""Each benchmark runs once on a tiny size so that it cannot rot (no timing asserts)."""

import json
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_vector_env_benchmark_smoke(tmp_path, monkeypatch):
    out = tmp_path / "bench.json"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "vector_env.py",
            "--num-envs",
            "8",
            "--repeats",
            "1",
            "--single-steps",
            "20",
            "--native-steps",
            "3",
            "--sync-steps",
            "2",
            "--json",
            str(out),
        ],
    )
    runpy.run_path(str(REPO / "benchmarks" / "vector_env.py"), run_name="__main__")
    result = json.loads(out.read_text())
    assert set(result["median_steps_per_s"]) == {"single", "native", "sync"}
    assert all(v > 0 for v in result["median_steps_per_s"].values())


def test_agent_cost_benchmark_smoke(tmp_path, monkeypatch):
    out = tmp_path / "cost.json"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "agent_cost.py",
            "--agents",
            "popularity,mf",
            "--users",
            "60",
            "--items",
            "80",
            "--days",
            "2",
            "--json",
            str(out),
        ],
    )
    runpy.run_path(str(REPO / "benchmarks" / "agent_cost.py"), run_name="__main__")
    rows = {r["agent"]: r for r in json.loads(out.read_text())}
    assert rows["mf"]["params"] > 0 and rows["mf"]["requests"] > 0


@pytest.mark.parametrize("part", ["engine and tick", "oracles, env and log"])
def test_simrec_bench_runs_every_benchmark_on_a_tiny_size(tmp_path, part):
    """``simrec bench`` in two halves (each benchmark runs in fresh processes; one half's
    options turn the other's off)."""
    from simrec.cli import main

    out = tmp_path / "bench.json"
    args = ["bench", "--items", "300", "--ticks", "2", "--repeats", "1", "--json", str(out)]
    if part == "engine and tick":
        args += ["--sizes", "200", "--tick-sizes", "1,4", "--tick-ticks", "5"]
        args += ["--oracle-days", "0", "--env-users", "0", "--log-rows", "0"]
    else:
        args += ["--sizes", "", "--tick-sizes", "", "--oracle-days", "1", "--oracle-users"]
        args += ["100", "--env-users", "16", "--log-rows", "20000"]
    assert main(args) == 0
    result = json.loads(out.read_text())
    if part == "engine and tick":
        assert [p[0] for p in result["tick"]["runs"][0]["points"]] == [1, 4]
        assert all(p[1] > 0 for p in result["tick"]["runs"][0]["points"])
        assert [r["n_users"] for r in result["engine"]] == [200]
        for row in result["engine"]:
            assert row["engine"] > 0 and row["reference"] > 0 and row["peak_rss_mb"] > 0
        assert {"oracles", "vector_env", "log"}.isdisjoint(result)
        return
    assert result["engine"] == [] and "tick" not in result
    for agent in ("oracle", "myopic-oracle"):
        assert result["oracles"][agent]["runs"][0]["requests"] > 0
        assert result["oracles"][agent]["ms_per_request"] > 0
    assert result["vector_env"]["native"] > 0 and result["vector_env"]["sync"] > 0
    assert result["log"]["append_rows_per_s"] > 0 and result["log"]["parquet_rows_per_s"] > 0


def test_engine_benchmark_counts_every_user_every_tick():
    from simrec.bench import engine_throughput

    r = engine_throughput(300, n_items=200, slate=5, dim=8, ticks=3)
    assert r["user_steps"] == 300 * 3  # every user in session on every timed tick


def test_scale_benchmark_smoke(tmp_path):
    out = tmp_path / "scale.json"
    ns = runpy.run_path(str(REPO / "benchmarks" / "scale.py"))
    result = ns["main"](["--users", "300", "--items", "200", "--days", "2", "--json", str(out)])
    assert result["user_steps"] > 0 and result["peak_rss_mb"] > 0
    assert result["logged_rows"] < result["impressions"]  # 1% of slates kept, counts exact
    assert json.loads(out.read_text())["users"] == 300


def test_reference_benchmark_runs_in_chunks_on_threads():
    from simrec.bench import reference_throughput

    for threads in (1, 2):  # several chunks, so two threads share the work
        r = reference_throughput(700, n_items=100, dim=8, ticks=2, threads=threads, chunk=256)
        assert r["user_steps"] == 700 * 2 and r["user_steps_per_s"] > 0


@pytest.mark.parametrize(
    "tick",
    [
        pytest.param(False, id="engine"),  # fast tier: four fresh processes
        pytest.param(True, id="engine-and-tick", marks=pytest.mark.slow),
    ],
)
def test_compare_measures_two_trees_alternately(tmp_path, tick):
    """The before/after harness, this checkout against itself, on tiny sizes."""
    ns = runpy.run_path(str(REPO / "benchmarks" / "compare.py"))
    out = tmp_path / "compare.json"
    args = ["--base", str(REPO), "--sizes", "200", "--ticks", "2", "--repeats", "1"]
    args += ["--quickstart", "0", "--tick-sizes", "1,4" if tick else "", "--tick-ticks", "5"]
    args += ["--oracle-days", "0", "--json", str(out)]  # oracle_cost: the bench test
    result = ns["main"](args)
    measures = [r["measure"] for r in result["rows"]]
    expected = ["engine N=200"] + (["tick fixed cost", "tick per request"] if tick else [])
    assert measures == expected
    for row in result["rows"]:
        assert len(row["runs"]["before"]) == len(row["runs"]["after"]) == 1
    assert json.loads(out.read_text())["rows"][0]["after_vs_reference"] > 0
