"""Offline datasets (Minari), behaviour cloning, the reference policies and the RL table's
comparisons (needs the ``rl`` extra)."""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("minari", reason="needs the rl extra: pip install 'simrec[rl]'")
pytest.importorskip("torch", reason="needs the rl extra: pip install 'simrec[rl]'")

from simrec_agents.rl import offline
from simrec_agents.rl.evaluate import (
    evaluate_policy,
    oracle_policy,
    popularity_policy,
    random_policy,
)
from simrec_agents.rl.zoo import compare, summarise

from simrec.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
LTS = "simrec/LongTermSatisfaction-v0"


def test_minari_export_round_trips(tmp_path):
    """The dataset holds what the env did: replaying its actions gives its rewards."""
    ds = offline.collect_dataset("simrec/lts-pop-v0", LTS, "popularity", 6, 40, root=tmp_path)
    again = offline.load_dataset("simrec/lts-pop-v0", root=tmp_path)
    assert again.total_episodes == 6 and again.total_steps == ds.total_steps
    meta = again.storage.metadata
    assert meta["algorithm_name"] == "popularity"
    # Reference scores: random and oracle on 200 other users (seeds after the logged ones).
    lts = "long_term_satisfaction"
    for key, policy in (("ref_min_score", random_policy(40)), ("ref_max_score", oracle_policy())):
        ref = evaluate_policy(policy, lts, "click", 200, 46, slate_duplicates="fill")
        assert meta[key] == pytest.approx(ref.reward.mean())
    env = again.recover_environment()
    assert env.spec.id == LTS and env.spec.kwargs["slate_duplicates"] == "fill"
    for ep in again.iterate_episodes():
        single = gym.make(LTS, slate_duplicates="fill")
        obs, _ = single.reset(seed=40 + int(ep.id))  # episode i: env seed seed + i
        for k in obs:
            np.testing.assert_allclose(ep.observations[k][0], obs[k], rtol=1e-6)
        for t, action in enumerate(ep.actions):
            obs, r, term, trunc, info = single.step(int(action))
            assert r == pytest.approx(ep.rewards[t])
            assert (term, trunc) == (bool(ep.terminations[t]), bool(ep.truncations[t]))
            assert bool(info["clicked"]) == bool(ep.infos["clicked"][t + 1])
            for k in obs:
                np.testing.assert_allclose(ep.observations[k][t + 1], obs[k], rtol=1e-6)
        assert term or trunc  # the episode ends where the env ended it
    # The popularity behaviour picked the most popular candidate at every step.
    data = offline.stack(again)
    pop = data["obs"]["candidates"][:, :, 8 + 2]  # G = 8 genres; popularity column
    np.testing.assert_array_equal(data["actions"], pop.argmax(axis=1))
    with pytest.raises(ConfigError, match="already exists"):
        offline.collect_dataset("simrec/lts-pop-v0", LTS, "popularity", 2, root=tmp_path)
    with pytest.raises(ConfigError, match="behaviour: unknown behaviour policy 'best'"):
        offline.collect_dataset("simrec/x-v0", LTS, "best", 2, root=tmp_path)


def test_behaviour_cloning_recovers_an_observable_policy(tmp_path):
    """Cloning the popularity rule (a function of the observation) reproduces its outcome."""
    ds = offline.collect_dataset("simrec/lts-p-v0", LTS, "popularity", 100, 0, root=tmp_path)
    policy, losses = offline.train_bc(ds, epochs=8)
    assert losses[-1] < 0.5 * losses[0]
    kw = {"slate_duplicates": "fill"}
    clone = evaluate_policy(policy, "long_term_satisfaction", "click", 150, 10_000, **kw)
    rule = evaluate_policy(
        popularity_policy(), "long_term_satisfaction", "click", 150, 10_000, **kw
    )
    rand = evaluate_policy(random_policy(0), "long_term_satisfaction", "click", 150, 10_000, **kw)
    assert abs(clone.clicks.mean() - rule.clicks.mean()) < 0.1 * rule.clicks.mean()
    assert clone.clicks.mean() > rand.clicks.mean() + 0.5


def test_reference_policies_rank_by_what_they_claim():
    """The oracles read the hidden state of the env they act in; the order is the model's."""
    kw = {"episodes": 400, "seed": 10_000}
    lts = "long_term_satisfaction"
    out = {
        name: evaluate_policy(p, lts, "click", **kw)
        for name, p in [
            ("random", random_policy(0)),
            ("myopic", oracle_policy("utility")),
            ("oracle", oracle_policy("value")),
        ]
    }
    # The myopic oracle takes the clickbait: most clicks, fewest users kept.
    assert out["myopic"].clicks.mean() > 1.5 * out["random"].clicks.mean()
    assert (
        out["oracle"].churned.mean() < out["random"].churned.mean() < out["myopic"].churned.mean()
    )
    with pytest.raises(RuntimeError, match="bind"):
        oracle_policy("value")({"candidates": np.zeros((1, 10, 11))})
    with pytest.raises(ValueError, match="kind"):
        oracle_policy("best")


def _cell(label, seed, values):
    return {
        "env": "e",
        "label": label,
        "seed": seed,
        "train_seconds": 1.0,
        "outcomes": {
            k: list(values) for k in ("reward", "long_term", "clicks", "engagement", "retention")
        },
    }


def test_compare_pairs_seeds_and_users_by_hand():
    ref = _cell("random", None, [1.0, 2.0, 3.0, 4.0])
    a = [_cell("ppo", 0, [2.0, 3.0, 4.0, 5.0]), _cell("ppo", 1, [3.0, 4.0, 5.0, 6.0])]
    mean, hw = compare(a, [ref], "reward")
    # Differences per seed: 1 and 2 for every user (no user noise): t(1) * sd / sqrt(2).
    assert mean == pytest.approx(1.5)
    assert hw == pytest.approx(12.706 * np.std([1.0, 2.0], ddof=1) / np.sqrt(2))
    b = [_cell("ppo-myopic", 0, [2.0, 3.0, 4.0, 5.0]), _cell("ppo-myopic", 1, [2.0, 4.0, 5.0, 6.0])]
    mean, hw = compare(a, b, "reward")  # seed 0 - seed 0: 0; seed 1 - seed 1: (1, 0, 0, 0)
    d1 = np.array([1.0, 0.0, 0.0, 0.0])
    seed_hw = 12.706 * np.std([0.0, d1.mean()], ddof=1) / np.sqrt(2)
    user_hw = 1.96 * np.sqrt(np.mean([0.0, d1.var(ddof=1) / 4]))
    assert mean == pytest.approx(0.125) and hw == pytest.approx(np.hypot(seed_hw, user_hw))
    with pytest.raises(ValueError, match="different seeds"):
        compare(a, [b[0], _cell("ppo-myopic", 5, [0, 0, 0, 0])], "reward")
    table = summarise([ref, *a])
    assert table["e"]["ppo"]["seeds"] == 2 and table["e"]["random"]["seeds"] == 0
    assert table["e"]["ppo"]["vs_random"][0] == pytest.approx(1.5)
