"""DP-SGD agents: the accountant against opacus', held-out clicks, membership leakage vs epsilon."""

import numpy as np
import pytest

pytest.importorskip("opacus", reason="needs the dp extra: pip install 'simrec[dp]'")

from conftest import small_config
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from simrec_agents.cf.dp import ALPHAS, membership_advantage

from simrec import Simulation, make_agent
from simrec.errors import ConfigError


def dp_config():
    return small_config(days=15, n_users=400, n_items=400, retrain_every_days=1.0)


def test_epsilon_is_opacus_accounting_of_the_steps_taken():
    agent = make_agent("dp-mf", dp_epsilon=2.0, dp_delta=1e-5, sample_rate=0.05, dp_steps=10)
    t = Simulation(dp_config()).run(agent, seed=0).totals
    sigma, steps = t["dp_noise_multiplier"], int(t["dp_steps_taken"])
    assert steps == 10 * 14  # a retrain on each of days 1..14
    fresh = RDPAccountant()
    for _ in range(steps):
        fresh.step(noise_multiplier=sigma, sample_rate=0.05)
    assert t["dp_epsilon_spent"] == pytest.approx(fresh.get_epsilon(1e-5, alphas=ALPHAS), rel=1e-9)
    assert t["dp_epsilon_spent"] <= 2.0
    # The noise is opacus' own answer for the planned schedule (15 scheduled retrains).
    planned = get_noise_multiplier(
        target_epsilon=2.0, target_delta=1e-5, sample_rate=0.05, steps=150, alphas=ALPHAS
    )
    assert sigma == pytest.approx(planned)


def test_membership_leakage_falls_with_epsilon():
    runs = {
        eps: Simulation(dp_config())
        .run(make_agent("dp-mf", dp_epsilon=eps, sample_rate=0.05), seed=0)
        .totals
        for eps in (None, 1.0)
    }
    assert runs[None]["dp_noise_multiplier"] == 0.0 and runs[None]["dp_epsilon_spent"] == np.inf
    assert runs[None]["mia_members"] > 500 and runs[None]["mia_nonmembers"] > 100
    assert runs[1.0]["mia_advantage"] < runs[None]["mia_advantage"] - 0.2
    assert runs[1.0]["mia_auc"] < runs[None]["mia_auc"]


def test_held_out_clicks_are_never_trained_on():
    agent = make_agent("dp-mf", dp_epsilon=None, holdout=1.0)
    Simulation(small_config(days=4, retrain_every_days=1.0)).run(agent, seed=1)
    assert agent.steps_taken == 0  # every click held out: no step was ever taken
    assert agent.kept_clicks(agent.log.columns()).sum() == 0


def test_dp_lm_cf_trains_its_adapter_privately():
    pytest.importorskip("sentence_transformers", reason="needs the lm extra")
    agent = make_agent("dp-lm-cf", dp_epsilon=4.0, sample_rate=0.05, dp_steps=5)
    before = [p.detach().clone() for p in agent.net.parameters()] if hasattr(agent, "net") else []
    r = Simulation(small_config(days=4, retrain_every_days=1.0)).run(agent, seed=2)
    assert not before  # built at setup
    assert 0 < r.totals["dp_epsilon_spent"] <= 4.0
    assert agent.adapter is agent.net.adapter  # scoring uses the privately trained adapter


def test_membership_advantage_by_hand():
    assert membership_advantage(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == (1.0, 1.0)
    adv, auc = membership_advantage(np.array([0.1, 0.3]), np.array([0.2, 0.4]))
    assert adv == pytest.approx(0.5) and auc == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"dp_epsilon": 0}, "dp_epsilon: expected a positive number, got 0"),
        ({"sample_rate": 1.0}, r"sample_rate: expected a number in \(0, 1\), got 1.0"),
        ({"dp_delta": 0.0}, r"dp_delta: expected a number in \(0, 1\), got 0.0"),
        ({"holdout": 2}, r"holdout: expected a number in \[0, 1\], got 2"),
    ],
)
def test_bad_settings(params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make_agent("dp-mf", **params)
