"""Collaborative-filtering agents: learning, retraining, errors."""

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs the cf extra: pip install 'simrec[cf]'")
pytest.importorskip("scipy", reason="needs the cf extra: pip install 'simrec[cf]'")

from conftest import busy, quickstart_like, small_config

from simrec import Simulation, make_agent
from simrec.agent import AgentContext
from simrec.config import with_settings
from simrec.errors import ConfigError

#: Determinism, valid slates and observable-only behaviour of every agent:
#: tests/agents/test_check_agent.py (simrec.checks.check_agent).
CF = ["mf", "ncf", "item-knn", "als", "bpr"]


@pytest.mark.parametrize("name", ["mf", "ncf"])
def test_retraining_is_warm_started(name):
    agent = make_agent(name, epochs=0)
    r = Simulation(small_config(days=3, retrain_every_days=1.0)).run(agent, seed=0)
    assert r.cost.fits == 2 and agent.fits == 2  # days 1 and 2: the calendar's schedule
    params = [p.detach().clone() for p in _params(agent)]
    agent.retrain(3.0)  # zero epochs: a warm start changes nothing, a re-init would
    assert all(torch_equal(p, q) for p, q in zip(params, _params(agent), strict=True))
    trained = make_agent(name, epochs=1)
    Simulation(small_config(days=3)).run(trained, seed=0)
    before = [p.detach().clone() for p in _params(trained)]
    trained.retrain(3.0)
    after = _params(trained)
    moved = [float((p - q.detach()).abs().max()) for p, q in zip(before, after, strict=True)]
    assert max(moved) > 0  # training continues from the previous parameters
    assert trained.cost().params == sum(p.numel() for p in after)


def test_epoch_order_keeps_new_clicks_and_replays_old_ones():
    from simrec_agents.cf.torch_util import epoch_order

    times = np.repeat(np.arange(10.0), 10)  # 100 clicks, 10 a day over days 0..9
    unbudgeted = epoch_order(times, 7.5, None, np.random.default_rng(3))
    assert np.array_equal(unbudgeted, np.random.default_rng(3).permutation(100))
    assert np.array_equal(epoch_order(times, 7.5, 100, np.random.default_rng(3)), unbudgeted)
    order = epoch_order(times, 7.5, 30, np.random.default_rng(3))
    assert len(order) == 30 and len(np.unique(order)) == 30
    assert set(np.flatnonzero(times > 7.5)) <= set(order)  # all 20 new clicks ...
    assert (times[order] <= 7.5).sum() == 10  # ... and 10 replayed older ones
    few = epoch_order(times, 4.5, 30, np.random.default_rng(3))  # 50 new > budget
    assert len(few) == 30 and (times[few] > 4.5).all()


@pytest.mark.parametrize("name", ["mf", "ncf"])
def test_click_budget_bounds_training_and_is_inert_above_the_log(name):
    cfg = small_config(days=4, retrain_every_days=1.0)
    runs = {
        b: Simulation(cfg).run(make_agent(name, max_clicks=b), seed=2) for b in (None, 10**9, 40)
    }
    items = {b: r.log.impressions.columns()["item"] for b, r in runs.items()}
    assert np.array_equal(items[None], items[10**9])  # a budget above the log changes nothing
    assert not np.array_equal(items[None], items[40])  # a binding one trains on fewer clicks


def _params(agent):
    if agent.name == "mf":
        return [agent.P, agent.Q, agent.b]
    return list(agent.model.parameters())


def torch_equal(p, q):
    import torch

    return bool(torch.equal(p, q))


def test_item_knn_similarity_by_hand():
    agent = make_agent("item-knn", shrinkage=0.0, neighbours=5)
    cfg = small_config()
    world = Simulation(cfg).build_world(0)
    from simrec.rng import make_streams

    agent.setup(AgentContext(world.observable, make_streams(0).agent, 5, 0, 1.0))
    # Users 0 and 1 click items 1 and 2; user 2 clicks items 1 and 3.
    data = {
        "user": np.array([0, 0, 1, 1, 2, 2, 2]),
        "item": np.array([1, 2, 1, 2, 1, 3, 4]),
        "click": np.array([1, 1, 1, 1, 1, 1, 0], bool),
        "time": np.zeros(7, np.float32),
    }
    agent.log.user_clicks[:3] = 1
    agent.fit(data, 1.0)
    S = agent.S.toarray()
    assert S[1, 2] == pytest.approx(2 / np.sqrt(3 * 2))
    assert S[1, 3] == pytest.approx(1 / np.sqrt(3 * 1))
    assert S[2, 3] == 0.0 and S[1, 1] == 0.0 and S[4].sum() == 0.0
    scores = agent.score(np.array([2]), np.array([[2, 3, 4]]))
    assert scores[0].tolist() == pytest.approx([S[1, 2] + S[3, 2], S[1, 3], 0.0])


def test_als_solves_hu_koren_volinsky_normal_equations():
    """One exact half-step of the agent's ALS (``implicit``) equals the paper's closed form
    x_u = (Y'C^u Y + lambda I)^-1 Y'C^u p(u) with c = 1 + alpha r, the confidences the agent
    passes; users without clicks get 0."""
    cfg = small_config(days=1)
    world = Simulation(cfg).build_world(0)
    agent = make_agent("als", factors=3, alpha=5.0, reg=0.1, iterations=1, use_cg=False)
    agent.setup(AgentContext(world.observable, np.random.default_rng(0), 5, 0, 1.0))
    N, M = agent.log.n_users, agent.log.n_items
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((M, 3)).astype(np.float32)
    agent.model.item_factors = Y.copy()
    agent.model.user_factors = np.zeros((N, 3), dtype=np.float32)
    # user 0 clicked item 0 twice and item 2 once; user 1 saw item 1 without clicking
    data = {
        "user": np.array([0, 0, 0, 1], dtype=np.int32),
        "item": np.array([0, 0, 2, 1], dtype=np.int32),
        "click": np.array([True, True, True, False]),
    }
    agent.fit(data, now=1.0)
    r = np.zeros(M)
    r[0], r[2] = 2, 1
    c, p = 1 + 5.0 * r, (r > 0).astype(float)
    Yd = Y.astype(np.float64)
    A = Yd.T @ (c[:, None] * Yd) + 0.1 * np.eye(3)
    assert np.allclose(agent.model.user_factors[0], np.linalg.solve(A, Yd.T @ (c * p)), atol=1e-4)
    assert np.allclose(agent.model.user_factors[1], 0.0)


def test_bpr_warm_starts_and_repeats():
    """Retraining continues from the previous factors, and a seed gives the same factors."""
    cfg = small_config(days=3, retrain_every_days=1.0)
    a = Simulation(cfg).run("bpr", seed=0)
    b = Simulation(cfg).run("bpr", seed=0)
    np.testing.assert_equal(a.totals, b.totals)  # NaN-aware
    assert np.array_equal(a.log.impressions.columns()["item"], b.log.impressions.columns()["item"])
    world = Simulation(cfg).build_world(0)
    agent = make_agent("bpr", factors=4)
    agent.setup(AgentContext(world.observable, np.random.default_rng(0), 5, 0, 1.0))
    agent.model.learning_rate = 0.0  # no learning: a warm start keeps the factors
    data = {
        "user": np.array([0, 1, 2], dtype=np.int32),
        "item": np.array([3, 4, 5], dtype=np.int32),
        "click": np.array([True, True, True]),
    }
    agent.fit(data, now=1.0)
    first = agent.model.item_factors.copy()
    agent.fit(data, now=2.0)
    assert np.array_equal(first, agent.model.item_factors)


def test_exploration_and_exclusion():
    cfg = small_config(days=3)
    greedy = Simulation(cfg).run("mf", seed=0)
    explore = Simulation(cfg).run(make_agent("mf", epsilon=1.0), seed=0)
    assert not np.array_equal(
        greedy.log.impressions.columns()["item"][:500],
        explore.log.impressions.columns()["item"][:500],
    )
    # With exclusion, nobody is shown again an item they clicked in the last 50.
    imp = greedy.log.impressions.columns()
    clicked = {}
    for u, i, c, t in zip(imp["user"], imp["item"], imp["click"], imp["time"], strict=True):
        if (u, i) in clicked and t > clicked[(u, i)]:
            raise AssertionError(f"user {u} was shown again clicked item {i}")
        if c:
            clicked[(u, i)] = t
    soft = Simulation(cfg).run(make_agent("mf", temperature=0.5), seed=0)
    assert soft.totals["clicks"] > 0


def _feedback(users, slates, clicked, time=0.5):
    from simrec.types import Feedback

    slates, clicked = np.asarray(slates), np.asarray(clicked, dtype=bool)
    zeros = np.zeros(slates.shape, dtype=np.float32)
    return Feedback(
        users=np.asarray(users),
        time=time,
        slates=slates,
        clicked=clicked,
        purchased=np.zeros(slates.shape, dtype=bool),
        engagement=zeros,
        revenue=zeros,
        session_ended=np.zeros(len(users), dtype=bool),
    )


def test_every_click_enters_the_consumed_buffer_in_order():
    """Several clicks of a user in one batch (two in a slate, two requests): each enters the
    ring buffer, request by request and in slate order; beyond its length, the last ones."""
    from simrec_agents.cf.base import Interactions

    log = Interactions(3, 20, recent=4)
    fb = _feedback(
        [0, 1, 0],
        [[5, 6, 7], [10, 11, 12], [8, 9, 3]],
        [[1, 0, 1], [0, 1, 0], [1, 1, 1]],
    )
    log.add(fb)
    assert log.consumed[0].tolist() == [3, 7, 8, 9]  # 5, 7, 8, 9, 3 in a ring of 4
    assert (log.consumed_next[0], log.user_clicks[0]) == (5, 5)
    assert log.consumed[1].tolist() == [11, -1, -1, -1] and log.consumed_next[1] == 1
    log.add(_feedback([1], [[13, 14, 15]], [[1, 0, 1]], time=0.6))
    assert log.consumed[1].tolist() == [11, 13, 15, -1] and log.consumed_next[1] == 3
    # A real run under the position-based choice model (several clicks per slate): each
    # user's buffer is the in-order replay of every click the agent observed.
    agent = make_agent("mf", recent_consumed=3)
    seen = []
    observe = agent.observe
    agent.observe = lambda fb: (seen.append(fb), observe(fb))
    cfg = with_settings(small_config(days=2), {"user_model.choice": "pbm"})
    Simulation(cfg).run(agent, seed=0)
    assert any((fb.clicked.sum(axis=1) > 1).any() for fb in seen)
    replay = Interactions(agent.log.n_users, agent.log.n_items, recent=3)
    for fb in seen:
        for r, c in zip(*np.nonzero(fb.clicked), strict=True):
            u = fb.users[r]
            replay.consumed[u, replay.consumed_next[u] % 3] = fb.slates[r, c]
            replay.consumed_next[u] += 1
    assert np.array_equal(agent.log.consumed, replay.consumed)
    assert np.array_equal(agent.log.consumed_next, replay.consumed_next)
    assert agent.log.consumed_next.sum() == agent.log.user_clicks.sum()


@pytest.mark.parametrize("candidates", [5, 6])
def test_exploration_swaps_what_a_small_pool_allows(candidates):
    """epsilon with a pool of the slate's size (nothing unused: slates as ranked) or one item
    more (one position swapped, to that item): no error, distinct slates from the pool."""
    from simrec.types import RequestBatch

    cfg = small_config(days=2, candidates=candidates, slate_size=5)
    r = Simulation(cfg).run(make_agent("mf", epsilon=0.9), seed=0)
    items = r.log.impressions.columns()["item"].reshape(-1, 5)
    assert len(items) and all(len(set(row)) == 5 for row in items.tolist())
    world = Simulation(cfg).build_world(0).observable
    pool = np.arange(10 * candidates).reshape(10, candidates)
    batch = RequestBatch(np.arange(10), 0.0, np.zeros(10, np.int32), np.arange(200), pool, 5)
    slates = {}
    for epsilon in (0.0, 1.0):  # 1: every position is drawn for exploration
        agent = make_agent("mf", epsilon=epsilon)
        agent.setup(AgentContext(world, np.random.default_rng(0), 5, candidates, 1.0))
        slates[epsilon] = agent.recommend(batch)  # same stream: same ranking before exploring
    for row, cands in zip(slates[1.0].tolist(), pool.tolist(), strict=True):
        assert len(set(row)) == 5 and set(row) <= set(cands)
    swapped = (slates[1.0] != slates[0.0]).sum(axis=1)
    assert swapped.tolist() == [candidates - 5] * 10


@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        ("mf", {"dim": 0}, "dim: expected a positive integer, got 0"),
        ("mf", {"lr": -0.1}, r"lr: expected a positive number, got -0\.1"),
        ("mf", {"loss": "hinge"}, "loss: expected 'bpr' or 'bce', got 'hinge'"),
        ("ncf", {"layers": [32, 0]}, "layers: expected a non-empty list of positive integers"),
        ("ncf", {"negatives": 0}, "negatives: expected a positive integer"),
        ("mf", {"max_clicks": 0}, "max_clicks: expected a positive integer, got 0"),
        ("item-knn", {"neighbours": -1}, "neighbours: expected a positive integer"),
        ("als", {"factors": 2.5}, "factors: expected a positive integer, got 2.5"),
        ("als", {"reg": 0}, "reg: expected a positive number, got 0"),
        ("als", {"use_cg": "yes"}, "use_cg: expected true or false, got 'yes'"),
        ("bpr", {"iterations": 0}, "iterations: expected a positive integer, got 0"),
        ("mf", {"epsilon": 1.5}, r"epsilon: expected a number in \[0, 1\]"),
        ("mf", {"dims": 8}, r"params\.dims: unknown parameter \(did you mean 'dim'\?\)"),
    ],
)
def test_bad_hyperparameters(name, params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make_agent(name, **params)


@pytest.fixture(scope="session")
def reference_clicks():
    """Clicks of random, popularity and the oracle in the world of the test below, per seed:
    computed once for the five CF agents."""
    sim = Simulation(busy(quickstart_like()))
    return {
        seed: {
            a: sim.run(a, seed=seed).totals["clicks"] for a in ("random", "popularity", "oracle")
        }
        for seed in (0, 1)
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", CF)
def test_beats_random_and_popularity_below_oracle(name, reference_clicks):
    """30 days in a quickstart-like world (1,000 users x 1,000 items) whose users come back
    within hours (enough interactions to learn from in a month), two seeds.

    ALS only ties popularity in this world: on an AVX2-only machine (2026-12-07) 7,225 and
    7,123 clicks against popularity's 7,274 and 6,944 (-0.7%, +2.6%; the other CF agents
    +11% to +33%), and which side of popularity it lands on moves with the CPU's arithmetic
    (implicit's compiled solver). Its check: at least popularity's clicks less 3%, each seed."""
    sim = Simulation(busy(quickstart_like()))
    for seed in (0, 1):
        clicks = {**reference_clicks[seed], name: sim.run(name, seed=seed).totals["clicks"]}
        assert clicks["oracle"] > clicks[name] > clicks["random"], clicks
        if name == "als":
            assert clicks[name] > 0.97 * clicks["popularity"], clicks
        else:
            assert clicks[name] > clicks["popularity"] > clicks["random"], clicks


def test_flops_per_request_estimates():
    """MF by hand; every other CF agent's estimate is positive."""
    cfg = small_config(days=3, retrain_every_days=1.0)
    r = Simulation(cfg).run("mf", seed=0, agent_params={"dim": 8})
    pool, M = r.cost.pool_per_request, cfg.world.items.n_items
    assert pool == pytest.approx(M)
    agent = make_agent("mf", dim=8)
    world = Simulation(cfg).build_world(0)
    agent.setup(AgentContext(world.observable, np.random.default_rng(0), 5, 0, 1.0))
    batch = 4.0
    expected = (2 * 8 + 1) * pool + pool + 7 * M / batch  # score + fallback + window sum
    assert agent.request_flops(pool, batch) == pytest.approx(expected)
    assert r.cost.flops_per_request > (2 * 8 + 1) * pool
    for name in ("ncf", "item-knn", "als", "bpr", "kg"):
        c = Simulation(cfg).run(name, seed=0).cost
        assert c.flops_per_request > 0, name
