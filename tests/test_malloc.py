import os
import subprocess
import sys

import pytest

CODE = "from simrec._malloc import keep_freed_heap as k; print(k(), k())"


def run(value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SIMREC_MALLOC_TOP_PAD_MB"}
    if value is not None:
        env["SIMREC_MALLOC_TOP_PAD_MB"] = value
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_top_pad_is_applied_once_and_can_be_turned_off():
    import platform

    out = run(None)
    assert out.returncode == 0, out.stderr
    expected = 64 * 2**20 if platform.libc_ver()[0] == "glibc" else 0
    assert out.stdout.split() == [str(expected)] * 2  # the second call returns the first's
    assert run("0").stdout.split() == ["0", "0"]
    assert run("8").stdout.split()[0] == str(8 * 2**20 if expected else 0)


def test_a_bad_setting_names_the_variable():
    out = run("lots")
    assert out.returncode != 0
    assert "SIMREC_MALLOC_TOP_PAD_MB" in out.stderr and "'lots'" in out.stderr
    assert "SIMREC_MALLOC_TOP_PAD_MB" in run("-1").stderr
