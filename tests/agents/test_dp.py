"""DP-SGD agents: the accountant against opacus', held-out clicks, membership leakage vs epsilon."""

import numpy as np
import pytest

pytest.importorskip("opacus", reason="needs the dp extra: pip install 'simrec[dp]'")

import torch
from conftest import small_config
from opacus import GradSampleModule
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from simrec_agents.cf.dp import ALPHAS, TableEmbedding, causal_attention, membership_advantage
from simrec_agents.lm.seq import IDEmbedding, SASRec

from simrec import Simulation, make_agent
from simrec.errors import ConfigError

#: Days of the DP worlds: a retrain on each of days 1 .. DAYS - 1 (DAYS scheduled).
DAYS = 8


def dp_config(days: int = DAYS):
    return small_config(days=days, n_users=400, n_items=400, retrain_every_days=1.0)


def test_epsilon_is_opacus_accounting_of_the_steps_taken():
    agent = make_agent("dp-mf", dp_epsilon=2.0, dp_delta=1e-5, sample_rate=0.05, dp_steps=10)
    t = Simulation(dp_config()).run(agent, seed=0).totals
    sigma, steps = t["agent.dp_noise_multiplier"], int(t["agent.dp_steps_taken"])
    assert steps == 10 * (DAYS - 1)  # a retrain on each of days 1 .. DAYS - 1
    fresh = RDPAccountant()
    for _ in range(steps):
        fresh.step(noise_multiplier=sigma, sample_rate=0.05)
    assert t["agent.dp_epsilon_spent"] == pytest.approx(
        fresh.get_epsilon(1e-5, alphas=ALPHAS), rel=1e-9
    )
    assert t["agent.dp_epsilon_spent"] <= 2.0
    # The noise is opacus' own answer for the planned schedule (DAYS scheduled retrains).
    planned = get_noise_multiplier(
        target_epsilon=2.0, target_delta=1e-5, sample_rate=0.05, steps=10 * DAYS, alphas=ALPHAS
    )
    assert sigma == pytest.approx(planned)


def test_membership_leakage_falls_with_epsilon():
    runs = {
        eps: Simulation(dp_config())
        .run(make_agent("dp-mf", dp_epsilon=eps, sample_rate=0.05), seed=0)
        .totals
        for eps in (None, 1.0)
    }
    assert (
        runs[None]["agent.dp_noise_multiplier"] == 0.0
        and runs[None]["agent.dp_epsilon_spent"] == np.inf
    )
    assert runs[None]["agent.mia_members"] > 500 and runs[None]["agent.mia_nonmembers"] > 100
    assert runs[1.0]["agent.mia_advantage"] < runs[None]["agent.mia_advantage"] - 0.2
    assert runs[1.0]["agent.mia_auc"] < runs[None]["agent.mia_auc"]


def test_held_out_clicks_are_never_trained_on():
    agent = make_agent("dp-mf", dp_epsilon=None, holdout=1.0)
    Simulation(small_config(days=4, retrain_every_days=1.0)).run(agent, seed=1)
    assert agent.steps_taken == 0  # every click held out: no step was ever taken
    assert agent.kept_clicks(agent.log.columns()).sum() == 0


def test_dp_lm_cf_trains_its_adapter_privately(sentence_model):
    agent = make_agent("dp-lm-cf", dp_epsilon=4.0, sample_rate=0.05, dp_steps=5)
    before = [p.detach().clone() for p in agent.net.parameters()] if hasattr(agent, "net") else []
    r = Simulation(small_config(days=4, retrain_every_days=1.0)).run(agent, seed=2)
    assert not before  # built at setup
    assert 0 < r.totals["agent.dp_epsilon_spent"] <= 4.0
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


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_dp_seq_per_user_gradients_are_each_users_own():
    """opacus' per-user gradients of the private transformer equal one backward per user.

    So the causal and padding masks keep each user's gradient to their own sequence, and
    the clipping bounds what any one user contributes to a step.
    """
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = SASRec(IDEmbedding(30, 8, gen), 8, 6, 2, 2, 0.0)
    model.item_embed = TableEmbedding(model.item_embed)
    for layer in model.blocks.layers:
        layer.self_attn = causal_attention(layer.self_attn)
    model.batched_positions = True
    x = torch.randint(0, 30, (4, 6))
    x[0, :4] = -1  # a short history, left-padded
    y = torch.randint(0, 30, (4, 6))

    def losses(m, xs, ys):
        h = m(xs)
        return -torch.nn.functional.logsigmoid((h * model.item_embed(ys)).sum(-1)).mean(1)

    gsm = GradSampleModule(model, loss_reduction="mean")
    gsm.train()
    losses(gsm, x, y).mean().backward()
    per_user = {n: p.grad_sample.clone() for n, p in gsm.named_parameters()}
    gsm.zero_grad(set_to_none=True)
    gsm.disable_hooks()
    for b in range(4):
        model.zero_grad(set_to_none=True)
        losses(model, x[b : b + 1], y[b : b + 1]).sum().backward()
        for n, p in model.named_parameters():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            torch.testing.assert_close(per_user[f"_module.{n}"][b], grad, atol=1e-5, rtol=1e-4)


def test_dp_seq_accounts_users_and_holds_out_users():
    days = 5  # the sequence model trains slower than the others: a shorter world
    agent = make_agent("dp-seq", dp_epsilon=2.0, dp_steps=5)
    t = Simulation(dp_config(days)).run(agent, seed=0).totals
    assert int(t["agent.dp_steps_taken"]) == 5 * (days - 1)
    planned = get_noise_multiplier(
        target_epsilon=2.0, target_delta=1e-5, sample_rate=0.05, steps=5 * days, alphas=ALPHAS
    )
    assert t["agent.dp_noise_multiplier"] == pytest.approx(planned)  # users: q = 0.05 by default
    assert 0 < t["agent.dp_epsilon_spent"] <= 2.0
    # Members and non-members are users with two clicks or more, split by the holdout draw.
    assert t["agent.mia_members"] > 3 * t["agent.mia_nonmembers"] > 0
    held_out = make_agent("dp-seq", dp_epsilon=None, holdout=1.0)
    Simulation(small_config(days=4, retrain_every_days=1.0)).run(held_out, seed=1)
    assert held_out.steps_taken == 0  # every user held out: no step was ever taken
    assert np.isnan(held_out.privacy_report()["mia_advantage"])  # no members to attack


def test_dp_lm_seq_trains_its_adapter_privately(sentence_model):
    agent = make_agent("dp-lm-seq", dp_epsilon=4.0, dp_steps=5)
    r = Simulation(small_config(days=4, retrain_every_days=1.0)).run(agent, seed=2)
    assert 0 < r.totals["agent.dp_epsilon_spent"] <= 4.0
    adapter = agent.model.item_embed.adapter
    assert adapter.weight.grad_sample is None or adapter.weight.grad_sample.ndim == 3
    assert agent.net is agent.model  # scoring uses the privately trained transformer
