"""The stochastic wrappers: their propensities are the probabilities of what they serve."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from simrec_agents.stochastic import EpsilonGreedy, Softmax

from simrec import Agent, Simulation
from simrec.agent import AgentContext
from simrec.config import Config, from_dict
from simrec.errors import InvalidActionError
from simrec.types import Propensities, RequestBatch, StochasticSlates


class Fixed(Agent):
    """Scores the candidates by a fixed table (item id -> score)."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float64)

    def scores(self, batch, pool):
        return self.table[pool]

    def recommend(self, batch):  # pragma: no cover - the wrappers only call scores
        raise AssertionError


def setup(agent, seed=0):
    ctx = AgentContext(world=None, rng=np.random.default_rng(seed), slate_size=2,
                       n_candidates=5, retrain_every_days=0.0)  # fmt: skip
    agent.setup(ctx)
    return agent


def batch_of(candidates, K):
    c = np.asarray(candidates)
    return RequestBatch(users=np.arange(len(c)), time=0.0, step=np.zeros(len(c), np.int32),
                        available=np.unique(c), candidates=c, slate_size=K)  # fmt: skip


POLICIES = [
    lambda: EpsilonGreedy(Fixed([0.3, 2.0, -1.0, 0.5, 1.0, -np.inf]), epsilon=0.25),
    lambda: EpsilonGreedy(Fixed([0.3, 2.0, -1.0, 0.5, 1.0, -np.inf]), epsilon=1.0),
    lambda: Softmax(Fixed([0.3, 2.0, -1.0, 0.5, 1.0, -np.inf]), temperature=0.7),
    lambda: Softmax(Fixed(np.zeros(6)), temperature=1.0),
]


@pytest.mark.parametrize("make", POLICIES)
@pytest.mark.parametrize("K", [1, 2, 3])
def test_slate_probabilities_sum_to_one_over_the_support_and_prefixes_marginalise(make, K):
    """Every ordered slate of a 5-item pool: the slate probabilities sum to 1, each prefix
    probability is the sum of its slates', and the item marginals at each position are the
    sums over the slates holding the item there (exact for epsilon-greedy and at the first
    position of softmax)."""
    policy = setup(make())
    pool = np.array([1, 5, 0, 3, 4])  # item 5 is excluded by its scorer (-inf)
    slates = np.array(list(itertools.permutations(pool, K)))
    b = batch_of(np.tile(pool, (len(slates), 1)), K)
    p = policy.probabilities(b, slates)
    assert (p.slate > 0).all() and p.slate.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.allclose(p.cascade[:, -1], p.slate)
    for k in range(K):
        prefix = {}
        for s, ps in zip(map(tuple, slates[:, : k + 1]), p.slate, strict=True):
            prefix[s] = prefix.get(s, 0.0) + ps
        assert np.allclose(p.cascade[:, k], [prefix[tuple(s)] for s in slates[:, : k + 1]])
        for item in pool:
            at = slates[:, k] == item
            marginal = p.slate[at].sum()
            if isinstance(policy, EpsilonGreedy) or k == 0:
                assert np.allclose(p.item[at, k], marginal)
        if isinstance(policy, EpsilonGreedy) or k == 0:
            assert sum(p.item[slates[:, k] == i, k][0] for i in pool) == pytest.approx(1.0)


@pytest.mark.parametrize("make", POLICIES[::2])
def test_drawn_slates_have_the_frequencies_of_their_propensities(make):
    policy = setup(make(), seed=3)
    pool = np.array([1, 5, 0, 3, 4])
    n = 40_000
    b = batch_of(np.tile(pool, (n, 1)), 2)
    out = policy.recommend(b)
    assert isinstance(out, StochasticSlates)
    keys, counts = np.unique(out.items, axis=0, return_counts=True)
    p = policy.probabilities(batch_of(np.tile(pool, (len(keys), 1)), 2), keys)
    # every slate's frequency within 4 binomial standard errors of its probability
    se = np.sqrt(p.slate * (1 - p.slate) / n)
    assert np.all(np.abs(counts / n - p.slate) < 4 * se + 1e-4)
    served = out.propensities.slate
    lookup = {tuple(k): v for k, v in zip(keys.tolist(), p.slate, strict=True)}
    assert np.allclose(served, [lookup[tuple(s)] for s in out.items.tolist()])


def test_softmax_marginals_by_sampling_approach_the_exact_ones():
    policy = setup(Softmax(Fixed([0.3, 2.0, -1.0, 0.5, 1.0, 0.0]), temperature=0.7,
                           item_samples=4000))  # fmt: skip
    pool = np.array([1, 5, 0, 3, 4])
    slates = np.array(list(itertools.permutations(pool, 2)))
    p = policy.probabilities(batch_of(np.tile(pool, (len(slates), 1)), 2), slates)
    for item in pool:
        at = slates[:, 1] == item
        assert np.allclose(p.item[at, 1], p.slate[at].sum(), atol=0.03)


def test_the_wrappers_need_a_scoring_agent_and_valid_settings():
    class NoScores(Agent):
        def recommend(self, batch):  # pragma: no cover
            return None

    with pytest.raises(ValueError, match="expected a scoring agent"):
        EpsilonGreedy(NoScores())
    with pytest.raises(ValueError, match="epsilon: expected a probability"):
        EpsilonGreedy("random", epsilon=1.5)
    with pytest.raises(ValueError, match="temperature: expected a positive"):
        Softmax("random", temperature=0.0)


def small() -> Config:
    return from_dict(
        Config,
        {"world": {"items": {"n_items": 200}, "users": {"n_users": 200}},
         "simulation": {"days": 2, "candidates": 15, "slate_size": 3}},
    )  # fmt: skip


def test_the_log_records_the_served_propensities():
    r = Simulation(small()).run("epsilon-greedy", seed=0,
                                agent_params={"agent": "popularity", "epsilon": 0.5})  # fmt: skip
    imp = r.log.impressions.columns()
    assert not np.isnan(imp["pscore"]).any()
    p = imp["pscore"].reshape(-1, 3)
    assert (p == p[:, :1]).all()  # one slate probability per request
    c = imp["pscore_cascade"].reshape(-1, 3)
    assert np.allclose(c[:, -1], p[:, 0]) and (np.diff(c, axis=1) <= 1e-12).all()
    plain = Simulation(small()).run("popularity", seed=0).log.impressions.columns()
    assert np.isnan(plain["pscore"]).all()  # a deterministic agent that does not say


def test_bad_propensities_are_refused_naming_the_field():
    class Liar(Agent):
        def recommend(self, batch):
            items = np.asarray(batch.candidates[:, : batch.slate_size])
            B, K = items.shape
            return StochasticSlates(
                items, Propensities(np.full(B, 1.5), np.ones((B, K)), np.ones((B, K)))
            )

    with pytest.raises(InvalidActionError, match=r"propensities\.slate\[0\]: expected"):
        Simulation(small()).run(Liar(), seed=0)


@pytest.mark.parametrize("make", POLICIES)
def test_the_first_item_distribution_is_that_of_one_item_slates(make):
    """What the OPE shadow asks once per batch equals the probabilities of every one-item
    slate of the pool, asked one by one."""
    policy = setup(make())
    pool = np.tile(np.array([1, 5, 0, 3, 4]), (3, 1))
    b = batch_of(pool, 1)
    dist = policy.first_item_probabilities(b)
    one_by_one = np.stack(
        [policy.probabilities(b, pool[:, j : j + 1]).slate for j in range(pool.shape[1])], axis=1
    )
    assert np.allclose(dist, one_by_one) and np.allclose(dist.sum(axis=1), 1.0)
