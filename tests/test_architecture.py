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
    assert "Contracts: 3 kept, 0 broken" in out.stdout


def test_ruff_is_clean():
    exe = BIN / "ruff" if (BIN / "ruff").exists() else shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (pip install 'simrec[dev]')")
    out = subprocess.run(
        [str(exe), "check", "simrec", "agents", "tests"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_importing_simrec_does_not_import_heavy_packages():
    code = (
        "import sys, simrec; heavy = {'torch', 'matplotlib', 'ray', 'sentence_transformers',"
        " 'stable_baselines3', 'simrec_agents', 'pandas'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
