import numpy as np
import pytest

from simrec.dynamics import retention, session

EXIT = dict(base=-1.0, satisfaction_weight=3.0, fatigue_weight=1.0, no_click_weight=0.5)
GAP = dict(gap_min=0.5, gap_max=6.0, shape=1.5)
HAZ = dict(h_min=0.002, h_max=0.25, midpoint=0.3, width=0.05)


def test_exit_rises_as_satisfaction_falls_and_fatigue_rises():
    s = np.linspace(0, 1, 11)
    p = session.exit_probability(s, np.zeros(11), np.ones(11, bool), **EXIT)
    assert np.all(np.diff(p) < 0)
    pf = session.exit_probability(
        np.full(3, 0.5), np.array([0.0, 1.0, 5.0]), np.ones(3, bool), **EXIT
    )
    assert np.all(np.diff(pf) > 0)
    nc = session.exit_probability(np.full(1, 0.5), np.zeros(1), np.zeros(1, bool), **EXIT)
    assert nc[0] > p[5]
    extreme = session.exit_probability(np.zeros(1), np.full(1, 100.0), np.zeros(1, bool), **EXIT)
    assert extreme[0] == pytest.approx(1.0)


def test_mean_gap_grows_as_satisfaction_falls():
    s = np.linspace(0, 1, 21)
    g = retention.mean_return_gap(s, gap_min=0.5, gap_max=6.0, shape=1.5)
    assert g[0] == pytest.approx(6.0) and g[-1] == pytest.approx(0.5)
    assert np.all(np.diff(g) < 0)


def test_return_gap_is_exponential_with_that_mean():
    u = np.random.default_rng(0).random(200_000)
    for s in (0.2, 0.8):
        gaps = retention.return_gap(np.full_like(u, s), u, **GAP)
        mean = retention.mean_return_gap(np.array(s), **GAP)
        assert gaps.mean() == pytest.approx(float(mean), rel=0.01)
        assert np.median(gaps) == pytest.approx(float(mean) * np.log(2), rel=0.02)
        assert (gaps >= 0).all()


def test_churn_hazard_rises_as_satisfaction_falls():
    s = np.linspace(0, 1, 21)
    h = retention.churn_hazard(s, **HAZ)
    assert np.all(np.diff(h) < 0)
    assert h[0] == pytest.approx(0.25, abs=0.01)
    assert h[-1] == pytest.approx(0.002, abs=1e-4)
    assert float(retention.churn_hazard(np.array(0.3), **HAZ)) == pytest.approx(0.126)
    # Statistically: the share of churn draws matches the hazard.
    u = np.random.default_rng(2).random(100_000)
    assert (u < retention.churn_hazard(np.full_like(u, 0.3), **HAZ)).mean() == pytest.approx(
        0.126, abs=0.005
    )


def test_forced_exit_by_request_cap_or_time_budget():
    req = np.array([1, 49, 50, 1])
    minutes = np.array([0.0, 10.0, 0.0, 45.0])
    out = session.forced_exit(req, minutes, max_requests=50, budget_minutes=45.0)
    assert out.tolist() == [False, False, True, True]
    never = session.forced_exit(req, minutes, max_requests=10**9, budget_minutes=np.inf)
    assert not never.any()
