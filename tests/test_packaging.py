"""A wheel built from the project holds every module, every registered agent and every data file.

``pip install .`` (not editable) must give a working simrec; CI also installs this wheel in a
fresh virtual environment and runs a smoke scenario from it (``make wheel-check``).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from simrec.agent import available_agents

ROOT = Path(__file__).resolve().parent.parent
#: Source folder -> import package in the wheel.
PACKAGES = {"simrec": "simrec", "agents": "simrec_agents", "studies": "simrec_studies"}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = out.glob("simrec-*.whl")
    return set(zipfile.ZipFile(whl).namelist())


def _tracked(folder: str) -> list[str]:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", folder],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not files:  # not a git checkout: every file under the folder
        files = [str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file()]
    return [f for f in files if "__pycache__" not in f]


def test_every_registered_agent_module_is_in_the_wheel(wheel_names):
    missing = sorted(
        info.name
        for info in available_agents().values()
        if info.target.split(":")[0].replace(".", "/") + ".py" not in wheel_names
    )
    assert not missing, f"agents whose module the wheel lacks: {missing}"


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_every_source_and_data_file_is_in_the_wheel(wheel_names, folder):
    files = _tracked(folder)
    assert any(f.endswith("py.typed") for f in files)  # a data file, not a module
    expected = {PACKAGES[folder] + f[len(folder) :] for f in files}
    assert sorted(expected - wheel_names) == []


def test_the_wheel_holds_nothing_but_the_three_packages(wheel_names):
    tops = {n.split("/")[0] for n in wheel_names}
    assert {t for t in tops if not t.endswith(".dist-info")} == set(PACKAGES.values())
    entry = next(n for n in wheel_names if n.endswith("entry_points.txt"))
    assert entry
