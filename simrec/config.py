"""Typed, validated configuration.

Every parameter of the world, the dynamics and the run lives in a frozen dataclass below,
with its default, its unit and its meaning in the field metadata (``docs/model.md`` is
generated from it: ``python -m simrec.config``). YAML is only the surface: :func:`from_dict`
rejects unknown keys (suggesting the closest valid one), mistyped values and out-of-range
values with an error naming the dotted field path, the value and the expectation; a resolved
config round-trips exactly through :func:`to_dict` / :func:`to_yaml` / :func:`load_yaml`.

>>> cfg = from_dict(Config, {"simulation": {"days": 10}})
>>> cfg.simulation.days
10
>>> from_dict(Config, to_dict(cfg)) == cfg
True
>>> from_dict(Config, {"simulation": {"dayz": 10}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
simrec.errors.ConfigError: simulation.dayz: unknown key (did you mean 'days'?); valid keys: ...
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import yaml

from simrec.errors import ConfigError, suggest
from simrec.rng import SEED_MAX

__all__ = [
    "DEFAULTS_0_1",
    "REWARDS",
    "ABConfig",
    "AgentSpec",
    "Config",
    "DynamicsConfig",
    "EconomyConfig",
    "EnvConfig",
    "FrozenMap",
    "Intervention",
    "ItemsConfig",
    "MovieLensConfig",
    "OPEConfig",
    "Params",
    "RetentionConfig",
    "RewardConfig",
    "ScenarioConfig",
    "SimulationConfig",
    "SocialConfig",
    "SupplyConfig",
    "UserModelConfig",
    "UsersConfig",
    "WorldConfig",
    "from_dict",
    "get_path",
    "load_yaml",
    "params_markdown",
    "parse_yaml",
    "read_text_file",
    "replace_path",
    "set_params_resolver",
    "to_dict",
    "to_yaml",
    "with_settings",
]

T = TypeVar("T")
INF = math.inf
#: Largest integer a config field accepts unless its own bound says otherwise (int32: every
#: count, size and index in the engine fits its arrays).
INT_MAX = 2**31 - 1
#: Longest horizon a run accepts (ten years).
MAX_DAYS = 3650


def param(
    default: Any,
    doc: str,
    unit: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    allow_inf: bool = False,
) -> Any:
    """Declare a config field with its documentation, unit and bounds.

    Every number must be finite (NaN is always refused; ``inf`` only where ``allow_inf``
    says so and the doc explains what it means), and every integer at most
    :data:`INT_MAX` unless ``le`` or ``lt`` bounds it.

    Args:
        default: Default value (immutable).
        doc: One-line meaning of the parameter.
        unit: Unit of the value (``"days"``, ``"currency"``, ``"utility"``, ...).
        ge: Inclusive lower bound.
        gt: Exclusive lower bound.
        le: Inclusive upper bound.
        lt: Exclusive upper bound.
        allow_inf: Whether ``+inf`` is a meaningful value of this field.

    Returns:
        A :func:`dataclasses.field` carrying the metadata.
    """
    meta = {
        "doc": doc,
        "unit": unit,
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "allow_inf": allow_inf,
    }
    if isinstance(default, type):
        return field(default_factory=default, metadata=meta)
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


def _bounds_text(meta: Mapping[str, Any]) -> str:
    parts = []
    for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    text = " and ".join(parts)
    return f"{text} (or inf)" if meta.get("allow_inf") else text


class _FieldError(ConfigError):
    """A ConfigError that knows which (relative) field path it is about."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


#: A name that becomes a file or folder name: letters, digits, ``.``, ``_``, ``+``, ``-``,
#: starting with a letter or digit, at most 100 characters.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def check_plain_name(field_name: str, value: str) -> None:
    """Refuse a name that is not a plain file name (no separators, no ``..``, no spaces).

    >>> check_plain_name("label", "mf-32")
    >>> check_plain_name("label", "../x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simrec.config._FieldError: label: expected a plain name (letters, digits, ...), got '../x'
    """
    if not PLAIN_NAME.fullmatch(value) or ".." in value:
        raise _FieldError(
            field_name,
            "expected a plain name (letters, digits, '.', '_', '+', '-'; starting with a "
            f"letter or digit; at most 100 characters), got {value!r}",
        )


@dataclass(frozen=True)
class _Base:
    """Shared validation: types and bounds of every field, checked on construction."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check_type(f.name, value, hints[f.name])
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                _check_bounds(f.name, value, f.metadata)


def _check_bounds(name: str, value: float, meta: Mapping[str, Any]) -> None:
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value) or value < 0 or not meta.get("allow_inf"):
            bounds = _bounds_text(meta)
            within = f" {bounds}" if bounds else ""
            raise _FieldError(name, f"expected a finite number{within}{unit}, got {value!r}")
    if isinstance(value, int) and meta.get("le") is None and meta.get("lt") is None:
        if value > INT_MAX:
            raise _FieldError(name, f"expected an integer <= {INT_MAX:,}, got {value!r}")
    unbounded = value == math.inf  # allowed here (checked above): only lower bounds apply
    bad = (
        (meta.get("ge") is not None and not value >= meta["ge"])
        or (meta.get("gt") is not None and not value > meta["gt"])
        or (not unbounded and meta.get("le") is not None and not value <= meta["le"])
        or (not unbounded and meta.get("lt") is not None and not value < meta["lt"])
    )
    if bad:
        raise _FieldError(name, f"expected a value {_bounds_text(meta)}{unit}, got {value!r}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({tp.__name__})"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _check_type(name: str, value: Any, tp: Any) -> None:
    if not _matches(value, tp):
        raise _FieldError(name, f"expected {_type_name(tp)}, got {value!r}")


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin is Literal:
        return value in typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        return isinstance(value, tuple) and all(_matches(v, item_tp) for v in value)
    if origin is dict:
        return isinstance(value, Mapping)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


# ----------------------------------------------------------------------------- world


@dataclass(frozen=True)
class ItemsConfig(_Base):
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
class UsersConfig(_Base):
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
class MovieLensConfig(_Base):
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
            raise _FieldError(
                "appeal_source",
                f"expected 'popularity' or 'residual', got {self.appeal_source!r}",
            )


@dataclass(frozen=True)
class SocialConfig(_Base):
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
class SupplyConfig(_Base):
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
            raise _FieldError(
                "max_rate", f"expected >= min_rate={self.min_rate}, got {self.max_rate}"
            )


@dataclass(frozen=True)
class WorldConfig(_Base):
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
            raise _FieldError(
                "supply.enabled",
                f"the creator economy needs world.kind 'synthetic' (its creators and item "
                f"reservoir), got true with world.kind {self.kind!r}",
            )


# ----------------------------------------------------------------------------- user model


@dataclass(frozen=True)
class Params(_Base):
    """Base class of a component's parameters (``docs/model.md``, "Adding a component").

    A frozen dataclass whose fields are declared with :func:`param` (default, meaning, unit,
    bounds); each is validated like every other setting. A component names its class in
    ``Params``; the values live under ``user_model.params.<role or name>`` of the
    configuration, so YAML, ``--set``, ``grid`` and ``uncertain`` reach them.
    """


class FrozenMap(Mapping):
    """A read-only, hashable mapping (the component parameters: a config stays hashable)."""

    def __init__(self, data: Mapping[str, Any] = ()) -> None:  # type: ignore[assignment]
        """Copy ``data``."""
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        """The value of ``key``."""
        return self._data[key]

    def __iter__(self) -> typing.Iterator[str]:
        """The keys."""
        return iter(self._data)

    def __len__(self) -> int:
        """Number of keys."""
        return len(self._data)

    def __hash__(self) -> int:
        """Hash of the items (the values must be hashable: frozen dataclasses are)."""
        return hash(tuple(sorted(self._data.items())))

    def __eq__(self, other: object) -> bool:
        """Equal to any mapping with the same items."""
        return isinstance(other, Mapping) and self._data == dict(other)

    def __repr__(self) -> str:
        """As a dict."""
        return repr(self._data)


#: A component named by import target: ``package.module:Class``.
COMPONENT_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")

#: Looks up the parameter classes of the components a ``UserModelConfig`` names:
#: ``resolver(user_model) -> {role or added name: Params subclass or None}``. Set by
#: :mod:`simrec.usermodel` (which knows the components; this module cannot import it).
_PARAMS_RESOLVER: list[Any] = []


def set_params_resolver(resolver: Any) -> None:
    """Install the lookup of component parameter classes (called by :mod:`simrec.usermodel`)."""
    _PARAMS_RESOLVER[:] = [resolver]


def _check_component_name(field_name: str, value: str) -> None:
    """A component name: a plain name, or an import target ``package.module:Class``."""
    if COMPONENT_TARGET.fullmatch(value) and ".." not in value:
        return
    try:
        check_plain_name(field_name, value)
    except _FieldError:
        raise _FieldError(
            field_name,
            "expected a component name (letters, digits, '.', '_', '+', '-') or an import "
            f"target 'package.module:Class', got {value!r}",
        ) from None


@dataclass(frozen=True)
class UserModelConfig(_Base):
    """Which component fills each role of the user model, added components, their parameters.

    Built-in names, names registered under the ``simrec.components`` entry-point group or
    with :func:`simrec.usermodel.register_component`, or import targets
    ``package.module:Class`` (``docs/model.md``).
    """

    choice: str = param(
        "mnl", "choice model: mnl (logit, the default), cascade, pbm (position-based)"
    )
    engagement: str = param("default", "minutes spent on a clicked item")
    purchase: str = param("default", "purchase and revenue of a click")
    drift: str = param("default", "interest drift toward consumed items; random walk")
    satisfaction: str = param("default", "satisfaction: decay, update on click and no-click")
    memory: str = param("default", "the buffer of recently consumed items")
    fatigue: str = param("default", "per-genre fatigue")
    session_exit: str = param("default", "leaving the session after a request")
    retention: str = param("default", "return gaps and churn at session ends")
    add: tuple[str, ...] = param(
        (),
        "components added to the roles', in order (they run after fatigue, before the "
        "session exit; a utility term joins the choice utility)",
    )
    params: dict[str, Any] = param(
        {},
        "parameters of the components that declare them, by role (for a role's component) "
        "or by added name: user_model.params.<role or name>.<field>",
    )

    def __post_init__(self) -> None:
        """Validate fields and names, then each component's parameters (with defaults)."""
        super().__post_init__()
        for f in dataclasses.fields(self):
            if f.name == "add":
                for i, name in enumerate(self.add):
                    _check_component_name(f"add[{i}]", name)
            elif f.name != "params":
                _check_component_name(f.name, getattr(self, f.name))
        if len(set(self.add)) != len(self.add):
            dup = next(n for n in self.add if self.add.count(n) > 1)
            raise _FieldError("add", f"expected distinct components, got {dup!r} twice")
        if not _PARAMS_RESOLVER:
            object.__setattr__(self, "params", FrozenMap(self.params))
            return
        classes = _PARAMS_RESOLVER[0](self)
        for key in self.params:
            if key not in classes:
                raise _FieldError(
                    f"params.{key}",
                    f"no role or added component of this model is called {key!r}"
                    f"{suggest(str(key), list(classes))}; roles and added components: "
                    f"{', '.join(classes)}",
                )
            if classes[key] is None:
                raise _FieldError(
                    f"params.{key}", f"the component of {key!r} declares no parameters"
                )
        params = {}
        for key, cls in classes.items():
            if cls is None:
                continue
            value = self.params.get(key)
            if isinstance(value, cls):
                params[key] = value
                continue
            try:
                params[key] = from_dict(cls, value, path=f"params.{key}")
            except ConfigError as err:
                where, _, message = str(err).partition(": ")
                raise _FieldError(where, message) from None
        object.__setattr__(self, "params", FrozenMap(params))


# ----------------------------------------------------------------------------- dynamics


@dataclass(frozen=True)
class DynamicsConfig(_Base):
    """Choice, engagement, interest drift, satisfaction, fatigue and session rules."""

    interest_weight: float = param(
        5.0, "b_int: utility per unit of <u, z>", "utility", ge=0.0, le=100.0
    )
    appeal_weight: float = param(
        3.0, "b_app: utility per unit of appeal", "utility", ge=0.0, le=100.0
    )
    fatigue_weight: float = param(
        1.0, "b_fat: utility lost per unit of genre fatigue", "utility", ge=0.0, le=100.0
    )
    position_weight: float = param(
        0.5, "utility lost per log2(1 + position) down the slate", "utility", ge=0.0, le=100.0
    )
    repeat_penalty: float = param(
        3.0,
        "utility lost for an item among the user's recently consumed",
        "utility",
        ge=0.0,
        le=100.0,
    )
    no_click_utility: float = param(
        5.5, "v_0: utility of not clicking anything in the slate", "utility", ge=-100.0, le=100.0
    )
    recent_items: int = param(
        20, "length of the per-user buffer of recently consumed items", "items", gt=0
    )
    drift_rate: float = param(
        0.05, "eta: pull of interest toward a consumed item's topic", "per click", ge=0.0, le=1.0
    )
    random_walk_sd: float = param(
        0.01, "std of the exogenous interest random walk", "per sqrt(day) per dim", ge=0.0, le=10.0
    )
    engagement_minutes: float = param(
        10.0, "mean engagement of a perfect-match, quality-1 item", "minutes", ge=0.0, le=1440.0
    )
    engagement_noise: float = param(0.5, "log-normal sigma of engagement", "", ge=0.0, le=5.0)
    engagement_appeal_weight: float = param(
        0.6,
        "lambda: weight of appeal (against quality) in the minutes a click holds; above 0.5 "
        "an item that trades quality for appeal holds attention longer now",
        "[0,1]",
        ge=0.0,
        le=1.0,
    )
    clickbait_penalty: float = param(
        1.0, "w_cb: value lost per unit of appeal in excess of quality", "value", ge=0.0, le=100.0
    )
    satisfaction_rate: float = param(
        0.05,
        "alpha: step of satisfaction toward the experienced value",
        "per click",
        ge=0.0,
        le=1.0,
    )
    no_click_penalty: float = param(
        0.005, "satisfaction lost on a request with no click", "satisfaction", ge=0.0, le=1.0
    )
    satisfaction_baseline: float = param(
        0.5, "s_base: level satisfaction decays to between visits", "[0,1]", ge=0.0, le=1.0
    )
    satisfaction_tau_days: float = param(
        60.0, "tau_s: time constant of satisfaction decay", "days", ge=1e-3, le=1e5
    )
    fatigue_exposure: float = param(
        0.01, "genre fatigue added per impression of the genre", "fatigue", ge=0.0, le=100.0
    )
    fatigue_click: float = param(
        0.15, "genre fatigue added per click on the genre", "fatigue", ge=0.0, le=100.0
    )
    fatigue_tau_days: float = param(
        0.5, "tau_f: time constant of fatigue decay", "days", ge=1e-3, le=1e5
    )
    exit_base: float = param(
        -1.6, "logit of session exit at satisfaction 0.5", "logit", ge=-100.0, le=100.0
    )
    exit_satisfaction: float = param(
        3.0, "exit logit lost per unit of satisfaction above 0.5", "logit", ge=0.0, le=100.0
    )
    exit_fatigue: float = param(
        1.0, "exit logit gained per unit of mean genre fatigue", "logit", ge=0.0, le=100.0
    )
    exit_no_click: float = param(
        0.5, "exit logit gained after a request with no click", "logit", ge=0.0, le=100.0
    )
    max_session_requests: int = param(
        50, "a session ends after this many requests", "requests", gt=0
    )
    session_budget_minutes: float = param(
        INF,
        "a session ends once its engagement reaches this budget (RecSim's watch-time "
        "budget; inf: none)",
        "minutes",
        gt=0.0,
        allow_inf=True,
        le=1e6,
    )
    trend_weight: float = param(
        0.0,
        "b_trend: utility per unit of the platform-wide trending signal log1p(M x the item's "
        "share of recent clicks) -- social proof, a channel between users (0: none)",
        "utility",
        ge=0.0,
        le=100.0,
    )
    trend_tau_days: float = param(
        1.0, "time constant of the trending signal's exponential decay", "days", gt=0.0, le=1e4
    )


@dataclass(frozen=True)
class RetentionConfig(_Base):
    """Return gaps between sessions and churn at session end."""

    gap_min_days: float = param(
        1.0, "mean return gap of a fully satisfied user", "days", ge=1e-4, le=MAX_DAYS
    )
    gap_max_days: float = param(
        10.0, "mean return gap of a fully dissatisfied user", "days", ge=1e-4, le=MAX_DAYS
    )
    gap_shape: float = param(1.0, "exponent gamma of (1 - s) in the mean gap", "", gt=0.0, le=100.0)
    churn_min: float = param(
        0.001,
        "churn hazard per session end at full satisfaction",
        "per session",
        ge=0.0,
        le=1.0,
    )
    churn_max: float = param(
        0.15,
        "churn hazard per session end at zero satisfaction",
        "per session",
        ge=0.0,
        le=1.0,
    )
    churn_midpoint: float = param(
        0.2, "satisfaction at which the hazard is halfway", "[0,1]", ge=0.0, le=1.0
    )
    churn_width: float = param(
        0.1, "width of the logistic hazard curve", "satisfaction", ge=1e-4, le=100.0
    )

    def __post_init__(self) -> None:
        """Validate fields, then that each minimum is at most its maximum."""
        super().__post_init__()
        for lo, hi in (("gap_min_days", "gap_max_days"), ("churn_min", "churn_max")):
            if getattr(self, hi) < getattr(self, lo):
                raise _FieldError(
                    hi, f"expected >= {lo} ({getattr(self, lo)!r}), got {getattr(self, hi)!r}"
                )


@dataclass(frozen=True)
class EconomyConfig(_Base):
    """Purchases and revenue."""

    purchase_max: float = param(
        0.3,
        "purchase probability of a free, perfectly matched clicked item",
        "probability",
        ge=0.0,
        le=1.0,
    )
    price_scale: float = param(
        10.0,
        "price unit of the purchase curve exp(-sensitivity * price / scale)",
        "currency",
        ge=1e-3,
        le=1e6,
    )
    margin: float = param(0.3, "platform revenue per unit of price sold", "share", ge=0.0, le=10.0)


# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Intervention(_Base):
    """A change to dynamics, retention or economy parameters from a given day on."""

    day: int = param(0, "day at whose start the change applies", "day", ge=0)
    set: dict[str, Any] = param(
        {}, "dotted parameter -> value, e.g. {'dynamics.appeal_weight': 0.0}"
    )


@dataclass(frozen=True)
class SimulationConfig(_Base):
    """Horizon, time step, slate and agent schedule of a run."""

    days: int = param(30, "simulated horizon (at most ten years)", "days", gt=0, le=MAX_DAYS)
    tick_minutes: float = param(
        15.0,
        "time between two requests of a session (one engine tick); divides 1440",
        "minutes",
        ge=1.0,
        le=1440.0,
    )
    slate_size: int = param(5, "K: items per recommendation", "items", gt=0)
    candidates: int = param(
        0,
        "C: random candidates retrieved per request (0: the whole available catalog)",
        "items",
        ge=0,
    )
    retrain_every_days: float = param(
        1.0, "agent retraining period (0: never)", "days", ge=0.0, le=MAX_DAYS
    )
    interventions: tuple[Intervention, ...] = param((), "parameter changes at given days")
    log_impressions: float = param(
        1.0,
        "share of requests whose impressions the event log keeps (whole slates, drawn per "
        "user and request); daily and per-item counts stay exact",
        "share",
        gt=0.0,
        le=1.0,
    )

    def __post_init__(self) -> None:
        """Validate fields, then the tick (a divisor of a day) and slate <= candidates."""
        super().__post_init__()
        per_day = 1440.0 / self.tick_minutes
        if abs(per_day - round(per_day)) > 1e-9:
            raise _FieldError(
                "tick_minutes",
                f"expected a divisor of 1440 minutes (a whole number of ticks per day), "
                f"got {self.tick_minutes!r}",
            )
        if self.candidates and self.slate_size > self.candidates:
            raise _FieldError(
                "slate_size",
                f"expected at most simulation.candidates ({self.candidates}) items, "
                f"got {self.slate_size}",
            )
        for i, iv in enumerate(self.interventions):
            if iv.day >= self.days:
                raise _FieldError(
                    f"interventions[{i}].day",
                    f"expected a day inside the horizon (0 to {self.days - 1}), got {iv.day}",
                )


@dataclass(frozen=True)
class RewardConfig(_Base):
    """Reward of the gymnasium envs: a weighted sum, computed per step.

    ``r = click * clicks + engagement * minutes + revenue * currency
    + return_bonus * exp(-gap / return_scale_days) [at a session end, if the user returns]
    - churn_penalty [at churn]``.
    """

    click: float = param(1.0, "reward per click", "per click", ge=-1e6, le=1e6)
    engagement: float = param(0.0, "reward per minute of engagement", "per minute", ge=-1e6, le=1e6)
    revenue: float = param(0.0, "reward per unit of revenue", "per currency", ge=-1e6, le=1e6)
    return_bonus: float = param(
        0.0,
        "reward at a session end for a quick return, times exp(-gap / scale)",
        "reward",
        ge=-1e6,
        le=1e6,
    )
    return_scale_days: float = param(
        1.0, "scale of the return bonus' decay with the gap", "days", ge=1e-3, le=MAX_DAYS
    )
    churn_penalty: float = param(0.0, "reward lost when the user churns", "reward", ge=-1e6, le=1e6)


#: Named rewards accepted by the envs' ``reward`` argument.
REWARDS: dict[str, dict[str, float]] = {
    "click": {"click": 1.0},
    "engagement": {"click": 0.0, "engagement": 1.0},
    "revenue": {"click": 0.0, "revenue": 1.0},
    "return": {"click": 0.0, "return_bonus": 1.0},
    "long-term": {"click": 1.0, "return_bonus": 2.0, "churn_penalty": 10.0},
}


@dataclass(frozen=True)
class EnvConfig(_Base):
    """Settings of the single-user gymnasium envs (``simrec/UserLifetime-v0`` and presets)."""

    horizon_days: float = param(
        60.0, "an episode is truncated at this age of the user", "days", gt=0.0, le=MAX_DAYS
    )
    candidates: int = param(20, "C: candidates per request the action indexes", "items", gt=0)
    history_length: int = param(10, "L: consumed items shown in the observation", "items", gt=0)
    world_seed: int = param(
        0, "seed of the catalog (shared by every episode and sub-env)", "", ge=0
    )
    warmup_users: int = param(
        300,
        "users of the random-exposure warm-up log behind the popularity feature",
        "users",
        ge=0,
    )
    warmup_days: float = param(2.0, "days of the warm-up log", "days", gt=0.0, le=365.0)
    slate_duplicates: Literal["error", "fill"] = param(
        "error", "a slate action repeating a candidate: raise, or fill with unused candidates"
    )
    reward: RewardConfig = param(RewardConfig, "reward weights")


@dataclass(frozen=True)
class Config(_Base):
    """Everything one simulation run needs besides the agent and the seed."""

    world: WorldConfig = param(WorldConfig, "world to build")
    user_model: UserModelConfig = param(UserModelConfig, "the components of the user model")
    dynamics: DynamicsConfig = param(DynamicsConfig, "user behaviour rules")
    retention: RetentionConfig = param(RetentionConfig, "return and churn rules")
    economy: EconomyConfig = param(EconomyConfig, "purchase and revenue rules")
    simulation: SimulationConfig = param(SimulationConfig, "horizon, ticks, slates")

    def __post_init__(self) -> None:
        """Validate fields, then check interventions and cross-field consistency."""
        super().__post_init__()
        for i, iv in enumerate(self.simulation.interventions):
            for key, value in iv.set.items():
                try:
                    _section_with(self, key, value, ("dynamics", "retention", "economy"))
                except ConfigError as err:
                    raise _FieldError(f"simulation.interventions[{i}].set", str(err)) from None


@dataclass(frozen=True)
class AgentSpec(_Base):
    """One agent of a scenario: a registered name and its constructor parameters."""

    name: str = param("random", "registered agent name (see `simrec list`)")
    label: str = param("", "name in results (default: the agent name)")
    params: dict[str, Any] = param({}, "keyword arguments of the agent")
    grid: dict[str, Any] = param(
        {},
        "parameter lists: one agent per combination, labelled <label>-<param>-<value> "
        "(expanded when the scenario is loaded)",
    )

    def __post_init__(self) -> None:
        """Validate fields, then that the results label is a plain name (it becomes a folder)."""
        super().__post_init__()
        field_name = "label" if self.label else "name"
        check_plain_name(field_name, self.key)
        for key, values in self.grid.items():
            if not isinstance(values, list | tuple) or not values:
                raise _FieldError(
                    f"grid.{key}", f"expected a non-empty list of values, got {values!r}"
                )
            if key in self.params:
                raise _FieldError(f"grid.{key}", "is also in params; give it in one place")

    def expand(self) -> tuple[AgentSpec, ...]:
        """One spec per combination of the grid's values (itself without a grid)."""
        if not self.grid:
            return (self,)
        keys = list(self.grid)
        out = []
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            label = "-".join(
                [self.key, *(f"{k}-{_grid_value(v)}" for k, v in zip(keys, combo, strict=True))]
            )
            check_plain_name("label (from grid)", label)
            params = dict(self.params) | dict(zip(keys, combo, strict=True))
            out.append(AgentSpec(name=self.name, label=label, params=params))
        return tuple(out)

    @property
    def key(self) -> str:
        """Label used in results: ``label`` if given, else ``name``."""
        return self.label or self.name


def get_path(cfg: Any, dotted: str) -> Any:
    """The value of a dotted config path (``AttributeError`` if it does not exist)."""
    for part in dotted.split("."):
        if isinstance(cfg, Mapping):  # component parameters: user_model.params.<name>
            if part not in cfg:
                raise AttributeError(part)
            cfg = cfg[part]
        else:
            cfg = getattr(cfg, part)
    return cfg


def _grid_value(value: Any) -> str:
    """A grid value as it appears in a label: ``0.1``, ``32``, ``true``, ``cosine``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


#: Sections a scenario grid may vary.
_GRID_SECTIONS = ("world", "user_model", "dynamics", "retention", "economy", "simulation")


def _check_run_setting(field: str, key: str, hint: str = "") -> None:
    """Refuse a key of ``grid`` or ``uncertain`` outside the sections a run's settings live in."""
    if key.split(".")[0] not in _GRID_SECTIONS:
        raise _FieldError(
            f"{field}.{key}",
            f"expected a setting of {', '.join(_GRID_SECTIONS)} (a dotted key), got {key!r}{hint}",
        )


@dataclass(frozen=True)
class ReportConfig(_Base):
    """What ``simrec report`` shows for a scenario (it does not change any run)."""

    metrics: tuple[str, ...] = param(
        (),
        "whole-run metrics of the report's table, in order (empty: the standard table; "
        "any metric of summary.csv, custom ones included: `simrec list` names them)",
    )
    ideal: str = param(
        "",
        "agent label of the ideal recommender homogenization and regret are measured "
        "against (empty: the agent named 'oracle', if the scenario has one)",
    )
    horizons: tuple[int, ...] = param(
        (),
        "days H of the short-term vs long-term table: clicks, engagement and revenue over "
        "the first H days, retention and cohort satisfaction on day H - 1 (e.g. [14, 30, "
        "180]: a two-week A/B test, a month, half a year); horizons beyond the run are left out",
    )

    pareto: tuple[str, ...] = param(
        (),
        "objectives of the report's Pareto figure, each 'metric:max' or 'metric:min' (e.g. "
        "[provider_gini:min, retention:max, revenue:max]); the first is the x axis of every "
        "panel, and an agent is on the front when no other is as good on all and better on "
        "one (mean over seeds); empty: no figure",
    )

    curve: tuple[str, ...] = param(
        (),
        "a sweep's curves: [x metric, y metric, ...] -- one panel per y metric, one line per "
        "registered agent name through its labelled variants at their mean x (e.g. "
        "[dp_epsilon_target, retention, revenue]: the privacy-utility curve; an infinite x "
        "is drawn at the right end); empty: no figure",
    )

    pairs: tuple[str, ...] = param(
        (),
        "more paired comparisons than the baseline's, each 'agent vs against' (agent labels; "
        "e.g. [dp-seq-dp_epsilon-1.0 vs dp-seq-dp_epsilon-inf]): a table of the per-seed "
        "differences agent - against (mean ± 95% CI) of the report's metrics",
    )

    def __post_init__(self) -> None:
        """Horizons are positive and increasing; Pareto objectives say their direction."""
        super().__post_init__()
        h = list(self.horizons)
        if any(x < 1 for x in h) or h != sorted(set(h)):
            raise _FieldError("horizons", f"expected increasing positive days, got {h!r}")
        if self.pareto:
            bad = [o for o in self.pareto if not re.fullmatch(r"[A-Za-z0-9_.-]+:(max|min)", o)]
            if bad or len(self.pareto) < 2:
                raise _FieldError(
                    "pareto",
                    "expected two or more objectives written 'metric:max' or 'metric:min', "
                    f"got {list(self.pareto)!r}",
                )
        if self.curve and len(self.curve) < 2:
            raise _FieldError(
                "curve", f"expected an x metric and one or more y metrics, got {list(self.curve)!r}"
            )


@dataclass(frozen=True)
class ABConfig(_Base):
    """An A/B test inside one population (``simrec ab``; docs/experiments.md).

    Both arms serve in one run and share the world; the same seeds also run each agent on
    every user (the global rollout: the truth the test's estimate is scored against).
    """

    control: str = param("", "agent label serving the control arm (empty: no A/B test)")
    treatment: str = param("", "agent label serving the treatment arm")
    share: float = param(0.5, "share of randomisation units in the treatment arm", "share",
                         gt=0.0, lt=1.0)  # fmt: skip
    unit: Literal["user", "cluster"] = param(
        "user",
        "randomisation unit: users, or the communities of the social world's follow graph "
        "(whole clusters in one arm; the CI is then cluster-robust)",
    )
    days: int = param(14, "duration of the test", "days", gt=0, le=MAX_DAYS)
    shared_training: bool = param(
        False,
        "both arms' agents learn from the logs of every arm (one platform-wide log, as when "
        "one model table serves the whole site); false: each agent sees only its own arm",
    )

    @property
    def enabled(self) -> bool:
        """Whether the scenario declares an A/B test."""
        return bool(self.control or self.treatment)


@dataclass(frozen=True)
class OPEConfig(_Base):
    """An off-policy evaluation study (``simrec ope``; docs/experiments.md)."""

    logging: str = param(
        "",
        "agent label of the logging policy, a stochastic agent (epsilon-greedy, softmax) "
        "(empty: no OPE study)",
    )
    target: str = param(
        "", "agent label of the policy evaluated from the logs (epsilon-greedy, softmax)"
    )

    @property
    def enabled(self) -> bool:
        """Whether the scenario declares an OPE study."""
        return bool(self.logging or self.target)


@dataclass(frozen=True)
class ScenarioConfig(Config):
    """A scenario: one question, the agents and seeds, and the :class:`Config` of its runs.

    It *is* a :class:`Config` (world, user model, dynamics, retention, economy, simulation:
    one tree, declared once) with the scenario's own fields added. ``smoke`` holds overrides
    (same structure as the scenario) for a tiny variant.
    """

    #: Fields written first in YAML (the scenario's own, before the Config sections).
    LEADING: ClassVar[tuple[str, ...]] = (
        "name",
        "question",
        "seeds",
        "baseline",
        "agents",
        "report",
    )

    name: str = param("scenario", "scenario name, used in results")
    question: str = param("", "the question the scenario answers")
    seeds: tuple[int, ...] = param((0,), "run seeds; every agent runs on every seed")
    baseline: str = param("", "agent label paired differences are taken against")
    agents: tuple[AgentSpec, ...] = param((AgentSpec(),), "the agents compared")
    report: ReportConfig = param(ReportConfig, "what the report shows")
    grid: dict[str, Any] = param(
        {},
        "value lists of run settings (dotted keys such as dynamics.drift_rate): one variant "
        "of the scenario per combination, each run into its own results folder",
    )
    uncertain: dict[str, Any] = param(
        {},
        "plausible ranges [low, high] of numeric run settings whose true value is not known "
        "(dotted keys such as retention.churn_max): `simrec sensitivity` varies them over "
        "these ranges to test whether the scenario's conclusions hold",
    )
    smoke: dict[str, Any] = param({}, "overrides giving the scenario's tiny variant")
    ab: ABConfig = param(ABConfig, "an A/B test of two of the agents (`simrec ab`)")
    ope: OPEConfig = param(OPEConfig, "an off-policy evaluation study (`simrec ope`)")

    def __post_init__(self) -> None:
        """Validate fields, expand agent grids, check seeds, labels and the baseline."""
        super().__post_init__()
        if any(a.grid for a in self.agents):
            expanded = tuple(x for a in self.agents for x in a.expand())
            object.__setattr__(self, "agents", expanded)
        for key, values in self.grid.items():
            if not isinstance(values, list | tuple) or not values:
                raise _FieldError(
                    f"grid.{key}", f"expected a non-empty list of values, got {values!r}"
                )
            if not key.startswith("ab."):  # A/B designs: `simrec ab` runs one per variant
                _check_run_setting(
                    "grid", key, "; agent parameters have their own grid (agents[i].grid)"
                )
        for key, bounds in self.uncertain.items():
            self._check_uncertain(key, bounds)
        if not self.seeds:
            raise _FieldError("seeds", "expected at least one seed, got []")
        if any(not 0 <= s <= SEED_MAX for s in self.seeds) or len(set(self.seeds)) != len(
            self.seeds
        ):
            raise _FieldError(
                "seeds",
                f"expected distinct integers in [0, 2**63 - 1], got {list(self.seeds)!r}",
            )
        labels = [a.key for a in self.agents]
        if not labels:
            raise _FieldError("agents", "expected at least one agent, got []")
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise _FieldError("agents", f"labels must be unique; repeated: {dup} (set `label`)")
        if self.baseline and self.baseline not in labels:
            raise _FieldError(
                "baseline",
                f"expected one of the agent labels {labels}, got "
                f"{self.baseline!r}{suggest(self.baseline, labels)}",
            )
        if self.report.ideal and self.report.ideal not in labels:
            raise _FieldError(
                "report.ideal",
                f"expected one of the agent labels {labels}, got "
                f"{self.report.ideal!r}{suggest(self.report.ideal, labels)}",
            )
        for i, pair in enumerate(self.report.pairs):
            agent, vs, against = str(pair).partition(" vs ")
            if not vs or agent == against:
                raise _FieldError(
                    f"report.pairs[{i}]",
                    f"expected 'agent vs against' with two different agent labels, got {pair!r}",
                )
            for side in (agent, against):
                if side not in labels:
                    raise _FieldError(
                        f"report.pairs[{i}]",
                        f"{side!r} is not an agent label{suggest(side, labels)}; labels: {labels}",
                    )
        if self.ab.enabled:
            self._check_ab(labels)
        if self.ope.enabled:
            for role in ("logging", "target"):
                value = getattr(self.ope, role)
                if value not in labels:
                    raise _FieldError(
                        f"ope.{role}",
                        f"expected one of the agent labels {labels}, got {value!r}"
                        f"{suggest(value, labels)}",
                    )
        if self.smoke:
            self.smoke_variant()  # a broken smoke block fails now, not when it is first used

    def _check_ab(self, labels: list[str]) -> None:
        for arm in ("control", "treatment"):
            value = getattr(self.ab, arm)
            if value not in labels:
                raise _FieldError(
                    f"ab.{arm}",
                    f"expected one of the agent labels {labels}, got {value!r}"
                    f"{suggest(value, labels)}",
                )
        if self.ab.control == self.ab.treatment:
            raise _FieldError(
                "ab.treatment", f"expected an agent other than the control, got {self.ab.control!r}"
            )
        if self.ab.unit == "cluster" and self.world.kind != "social":
            raise _FieldError(
                "ab.unit",
                "'cluster' randomises the communities of a follow graph; expected world.kind: "
                f"social, got {self.world.kind!r} (or use unit: user)",
            )
        if self.ab.days > self.simulation.days:
            raise _FieldError(
                "ab.days",
                f"expected at most simulation.days = {self.simulation.days} (the truth runs "
                f"that long), got {self.ab.days}",
            )

    def _check_uncertain(self, key: str, bounds: Any) -> None:
        where = f"uncertain.{key}"
        _check_run_setting("uncertain", key)
        try:
            current = get_path(self, key)
        except AttributeError:
            try:  # raises naming the unknown key, with a suggestion
                replace_path(self.config, key, 0)
            except ConfigError as err:
                raise _FieldError(where, str(err)) from None
            raise
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise _FieldError(
                where, f"expected a numeric setting, but {key} is {type(current).__name__}"
            )
        numeric = isinstance(bounds, list | tuple) and all(
            isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
        )
        if not numeric or len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise _FieldError(
                where, f"expected a range [low, high] with low < high, got {bounds!r}"
            )
        if isinstance(current, int) and not all(float(b).is_integer() for b in bounds):
            raise _FieldError(
                where, f"{key} is an integer setting; expected integer bounds, got {bounds!r}"
            )
        for b in bounds:
            try:
                replace_path(self.config, key, type(current)(b))
            except ConfigError as err:
                raise _FieldError(where, str(err)) from None

    @property
    def ideal(self) -> str:
        """Label of the ideal recommender: ``report.ideal``, else the agent named ``oracle``."""
        if self.report.ideal:
            return self.report.ideal
        return next((a.key for a in self.agents if a.name == "oracle"), "")

    def variants(self) -> list[tuple[str, ScenarioConfig]]:
        """The scenario once per combination of ``grid`` values, labelled, without a grid.

        Labels join ``<last key part>-<value>``: ``grid: {dynamics.drift_rate: [0.05,
        0.2]}`` gives ``drift_rate-0.05`` and ``drift_rate-0.2``. Every value is validated
        as the field it sets. Without a grid: ``[("", self)]``.

        Raises:
            ConfigError: A value the field refuses (naming ``grid.<key>``).
        """
        if not self.grid:
            return [("", self)]
        keys = list(self.grid)
        base = dataclasses.replace(self, grid={})
        out = []
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            parts = [
                f"{k.split('.')[-1]}-{_grid_value(v)}" for k, v in zip(keys, combo, strict=True)
            ]
            label = "-".join(parts)
            check_plain_name("grid variant label", label)
            variant = base
            for key, value in zip(keys, combo, strict=True):
                try:
                    variant = replace_path(variant, key, value)
                except ConfigError as err:
                    raise _FieldError(f"grid.{key}", str(err)) from None
            out.append((label, dataclasses.replace(variant, name=f"{self.name}-{label}")))
        return out

    @property
    def config(self) -> Config:
        """The :class:`Config` of one run of this scenario (its Config part, as a Config)."""
        return Config(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Config)})

    def smoke_variant(self) -> ScenarioConfig:
        """The scenario with its ``smoke`` overrides applied (and no further smoke)."""
        data = to_dict(self)
        data["smoke"] = {}
        return from_dict(ScenarioConfig, _merge(data, dict(self.smoke)), path="smoke")


# ----------------------------------------------------------------------------- loading


#: The settings that changed when the defaults were recalibrated (issue 17), at their earlier
#: values: applied to a :class:`Config` (``replace_path``, or ``--set`` each), they reproduce
#: results of simrec 0.1 (the golden-log test runs them, bit for bit; the MovieLens fit up to
#: the rounding of its SVD solver). docs/model.md section 6 and docs/movielens.md give the
#: reasons for each change.
DEFAULTS_0_1: dict[str, Any] = {
    "world.items.appeal_model": "classes",
    "world.items.clickbait_fraction": 0.2,
    "dynamics.engagement_appeal_weight": 0.0,
    "dynamics.satisfaction_rate": 0.15,
    "dynamics.satisfaction_tau_days": 14.0,
    "retention.gap_min_days": 0.3,
    "retention.gap_max_days": 6.0,
    "retention.gap_shape": 1.5,
    "retention.churn_min": 0.002,
    "retention.churn_max": 0.25,
    "retention.churn_midpoint": 0.3,
    "retention.churn_width": 0.05,
    "world.movielens.appeal_weight": 0.5,
    "world.movielens.appeal_source": "residual",
}


def with_settings(cfg: T, settings: Mapping[str, Any]) -> T:
    """``cfg`` with every dotted setting of ``settings`` replaced (each validated).

    >>> with_settings(Config(), DEFAULTS_0_1).retention.churn_max
    0.25
    """
    for key, value in settings.items():
        cfg = replace_path(cfg, key, value)
    return cfg


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build config dataclass ``cls`` from plain data, strictly.

    Args:
        cls: A config dataclass (e.g. :class:`Config`, :class:`ScenarioConfig`).
        data: A mapping (parsed YAML/JSON); ``None`` means all defaults.
        path: Dotted prefix used in error messages.

    Returns:
        The validated, frozen config.

    Raises:
        ConfigError: On an unknown key (with the closest valid key), a wrong type or an
            out-of-range value; the message names the full dotted path and the value.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = _join(path, str(key))
        if key not in names:
            raise ConfigError(
                f"{where}: unknown key{suggest(str(key), names)}; valid keys: {', '.join(names)}"
            )
        kwargs[key] = _convert(value, hints[key], where)
    try:
        return cls(**kwargs)
    except _FieldError as err:
        raise ConfigError(f"{_join(path, err.path)}: {err.message}") from None


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for arg in typing.get_args(tp):
            if arg is not type(None) and _matches(value, arg):
                return _convert(value, arg, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        item_tp = typing.get_args(tp)[0]
        return tuple(_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not _matches(value, tp):
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return value


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-data view of a config (tuples become lists), the inverse of :func:`from_dict`."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            names = [f.name for f in dataclasses.fields(v)]
            lead = [n for n in getattr(v, "LEADING", ()) if n in names]
            return {n: plain(getattr(v, n)) for n in [*lead, *(n for n in names if n not in lead)]}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def to_yaml(cfg: Any) -> str:
    """Serialise a config to YAML text that :func:`load_yaml` reads back to an equal config."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=False)


#: Largest scenario file read (bytes); scenarios are a few kilobytes.
MAX_YAML_BYTES = 4 * 2**20
#: Largest number of values a YAML document may expand to, counting every use of an alias
#: (a "billion laughs" document is refused before anything expands it).
MAX_YAML_NODES = 100_000


#: Deepest nesting of collections a YAML document may have (a scenario nests about 6 deep).
MAX_YAML_DEPTH = 100


class _TooDeep(Exception):
    """A collection nested more than :data:`MAX_YAML_DEPTH` deep (at ``mark``)."""

    def __init__(self, mark: Any) -> None:
        super().__init__(mark)
        self.mark = mark


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting past :data:`MAX_YAML_DEPTH` as it composes.

    PyYAML's composer recurses once per level: left alone, a deep document runs into Python's
    recursion limit, slowly. :func:`parse_yaml` adds the duplicate-key and size checks.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index) -> yaml.Node:  # noqa: ANN001 - PyYAML's signature
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_nodes(root: yaml.Node, where: str) -> None:
    """Refuse duplicate mapping keys and documents that expand past :data:`MAX_YAML_NODES`."""
    size: dict[int, int] = {}
    on_path: set[int] = set()

    def visit(node: yaml.Node) -> int:
        key = id(node)
        if key in size:
            return size[key]
        if key in on_path:
            raise ConfigError(f"{where}: malformed YAML: an alias refers to itself (recursive)")
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in first:
                        line = first[k.value].start_mark.line + 1
                        raise ConfigError(
                            f"{where}: duplicate key {k.value!r} at line "
                            f"{k.start_mark.line + 1} (first at line {line}); a key may "
                            f"appear once per mapping"
                        )
                    first[k.value] = k
                total += visit(k) + visit(v)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(visit(v) for v in node.value)
        on_path.discard(key)
        if total > MAX_YAML_NODES:
            raise ConfigError(
                f"{where}: the YAML expands to more than {MAX_YAML_NODES:,} values (counting "
                f"every use of an alias); a scenario is far smaller"
            )
        size[key] = total
        return total

    visit(root)


def parse_yaml(text: str, where: str = "<text>") -> Any:
    r"""Parse YAML text strictly: safe types only, no duplicate keys, bounded expansion.

    Args:
        text: The YAML text.
        where: Name of the source in error messages.

    Returns:
        The plain data (``None`` for a document without content).

    Raises:
        ConfigError: Malformed YAML (with line and column), a duplicate key, a document that
            expands past :data:`MAX_YAML_NODES` values or nests too deeply.

    >>> parse_yaml("a: 1\nb: [x, y]")
    {'a': 1, 'b': ['x', 'y']}
    >>> parse_yaml("a: 1\na: 2")
    Traceback (most recent call last):
    ...
    simrec.errors.ConfigError: <text>: duplicate key 'a' at line 2 (first at line 1); ...
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: malformed YAML{at}: {problem}") from None
    except _TooDeep as err:
        raise ConfigError(
            f"{where}: malformed YAML at line {err.mark.line + 1}, column {err.mark.column + 1}: "
            f"nested too deeply (more than {MAX_YAML_DEPTH} levels)"
        ) from None
    except RecursionError:
        raise ConfigError(f"{where}: malformed YAML: nested too deeply") from None
    finally:
        loader.dispose()


def read_text_file(path: str | Path, max_bytes: int = MAX_YAML_BYTES) -> str:
    """Read a UTF-8 text file (a byte-order mark is allowed), refusing huge or binary files.

    Raises:
        ConfigError: The file cannot be read, is larger than ``max_bytes``, or is not UTF-8.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the file ({err.strerror})") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: larger than {max_bytes:,} bytes; not a scenario file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            f"save the file as UTF-8"
        ) from None


def load_yaml(source: str | Path, cls: type[T] = ScenarioConfig) -> T:  # type: ignore[assignment]
    """Read a YAML file (or YAML text) into config class ``cls``.

    The text is parsed by :func:`parse_yaml` (safe, no duplicate keys, bounded size); an
    empty document is an error, not a config of defaults.

    Args:
        source: A path to a ``.yaml`` file, or YAML text.
        cls: The config dataclass to build (default :class:`ScenarioConfig`).

    Raises:
        ConfigError: The file is missing, empty, not UTF-8 or malformed, or a key/value is
            invalid.
    """
    where = "<text>"
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        where = str(source)
        text = read_text_file(source)
    else:
        text = str(source)
    data = parse_yaml(text, where)
    if data is None:
        raise ConfigError(
            f"{where}: the file is empty; expected a mapping of {cls.__name__} keys "
            f"(see the scenarios/ folder for examples)"
        )
    if where != "<text>":
        _import_beside(Path(source), data)
    return from_dict(cls, data)


def _import_beside(path: Path, data: Any) -> None:
    """Let a scenario name components by import target from files beside it.

    When its ``user_model`` names a ``module:Class`` target, the scenario's folder joins the
    end of ``sys.path`` (after everything installed, so it shadows nothing); worker
    processes started from here inherit it.
    """
    section = data.get("user_model") if isinstance(data, Mapping) else None
    if not isinstance(section, Mapping):
        return
    names = [v for k, v in section.items() if k != "params" and isinstance(v, str)]
    added = section.get("add")
    names += [v for v in added if isinstance(v, str)] if isinstance(added, list) else []
    if any(COMPONENT_TARGET.fullmatch(n) for n in names):
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.append(folder)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _section_with(cfg: Any, dotted: str, value: Any, allowed: tuple[str, ...] | None) -> Any:
    """The top-level section of ``cfg`` named by ``dotted`` with one field replaced."""
    head, *rest = dotted.split(".")
    names = [f.name for f in dataclasses.fields(cfg)]
    if allowed is not None and head not in allowed:
        raise ConfigError(
            f"{dotted}: only {', '.join(allowed)} parameters can change during a run"
            f"{suggest(head, allowed)}"
        )
    if head not in names:
        raise ConfigError(f"{dotted}: unknown section{suggest(head, names)}")
    section = getattr(cfg, head)
    if not rest:
        return _convert(value, typing.get_type_hints(type(cfg))[head], head)
    nested: Any = value
    for part in reversed(rest):
        nested = {part: nested}
    return from_dict(type(section), _merge(to_dict(section), nested), path=head)


def replace_path(cfg: T, dotted: str, value: Any, allowed: tuple[str, ...] | None = None) -> T:
    """Return a copy of ``cfg`` with the field at a dotted path replaced, validated.

    Args:
        cfg: A config dataclass instance.
        dotted: Path such as ``"dynamics.appeal_weight"``.
        value: New value (checked like a YAML value).
        allowed: If given, the top-level sections that may be changed.

    Raises:
        ConfigError: Unknown path (with suggestion), wrong type or out-of-range value.

    >>> replace_path(Config(), "dynamics.appeal_weight", 0).dynamics.appeal_weight
    0.0
    """
    head = dotted.split(".")[0]
    return dataclasses.replace(cfg, **{head: _section_with(cfg, dotted, value, allowed)})


def markdown_tables() -> str:
    """Markdown parameter tables (name, default, unit, meaning) of every config section."""
    sections = [
        ("world", WorldConfig),
        ("world.items", ItemsConfig),
        ("world.users", UsersConfig),
        ("world.movielens", MovieLensConfig),
        ("world.social", SocialConfig),
        ("user_model", UserModelConfig),
        ("dynamics", DynamicsConfig),
        ("retention", RetentionConfig),
        ("economy", EconomyConfig),
        ("simulation", SimulationConfig),
        ("ab", ABConfig),
        ("ope", OPEConfig),
    ]
    return "\n".join(params_markdown(cls, title) for title, cls in sections)


def params_markdown(cls: type, title: str) -> str:
    """The markdown parameter table of one config dataclass (a section, a component's Params).

    >>> print(params_markdown(SocialConfig, "world.social").splitlines()[0])
    ### `world.social`
    """
    out = [f"### `{title}`\n\n| parameter | default | unit | meaning |\n|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(
            f.default_factory if f.default_factory is not dataclasses.MISSING else None
        ):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory() or "—"
        else:
            default = "—"
        bounds = _bounds_text(f.metadata)
        doc = f.metadata.get("doc", "") + (f" ({bounds})" if bounds else "")
        out.append(f"| `{f.name}` | {default} | {f.metadata.get('unit', '')} | {doc} |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover - documentation generator
    print(markdown_tables())
