"""A sweep killed with SIGKILL and resumed loses nothing, duplicates nothing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from simrec.config import load_yaml
from simrec.runner import run_scenario
from simrec.runner.results import finished_runs

SCENARIO = {
    "name": "resume",
    "seeds": [0, 1, 2],
    "baseline": "random",
    "agents": [{"name": "random"}, {"name": "popularity"}, {"name": "oracle"}],
    "world": {"items": {"n_items": 150}, "users": {"n_users": 150}},
    "simulation": {"days": 2, "tick_minutes": 60.0},
}


def test_kill_9_then_resume_equals_uninterrupted(tmp_path):
    path = tmp_path / "resume.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = tmp_path / "killed"
    exe = Path(sys.executable).parent / "simrec"
    proc = subprocess.Popen(
        [str(exe), "run", str(path), "--out", str(out), "--workers", "1", "--no-progress"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(finished_runs(out)) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = finished_runs(out)
    assert 2 <= len(done) < 9, f"the sweep must be killed mid-way, {len(done)} runs were done"
    assert not (out / "metrics.parquet").exists()

    resumed = run_scenario(load_yaml(path), out, resume=True, progress=False)
    assert resumed.ran == 9 - len(done)
    whole = run_scenario(load_yaml(path), tmp_path / "whole", progress=False)
    a = pd.read_parquet(out / "metrics.parquet")
    b = pd.read_parquet(tmp_path / "whole" / "metrics.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert not a.duplicated(["agent", "seed", "day", "metric"]).any()
    assert len(finished_runs(out)) == 9
    assert not list(out.rglob("*.tmp"))
    timing = ["ms_per_request", "fit_seconds"]  # wall-clock measurements differ run to run

    def stable(summary):
        return summary[~summary["metric"].isin(timing)].reset_index(drop=True)

    pd.testing.assert_frame_equal(stable(resumed.summary), stable(whole.summary))
