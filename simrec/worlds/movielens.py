r"""The ``movielens-100k`` world: real movies, users and timeline, hidden state fitted to ratings.

Observable (real): each movie's title, year and genres as text (``"Toy Story (1995)"``,
``"Animation, Children's, Comedy film from 1995."``), its primary genre (the rarest of its
genres: the most specific), its director as the creator (Freebase ``film.film.directed_by``),
a rental price by age (3.99 for films of the last three years of the data, 2.99 otherwise),
and its release day; each user's age, a stated favourite genre (the most common primary genre
among the user's first five ratings: a sign-up questionnaire), and the real demographics as
profile text; and the knowledge graph (Freebase triples plus the attribute graph of
:mod:`simrec.worlds.graph`).

Hidden (fitted to the 100,000 ratings, deterministic given the data):

* topics and interests -- the rating matrix :math:`X` (943 x 1,682, 1 where rated; an entry
  listed twice counts with its first id) normalised as :math:`D_u^{-1/2} X D_i^{-1/2}` and
  factorised by SVD; :math:`z_i` and :math:`u_j` are the unit-normalised rows of
  :math:`V_d S_d^{1/2}` and :math:`U_d S_d^{1/2}` (d = ``world.dim``), over components
  1..d: component 0 is the degree direction (square root of popularity), left out by
  default (``drop_popularity_component``) so that topics carry taste and appeal popularity;
* quality -- the movie's mean rating shrunk toward the global mean with
  ``quality_prior`` pseudo-ratings, mapped from 1..5 stars to [0, 1];
* appeal -- popularity that quality does not explain: the residual :math:`r_i` of
  :math:`\log(1 + n_i)` regressed on quality, standardised, and
  :math:`a_i = \sigma(\operatorname{logit} 0.29 + w\, r_i)` (w = ``appeal_weight``; 0.29 is the
  synthetic world's mean appeal); ``clickbait`` marks the top decile of appeal within
  the bottom quartile of quality (popular beyond their ratings);
* satisfaction and price sensitivity -- drawn as in the synthetic world (the data say nothing).

Timeline: real time starts at the first rating. Movies and users first seen in the first
``initial_days`` real days form the day-0 catalog and cohort; the others are released / arrive
at ``(first rating day - initial_days) * time_scale`` -- in the order and at the pace they
entered the data in 1997-98 (the data span 215 days). Movies stay in the catalog.

``world.items.n_items``, ``world.users.n_users``, ``world.users.arrivals_per_day`` and
``world.n_genres`` are fixed by the data; setting them is an error. Fresh users for the
gymnasium envs are real users drawn with replacement (interest plus a little noise).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from functools import lru_cache

import numpy as np

from simrec.config import ItemsConfig, UsersConfig, WorldConfig
from simrec.data.movielens import MovieLens100K, load_movielens_100k
from simrec.errors import ConfigError
from simrec.worlds.base import (
    ItemFeatures,
    ItemTruth,
    KnowledgeGraph,
    UserFeatures,
    UserTruth,
    World,
    scale_age,
)
from simrec.worlds.graph import attribute_graph, merge_graphs

__all__ = ["Fit", "build_movielens", "fit_hidden_state", "freebase_graph", "sample_movielens_users"]

DAY = 86_400.0
MEAN_APPEAL = 0.29
#: Films of the data's last three years (1996-98) rent at the new-release price.
NEW_RELEASE_YEAR, NEW_PRICE, OLD_PRICE = 1996, 3.99, 2.99


@dataclasses.dataclass(frozen=True)
class Fit:
    r"""Hidden state fitted from the ratings (see the module docstring).

    Attributes:
        topic: ``(M, d)`` unit topics.
        interest: ``(N, d)`` unit interests.
        quality: ``(M,)`` in [0, 1].
        appeal: ``(M,)`` in [0, 1].
        auc: In-sample AUC of :math:`\cos(u_j, z_i)` for rated vs unrated pairs (fit check).
    """

    topic: np.ndarray
    interest: np.ndarray
    quality: np.ndarray
    appeal: np.ndarray
    auc: float


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def fit_hidden_state(
    data: MovieLens100K,
    dim: int,
    quality_prior: float,
    appeal_weight: float,
    drop_popularity: bool = True,
) -> Fit:
    """Topics, interests, quality and appeal from the ratings (deterministic)."""
    N, M = data.n_users, data.n_items
    if dim >= min(N, M) - 1:
        raise ConfigError(f"world.dim: expected < {min(N, M) - 1} for movielens-100k, got {dim}")
    r = data.ratings
    canon = data.movies.duplicate_of
    X = np.zeros((N, M))
    X[r.user, canon[r.item]] = 1.0
    du, di = X.sum(axis=1), X.sum(axis=0)
    Xn = X / np.sqrt(du)[:, None] / np.sqrt(np.maximum(di, 1.0))[None, :]
    U, S, Vt = np.linalg.svd(Xn, full_matrices=False)
    # SVD signs are arbitrary up to LAPACK; fix them so the fit is the same everywhere.
    # Component 0 of the normalised matrix is the degree direction (sqrt of popularity);
    # dropping it leaves taste to the topics and popularity to appeal.
    k = slice(1, dim + 1) if drop_popularity else slice(0, dim)
    sign = np.sign(Vt[k].sum(axis=1) + 1e-300)
    root = np.sqrt(S[k]) * sign
    interest = _unit(U[:, k] * root)
    topic = _unit(Vt[k].T * root)
    topic = topic[canon]  # a film listed twice has one topic

    # Quality: shrunk mean rating (per film, duplicates pooled), 1..5 stars -> [0, 1].
    stars = np.bincount(canon[r.item], weights=r.rating.astype(float), minlength=M)
    n = np.bincount(canon[r.item], minlength=M).astype(float)
    mu = float(r.rating.mean())
    mean = (stars + quality_prior * mu) / (n + quality_prior)
    quality = ((mean - 1.0) / 4.0)[canon]
    n_item = np.bincount(r.item, minlength=M).astype(float)

    # Appeal: popularity left unexplained by quality (least squares), standardised.
    y = np.log1p(n_item)
    A = np.stack([np.ones(M), quality], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    z = resid / max(resid.std(), 1e-12)
    base = np.log(MEAN_APPEAL / (1.0 - MEAN_APPEAL))
    appeal = 1.0 / (1.0 + np.exp(-(base + appeal_weight * z)))

    rated = X[:, canon] > 0
    C = interest @ topic.T
    auc = _auc(C[rated], C[~rated])
    return Fit(
        topic.astype(np.float32),
        interest.astype(np.float32),
        quality.astype(np.float32),
        appeal.astype(np.float32),
        auc,
    )


@lru_cache(maxsize=4)
def _cached_fit(dim: int, quality_prior: float, appeal_weight: float, drop: bool) -> Fit:
    data = load_movielens_100k(quiet=True)
    fit = fit_hidden_state(data, dim, quality_prior, appeal_weight, drop)
    for a in (fit.topic, fit.interest, fit.quality, fit.appeal):
        a.setflags(write=False)  # shared between worlds: the engine copies what it changes
    return fit


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC of ``pos`` over ``neg`` (ties count half)."""
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(len(allv))
    ranks[order] = np.arange(1, len(allv) + 1)
    # Average ranks of ties.
    sorted_v = allv[order]
    _, start, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def freebase_graph(data: MovieLens100K) -> KnowledgeGraph:
    """The Freebase triples over items (linked movies) and other entities."""
    M = data.n_items
    ids: dict[str, int] = {}
    for item, entity in zip(data.link.item.tolist(), data.link.entity, strict=True):
        ids[entity] = item
    nxt = M

    def entity_id(e: str) -> int:
        nonlocal nxt
        if e not in ids:
            ids[e] = nxt
            nxt += 1
        return ids[e]

    head = np.array([entity_id(h) for h in data.kg.head], dtype=np.int64)
    tail = np.array([entity_id(t) for t in data.kg.tail], dtype=np.int64)
    names = sorted(set(data.kg.relation))
    rel_id = {name: k for k, name in enumerate(names)}
    relation = np.array([rel_id[x] for x in data.kg.relation], dtype=np.int64)
    return KnowledgeGraph(head, relation, tail, nxt, tuple(names))


def _first_seen(ids: np.ndarray, ts: np.ndarray, n: int) -> np.ndarray:
    first = np.full(n, np.inf)
    np.minimum.at(first, ids, ts.astype(float))
    return first


def _check_fixed(config: WorldConfig) -> None:
    fixed = {
        "world.items.n_items": (config.items.n_items, ItemsConfig().n_items),
        "world.users.n_users": (config.users.n_users, UsersConfig().n_users),
        "world.users.arrivals_per_day": (
            config.users.arrivals_per_day,
            UsersConfig().arrivals_per_day,
        ),
        "world.n_genres": (config.n_genres, WorldConfig().n_genres),
    }
    for key, (value, default) in fixed.items():
        if value != default:
            raise ConfigError(
                f"{key}: the movielens-100k world takes this from the data; remove the key "
                f"(got {value!r})"
            )


def build_movielens(
    config: WorldConfig,
    rng: np.random.Generator,
    horizon_days: float,
    arrivals_rng: np.random.Generator,
) -> World:
    """Build the MovieLens-100K world (see the module docstring).

    Raises:
        ConfigError: A size fixed by the data was set, or ``dim`` is too large.
        DataUnavailableError: The data is neither cached nor fetchable.
    """
    _check_fixed(config)
    mc = config.movielens
    data = load_movielens_100k()
    fit = _cached_fit(config.dim, mc.quality_prior, mc.appeal_weight, mc.drop_popularity_component)
    N, M = data.n_users, data.n_items
    r, movies = data.ratings, data.movies
    genre_names = data.genre_names
    gid = {g: k for k, g in enumerate(genre_names)}
    counts = Counter(g for gs in movies.genres for g in gs)
    primary = np.array(
        [gid[min(gs, key=lambda g: (counts[g], gs.index(g)))] for gs in movies.genres],
        dtype=np.int16,
    )

    t0 = float(r.timestamp.min())
    item_day = (_first_seen(r.item, r.timestamp, M) - t0) / DAY
    user_day = (_first_seen(r.user, r.timestamp, N) - t0) / DAY

    def timeline(days: np.ndarray) -> np.ndarray:
        return np.maximum(days - mc.initial_days, 0.0) * mc.time_scale

    release = np.ceil(timeline(item_day))
    arrival = timeline(user_day)

    # Creator: the film's director (Freebase), else a creator of its own.
    linked = dict(zip(data.link.entity, data.link.item.tolist(), strict=True))
    director = np.full(M, -1, dtype=np.int64)
    names: dict[str, int] = {}
    for h, rel, t in zip(data.kg.head, data.kg.relation, data.kg.tail, strict=True):
        if rel == "film.film.directed_by" and h in linked and director[linked[h]] < 0:
            director[linked[h]] = names.setdefault(t, len(names))
    creator = np.where(director >= 0, director, len(names) + np.arange(M))

    year = movies.year
    year_txt = [("" if np.isnan(y) else f" ({int(y)})") for y in year]
    titles = tuple(f"{t}{y}" for t, y in zip(movies.title, year_txt, strict=True))
    descriptions = tuple(
        f"{', '.join(gs)} film" + ("" if np.isnan(y) else f" from {int(y)}") + "."
        for gs, y in zip(movies.genres, year, strict=True)
    )
    price = np.where(np.nan_to_num(year) >= NEW_RELEASE_YEAR, NEW_PRICE, OLD_PRICE)
    items = ItemFeatures(
        genre=primary,
        creator=creator.astype(np.int32),
        price=price.astype(np.float32),
        release_day=release.astype(np.float32),
        expire_day=np.full(M, np.inf, dtype=np.float32),
        title=titles,
        description=descriptions,
    )
    G = len(genre_names)
    centroid = np.zeros((G, config.dim))
    np.add.at(centroid, primary, fit.topic)
    truth = ItemTruth(
        topic=fit.topic,
        quality=fit.quality,
        appeal=fit.appeal,
        clickbait=(fit.appeal >= np.quantile(fit.appeal, 0.9))
        & (fit.quality <= np.quantile(fit.quality, 0.25)),
        genre_centroid=_unit(centroid).astype(np.float32),
    )

    # Users: the stated genre from the first five ratings (time order).
    order = np.lexsort((r.timestamp, r.user))
    su, si = r.user[order], r.item[order]
    start = np.searchsorted(su, np.arange(N))
    stated = np.empty(N, dtype=np.int16)
    for j in range(N):
        first = primary[si[start[j] : start[j] + 5]]
        stated[j] = np.bincount(first, minlength=G).argmax()
    age = data.users.age.astype(np.int16)
    profile = np.concatenate([scale_age(age)[:, None], np.eye(G)[stated]], axis=1).astype(
        np.float32
    )
    gender = {"M": "man", "F": "woman"}
    description = tuple(
        f"A {a}-year-old {gender.get(g, 'person')}, {o}, who likes {genre_names[s]} films."
        for a, g, o, s in zip(
            age.tolist(), data.users.gender, data.users.occupation, stated.tolist(), strict=True
        )
    )
    users = UserFeatures(
        age=age,
        stated_genre=stated,
        arrival_day=arrival.astype(np.float64),
        profile=profile,
        description=description,
    )
    user_truth = _draw_user_truth(config.users, fit.interest, rng, genre_of=stated, G=G)
    graph = merge_graphs(attribute_graph(items, G), freebase_graph(data), M)
    return World(
        name="movielens-100k",
        genre_names=genre_names,
        items=items,
        item_truth=truth,
        users=users,
        user_truth=user_truth,
        graph=graph,
    )


def _draw_user_truth(
    uc: UsersConfig, interest: np.ndarray, rng: np.random.Generator, genre_of: np.ndarray, G: int
) -> UserTruth:
    N = len(interest)
    k = uc.satisfaction_concentration
    satisfaction = rng.beta(uc.satisfaction_mean * k, (1.0 - uc.satisfaction_mean) * k, N)
    sensitivity = uc.price_sensitivity_median * np.exp(
        uc.price_sensitivity_sigma * rng.standard_normal(N)
    )
    return UserTruth(
        interest=interest.astype(np.float32),
        satisfaction=satisfaction.astype(np.float32),
        price_sensitivity=sensitivity.astype(np.float32),
        genre_mix=np.eye(G, dtype=np.float32)[genre_of],
    )


def sample_movielens_users(
    config: WorldConfig, world: World, rng: np.random.Generator, n: int
) -> tuple[UserFeatures, UserTruth]:
    """``n`` fresh users (arriving at time 0): real users drawn with replacement.

    Each takes a real user's observable profile and fitted interest, perturbed by noise of
    size ``world.users.interest_spread / 4`` per unit length so that repeated draws differ.
    """
    pick = rng.integers(0, world.n_users, size=n)
    u = world.users
    noise = config.users.interest_spread / 4.0 * rng.standard_normal((n, world.dim))
    interest = _unit(world.user_truth.interest[pick] + noise / np.sqrt(world.dim))
    users = UserFeatures(
        age=u.age[pick],
        stated_genre=u.stated_genre[pick],
        arrival_day=np.zeros(n),
        profile=u.profile[pick],
        description=tuple(u.description[k] for k in pick.tolist()),
    )
    G = len(world.genre_names)
    truth = _draw_user_truth(config.users, interest, rng, u.stated_genre[pick], G)
    return users, truth
