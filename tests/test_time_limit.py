"""The fast tier's per-test time limit (tests/conftest.py): who is over it, and that a run with
one fails, naming the test, with and without xdist."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import LIMIT_ENV, over_the_limit, time_limit_s

CONFTEST = Path(__file__).with_name("conftest.py")


def test_offenders_are_the_tests_not_marked_slow_over_the_limit():
    seconds = {"a": 12.0, "b": 10.0, "c": 30.0, "d": 11.5, "e": 0.1}
    assert over_the_limit(seconds, {"c"}, 10.0) == [("a", 12.0), ("d", 11.5)]
    assert over_the_limit(seconds, set(), 100.0) == []
    assert over_the_limit(seconds, set(), 0.0) == []  # 0: the check is off


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    assert time_limit_s() == 10.0
    monkeypatch.setenv(LIMIT_ENV, "2.5")
    assert time_limit_s() == 2.5
    monkeypatch.setenv(LIMIT_ENV, "ten")
    with pytest.raises(pytest.UsageError, match=f"{LIMIT_ENV}: expected a number"):
        time_limit_s()


def test_a_run_with_a_test_over_the_limit_fails_and_names_it(tmp_path):
    """Under xdist, a test sleeping past the limit fails the run; one marked slow, and one
    whose time is the setup of a session or module fixture it triggered, do not. Without
    xdist and under a higher limit, the same tests pass."""
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import importlib.util, sys, time
            import pytest

            spec = importlib.util.spec_from_file_location("simrec_conftest", {str(CONFTEST)!r})
            simrec_conftest = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(simrec_conftest)
            pytest_configure = simrec_conftest.pytest_configure


            @pytest.fixture(scope="session")
            def shared():
                time.sleep(0.4)


            @pytest.fixture(scope="module")
            def per_module():
                time.sleep(0.4)
            """
        )
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    (tmp_path / "test_x.py").write_text(
        textwrap.dedent(
            """
            import time
            import pytest

            def test_too_long():
                time.sleep(0.4)

            @pytest.mark.slow
            def test_slow_and_marked():
                time.sleep(0.4)

            def test_pays_for_shared_fixtures(shared, per_module):
                pass

            def test_quick():
                pass
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "PYTEST_"))}
    env[LIMIT_ENV] = "0.25"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    args += ["-p", "no:cov", "-p", "no:hypothesispytest", "-p", "no:anyio"]  # faster starts
    r = subprocess.run(
        [*args, "-n", "2"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "4 passed" in out, out
    assert "tests over the 0.25 s limit" in out, out
    listed = out.split("tests over the 0.25 s limit")[1]
    assert "test_x.py::test_too_long" in listed
    assert "test_slow_and_marked" not in listed and "test_pays_for_shared" not in listed
    assert " s  test_x.py::test_too_long" in listed  # with its seconds
    env[LIMIT_ENV] = "5"
    r = subprocess.run(
        [*args, "-p", "no:xdist"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and "tests over the" not in r.stdout, r.stdout + r.stderr
    # the slowest fast tests by the limit's measure are listed either way (the slow one not;
    # the shared fixtures' setup not counted)
    slowest = r.stdout.split("slowest tests by the 5 s limit's measure: ")[1].splitlines()[0]
    assert slowest.startswith("test_too_long 0.") and "test_slow_and_marked" not in slowest
    assert "test_pays_for_shared_fixtures 0.0 s" in slowest
