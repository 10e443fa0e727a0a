r"""The synthetic world: a genre mixture in R^d.

Genre centroids :math:`c_g` are random unit vectors. Each genre has creators with their own
offsets :math:`o_k` and topic words with their own offsets :math:`o_w` (see
:mod:`simrec.worlds.text`). Item *i* of genre *g*, creator *k*, secondary genre *g'* and
words :math:`W_i` (three of its genre's words, which also make up its text):

.. math::
    z_i = \operatorname{normalize}\Big(c_g + \mu_i c_{g'} + \lambda \frac{1}{3}\sum_{w \in W_i} o_w
          + o_k + \sigma_z \epsilon_i/\sqrt{d}\Big),
    \quad \mu_i \sim U(0, m),\ \epsilon_i \sim N(0, I_d)

Quality and appeal: with ``appeal_model: continuum``, base quality :math:`\tilde q_i` and base
appeal :math:`\tilde a_i` are Beta draws joined by a Gaussian copula of correlation
:math:`\rho` (good items tend to be attractive too), and each item trades some of its quality
for appeal by its clickbaitiness :math:`c_i \in [0, 1]`:

.. math:: q_i = \tilde q_i (1 - c_i), \qquad a_i = \tilde a_i + c_i (1 - \tilde a_i),
          \qquad P(c_i > x) = (1 - x)^{\beta}

(a Kumaraswamy(1, :math:`\beta`) law, mostly near 0 with a tail), :math:`\beta` set so that
the expected share of clickbait, :math:`P(c_i > 0.5) = 0.5^{\beta}`, is ``clickbait_fraction``.
With ``appeal_model: classes`` a clickbait class of that share draws quality and appeal from
its own high-appeal, low-quality Beta pair. Prices are log-normal.

User *j* has a Dirichlet genre mixture :math:`\pi_j` and interest
:math:`u_j = \operatorname{normalize}(\sum_g \pi_{jg} c_g + \sigma_u \epsilon_j/\sqrt{d})`;
initial satisfaction is Beta with the configured mean; price
sensitivity is log-normal. Users of the initial cohort arrive on day 0, later users as a
Poisson process over the horizon. The observable stated genre equals the user's top genre with
the configured accuracy, else a random genre.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simrec.config import SupplyConfig, WorldConfig
from simrec.errors import ConfigError
from simrec.worlds.base import (
    ItemFeatures,
    ItemTruth,
    UserFeatures,
    UserTruth,
    World,
    scale_age,
)
from simrec.worlds.text import GENRES, draw_words, item_texts, word_offsets

__all__ = ["build_catalog", "build_synthetic", "draw_users", "reservoir_release", "sample_users"]

CREATORS_PER_GENRE = 12
#: lambda, weight of the words' offsets in an item topic.
WORD_WEIGHT = 0.8


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def build_catalog(
    config: WorldConfig, rng: np.random.Generator, creators_per_genre: int = CREATORS_PER_GENRE
) -> tuple[ItemFeatures, ItemTruth]:
    """Draw the item catalog (observable and hidden tables).

    Args:
        config: World configuration.
        rng: The run's ``world`` stream.
        creators_per_genre: Creators of each genre (creator id = genre x this + slot).

    Raises:
        ConfigError: More genres requested than the text vocabularies provide.
    """
    G, d = config.n_genres, config.dim
    if G > len(GENRES):
        raise ConfigError(
            f"world.n_genres: expected at most {len(GENRES)} (genre vocabularies), got {G}"
        )
    ic = config.items
    centroids = _unit(rng.standard_normal((G, d)))
    creator_offset = 0.4 * _unit(rng.standard_normal((G, creators_per_genre, d)))
    M = ic.n_items
    genre = rng.integers(G, size=M)
    creator_local = rng.integers(creators_per_genre, size=M)
    secondary = (genre + rng.integers(1, G, size=M)) % G if G > 1 else genre.copy()
    mix = rng.uniform(0.0, ic.genre_mixture, size=M)
    offsets = word_offsets(G, d, rng)
    words = draw_words(genre, rng)
    word_part = np.stack([offsets[g][w].mean(axis=0) for g, w in zip(genre, words, strict=True)])
    topic = _unit(
        centroids[genre]
        + mix[:, None] * centroids[secondary]
        + WORD_WEIGHT * word_part
        + creator_offset[genre, creator_local]
        + ic.topic_spread * rng.standard_normal((M, d)) / np.sqrt(d)
    )
    if ic.appeal_model == "continuum":
        quality, appeal, clickbait = _continuum(ic, M, rng)
    else:
        clickbait = rng.random(M) < ic.clickbait_fraction
        quality = np.where(
            clickbait,
            rng.beta(ic.clickbait_quality_a, ic.clickbait_quality_b, M),
            rng.beta(ic.quality_a, ic.quality_b, M),
        )
    if ic.genre_quality_sd > 0.0:
        # Whole genres (topic clusters) of higher or lower quality, as in RecSim's
        # interest-evolution environment: a per-genre shift of the quality logit.
        shift = rng.normal(0.0, ic.genre_quality_sd, G)
        logit = np.log(quality) - np.log1p(-quality)
        quality = 1.0 / (1.0 + np.exp(-(logit + shift[genre])))
    if ic.appeal_model == "classes":
        appeal = np.where(
            clickbait,
            rng.beta(ic.clickbait_appeal_a, ic.clickbait_appeal_b, M),
            rng.beta(ic.appeal_a, ic.appeal_b, M),
        )
    price = ic.price_median * np.exp(ic.price_sigma * rng.standard_normal(M))
    later = rng.random(M) >= ic.initial_fraction
    release = np.where(later, np.ceil(rng.uniform(0.0, ic.release_over_days, M)), 0.0)
    release = np.where(later, np.maximum(release, 1.0), 0.0)
    expire = release + ic.shelf_life_days
    titles, descriptions = item_texts(genre, words, secondary, quality, clickbait, rng)
    items = ItemFeatures(
        genre=genre.astype(np.int16),
        creator=(genre * creators_per_genre + creator_local).astype(np.int32),
        price=price.astype(np.float32),
        release_day=release.astype(np.float32),
        expire_day=expire.astype(np.float32),
        title=tuple(titles),
        description=tuple(descriptions),
    )
    truth = ItemTruth(
        topic=topic.astype(np.float32),
        quality=quality.astype(np.float32),
        appeal=appeal.astype(np.float32),
        clickbait=clickbait,
        genre_centroid=centroids.astype(np.float32),
    )
    return items, truth


def clickbaitiness(u: np.ndarray, fraction: float) -> np.ndarray:
    """Clickbaitiness ``c`` by inversion of uniforms: ``P(c > x) = (1 - x) ** beta``.

    ``beta = log(fraction) / log(0.5)``, so that ``P(c > 0.5) = fraction``.

    >>> c = clickbaitiness(np.random.default_rng(0).random(200_000), 0.2)
    >>> round(float((c > 0.5).mean()), 2)
    0.2
    >>> clickbaitiness(np.array([0.3, 0.9]), 0.0).tolist()
    [0.0, 0.0]
    """
    if fraction <= 0.0:
        return np.zeros_like(u)
    if fraction >= 1.0:
        return np.ones_like(u)
    beta = np.log(fraction) / np.log(0.5)
    return 1.0 - (1.0 - u) ** (1.0 / beta)


def _continuum(ic, M: int, rng: np.random.Generator):  # noqa: ANN001, ANN202 - ItemsConfig
    """Quality, appeal and the clickbait flag of the 'continuum' appeal model."""
    base_q = np.sort(rng.beta(ic.quality_a, ic.quality_b, M))
    base_a = np.sort(rng.beta(ic.appeal_a, ic.appeal_b, M))
    # A Gaussian copula with Beta marginals: each item takes the order statistics of the
    # two Beta samples at the ranks of a correlated normal pair.
    rho = ic.appeal_quality_correlation
    z1 = rng.standard_normal(M)
    z2 = rho * z1 + np.sqrt(max(1.0 - rho * rho, 0.0)) * rng.standard_normal(M)
    q0 = base_q[np.argsort(np.argsort(z1))]
    a0 = base_a[np.argsort(np.argsort(z2))]
    c = clickbaitiness(rng.random(M), ic.clickbait_fraction)
    return q0 * (1.0 - c), a0 + c * (1.0 - a0), c > 0.5


def draw_users(
    config: WorldConfig,
    centroids: np.ndarray,
    rng: np.random.Generator,
    arrival_day: np.ndarray,
) -> tuple[UserFeatures, UserTruth]:
    """Draw users (observable and hidden tables), one per entry of ``arrival_day``.

    Args:
        config: World configuration.
        centroids: Genre centroids ``(G, d)`` of the catalog.
        rng: A generator (the run's ``world`` stream, or an env's ``np_random``).
        arrival_day: Arrival day of each user to draw.
    """
    uc = config.users
    G, d = centroids.shape
    N = len(arrival_day)
    genre_mix = rng.dirichlet(np.full(G, uc.interest_concentration), size=N)
    interest = _unit(
        genre_mix @ centroids + uc.interest_spread * rng.standard_normal((N, d)) / np.sqrt(d)
    )
    k = uc.satisfaction_concentration
    satisfaction = rng.beta(uc.satisfaction_mean * k, (1.0 - uc.satisfaction_mean) * k, N)
    sensitivity = uc.price_sensitivity_median * np.exp(
        uc.price_sensitivity_sigma * rng.standard_normal(N)
    )
    top = genre_mix.argmax(axis=1)
    stated = np.where(rng.random(N) < uc.stated_genre_accuracy, top, rng.integers(G, size=N))
    age = np.clip(np.round(rng.normal(34.0, 12.0, N)), 16, 90)
    profile = np.concatenate([scale_age(age)[:, None], np.eye(G)[stated]], axis=1)
    users = UserFeatures(
        age=age.astype(np.int16),
        stated_genre=stated.astype(np.int16),
        arrival_day=np.asarray(arrival_day, dtype=np.float64),
        profile=profile.astype(np.float32),
    )
    truth = UserTruth(
        interest=interest.astype(np.float32),
        satisfaction=satisfaction.astype(np.float32),
        price_sensitivity=sensitivity.astype(np.float32),
        genre_mix=genre_mix.astype(np.float32),
    )
    return users, truth


def sample_users(
    config: WorldConfig, world: World, rng: np.random.Generator, n: int
) -> tuple[UserFeatures, UserTruth]:
    """Draw ``n`` fresh users of the world's population (arriving at time 0)."""
    return draw_users(config, world.item_truth.genre_centroid, rng, np.zeros(n))


def reservoir_release(
    items: ItemFeatures, supply: SupplyConfig, creators_per_genre: int
) -> ItemFeatures:
    """The catalog of a supply world: day-0 items of the initial creators; the rest unreleased.

    Args:
        items: The drawn catalog (``creator = genre x creators_per_genre + slot``).
        supply: The economy's settings.
        creators_per_genre: Creator slots per genre in ``items``.
    """
    slot = items.creator % creators_per_genre
    day0 = (items.release_day == 0.0) & (slot < supply.initial_creators_per_genre)
    release = np.where(day0, 0.0, np.inf).astype(np.float32)
    expire = np.where(day0, items.expire_day, np.inf).astype(np.float32)
    return dataclasses.replace(items, release_day=release, expire_day=expire)


def build_synthetic(
    config: WorldConfig,
    rng: np.random.Generator,
    horizon_days: float,
    arrivals_rng: np.random.Generator,
) -> World:
    """Build a synthetic world: the catalog, then the day-0 cohort and later arrivals.

    Args:
        config: World configuration.
        rng: The run's ``world`` stream.
        horizon_days: Days simulated (later users arrive within it).
        arrivals_rng: The run's ``arrivals`` stream.

    Raises:
        ConfigError: More genres requested than the text vocabularies provide.
    """
    if config.supply.enabled:  # a reservoir released by the creator economy (simrec.supply)
        per_genre = config.supply.initial_creators_per_genre + config.supply.new_creators_per_genre
        items, item_truth = build_catalog(config, rng, per_genre)
        items = reservoir_release(items, config.supply, per_genre)
    else:
        items, item_truth = build_catalog(config, rng)
    uc = config.users
    n_later = int(arrivals_rng.poisson(uc.arrivals_per_day * horizon_days))
    arrival = np.concatenate(
        [np.zeros(uc.n_users), np.sort(arrivals_rng.uniform(0.0, horizon_days, n_later))]
    )
    users, user_truth = draw_users(config, item_truth.genre_centroid, rng, arrival)
    return World(
        name="synthetic",
        genre_names=tuple(list(GENRES)[: config.n_genres]),
        items=items,
        item_truth=item_truth,
        users=users,
        user_truth=user_truth,
    )
