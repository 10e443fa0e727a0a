import numpy as np
import pytest

from simrec.errors import ConfigError
from simrec.rng import CounterStream, Purpose, distinct_integers, has_duplicates, make_streams


def test_same_seed_same_streams_different_seed_differs():
    a, b, c = make_streams(3), make_streams(3), make_streams(4)
    assert a.world.random() == b.world.random()
    assert a.agent.random() == b.agent.random()
    assert a.behaviour.key == b.behaviour.key != c.behaviour.key


def test_named_streams_are_independent():
    s = make_streams(0)
    draws = [s.world.random(1000), s.arrivals.random(1000), s.agent.random(1000)]
    corr = np.corrcoef(draws)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < 0.1)
    # Drawing from one stream does not shift another.
    t = make_streams(0)
    t.world.random(12345)
    assert t.agent.random() == make_streams(0).agent.random()


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed(bad):
    with pytest.raises(ConfigError, match=r"seed: expected an integer in \[0, 2\*\*63 - 1\]"):
        make_streams(bad)


def test_counter_stream_is_keyed_not_sequential():
    s = CounterStream(key=99)
    users = np.array([5, 9, 1])
    counters = np.array([0, 7, 2])
    full = s.uniform(Purpose.CHOICE, users, counters)
    # Same (user, counter) gives the same draw whatever else is in the batch.
    assert s.uniform(Purpose.CHOICE, users[1:], counters[1:]).tolist() == full[1:].tolist()
    # Purposes, counters and keys give different draws.
    assert not np.array_equal(full, s.uniform(Purpose.CHURN, users, counters))
    assert not np.array_equal(full, s.uniform(Purpose.CHOICE, users, counters + 1))
    assert not np.array_equal(full, CounterStream(key=100).uniform(Purpose.CHOICE, users, counters))


def test_counter_stream_uniform_and_normal_statistics():
    s = CounterStream(key=2024)
    n = 200_000
    u = s.uniform(Purpose.CHOICE, np.arange(n), np.zeros(n, dtype=np.int64))
    assert u.min() >= 0.0 and u.max() < 1.0
    hist = np.bincount((u * 20).astype(int), minlength=20)
    chi2 = ((hist - n / 20) ** 2 / (n / 20)).sum()
    assert chi2 < 45.0  # 19 dof: p ~ 0.001
    # Consecutive counters of one user are uncorrelated.
    v = s.uniform(Purpose.CHOICE, np.zeros(n, dtype=np.int64), np.arange(n))
    assert abs(np.corrcoef(v[:-1], v[1:])[0, 1]) < 0.01
    z = s.normal(Purpose.RANDOM_WALK, np.arange(50_000), np.zeros(50_000, dtype=np.int64), 4)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.02


@pytest.mark.parametrize(("n", "k"), [(1000, 5), (10, 8), (7, 7), (50, 1)])
def test_distinct_integers(n, k):
    g = np.random.default_rng(1)
    x = distinct_integers(lambda r, w: g.random((4000, w)), n, k)
    assert x.shape == (4000, k) and x.min() >= 0 and x.max() < n
    assert all(len(set(row)) == k for row in x.tolist())
    counts = np.bincount(x.ravel(), minlength=n)
    expected = 4000 * k / n
    assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected) + 1)


def test_distinct_integers_redraws_only_rows_with_a_duplicate():
    """Rows without a duplicate keep their first draw; every round draws for every row."""
    g = np.random.default_rng(2)
    shapes, first = [], []

    def draw(r, w):
        shapes.append((r, w))
        u = g.random((3000, w))
        if r == 0:
            first.append(u)
        return u

    x = distinct_integers(draw, 40, 6)  # sparse: 4k <= n
    assert shapes[0] == (0, 6) and len(shapes) > 1 and all(w == 6 for _, w in shapes)
    initial = np.floor(first[0] * 40).astype(np.int64)
    clean = ~has_duplicates(initial)
    assert 0 < clean.sum() < 3000 and np.array_equal(x[clean], initial[clean])
    assert not has_duplicates(x).any()


@pytest.mark.parametrize("k", [1, 2, 10, 17, 30])
def test_has_duplicates_agrees_with_sorting(k):
    g = np.random.default_rng(k)
    for high in (2 * k + 1, 10**12):  # dense repeats; ids past int32
        a = g.integers(0, high, size=(2000, k))
        srt = np.sort(a, axis=1)
        assert np.array_equal(has_duplicates(a), (srt[:, 1:] == srt[:, :-1]).any(axis=1))
    assert has_duplicates(np.zeros((0, k), dtype=np.int64)).shape == (0,)


def test_distinct_integers_rejects_k_above_n():
    with pytest.raises(ValueError, match="k <= n"):
        distinct_integers(lambda r, w: np.zeros((1, w)), 3, 4)
