"""Layering and lint: the import-linter contracts of pyproject.toml and ruff."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_contracts_hold():
    exe = BIN / "lint-imports"
    if not exe.exists():
        pytest.skip("import-linter is not installed (pip install 'simrec[dev]')")
    out = subprocess.run([str(exe), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 4 kept, 0 broken" in out.stdout


#: No module of simrec/ may grow past this many lines (split it by concern instead).
MAX_MODULE_LINES = 600


def test_no_simrec_module_is_over_the_size_limit():
    sizes = {
        p.relative_to(REPO).as_posix(): len(p.read_text().splitlines())
        for p in (REPO / "simrec").rglob("*.py")
    }
    over = {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"
    assert len(sizes) > 50  # the walk found the package


def test_ruff_is_clean():
    exe = BIN / "ruff" if (BIN / "ruff").exists() else shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (pip install 'simrec[dev]')")
    out = subprocess.run(
        [str(exe), "check", "simrec", "agents", "studies", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_importing_simrec_does_not_import_heavy_packages():
    code = (
        "import sys, simrec; heavy = {'torch', 'matplotlib', 'ray', 'sentence_transformers',"
        " 'stable_baselines3', 'simrec_agents', 'simrec_studies', 'pandas'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_simrec_runs_without_simrec_agents(tmp_path):
    """simrec finds agents only through entry points: without simrec_agents it still runs a
    custom agent (an instance, or a name another package registers) and says clearly that a
    built-in one is not installed."""
    (tmp_path / "myagents.py").write_text(
        "import numpy as np\n"
        "from simrec import Agent\n"
        "class First(Agent):\n"
        "    name = 'first'\n"
        "    def recommend(self, batch):\n"
        "        return np.tile(batch.available[: batch.slate_size], (len(batch), 1))\n"
    )
    info = tmp_path / "myagents-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myagents\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[simrec.agents]\nfirst = myagents:First\n")
    code = f"""
import sys
sys.modules["simrec_agents"] = None  # simrec_agents is not installed
sys.path.insert(0, {str(tmp_path)!r})
from simrec import Config, Simulation, from_dict
from simrec.errors import DependencyNotInstalled
from myagents import First
cfg = from_dict(Config, {{"world": {{"items": {{"n_items": 50}}, "users": {{"n_users": 30}}}},
                          "simulation": {{"days": 2}}}})
print(Simulation(cfg).run(First(), seed=0).totals["impressions"] > 0)
print(Simulation(cfg).run("first", seed=0).totals["impressions"] > 0)
try:
    Simulation(cfg).run("random", seed=0)
except DependencyNotInstalled as err:
    print(err)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[:2] == ["True", "True"]
    assert "agent 'random' is registered as simrec_agents.baselines:RandomAgent" in lines[2]
    assert "'simrec_agents.baselines' is not installed" in lines[2]
