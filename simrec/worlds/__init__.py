"""Worlds: item catalogs and user populations, built from a config and a seed.

>>> from simrec.config import WorldConfig, ItemsConfig, UsersConfig
>>> from simrec.rng import make_streams
>>> s = make_streams(0)
>>> cfg = WorldConfig(items=ItemsConfig(n_items=50), users=UsersConfig(n_users=20))
>>> w = make_world(cfg, s.world, s.arrivals, horizon_days=10)
>>> (w.n_items, w.n_users, w.dim)
(50, 20, 32)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simrec.config import Config, WorldConfig
from simrec.errors import ConfigError, UnknownNameError, suggest
from simrec.worlds.base import (
    ItemFeatures,
    ItemTruth,
    KnowledgeGraph,
    ObservableWorld,
    SocialGraph,
    UserFeatures,
    UserTruth,
    World,
)
from simrec.worlds.movielens import build_movielens, sample_movielens_users
from simrec.worlds.social import build_social
from simrec.worlds.synthetic import build_catalog, build_synthetic, sample_users

__all__ = [
    "WORLDS",
    "ItemFeatures",
    "ItemTruth",
    "KnowledgeGraph",
    "ObservableWorld",
    "SocialGraph",
    "UserFeatures",
    "UserTruth",
    "World",
    "build_items",
    "check_catalog",
    "fewest_available",
    "make_world",
    "new_users",
]

Builder = Callable[[WorldConfig, np.random.Generator, float, np.random.Generator], World]
UserSampler = Callable[
    [WorldConfig, World, np.random.Generator, int], tuple[UserFeatures, UserTruth]
]

#: World name -> (builder, sampler of fresh users, one-line description).
WORLDS: dict[str, tuple[Builder, UserSampler, str]] = {
    "synthetic": (build_synthetic, sample_users, "genre mixture in R^d with generated item text"),
    "social": (
        build_social,
        sample_users,
        "the synthetic world plus a follow graph: users share clicks with their followers",
    ),
    "movielens-100k": (
        build_movielens,
        sample_movielens_users,
        "real MovieLens-100K movies, users and timeline; hidden state fitted to the ratings",
    ),
    "movielens-1m": (
        build_movielens,
        sample_movielens_users,
        "real MovieLens-1M movies, users and timeline (no knowledge graph); fitted as 100K",
    ),
}


def make_world(
    config: WorldConfig,
    rng: np.random.Generator,
    arrivals_rng: np.random.Generator,
    horizon_days: float,
) -> World:
    """Build the world named by ``config.kind``.

    Args:
        config: World configuration.
        rng: The run's ``world`` stream.
        arrivals_rng: The run's ``arrivals`` stream.
        horizon_days: Days the run will simulate.

    Raises:
        UnknownNameError: ``config.kind`` is not a known world.
    """
    return _entry(config)[0](config, rng, horizon_days, arrivals_rng)


#: Worlds whose catalog can be built without the users (same draws as the whole world).
_CATALOGS: dict[str, Callable[[WorldConfig, np.random.Generator], ItemFeatures]] = {
    "synthetic": lambda config, rng: build_catalog(config, rng)[0],
    "social": lambda config, rng: build_catalog(config, rng)[0],
}


def build_items(config: WorldConfig, rng: np.random.Generator, horizon_days: float) -> ItemFeatures:
    """The observable item table of the world of ``config`` built from the ``world`` stream.

    Where the world can build its catalog alone (synthetic: the same draws come first) only
    the catalog is built, which is cheap; otherwise the whole world.

    Raises:
        UnknownNameError: ``config.kind`` is not a known world.
    """
    if config.kind in _CATALOGS:
        return _CATALOGS[config.kind](config, rng)
    return make_world(config, rng, np.random.default_rng(0), horizon_days).items


def new_users(
    config: WorldConfig, world: World, rng: np.random.Generator, n: int
) -> tuple[UserFeatures, UserTruth]:
    """Draw ``n`` fresh users of a built world's population (the gymnasium envs' episodes).

    Raises:
        UnknownNameError: ``config.kind`` is not a known world.
    """
    return _entry(config)[1](config, world, rng, n)


def _entry(config: WorldConfig) -> tuple[Builder, UserSampler, str]:
    if config.kind not in WORLDS:
        raise UnknownNameError(
            f"world.kind: unknown world {config.kind!r}{suggest(config.kind, WORLDS)}; "
            f"known worlds: {', '.join(sorted(WORLDS))}"
        )
    return WORLDS[config.kind]


def fewest_available(items: ItemFeatures, days: int) -> tuple[int, int]:
    """The fewest items in the catalog on any day ``0 .. days-1``, and the first such day.

    The catalog changes only at day boundaries (releases and expiries), so the days are
    every moment there is.

    >>> f = ItemFeatures(genre=np.zeros(3), creator=np.zeros(3), price=np.ones(3),
    ...                  release_day=np.array([0.0, 0.0, 3.0]),
    ...                  expire_day=np.array([2.0, np.inf, np.inf]), title=(), description=())
    >>> fewest_available(f, 4)
    (1, 2)
    """
    day = np.arange(days, dtype=np.float64)
    released = np.searchsorted(np.sort(items.release_day), day, side="right")
    expired = np.searchsorted(np.sort(items.expire_day), day, side="right")
    count = released - expired
    first = int(np.argmin(count))
    return int(count[first]), first


def check_catalog(items: ItemFeatures, config: Config, seed: int | None = None) -> None:
    """Refuse a run whose catalog ever holds fewer items than a request needs.

    A request needs ``simulation.candidates`` items (or ``slate_size`` when it may take any
    item of the catalog) on every day of the horizon.

    Raises:
        ConfigError: Naming the field, the day and the items the catalog holds then.
    """
    sim, ic = config.simulation, config.world.items
    need, field = (
        (sim.candidates, "simulation.candidates")
        if sim.candidates
        else (sim.slate_size, "simulation.slate_size")
    )
    have, day = fewest_available(items, sim.days)
    if have >= need:
        return
    of_seed = f" of seed {seed}" if seed is not None else ""
    raise ConfigError(
        f"{field}: a request needs {need} items, but the catalog{of_seed} holds only {have} "
        f"on day {day} (world.items: n_items {len(items.genre)}, initial_fraction "
        f"{ic.initial_fraction}, shelf_life_days {ic.shelf_life_days}); lower {field} or keep "
        f"more items in the catalog"
    )
