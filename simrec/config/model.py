"""The user model's settings: its components and their parameters, and the rules' parameters."""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simrec.config.base import INF, MAX_DAYS, Base, FieldError, check_plain_name, param
from simrec.config.convert import from_dict
from simrec.config.limits import LIMITS
from simrec.errors import ConfigError, suggest

__all__ = [
    "COMPONENT_TARGET",
    "DynamicsConfig",
    "EconomyConfig",
    "FrozenMap",
    "Params",
    "RetentionConfig",
    "UserModelConfig",
    "read_only_copy",
    "set_params_resolver",
]


# ----------------------------------------------------------------------------- user model


@dataclass(frozen=True)
class Params(Base):
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

    def _read_only(self, *args: Any, **kwargs: Any) -> typing.NoReturn:
        raise TypeError(
            "this mapping of a configuration is read-only (configurations are immutable; "
            "build a changed copy with simrec.config.replace_path or with_settings)"
        )

    __setitem__ = __delitem__ = _read_only
    update = pop = popitem = setdefault = clear = _read_only


def read_only_copy(value: Any) -> Any:
    """A deep, read-only copy of a configuration (or of any value inside one).

    Dataclasses are copied field by field (config dataclasses are frozen), mappings become
    :class:`FrozenMap`, lists and tuples tuples, sets frozensets, numpy arrays read-only
    copies; strings, numbers and other immutable values are kept. The copy equals the
    original (``==``) and shares no mutable container with it, so even a change made by
    bypassing the guards (``object.__setattr__``) stays in the copy. What an agent is
    handed as ``AgentContext.config`` (:class:`simrec.agent.AgentContext`).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = copy.copy(value)
        for f in dataclasses.fields(value):
            object.__setattr__(out, f.name, read_only_copy(getattr(value, f.name)))
        return out
    if isinstance(value, Mapping):
        return FrozenMap({k: read_only_copy(v) for k, v in value.items()})
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(read_only_copy(v) for v in value))
    if isinstance(value, (list, tuple)):
        return tuple(read_only_copy(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(read_only_copy(v) for v in value)
    if isinstance(value, np.ndarray):
        array = value.copy()
        array.flags.writeable = False
        return array
    return value


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
    except FieldError:
        raise FieldError(
            field_name,
            "expected a component name (letters, digits, '.', '_', '+', '-') or an import "
            f"target 'package.module:Class', got {value!r}",
        ) from None


@dataclass(frozen=True)
class UserModelConfig(Base):
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
            raise FieldError("add", f"expected distinct components, got {dup!r} twice")
        if not _PARAMS_RESOLVER:
            object.__setattr__(self, "params", FrozenMap(self.params))
            return
        classes = _PARAMS_RESOLVER[0](self)
        for key in self.params:
            if key not in classes:
                raise FieldError(
                    f"params.{key}",
                    f"no role or added component of this model is called {key!r}"
                    f"{suggest(str(key), list(classes))}; roles and added components: "
                    f"{', '.join(classes)}",
                )
            if classes[key] is None:
                raise FieldError(
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
                raise FieldError(where, message) from None
        object.__setattr__(self, "params", FrozenMap(params))


# ----------------------------------------------------------------------------- dynamics


@dataclass(frozen=True)
class DynamicsConfig(Base):
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

    def __post_init__(self) -> None:
        """Validate fields, then cap the history buffer (:mod:`simrec.config.limits`)."""
        super().__post_init__()
        LIMITS["history_length"].check("recent_items", self.recent_items)


@dataclass(frozen=True)
class RetentionConfig(Base):
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
                raise FieldError(
                    hi, f"expected >= {lo} ({getattr(self, lo)!r}), got {getattr(self, hi)!r}"
                )


@dataclass(frozen=True)
class EconomyConfig(Base):
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
