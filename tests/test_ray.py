"""The Ray backend on a real local Ray cluster (2 CPUs) gives the local backend's results."""

import os

import pandas as pd
import pytest
import yaml

pytest.importorskip("ray", reason="needs the ray extra: pip install 'simrec[ray]'")

from simrec.config import load_yaml
from simrec.runner import run_scenario


@pytest.mark.slow  # starting a local Ray cluster takes 10 s to over a minute, whatever the world
def test_ray_backend_equals_local(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "ray-check",
                "seeds": [0, 1],
                "baseline": "random",
                "agents": [{"name": "random"}, {"name": "popularity"}],
                "world": {"items": {"n_items": 150}, "users": {"n_users": 120}},
                "simulation": {"days": 3, "tick_minutes": 60.0},
            }
        )
    )
    sc = load_yaml(path)
    ray_res = run_scenario(sc, tmp_path / "ray", backend="ray", workers=2, progress=False)
    local = run_scenario(sc, tmp_path / "local", workers=1, progress=False)
    assert ray_res.ran == local.ran == 4
    assert (tmp_path / "ray" / "metrics.parquet").read_bytes() == (
        tmp_path / "local" / "metrics.parquet"
    ).read_bytes()
    timing = ["ms_per_request", "fit_seconds"]
    a = ray_res.summary[~ray_res.summary.metric.isin(timing)].reset_index(drop=True)
    b = local.summary[~local.summary.metric.isin(timing)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    import ray

    assert not ray.is_initialized()  # the local cluster was shut down
    assert os.environ.get("RAY_USAGE_STATS_ENABLED") == "0"
