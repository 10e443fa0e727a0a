import numpy as np
import pytest

from simrec.dynamics.choice import choice_probabilities, choose, position_bias, utility


def test_extreme_logits_make_choice_deterministic():
    B, K = 1000, 4
    u = np.random.default_rng(0).random(B)
    v = np.full((B, K), -100.0)
    v[:, 2] = 100.0
    assert (choose(v, 0.0, u) == 2).all()
    assert (choose(np.full((B, K), -100.0), 0.0, u) == K).all()  # no click dominates
    assert (choose(np.full((B, K), -100.0), -100.0, np.full(B, 0.999999)) <= K).all()


def test_choice_is_shift_invariant_also_past_the_exp_safe_range():
    """Utilities beyond +-300 are shifted by the row maximum; the draws do not change."""
    rng = np.random.default_rng(11)
    v = rng.normal(0.0, 2.0, size=(20_000, 6))
    u = rng.random(20_000)
    k = choose(v, 0.3, u)
    assert np.array_equal(choose(v + 1e4, 0.3 + 1e4, u), k)  # shifted path
    assert np.array_equal(choose(v - 1e4, 0.3 - 1e4, u), k)  # exp would underflow unshifted
    # And they invert the MNL probabilities (the cumulative rule, checked row by row).
    cum = np.cumsum(np.stack([choice_probabilities(v[i : i + 1], 0.3)[0] for i in range(50)]), 1)
    assert np.array_equal(k[:50], (u[:50, None] >= cum[:, :-1]).sum(axis=1))


def test_probabilities_sum_to_one_and_match_softmax():
    v = np.array([[1.0, 0.0, -1.0]])
    p = choice_probabilities(v, 0.5)
    logits = np.array([1.0, 0.0, -1.0, 0.5])
    assert np.allclose(p[0], np.exp(logits) / np.exp(logits).sum())
    assert np.isclose(p.sum(), 1.0)
    # Numerically stable at huge utilities.
    assert np.isfinite(choice_probabilities(np.array([[1e4, 1e4]]), 0.0)).all()


def test_empirical_frequencies_match_mnl():
    rng = np.random.default_rng(7)
    n = 100_000
    v = np.tile(np.array([[0.5, 0.0, -0.5]]), (n, 1))
    k = choose(v, 0.2, rng.random(n))
    freq = np.bincount(k, minlength=4) / n
    p = choice_probabilities(v[:1], 0.2)[0]
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) < 5 * se)


def test_position_bias_favours_the_top_of_equal_items():
    rng = np.random.default_rng(3)
    n, K = 50_000, 5
    v = np.zeros((n, K)) + position_bias(K, 0.5)[None, :]
    counts = np.bincount(choose(v, 0.0, rng.random(n)), minlength=K + 1)[:K]
    assert np.all(np.diff(counts) < 0)
    assert position_bias(K, 0.0).tolist() == [0.0] * K


def test_utility_terms_have_the_documented_signs():
    z = np.zeros((1, 1))
    base = dict(interest_weight=2.0, appeal_weight=3.0, fatigue_weight=1.5, repeat_penalty=4.0)
    assert utility(np.ones((1, 1)), z, z, z.astype(bool), **base)[0, 0] == pytest.approx(2.0)
    assert utility(z, np.ones((1, 1)), z, z.astype(bool), **base)[0, 0] == pytest.approx(3.0)
    assert utility(z, z, np.ones((1, 1)), z.astype(bool), **base)[0, 0] == pytest.approx(-1.5)
    assert utility(z, z, z, np.ones((1, 1), bool), **base)[0, 0] == pytest.approx(-4.0)
