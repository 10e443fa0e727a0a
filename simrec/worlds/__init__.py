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
    ObservableWorld,
    UserFeatures,
    UserTruth,
    World,
)
from simrec.worlds.synthetic import build_synthetic

__all__ = [
    "WORLDS",
    "ItemFeatures",
    "ItemTruth",
    "ObservableWorld",
    "UserFeatures",
    "UserTruth",
    "World",
    "make_world",
]

Builder = Callable[[WorldConfig, np.random.Generator, float, np.random.Generator], World]

#: World name -> (builder, one-line description).
WORLDS: dict[str, tuple[Builder, str]] = {
    "synthetic": (build_synthetic, "genre mixture in R^d with generated item text"),
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
    if config.kind not in WORLDS:
        raise UnknownNameError(
            f"world.kind: unknown world {config.kind!r}{suggest(config.kind, WORLDS)}; "
            f"known worlds: {', '.join(sorted(WORLDS))}"
        )
    return WORLDS[config.kind][0](config, rng, horizon_days, arrivals_rng)
