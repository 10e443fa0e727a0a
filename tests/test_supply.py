"""The creator economy: exit, production and entry rules, what agents see, determinism."""

import numpy as np
import pytest

from simrec import Agent, Simulation
from simrec.config import Config, from_dict
from simrec.errors import ConfigError
from simrec.rng import make_streams
from simrec.runner.results import comparable
from simrec.supply import CreatorEconomy, poisson_from_uniform


def economy_config(days: int = 10, n_items: int = 1200, users: int = 150, **supply) -> Config:
    """A small synthetic world whose catalog is released by the creator economy."""
    return from_dict(
        Config,
        {
            "world": {
                "items": {"n_items": n_items, "initial_fraction": 0.3},
                "users": {"n_users": users},
                "supply": {"enabled": True, **supply},
            },
            "simulation": {"days": days, "tick_minutes": 30.0},
        },
    )


def economy(cfg: Config, seed: int = 0) -> CreatorEconomy:
    world = Simulation(cfg).build_world(seed)
    return CreatorEconomy(world, cfg, make_streams(seed).supply)


def test_exit_rule_on_hand_built_exposure():
    cfg = economy_config(exit_max=1.0, exposure_half=10.0, grace_days=3, arrivals_per_day=0.0)
    eco = economy(cfg)
    assert np.allclose(eco.exit_hazard(np.array([0.0, 10.0, 20.0])), [1.0, 0.5, 0.25])
    for day in range(3):  # days 0-2: within the grace period nobody may leave
        eco.start_day(day)
    assert np.isinf(eco.left).all()
    seen = np.flatnonzero(eco.initial)[:10]
    eco.exposure[7, seen] = 1000.0  # a window slot not cleared before day 3's decisions
    eco.start_day(3)
    assert np.isinf(eco.left[seen]).all()  # hazard 2^-100: they stay
    unseen = eco.initial.copy()
    unseen[seen] = False
    assert (eco.left[unseen] == 3).all()  # no exposure, hazard 1: every one leaves
    assert np.isinf(eco.left[~eco.initial]).all()  # slots nobody has taken cannot leave
    assert eco.rows[-1]["creator_retention"] == pytest.approx(10 / eco.initial.sum())


def test_exit_frequency_matches_the_hazard():
    cfg = economy_config(
        n_items=4000,
        initial_creators_per_genre=150,
        new_creators_per_genre=0,
        exit_max=0.3,
        exposure_half=20.0,
        grace_days=0,
        arrivals_per_day=0.0,
    )
    eco = economy(cfg)
    eco.start_day(0)
    half = np.arange(eco.C) % 2 == 0
    eco.exposure[5, half] = 20.0  # these creators' hazard is halved
    eco.start_day(1)
    for group, p in ((half, 0.15), (~half, 0.3)):
        n = int(group.sum())
        left = int((eco.left[group] == 1).sum())
        assert abs(left - n * p) < 5 * np.sqrt(n * p * (1 - p)), (left, n, p)


def test_production_follows_income_and_releases_the_reservoir_in_order():
    cfg = economy_config(
        n_items=12000,
        initial_creators_per_genre=50,
        new_creators_per_genre=0,
        min_rate=0.0,
        max_rate=2.0,
        income_half=5.0,
        revenue_share=1.0,
        pay_per_click=0.0,
        exit_max=0.0,
        arrivals_per_day=0.0,
    )
    eco = economy(cfg)
    assert np.allclose(eco.production_rate(np.array([0.0, 5.0, 1e9])), [0.0, 1.0, 2.0])
    paid = np.arange(eco.C) % 2 == 0
    eco.start_day(0)
    eco.revenue[10, paid] = 5.0  # window income 5: one item a day expected; others none
    before = np.array(eco.release)
    for day in (1, 2, 3):
        eco.start_day(day)
    new = np.flatnonzero(np.isinf(before) & np.isfinite(eco.release))
    per_creator = np.bincount(eco.creator[new], minlength=eco.C)
    assert per_creator[~paid].sum() == 0
    n = 3 * int(paid.sum())
    assert abs(per_creator[paid].sum() - n) < 5 * np.sqrt(n)  # Poisson(1) a day each
    assert set(eco.release[new]) <= {1.0, 2.0, 3.0}
    for c in np.flatnonzero(per_creator)[:20]:  # the lowest-numbered unreleased items first
        pending = np.flatnonzero((eco.creator == c) & np.isinf(before))
        assert set(new[eco.creator[new] == c]) == set(pending[: per_creator[c]])
    assert eco.produced.sum() == len(new)


def test_entry_schedule_is_the_same_for_every_agent_and_creators_join_by_publishing():
    cfg = economy_config(days=25, arrivals_per_day=1.0)
    runs = {a: Simulation(cfg).run(a, seed=4) for a in ("popularity", "random")}
    tables = {a: r.creators for a, r in runs.items()}
    joined = tables["popularity"]["joined_day"].to_numpy()
    assert np.array_equal(joined, tables["random"]["joined_day"].to_numpy())
    new = np.flatnonzero(~tables["popularity"]["initial"].to_numpy() & np.isfinite(joined))
    assert 10 <= len(new) <= 45  # Poisson(1) a day over days 1..24
    items = runs["popularity"].log.items
    for c in new:
        released = np.asarray(items["release_day"])[np.asarray(items["creator"]) == c]
        assert released.min() == joined[c]  # their first item comes out the day they join
    # Same entries and draws; what differs between agents is the exposure they give.
    exposure = [t["impressions"].to_numpy() for t in tables.values()]
    assert not np.array_equal(*exposure)


class ReleaseWatcher(Agent):
    """Popularity-free random slates; checks what the catalog shows at every request."""

    name = "release-watcher"

    def setup(self, context):
        super().setup(context)
        self.seen = []

    def recommend(self, batch):
        release = self.context.world.items.release_day
        assert np.all(release[batch.available] <= batch.time)
        assert np.all(np.isinf(release) | (release <= batch.time))  # no future release day
        with pytest.raises(ValueError):
            release[0] = 0.0  # read-only for agents
        self.seen.append(int(np.isfinite(release).sum()))
        order = self.rng.permuted(np.tile(batch.available, (len(batch), 1)), axis=1)
        return order[:, : batch.slate_size]


def test_agents_see_each_item_only_from_its_release():
    agent = ReleaseWatcher()
    r = Simulation(economy_config(days=12, arrivals_per_day=0.5)).run(agent, seed=1)
    assert agent.seen == sorted(agent.seen) and agent.seen[-1] > agent.seen[0]
    assert r.totals["items_released"] == agent.seen[-1] - agent.seen[0]  # requests every day


def test_same_seed_same_economy_and_metrics_are_consistent():
    cfg = economy_config(days=15, arrivals_per_day=0.5)
    a, b = (Simulation(cfg).run("popularity", seed=3) for _ in range(2))
    assert a.creators.equals(b.creators) and a.daily.equals(b.daily)
    d = a.daily
    assert (d["creator_retention"].diff().dropna() <= 0).all()  # the day-0 cohort only shrinks
    table = a.creators
    assert (
        a.totals["creators_joined"] == (~table["initial"] & np.isfinite(table["joined_day"])).sum()
    )
    assert a.totals["items_released"] == d["items_released"].sum()
    assert d["catalog_size"].iloc[-1] == d["catalog_size"].iloc[0] + d["items_released"].sum()
    assert 0.0 <= d["catalog_genre_entropy"].min() <= d["catalog_genre_entropy"].max() <= 1.0


def test_poisson_inverse_cdf_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    u = np.linspace(0.001, 0.999, 199)
    for rate in (0.05, 0.7, 3.0):
        expected = stats.poisson.ppf(u, rate)
        assert np.array_equal(poisson_from_uniform(u, np.full_like(u, rate)), expected)


def test_bad_settings_and_the_default_identity():
    with pytest.raises(ConfigError, match=r"world\.supply\.max_rate: expected >= min_rate"):
        economy_config(min_rate=0.5, max_rate=0.1)
    with pytest.raises(ConfigError, match=r"world\.supply\.enabled: the creator economy needs"):
        from_dict(Config, {"world": {"kind": "movielens-100k", "supply": {"enabled": True}}})
    from simrec.config import ScenarioConfig

    off = from_dict(ScenarioConfig, {"name": "x", "agents": [{"name": "random"}]})
    on = from_dict(
        ScenarioConfig,
        {"name": "x", "agents": [{"name": "random"}], "world": {"supply": {"enabled": True}}},
    )
    assert "supply" not in comparable(off)["world"]  # results written before it stay valid
    assert comparable(on)["world"]["supply"]["enabled"] is True


def test_gym_envs_refuse_the_economy():
    pytest.importorskip("gymnasium")
    from simrec.config import EnvConfig
    from simrec.envs.core import catalog_for

    with pytest.raises(ConfigError, match=r"world\.supply\.enabled: the gymnasium envs"):
        catalog_for(economy_config(), EnvConfig())
