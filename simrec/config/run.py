"""One run's settings: the horizon and interventions, the env rewards, the whole :class:`Config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from simrec.config.base import MAX_DAYS, Base, FieldError, param
from simrec.config.convert import replace_path, section_with
from simrec.config.limits import LIMITS
from simrec.config.model import DynamicsConfig, EconomyConfig, RetentionConfig, UserModelConfig
from simrec.config.world import WorldConfig
from simrec.errors import ConfigError

__all__ = [
    "DEFAULTS_0_1",
    "REWARDS",
    "Config",
    "EnvConfig",
    "Intervention",
    "RewardConfig",
    "SimulationConfig",
    "with_settings",
]

T = TypeVar("T")


# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Intervention(Base):
    """A change to dynamics, retention or economy parameters from a given day on."""

    day: int = param(0, "day at whose start the change applies", "day", ge=0)
    set: dict[str, Any] = param(
        {}, "dotted parameter -> value, e.g. {'dynamics.appeal_weight': 0.0}"
    )


@dataclass(frozen=True)
class SimulationConfig(Base):
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
            raise FieldError(
                "tick_minutes",
                f"expected a divisor of 1440 minutes (a whole number of ticks per day), "
                f"got {self.tick_minutes!r}",
            )
        if self.candidates and self.slate_size > self.candidates:
            raise FieldError(
                "slate_size",
                f"expected at most simulation.candidates ({self.candidates}) items, "
                f"got {self.slate_size}",
            )
        for i, iv in enumerate(self.interventions):
            if iv.day >= self.days:
                raise FieldError(
                    f"interventions[{i}].day",
                    f"expected a day inside the horizon (0 to {self.days - 1}), got {iv.day}",
                )


@dataclass(frozen=True)
class RewardConfig(Base):
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
class EnvConfig(Base):
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

    def __post_init__(self) -> None:
        """Validate fields, then cap the observed history (:mod:`simrec.config.limits`)."""
        super().__post_init__()
        LIMITS["history_length"].check("history_length", self.history_length)


@dataclass(frozen=True)
class Config(Base):
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
                    section_with(self, key, value, ("dynamics", "retention", "economy"))
                except ConfigError as err:
                    raise FieldError(f"simulation.interventions[{i}].set", str(err)) from None


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
