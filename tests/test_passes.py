"""Several agents in one pass over the population: the same runs as alone, row for row."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import small_config

from simrec import Simulation
from simrec.agent import Agent
from simrec.config import AgentSpec, replace_path
from simrec.engine import Engine
from simrec.errors import ConfigError, InvalidActionError
from simrec.rng import make_streams
from simrec.runner.local import MAX_PASS, RunSpec, group_runs
from simrec.simulation import not_shareable
from simrec.worlds import make_world

AGENTS = ["random", "popularity", "oracle", "myopic-oracle", "epsilon-greedy"]


def _digest(result) -> str:
    """Every logged row, the totals and the per-user table of a run."""
    h = hashlib.sha256()
    tables = result.log.tables()
    for name in ("impressions", "sessions", "days"):
        for col in sorted(tables[name]):
            a = np.ascontiguousarray(tables[name][col])
            h.update(f"{name}.{col}:{a.dtype.str}:{a.shape}".encode() + a.tobytes())
    h.update(repr(sorted(result.totals.items())).encode())
    h.update(result.users.to_csv().encode())
    return h.hexdigest()


def _busy():
    """Candidates, arrivals, releases, a sampled log and an intervention."""
    cfg = small_config(days=5, n_users=200, n_items=400, candidates=40, log_impressions=0.4)
    for path, value in [
        ("world.users.arrivals_per_day", 15.0),
        ("world.items.initial_fraction", 0.6),
        ("world.items.release_over_days", 4.0),
        ("simulation.interventions", [{"day": 3, "set": {"dynamics.appeal_weight": 0.5}}]),
    ]:
        cfg = replace_path(cfg, path, value)
    return cfg


@pytest.mark.parametrize(
    "config",
    [
        lambda: small_config(days=4, n_users=200, n_items=300),
        _busy,
        lambda: replace_path(
            small_config(days=4, n_users=150, n_items=300), "user_model.choice", "pbm"
        ),
    ],
    ids=["plain", "busy", "pbm"],
)
def test_a_pass_of_several_agents_equals_their_runs_alone(config):
    sim = Simulation(config())
    alone = [_digest(sim.run(agent, seed=3)) for agent in AGENTS]
    together = sim.run_many(AGENTS, seed=3)
    assert [_digest(r) for r in together] == alone
    assert [r.agent for r in together] == AGENTS
    assert all(r.shared_pass == len(AGENTS) for r in together)
    assert [r.hidden_state_read for r in together] == [False, False, True, True, True]


class _Duplicates(Agent):
    isolated_state = True

    def recommend(self, batch):
        return np.tile(batch.available[:1], (len(batch), batch.slate_size))


def test_an_agent_in_a_pass_is_named_in_its_error():
    sim = Simulation(small_config(days=2, n_users=50, n_items=100))
    with pytest.raises(InvalidActionError, match=r"agent 'dup' \(seed 0, day 0, recommend\)"):
        sim.run_many(["random", _Duplicates()], seed=0, labels=[None, "dup"])


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        ("world.kind", "social", "feeds"),
        ("world.supply.enabled", True, "creator economy"),
        ("dynamics.trend_weight", 0.5, "trending"),
        ("simulation.interventions", [{"day": 1, "set": {"dynamics.trend_weight": 1.0}}], "trend"),
    ],
)
def test_worlds_whose_users_reach_each_other_refuse_a_pass(path, value, why):
    cfg = replace_path(small_config(days=2, n_users=50, n_items=100), path, value)
    assert why in not_shareable(cfg)
    with pytest.raises(ConfigError, match="cannot share one pass"):
        Simulation(cfg).run_many(["random", "popularity"], seed=0)
    assert Simulation(cfg).run_many(["random"], seed=0)[0].totals["impressions"] > 0


def test_the_engine_refuses_copies_that_would_reach_each_other():
    cfg = replace_path(small_config(days=2, n_users=50, n_items=100), "dynamics.trend_weight", 1.0)
    s = make_streams(0)
    world = make_world(cfg.world, s.world, s.arrivals, 2.0)
    with pytest.raises(ConfigError, match="copies: 2 runs in one pass"):
        Engine(world, cfg, s.behaviour, None, copies=2)


def _spec(agent, seed, out="o", config=None, label=""):
    from simrec.config import ScenarioConfig, from_dict

    scenario = from_dict(ScenarioConfig, {"name": "t", "agents": [{"name": "random"}]})
    if config is not None:
        scenario = replace_path(scenario, "world.kind", config)
    return RunSpec(scenario, AgentSpec(name=agent, label=label), seed, out)


def test_runs_are_grouped_by_folder_and_seed_when_their_agents_are_isolated():
    todo = [_spec(a, s) for s in (0, 1) for a in ("random", "oracle", "popularity")]
    todo.append(_spec("mf", 0))  # torch's process-wide state: alone
    tasks = group_runs(todo, workers=2)
    shared = [t for t in tasks if len(t) > 1]
    assert sorted((t[0].seed, [s.agent.name for s in t]) for t in shared) == [
        (0, ["random", "oracle", "popularity"]),
        (1, ["random", "oracle", "popularity"]),
    ]
    assert [t[0].agent.name for t in tasks if len(t) == 1] == ["mf"]
    # One seed, two workers: the seed's agents in two passes, so that both workers work.
    one = group_runs([_spec(a, 0) for a in ("random", "oracle", "popularity")], workers=2)
    assert sorted(len(t) for t in one) == [1, 2]
    # Never more than MAX_PASS in a pass; every run exactly once.
    n = 2 * MAX_PASS + 1
    many = group_runs([_spec("random", 0, label=f"r{i}") for i in range(n)], 1)
    assert max(len(t) for t in many) <= MAX_PASS and len(many) == 3  # balanced: 6, 6, 5
    assert max(len(t) for t in many) - min(len(t) for t in many) <= 1
    assert sorted(s.agent.label for t in many for s in t) == sorted(
        f"r{i}" for i in range(2 * MAX_PASS + 1)
    )
    # Folders and seeds are never mixed in a pass.
    mixed = group_runs([_spec("random", 0, "a"), _spec("random", 0, "b"), _spec("random", 1)])
    assert sorted(len(t) for t in mixed) == [1, 1, 1]


def test_runs_of_a_world_that_is_not_shareable_run_alone():
    tasks = group_runs([_spec(a, 0, config="social") for a in ("random", "oracle")], 1)
    assert [len(t) for t in tasks] == [1, 1]
