"""The RL reference table's runner and the negative control (needs the ``rl`` extra)."""

import json
import runpy
import sys
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3", reason="needs the rl extra: pip install 'simrec[rl]'")

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _script(name: str, argv: list[str], monkeypatch):
    monkeypatch.setattr(sys, "argv", [name, *argv])
    return runpy.run_path(str(REPO / name), run_name="not_main")["main"](argv)


@pytest.mark.slow  # the grid's cells run in a process pool even with one worker: its start
# (importing torch and stable-baselines3 anew) takes most of the 10 s, whatever the grid
def test_rl_zoo_runs_a_tiny_grid_resumes_and_never_mixes_budgets(tmp_path, monkeypatch):
    argv = [
        "--out",
        str(tmp_path),
        "--env",
        "simrec/InterestEvolution-v0",
        "--learner",
        "slateq",
        "--seeds",
        "1",
        "--steps",
        "320",
        "--episodes",
        "20",
        "--workers",
        "1",
    ]
    table = _script("benchmarks/rl_zoo.py", argv, monkeypatch)
    rows = table["simrec/InterestEvolution-v0"]
    assert set(rows) == {"random", "popularity", "myopic-oracle", "oracle", "slateq"}
    assert rows["slateq"]["seeds"] == 1 and "vs_random" in rows["slateq"]
    cells = sorted((tmp_path / "cells").glob("*.json"))
    assert len(cells) == 5 and not list((tmp_path / "cells").glob("*.tmp"))
    cell = json.loads((tmp_path / "cells" / "InterestEvolution-v0__slateq__0.json").read_text())
    assert cell["steps"] == 320 and len(cell["outcomes"]["reward"]) == 20 and cell["curve"]
    assert "| slateq | engagement | 0.99 | 1 |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "curves.png").stat().st_size > 1000
    stamp = cells[0].stat().st_mtime_ns
    _script("benchmarks/rl_zoo.py", argv, monkeypatch)  # everything there: nothing rerun
    assert cells[0].stat().st_mtime_ns == stamp
    with pytest.raises(
        SystemExit, match=r"steps: .* was run with steps 320, this run asks for 999"
    ):
        _script("benchmarks/rl_zoo.py", [*argv[:-6], "--steps", "999", *argv[-4:]], monkeypatch)
    with pytest.raises(SystemExit, match="learner: unknown learner 'sarsa'"):
        _script("benchmarks/rl_zoo.py", [*argv[:4], "--learner", "sarsa"], monkeypatch)


@pytest.mark.slow
def test_negative_control_holds_on_a_reduced_run(tmp_path, monkeypatch):
    """Lasting effects on: the long-term PPO keeps more users than its myopic twin.
    Off: the myopic twin (a greedy one-step learner) is at least as good on the long-term
    return (Lee et al., SIGIR 2022). PPO, 20k steps, one seed, 1,000 held-out users."""
    argv = ["--out", str(tmp_path), "--seeds", "1", "--steps", "20000", "--episodes", "1000"]
    result = _script("scenarios/negative_control.py", argv, monkeypatch)
    on, off = result[("on", "ppo")], result[("off", "ppo")]
    mean, hw = on["retention"]
    assert mean - hw > 0, on
    mean, hw = off["long_term"]
    assert mean - hw <= 0 < hw, off  # no better than greedy (here: significantly worse)
