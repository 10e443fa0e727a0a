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

from simrec.config import WorldConfig
from simrec.errors import UnknownNameError, suggest
from simrec.worlds.base import (
    ItemFeatures,
    ItemTruth,
    KnowledgeGraph,
    ObservableWorld,
    UserFeatures,
    UserTruth,
    World,
)
from simrec.worlds.movielens import build_movielens, sample_movielens_users
from simrec.worlds.synthetic import build_synthetic, sample_users

__all__ = [
    "WORLDS",
    "ItemFeatures",
    "ItemTruth",
    "KnowledgeGraph",
    "ObservableWorld",
    "UserFeatures",
    "UserTruth",
    "World",
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
    "movielens-100k": (
        build_movielens,
        sample_movielens_users,
        "real MovieLens-100K movies, users and timeline; hidden state fitted to the ratings",
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
