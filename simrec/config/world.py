"""The world's settings: the item catalog, the users, MovieLens, the social graph, the creators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simrec.config.base import INF, MAX_DAYS, Base, FieldError, param

__all__ = [
    "ItemsConfig",
    "MovieLensConfig",
    "SocialConfig",
    "SupplyConfig",
    "UsersConfig",
    "WorldConfig",
]


# ----------------------------------------------------------------------------- world


@dataclass(frozen=True)
class ItemsConfig(Base):
    """The item catalog of a synthetic world."""

    n_items: int = param(2000, "number of items in the catalog (all releases)", "items", gt=0)
    initial_fraction: float = param(
        1.0,
        "share of the catalog available on day 0; the rest is released later",
        "share",
        ge=0.0,
        le=1.0,
    )
    release_over_days: float = param(
        30.0, "later items are released uniformly over days 1..this", "days", gt=0.0, le=MAX_DAYS
    )
    shelf_life_days: float = param(
        INF,
        "days an item stays in the catalog after release (inf: forever)",
        "days",
        gt=0.0,
        allow_inf=True,
        le=MAX_DAYS,
    )
    topic_spread: float = param(
        0.8,
        "std of an item topic around its genre centroid, per sqrt(d)",
        "unit length",
        ge=0.0,
        le=10.0,
    )
    genre_mixture: float = param(
        0.35, "max weight of a random secondary genre in an item topic", "weight", ge=0.0, le=1.0
    )
    genre_quality_sd: float = param(
        0.0,
        "std of a per-genre shift of the quality logit (high- and low-quality clusters)",
        "logit",
        ge=0.0,
        le=10.0,
    )
    appeal_model: Literal["continuum", "classes"] = param(
        "continuum",
        "how appeal and quality are drawn: 'continuum' (correlated, every item trading some "
        "quality for appeal by its clickbaitiness c; the tail c > 0.5 is the clickbait) or "
        "'classes' (a separate clickbait class with its own Beta pairs)",
    )
    clickbait_fraction: float = param(
        0.1,
        "share of clickbait items (high appeal, low quality): 'classes', the class's share; "
        "'continuum', the expected share with clickbaitiness c > 0.5",
        "share",
        ge=0.0,
        le=1.0,
    )
    appeal_quality_correlation: float = param(
        0.3,
        "'continuum': correlation of the Gaussian copula joining base appeal and quality, before "
        "clickbaitiness trades one for the other",
        "",
        ge=-1.0,
        le=1.0,
    )
    quality_a: float = param(
        5.0, "Beta shape a of quality of regular items", "", ge=1e-3, le=1000.0
    )
    quality_b: float = param(
        2.0, "Beta shape b of quality of regular items", "", ge=1e-3, le=1000.0
    )
    appeal_a: float = param(2.0, "Beta shape a of appeal of regular items", "", ge=1e-3, le=1000.0)
    appeal_b: float = param(5.0, "Beta shape b of appeal of regular items", "", ge=1e-3, le=1000.0)
    clickbait_quality_a: float = param(
        2.0, "Beta shape a of quality of clickbait", "", ge=1e-3, le=1000.0
    )
    clickbait_quality_b: float = param(
        8.0, "Beta shape b of quality of clickbait", "", ge=1e-3, le=1000.0
    )
    clickbait_appeal_a: float = param(
        8.0, "Beta shape a of appeal of clickbait", "", ge=1e-3, le=1000.0
    )
    clickbait_appeal_b: float = param(
        2.0, "Beta shape b of appeal of clickbait", "", ge=1e-3, le=1000.0
    )
    price_median: float = param(10.0, "median item price (log-normal)", "currency", gt=0.0, le=1e6)
    price_sigma: float = param(
        0.8, "log-normal sigma of item prices", "log currency", ge=0.0, le=5.0
    )


@dataclass(frozen=True)
class UsersConfig(Base):
    """The user population of a synthetic world."""

    n_users: int = param(2000, "users present on day 0", "users", gt=0)
    arrivals_per_day: float = param(
        0.0, "mean new users arriving per day (Poisson)", "users/day", ge=0.0, le=1e7
    )
    interest_concentration: float = param(
        0.3,
        "Dirichlet concentration of a user's genre mix (small: focused)",
        "",
        ge=1e-3,
        le=1000.0,
    )
    interest_spread: float = param(
        0.6,
        "std of a user's interest around the genre mix, per sqrt(d)",
        "unit length",
        ge=0.0,
        le=10.0,
    )
    satisfaction_mean: float = param(
        0.7, "mean initial satisfaction (Beta)", "[0,1]", gt=0.0, lt=1.0
    )
    satisfaction_concentration: float = param(
        20.0, "concentration of the initial satisfaction Beta", "", ge=1e-3, le=1e4
    )
    price_sensitivity_median: float = param(
        1.0, "median price sensitivity (log-normal)", "1/price_scale", gt=0.0, le=1000.0
    )
    price_sensitivity_sigma: float = param(
        0.5, "log-normal sigma of price sensitivity", "", ge=0.0, le=5.0
    )
    stated_genre_accuracy: float = param(
        0.7,
        "probability that the observable stated favourite genre is the true top genre",
        "probability",
        ge=0.0,
        le=1.0,
    )


@dataclass(frozen=True)
class MovieLensConfig(Base):
    """How the ``movielens-100k`` / ``movielens-1m`` worlds are fitted (docs/movielens.md)."""

    initial_days: float = param(
        30.0,
        "first real days of ratings whose movies and users form the day-0 catalog and cohort",
        "days",
        ge=0.0,
        le=MAX_DAYS,
    )
    time_scale: float = param(
        1.0,
        "simulated days per real day for later releases and arrivals",
        "days/day",
        ge=1e-3,
        le=1000.0,
    )
    quality_prior: float = param(
        10.0,
        "pseudo-ratings at the global mean that shrink a movie's mean rating (quality)",
        "ratings",
        ge=0.0,
        le=1e6,
    )
    appeal_weight: float = param(
        3.0,
        "slope of appeal in the standardised (log) popularity signal of appeal_source",
        "1/sd",
        ge=0.0,
        le=100.0,
    )
    appeal_source: str = param(
        "popularity",
        "what appeal rises with: 'popularity' (log number of ratings) or 'residual' (the part "
        "of it that quality does not explain; simrec 0.1)",
    )
    drop_popularity_component: bool = param(
        True, "leave the SVD's degree (popularity) component out of topics and interests"
    )
    train_fraction: float = param(
        1.0,
        "share of the ratings, in time order, the hidden state is fitted on (0.8: a temporal "
        "split whose last 20% stay held out)",
        "share",
        gt=0.0,
        le=1.0,
    )

    def __post_init__(self) -> None:
        """Validate fields, then the appeal source."""
        super().__post_init__()
        if self.appeal_source not in ("popularity", "residual"):
            raise FieldError(
                "appeal_source",
                f"expected 'popularity' or 'residual', got {self.appeal_source!r}",
            )


@dataclass(frozen=True)
class SocialConfig(Base):
    """The social world (``world.kind: social``): a follow graph and shared items."""

    follows: int = param(10, "accounts each user follows", "users", gt=0, le=10_000)
    homophily: float = param(
        4.0,
        "weight of interest similarity in whom a user follows: P(follow k) proportional to "
        "(followers of k + 1) x exp(homophily x <u_j, u_k>) (0: preferential attachment only)",
        "",
        ge=0.0,
        le=100.0,
    )
    share_probability: float = param(
        0.2, "chance that a click is shared with the user's followers", "share", ge=0.0, le=1.0
    )
    share_boost: float = param(
        1.0, "utility of an item in the user's feed of shared items", "utility", ge=0.0, le=100.0
    )
    share_days: float = param(
        3.0, "days a shared item stays in the followers' feeds", "days", gt=0.0, le=3650.0
    )
    feed_size: int = param(10, "shared items kept per user (the latest)", "items", gt=0, le=1000)
    feed_candidates: int = param(
        3,
        "shared items of the feed that enter a request's candidates (when candidates are "
        "sampled; they replace random ones)",
        "items",
        ge=0,
        le=1000,
    )
    cluster_resolution: float = param(
        1.0,
        "resolution of the Louvain communities of the follow graph (cluster-randomised A/B "
        "tests; higher: more, smaller clusters)",
        "",
        gt=0.0,
        le=1000.0,
    )


@dataclass(frozen=True)
class SupplyConfig(Base):
    """The creator economy (``world.supply``): creators produce, earn, leave and arrive.

    Off by default: the catalog is then the fixed release schedule of ``world.items``. On
    (the synthetic world only), ``world.items.n_items`` is a reservoir: the day-0 catalog
    is the day-0 items of the initial creators, and every other item is released only when
    its creator produces it (rules in :mod:`simrec.supply`).
    """

    enabled: bool = param(False, "run the creator economy (synthetic world only)")
    initial_creators_per_genre: int = param(
        12, "creators of each genre present on day 0", "creators", gt=0, le=10_000
    )
    new_creators_per_genre: int = param(
        8,
        "creator slots per genre reserved for creators who join later (arrivals stop when "
        "the slots run out)",
        "creators",
        ge=0,
        le=10_000,
    )
    arrivals_per_day: float = param(
        0.3, "new creators per day (Poisson; genre uniform)", "creators/day", ge=0.0, le=1000.0
    )
    window_days: int = param(
        14,
        "days of exposure and income a creator's decisions look back over",
        "days",
        gt=0,
        le=3650,
    )
    min_rate: float = param(
        0.01, "items a day of a creator without income", "items/day", ge=0.0, le=100.0
    )
    max_rate: float = param(
        0.2,
        "items a day of a creator whose income is far above income_half",
        "items/day",
        ge=0.0,
        le=100.0,
    )
    income_half: float = param(
        5.0,
        "window income at which a creator's rate is halfway from min_rate to max_rate",
        "currency",
        gt=0.0,
        le=1e9,
    )
    revenue_share: float = param(
        0.5,
        "share of the revenue of a creator's items paid to the creator",
        "share",
        ge=0.0,
        le=1.0,
    )
    pay_per_click: float = param(
        0.02,
        "payment to the creator per click on one of their items",
        "currency",
        ge=0.0,
        le=1e6,
    )
    exit_max: float = param(
        0.05,
        "daily chance of leaving of a creator with no impression in the window",
        "probability",
        ge=0.0,
        le=1.0,
    )
    exposure_half: float = param(
        25.0,
        "window impressions that halve a creator's daily chance of leaving",
        "impressions",
        gt=0.0,
        le=1e12,
    )
    grace_days: int = param(
        14, "days after joining before a creator may leave", "days", ge=0, le=3650
    )
    withdraw_on_exit: bool = param(
        False, "remove a leaving creator's items from the catalog (else they stay)"
    )

    def __post_init__(self) -> None:
        """The production rate range is ordered."""
        super().__post_init__()
        if self.max_rate < self.min_rate:
            raise FieldError(
                "max_rate", f"expected >= min_rate={self.min_rate}, got {self.max_rate}"
            )


@dataclass(frozen=True)
class WorldConfig(Base):
    """Which world to build and its size."""

    kind: str = param("synthetic", "world name (see `simrec list`)")
    dim: int = param(32, "latent dimension d of topics and interests", "dims", gt=0)
    n_genres: int = param(8, "number of genres G", "genres", gt=0)
    items: ItemsConfig = param(ItemsConfig, "item catalog")
    users: UsersConfig = param(UsersConfig, "user population")
    social: SocialConfig = param(
        SocialConfig, "the follow graph and sharing of the social world (kind: social)"
    )
    movielens: MovieLensConfig = param(
        MovieLensConfig, "fit of the movielens-100k and movielens-1m worlds"
    )
    supply: SupplyConfig = param(
        SupplyConfig, "the creator economy: production, income, exit and entry of creators"
    )

    def __post_init__(self) -> None:
        """The creator economy runs on the synthetic world only."""
        super().__post_init__()
        if self.supply.enabled and self.kind != "synthetic":
            raise FieldError(
                "supply.enabled",
                f"the creator economy needs world.kind 'synthetic' (its creators and item "
                f"reservoir), got true with world.kind {self.kind!r}",
            )
