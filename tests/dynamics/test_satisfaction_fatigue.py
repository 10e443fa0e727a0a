import numpy as np
import pytest

from simrec.dynamics import fatigue, satisfaction


def test_experienced_value_rewards_quality_and_match_and_punishes_letdown():
    ev = satisfaction.experienced_value
    q = np.array([0.9, 0.9, 0.3])
    m = np.array([0.8, -0.8, 0.8])
    a = np.array([0.2, 0.2, 0.9])
    x = ev(q, m, a, clickbait_penalty=1.0)
    assert x[0] > x[1]  # match matters
    assert x[2] == 0.0  # appeal far above quality: the letdown zeroes the value
    assert np.all((x >= 0) & (x <= 1))
    assert ev(q, m, a, clickbait_penalty=0.0)[2] == pytest.approx(0.3 * 0.9)


def test_click_moves_toward_value_no_click_lowers():
    s = np.array([0.2, 0.8], dtype=np.float32)
    up = satisfaction.on_click(s, np.array([1.0, 0.0]), 0.25)
    assert up.tolist() == pytest.approx([0.4, 0.6])
    assert satisfaction.on_click(s, np.array([0.7, 0.7]), 1.0).tolist() == pytest.approx([0.7, 0.7])
    assert satisfaction.on_no_click(np.array([0.003, 0.5]), 0.01).tolist() == pytest.approx(
        [0.0, 0.49]
    )


def test_satisfaction_decay_time_constant():
    s = np.array([0.9, 0.1])
    assert satisfaction.decay(s, np.zeros(2), 0.5, 7.0).tolist() == pytest.approx([0.9, 0.1])
    one_tau = satisfaction.decay(s, np.full(2, 7.0), 0.5, 7.0)
    assert one_tau.tolist() == pytest.approx([0.5 + 0.4 / np.e, 0.5 - 0.4 / np.e], rel=1e-5)
    assert satisfaction.decay(s, np.full(2, 1e6), 0.5, 7.0).tolist() == pytest.approx([0.5, 0.5])


def test_fatigue_accumulates_per_genre_and_decays():
    f = fatigue.accumulate(
        np.zeros((2, 3), dtype=np.float32),
        np.array([[0, 0, 2], [1, 1, 1]]),
        np.array([[True, False, False], [False, False, False]]),
        per_exposure=0.1,
        per_click=1.0,
    )
    assert np.allclose(f, [[1.2, 0.0, 0.1], [0.0, 0.3, 0.0]])
    half = fatigue.decay(f, np.array([np.log(2.0), 0.0]), 1.0)
    assert half[0].tolist() == pytest.approx([0.6, 0.0, 0.05], rel=1e-5)
    assert half[1].tolist() == pytest.approx(f[1].tolist())
