import numpy as np
import pytest

from simrec.dynamics.drift import consume, random_walk


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_consume_limits():
    rng = np.random.default_rng(0)
    u, z = _unit(rng.standard_normal((50, 8))), _unit(rng.standard_normal((50, 8)))
    assert np.allclose(consume(u, z, 0.0), u, atol=1e-6)
    assert np.allclose(consume(u, z, 1.0), z, atol=1e-6)
    moved = consume(u, z, 0.3)
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    # Consumption pulls toward the item: the match with z rises.
    assert np.all((moved * z).sum(1) >= (u * z).sum(1) - 1e-6)


def test_random_walk_scales_with_sqrt_time():
    rng = np.random.default_rng(1)
    n, d = 20_000, 16
    u = _unit(rng.standard_normal((n, d)))
    xi = rng.standard_normal((n, d))
    assert np.allclose(random_walk(u, np.ones(n), xi, 0.0), u, atol=1e-6)
    assert np.allclose(random_walk(u, np.zeros(n), xi, 0.1), u, atol=1e-6)
    d1 = 1.0 - (random_walk(u, np.full(n, 1.0), xi, 0.02) * u).sum(1)
    d4 = 1.0 - (random_walk(u, np.full(n, 4.0), xi, 0.02) * u).sum(1)
    # For small steps 1 - cos ~ |step|^2 / 2, which is proportional to dt.
    assert d4.mean() / d1.mean() == pytest.approx(4.0, rel=0.05)
