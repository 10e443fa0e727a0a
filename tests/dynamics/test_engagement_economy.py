import numpy as np
import pytest

from simrec.dynamics.economy import purchase_probability, revenue
from simrec.dynamics.engagement import engagement


def test_engagement_limits_and_mean():
    zero = engagement(np.zeros(3), np.ones(3), np.zeros(3), minutes=10.0, noise=0.5)
    assert np.all(zero == 0.0)
    xi = np.random.default_rng(0).standard_normal(200_000)
    e = engagement(np.full_like(xi, 0.8), np.full_like(xi, 0.5), xi, minutes=10.0, noise=0.5)
    expected = 10.0 * 0.8 * 0.75  # the log-normal noise has mean one
    assert e.mean() == pytest.approx(expected, rel=0.01)
    assert (e > 0).all()


def test_purchase_probability_falls_with_price_and_sensitivity():
    price = np.array([0.0, 5.0, 10.0, 50.0])
    p = purchase_probability(price, np.ones(4), np.ones(4), purchase_max=0.3, price_scale=10.0)
    assert p[0] == pytest.approx(0.3)
    assert np.all(np.diff(p) < 0)
    p2 = purchase_probability(
        price, np.full(4, 3.0), np.ones(4), purchase_max=0.3, price_scale=10.0
    )
    assert np.all(p2[1:] < p[1:])
    assert np.all((p >= 0) & (p <= 1))


def test_revenue_only_on_purchase():
    r = revenue(np.array([10.0, 10.0]), np.array([True, False]), margin=0.3)
    assert r.tolist() == pytest.approx([3.0, 0.0])


def test_engagement_appeal_weight_trades_quality_for_appeal():
    q, a, m, xi = np.array([0.8, 0.2]), np.array([0.2, 0.9]), np.ones(2), np.zeros(2)
    quality_only = engagement(q, m, xi, minutes=10.0, noise=0.0)
    assert quality_only.tolist() == pytest.approx([8.0, 2.0])
    # lambda = 0 is the quality-only rule, whatever the appeal.
    same = engagement(q, m, xi, minutes=10.0, noise=0.0, appeal=a, appeal_weight=0.0)
    assert same.tolist() == quality_only.tolist()
    mixed = engagement(q, m, xi, minutes=10.0, noise=0.0, appeal=a, appeal_weight=0.7)
    assert mixed.tolist() == pytest.approx(
        [10 * (0.3 * 0.8 + 0.7 * 0.2), 10 * (0.3 * 0.2 + 0.7 * 0.9)]
    )
    # Above one half, the high-appeal low-quality item holds attention longer.
    assert mixed[1] > mixed[0]
