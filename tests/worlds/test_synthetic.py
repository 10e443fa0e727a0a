import re

import numpy as np
import pytest

from simrec.config import ItemsConfig, UsersConfig, WorldConfig
from simrec.errors import ConfigError, UnknownNameError
from simrec.rng import make_streams
from simrec.worlds import make_world
from simrec.worlds.text import GENRES


def build(seed=0, horizon=30.0, **kw):
    s = make_streams(seed)
    return make_world(WorldConfig(**kw), s.world, s.arrivals, horizon)


def test_shapes_ranges_and_unit_vectors():
    w = build(items=ItemsConfig(n_items=500), users=UsersConfig(n_users=300))
    assert (w.n_items, w.n_users, w.dim) == (500, 300, 32)
    assert np.allclose(np.linalg.norm(w.item_truth.topic, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(w.user_truth.interest, axis=1), 1.0, atol=1e-5)
    for a in (w.item_truth.quality, w.item_truth.appeal, w.user_truth.satisfaction):
        assert a.min() >= 0.0 and a.max() <= 1.0
    assert (w.items.price > 0).all() and (w.user_truth.price_sensitivity > 0).all()
    assert w.users.profile.shape == (300, 1 + 8)
    assert len(w.items.title) == len(w.items.description) == 500


def test_same_seed_same_world_other_seed_differs():
    a, b, c = build(0), build(0), build(1)
    assert np.array_equal(a.item_truth.topic, b.item_truth.topic)
    assert a.items.title == b.items.title
    assert not np.array_equal(a.item_truth.topic, c.item_truth.topic)


def test_clickbait_is_high_appeal_low_quality():
    w = build(items=ItemsConfig(n_items=4000, clickbait_fraction=0.25))
    cb = w.item_truth.clickbait
    assert cb.mean() == pytest.approx(0.25, abs=0.03)
    assert w.item_truth.appeal[cb].mean() > w.item_truth.appeal[~cb].mean() + 0.3
    assert w.item_truth.quality[cb].mean() < w.item_truth.quality[~cb].mean() - 0.3


def test_topics_cluster_by_genre():
    w = build(items=ItemsConfig(n_items=2000))
    z, g = w.item_truth.topic, w.items.genre
    cent = np.stack([z[g == k].mean(0) for k in range(8)])
    nearest = np.argmax(z @ cent.T, axis=1)
    assert (nearest == g).mean() > 0.8


def test_text_is_informative_about_topic_but_not_equal():
    w = build(items=ItemsConfig(n_items=1500))
    names = list(GENRES)
    vocab = sorted({word for ws in GENRES.values() for word in ws})
    index = {word: i for i, word in enumerate(vocab)}
    bow = np.zeros((w.n_items, len(vocab)))
    for i in range(w.n_items):
        for word in re.findall(r"[a-z]+", w.items.text(i).lower()):
            if word in index:
                bow[i, index[word]] += 1
    # Genre name appears in the description.
    assert all(names[w.items.genre[i]] in w.items.description[i] for i in range(50))
    # Within a genre, items with similar word bags have more similar hidden topics than
    # random pairs of the same genre: the text carries within-genre topic information.
    z, g = w.item_truth.topic, w.items.genre
    rng = np.random.default_rng(0)
    close, far = [], []
    for k in range(8):
        idx = np.flatnonzero(g == k)
        b = bow[idx] / np.linalg.norm(bow[idx], axis=1, keepdims=True)
        sim = b @ b.T
        np.fill_diagonal(sim, -1)
        nn = sim.argmax(1)
        close.append((z[idx] * z[idx[nn]]).sum(1).mean())
        far.append((z[idx] * z[rng.permutation(idx)]).sum(1).mean())
    assert np.mean(close) > np.mean(far) + 0.02
    # ... but the text does not determine the topic: text-neighbours are far from identical.
    assert np.mean(close) < 0.95


def test_stated_genre_accuracy_and_arrivals_and_releases():
    w = build(
        horizon=20.0,
        items=ItemsConfig(
            n_items=1000, initial_fraction=0.6, release_over_days=10.0, shelf_life_days=5.0
        ),
        users=UsersConfig(n_users=3000, arrivals_per_day=50.0, stated_genre_accuracy=0.7),
    )
    top = w.user_truth.genre_mix.argmax(1)
    acc = (w.users.stated_genre == top).mean()
    assert acc == pytest.approx(0.7 + 0.3 / 8, abs=0.03)
    later = w.users.arrival_day > 0
    assert later.sum() == pytest.approx(1000, abs=4 * np.sqrt(1000))
    assert w.users.arrival_day.max() < 20.0 and np.all(np.diff(w.users.arrival_day) >= 0)
    rel = w.items.release_day
    assert (rel == 0).mean() == pytest.approx(0.6, abs=0.05)
    assert rel.max() <= 10 and (rel[rel > 0] >= 1).all()
    assert np.allclose(w.items.expire_day - rel, 5.0)
    assert w.items.available(0.0).sum() == (rel == 0).sum()


def test_errors():
    with pytest.raises(ConfigError, match=r"world\.n_genres: expected at most 12"):
        build(n_genres=13)
    with pytest.raises(
        UnknownNameError,
        match=r"unknown world 'synthetc' \(did you mean "
        r"'synthetic'\?\)",
    ):
        build(kind="synthetc")


def test_genre_quality_clusters_and_fresh_users():
    from simrec.worlds import new_users

    flat = build(items=ItemsConfig(n_items=4000, clickbait_fraction=0.0))
    clustered = build(items=ItemsConfig(n_items=4000, clickbait_fraction=0.0, genre_quality_sd=1.5))

    def spread(w):
        return np.std([w.item_truth.quality[w.items.genre == g].mean() for g in range(8)])

    assert spread(clustered) > 3 * spread(flat)
    users, truth = new_users(WorldConfig(), flat, np.random.default_rng(0), 5)
    _, truth2 = new_users(WorldConfig(), flat, np.random.default_rng(0), 5)
    assert np.array_equal(truth.interest, truth2.interest)
    assert users.profile.shape == (5, 9) and (users.arrival_day == 0).all()


def continuum(n=20_000, **kw):
    items = ItemsConfig(n_items=n, appeal_model="continuum", **kw)
    return build(items=items, users=UsersConfig(n_users=10)).item_truth


def test_continuum_clickbait_share_and_tradeoff():
    t = continuum(clickbait_fraction=0.15, appeal_quality_correlation=0.0)
    # The flagged tail (c > 0.5) has the configured expected share ...
    assert t.clickbait.mean() == pytest.approx(0.15, abs=0.01)
    # ... and is the high-appeal, low-quality end of a continuum, not a separate class:
    assert t.appeal[t.clickbait].mean() > t.appeal[~t.clickbait].mean() + 0.3
    assert t.quality[t.clickbait].mean() < t.quality[~t.clickbait].mean() - 0.3
    excess = t.appeal - t.quality
    # Excess appeal is spread over the catalog (many values between the two ends).
    inner = (excess > np.quantile(excess, 0.2)) & (excess < np.quantile(excess, 0.8))
    assert np.unique(np.round(excess[inner], 2)).size > 50
    assert excess[t.clickbait].min() > excess[~t.clickbait].min()


def test_continuum_copula_correlates_base_appeal_and_quality():
    none = continuum(clickbait_fraction=0.0, appeal_quality_correlation=0.0)
    some = continuum(clickbait_fraction=0.0, appeal_quality_correlation=0.6)
    r0 = np.corrcoef(np.argsort(np.argsort(none.quality)), np.argsort(np.argsort(none.appeal)))
    r6 = np.corrcoef(np.argsort(np.argsort(some.quality)), np.argsort(np.argsort(some.appeal)))
    assert abs(r0[0, 1]) < 0.03
    # Spearman's rho of a Gaussian copula: (6 / pi) asin(rho / 2) = 0.585 at rho = 0.6.
    assert r6[0, 1] == pytest.approx(6 / np.pi * np.arcsin(0.3), abs=0.03)
    # The marginals are the Beta laws of regular items (quality Beta(5, 2): mean 5/7).
    assert some.quality.mean() == pytest.approx(5 / 7, abs=0.01)
    assert none.clickbait.sum() == 0


def test_clickbaitiness_extremes_and_monotone_tail():
    from simrec.worlds.synthetic import clickbaitiness

    u = np.random.default_rng(0).random(100_000)
    assert (clickbaitiness(u, 1.0) == 1.0).all() and (clickbaitiness(u, 0.0) == 0.0).all()
    shares = [(clickbaitiness(u, f) > 0.5).mean() for f in (0.05, 0.2, 0.5)]
    assert shares == pytest.approx([0.05, 0.2, 0.5], abs=0.01)
