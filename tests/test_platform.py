"""Platform dynamics as one mechanism: trending, the social feeds, the creator economy, and
one of your own (here: moderation) through the same hooks, with no change to the engine."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from simrec import Simulation
from simrec.config import Config, from_dict
from simrec.engine import Engine
from simrec.engine.platform import Platform, platform_rng
from simrec.engine.social import SocialChannel
from simrec.engine.trending import Trending
from simrec.errors import ConfigError
from simrec.rng import make_streams
from simrec.supply import CreatorEconomy
from simrec.worlds import make_world


def small(**over) -> Config:
    data = {
        "world": {"users": {"n_users": 150}, "items": {"n_items": 120}},
        "simulation": {"days": 4, "tick_minutes": 60.0},
    }
    for section, values in over.items():
        data.setdefault(section, {}).update(values)
    return from_dict(Config, data)


class Moderation(Platform):
    """Withdraws, at each day's start, items shown often and clicked rarely (a fourth
    platform dynamic: state, three hooks, outputs)."""

    name = "moderation"
    state: ClassVar[tuple[str, ...]] = ("shown", "clicks", "removed_on")

    def __init__(self, world, config, rng) -> None:
        M = world.n_items
        self.shown, self.clicks = np.zeros(M), np.zeros(M)
        self.removed_on = np.full(M, -1)
        self.days = config.simulation.days
        self.coin = rng.random()  # its own stream: the same value for the same seed

    def connects_users(self, config) -> bool:
        return True  # what some users ignore, nobody is shown any more

    def record(self, feedback) -> None:
        np.add.at(self.shown, feedback.slates.ravel(), 1.0)
        np.add.at(self.clicks, feedback.slates[feedback.clicked], 1.0)

    def catalog(self, day, available):
        bad = (self.shown >= 20) & (self.clicks < 0.02 * self.shown) & (self.removed_on < 0)
        self.removed_on[bad] = day
        return available & (self.removed_on < 0)

    def daily(self):
        return {
            "moderated_items": np.array(
                [(self.removed_on == d).sum() for d in range(self.days)], float
            )
        }

    def totals(self):
        return {"moderated": float((self.removed_on >= 0).sum())}

    def table(self):
        ids = np.flatnonzero(self.removed_on >= 0)
        return {"item": ids, "day": self.removed_on[ids]}


def test_a_platform_of_ones_own_runs_through_every_hook() -> None:
    res = Simulation(small(), platforms=[Moderation]).run("popularity", seed=0)
    removed = res.platform_tables["moderation"]
    assert len(removed) > 0 and res.totals["moderated"] == len(removed)
    assert res.daily["moderated_items"].sum() == len(removed)
    rows = pd.DataFrame(res.log.tables()["impressions"])
    # A withdrawn item is never shown from the day it was withdrawn.
    after = rows.merge(removed, on="item", suffixes=("", "_removed"))
    assert len(after) > 0 and (after["day"] < after["day_removed"]).all()
    again = Simulation(small(), platforms=[Moderation]).run("popularity", seed=0)
    pd.testing.assert_frame_equal(removed, again.platform_tables["moderation"])


def test_a_platform_that_changes_nothing_changes_no_draw() -> None:
    class Idle(Platform):
        name = "idle"

        def __init__(self, world, config, rng) -> None:
            self.value = rng.standard_normal(100)  # draws, from its own stream only

    cfg = small()
    plain = Simulation(cfg).run("random", seed=1)
    idle = Simulation(cfg, platforms=[Idle]).run("random", seed=1)
    for table in ("impressions", "sessions"):
        pd.testing.assert_frame_equal(
            pd.DataFrame(plain.log.tables()[table]), pd.DataFrame(idle.log.tables()[table])
        )
    assert platform_rng(1, "idle").random() != platform_rng(1, "other").random()
    assert platform_rng(1, "idle").random() != platform_rng(2, "idle").random()


def test_a_platform_that_connects_users_refuses_a_shared_pass() -> None:
    with pytest.raises(ConfigError, match="platform's moderation connect them"):
        Simulation(small(), platforms=[Moderation]).run_many(["random", "popularity"], seed=0)
    ok = Simulation(small()).run_many(["random", "popularity"], seed=0)
    assert len(ok) == 2


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({}, [Trending]),
        ({"world": {"kind": "social", "users": {"n_users": 150}}}, [Trending, SocialChannel]),
    ],
)
def test_the_built_in_dynamics_are_platforms(over, expected) -> None:
    cfg = small(**over)
    s = make_streams(0)
    world = make_world(cfg.world, s.world, s.arrivals, 1.0)
    engine = Engine(world, cfg, s.behaviour, None)
    assert [type(p) for p in engine.platforms] == expected
    assert engine.platforms[0].connects_users(cfg) is False  # trend_weight 0
    with_trend = from_dict(Config, {"dynamics": {"trend_weight": 1.0}})
    assert engine.platforms[0].connects_users(with_trend) is True


def test_the_creator_economy_is_a_platform_with_its_table() -> None:
    cfg = small(world={"supply": {"enabled": True}}, simulation={"days": 3})
    res = Simulation(cfg).run("random", seed=0)
    assert issubclass(CreatorEconomy, Platform)
    assert res.creators is not None and res.platform_tables["creators"].equals(res.creators)
