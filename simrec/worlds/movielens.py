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
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from simrec.config import ItemsConfig, UsersConfig, WorldConfig
from simrec.data.movielens import MovieLens, load_movielens
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

__all__ = [
    "Fit",
    "build_movielens",
    "fit_hidden_state",
    "freebase_graph",
    "rank_auc",
    "sample_movielens_users",
]

DAY = 86_400.0
MEAN_APPEAL = 0.29
#: Films from the year before the data start on (ML-100K: 1996-98) rent at the new-release
#: price.
NEW_PRICE, OLD_PRICE = 3.99, 2.99


@dataclasses.dataclass(frozen=True)
class Fit:
    r"""Hidden state fitted from the ratings (see the module docstring).

    Attributes:
        topic: ``(M, d)`` unit topics.
        interest: ``(N, d)`` unit interests (zero for users with no training rating).
        quality: ``(M,)`` in [0, 1].
        appeal: ``(M,)`` in [0, 1].
        auc: In-sample AUC of :math:`\cos(u_j, z_i)` for rated vs unrated pairs (fit check).
        warm_users: ``(N,)`` bool: the user has a training rating.
        warm_items: ``(M,)`` bool: the movie has a training rating.
    """

    topic: np.ndarray
    interest: np.ndarray
    quality: np.ndarray
    appeal: np.ndarray
    auc: float
    warm_users: np.ndarray
    warm_items: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def primary_genres(data: MovieLens) -> np.ndarray:
    """Each movie's primary genre: the rarest of its genres (the most specific), int16."""
    genre_names = data.genre_names
    gid = {g: k for k, g in enumerate(genre_names)}
    counts = Counter(g for gs in data.movies.genres for g in gs)
    return np.array(
        [gid[min(gs, key=lambda g: (counts[g], gs.index(g)))] for gs in data.movies.genres],
        dtype=np.int16,
    )


def train_mask(data: MovieLens, fraction: float) -> np.ndarray:
    """The ratings of the first ``fraction`` of the data in time order (a temporal split).

    The cut is the timestamp below which ``fraction`` of the ratings fall; every rating
    strictly before it is training data (ties at the cut go to the held-out part).
    """
    t = data.ratings.timestamp
    if fraction >= 1.0:
        return np.ones(len(t), dtype=bool)
    return t < split_time(data, fraction)


def split_time(data: MovieLens, fraction: float) -> float:
    """The unix time of a temporal split that leaves ``fraction`` of the ratings before it."""
    t = np.sort(data.ratings.timestamp)
    return float(t[min(int(np.ceil(fraction * len(t))), len(t) - 1)])


def fit_hidden_state(
    data: MovieLens,
    dim: int,
    quality_prior: float,
    appeal_weight: float,
    drop_popularity: bool = True,
    train: np.ndarray | None = None,
    appeal_source: str = "popularity",
) -> Fit:
    """Topics, interests, quality and appeal from the (training) ratings (deterministic).

    Args:
        data: The dataset.
        dim: Latent dimension d.
        quality_prior: Pseudo-ratings at the global mean.
        appeal_weight: Slope of appeal in the standardised popularity signal.
        drop_popularity: Leave the SVD's degree component out.
        train: Boolean mask over the ratings to fit on (default: all).
        appeal_source: ``"popularity"`` (log popularity) or ``"residual"`` (the part of it
            that quality does not explain).

    Movies with no training rating take the centroid topic of their primary genre, the prior
    quality (the training mean rating) and the mean appeal; users with none keep a zero
    interest (:func:`build_movielens` draws it from their stated genre).
    """
    N, M = data.n_users, data.n_items
    if dim >= min(N, M) - 1:
        raise ConfigError(f"world.dim: expected < {min(N, M) - 1} for {data.name}, got {dim}")
    r = data.ratings
    train = np.ones(len(r.user), dtype=bool) if train is None else train
    user, item, stars_of = r.user[train], r.item[train], r.rating[train].astype(float)
    canon = data.movies.duplicate_of
    X = sp.csr_matrix((np.ones(len(user)), (user, canon[item])), shape=(N, M), dtype=np.float64)
    X.data[:] = 1.0  # a pair listed twice counts once
    du, di = np.asarray(X.sum(axis=1)).ravel(), np.asarray(X.sum(axis=0)).ravel()
    warm_u, warm_i = du > 0, di > 0
    Xn = (
        sp.diags(1.0 / np.sqrt(np.maximum(du, 1.0)))
        @ X
        @ sp.diags(1.0 / np.sqrt(np.maximum(di, 1.0)))
    )
    # The leading d + 1 singular triplets (ARPACK from a fixed start: deterministic).
    U, S, Vt = svds(Xn, k=dim + 1, v0=np.full(min(N, M), 1.0 / np.sqrt(min(N, M))))
    order = np.argsort(-S)
    U, S, Vt = U[:, order], S[order], Vt[order]
    # SVD signs are arbitrary; fix them so the fit is the same everywhere. Component 0 of
    # the normalised matrix is the degree direction (sqrt of popularity); dropping it
    # leaves taste to the topics and popularity to appeal.
    k = slice(1, dim + 1) if drop_popularity else slice(0, dim)
    sign = np.sign(Vt[k].sum(axis=1) + 1e-300)
    root = np.sqrt(S[k]) * sign
    interest = _unit(U[:, k] * root) * warm_u[:, None]
    topic = _unit(Vt[k].T * root)
    genre = primary_genres(data)
    G = int(genre.max()) + 1
    centroid = np.zeros((G, dim))
    np.add.at(centroid, genre[warm_i], topic[warm_i])
    topic = np.where(warm_i[:, None], topic, _unit(centroid)[genre])
    topic = topic[canon]  # a film listed twice has one topic

    # Quality: shrunk mean rating (per film, duplicates pooled), 1..5 stars -> [0, 1].
    stars = np.bincount(canon[item], weights=stars_of, minlength=M)
    n = np.bincount(canon[item], minlength=M).astype(float)
    mu = float(stars_of.mean())
    mean = (stars + quality_prior * mu) / (n + quality_prior)
    quality = ((mean - 1.0) / 4.0)[canon]
    n_item = np.bincount(item, minlength=M).astype(float)

    # Appeal: (the part quality does not explain of) log popularity, standardised.
    y = np.log1p(n_item)
    if appeal_source == "residual":
        A = np.stack([np.ones(M), quality], axis=1)
        coef, *_ = np.linalg.lstsq(A[warm_i], y[warm_i], rcond=None)
        y = y - A @ coef
    elif appeal_source != "popularity":
        raise ConfigError(
            "world.movielens.appeal_source: expected 'popularity' or 'residual', "
            f"got {appeal_source!r}"
        )
    z = np.where(warm_i, (y - y[warm_i].mean()) / max(y[warm_i].std(), 1e-12), 0.0)
    base = np.log(MEAN_APPEAL / (1.0 - MEAN_APPEAL))
    appeal = 1.0 / (1.0 + np.exp(-(base + appeal_weight * z)))

    C = interest[warm_u] @ topic.T
    rated = np.asarray(X[warm_u][:, canon].todense()) > 0
    auc = rank_auc(C[rated], C[~rated])
    return Fit(
        topic.astype(np.float32),
        interest.astype(np.float32),
        quality.astype(np.float32),
        appeal.astype(np.float32),
        auc,
        warm_u,
        warm_i[canon],
    )


@lru_cache(maxsize=4)
def _cached_fit(
    name: str,
    dim: int,
    quality_prior: float,
    appeal_weight: float,
    drop: bool,
    fraction: float,
    source: str,
) -> Fit:
    data = load_movielens(name, quiet=True)
    train = train_mask(data, fraction)
    fit = fit_hidden_state(data, dim, quality_prior, appeal_weight, drop, train, source)
    for a in (fit.topic, fit.interest, fit.quality, fit.appeal, fit.warm_users, fit.warm_items):
        a.setflags(write=False)  # shared between worlds: the engine copies what it changes
    return fit


def rank_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC of ``pos`` over ``neg`` (ties count half).

    >>> rank_auc(np.array([3.0, 2.0]), np.array([1.0, 2.0]))
    0.875
    """
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


def freebase_graph(data: MovieLens) -> KnowledgeGraph:
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
                f"{key}: the {config.kind} world takes this from the data; remove the key "
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
    data = load_movielens(config.kind)
    fit = _cached_fit(
        config.kind,
        config.dim,
        mc.quality_prior,
        mc.appeal_weight,
        mc.drop_popularity_component,
        mc.train_fraction,
        mc.appeal_source,
    )
    N, M = data.n_users, data.n_items
    r, movies = data.ratings, data.movies
    genre_names = data.genre_names
    primary = primary_genres(data)

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
    new_release_year = datetime.fromtimestamp(t0, tz=UTC).year - 1
    price = np.where(np.nan_to_num(year) >= new_release_year, NEW_PRICE, OLD_PRICE)
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
    interest = fit.interest
    if not fit.warm_users.all():
        interest = _cold_interests(fit, stated, config.users.interest_spread, rng)
    user_truth = _draw_user_truth(config.users, interest, rng, genre_of=stated, G=G)
    graph = attribute_graph(items, G)
    if data.kg.head:
        graph = merge_graphs(graph, freebase_graph(data), M)
    return World(
        name=config.kind,
        genre_names=genre_names,
        items=items,
        item_truth=truth,
        users=users,
        user_truth=user_truth,
        graph=graph,
    )


def _cold_interests(
    fit: Fit, stated: np.ndarray, spread: float, rng: np.random.Generator
) -> np.ndarray:
    """Interests with the cold users' (no training rating) drawn from their stated genre.

    A cold user's interest is the unit centroid of the warm users who state the same genre
    (else of all warm users), plus noise of size ``spread / 4`` per unit length.
    """
    warm, interest = fit.warm_users, np.array(fit.interest)
    G = int(stated.max()) + 1
    centroid = np.zeros((G, interest.shape[1]))
    np.add.at(centroid, stated[warm], interest[warm])
    empty = np.linalg.norm(centroid, axis=1) == 0
    centroid[empty] = interest[warm].sum(axis=0)
    cold = np.flatnonzero(~warm)
    noise = spread / 4.0 * rng.standard_normal((len(cold), interest.shape[1]))
    interest[cold] = _unit(_unit(centroid)[stated[cold]] + noise / np.sqrt(interest.shape[1]))
    return interest


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
