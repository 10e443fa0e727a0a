"""Each benchmark runs once on a tiny size so that it cannot rot (no timing asserts)."""

import json
import runpy
import sys
from pathlib import Path

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
