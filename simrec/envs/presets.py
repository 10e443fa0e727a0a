"""Presets of the single-user envs: functions that build configs, not copied dicts.

Each preset returns ``(Config, EnvConfig)``; the registered ids call them, and keyword
arguments to ``gymnasium.make`` override their fields.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simrec.config import Config, EnvConfig, RewardConfig, from_dict, with_settings
from simrec.dynamics.retention import churn_hazard, mean_return_gap

__all__ = [
    "PRESETS",
    "interest_evolution",
    "learnable",
    "long_term_satisfaction",
    "long_term_satisfaction_static",
    "retention",
    "user_lifetime",
    "without_long_term_effects",
]


def user_lifetime() -> tuple[Config, EnvConfig]:
    """The default world (10% mostly clickbait); one item per request from 20 candidates."""
    return from_dict(Config, {"simulation": {"slate_size": 1}}), EnvConfig()


def interest_evolution() -> tuple[Config, EnvConfig]:
    """RecSim interest-evolution analogue.

    Interests drift toward what is consumed; a session ends when its watch-time budget is
    spent; a slate of 2 from 10 candidates; whole genres (topic clusters) are of higher or
    lower quality; no clickbait. Reward: engagement minutes.
    """
    cfg = from_dict(
        Config,
        {
            "world": {"items": {"clickbait_fraction": 0.0, "genre_quality_sd": 1.2}},
            "dynamics": {"drift_rate": 0.1, "session_budget_minutes": 60.0},
            "simulation": {"slate_size": 2},
        },
    )
    env = EnvConfig(
        horizon_days=30.0, candidates=10, reward=RewardConfig(click=0.0, engagement=1.0)
    )
    return cfg, env


def long_term_satisfaction() -> tuple[Config, EnvConfig]:
    """RecSim long-term-satisfaction analogue ("chocolate" vs "kale").

    Half the items are mostly clickbait (clickbaitiness above one half on the default
    continuum): their appeal raises immediate clicks and, with the default engagement weight
    of appeal (0.6), the minutes a click holds, but the letdown erodes satisfaction, and churn
    follows (checked in ``tests/envs/test_envs.py``). One item from 10 candidates. Reward:
    clicks, so a myopic policy is rewarded now and pays later. The candidates' popularity feature
    comes from a 3,000-user warm-up log, so high appeal is observable.
    """
    cfg = from_dict(
        Config,
        {
            "world": {"items": {"clickbait_fraction": 0.5}},
            "dynamics": {"appeal_weight": 4.0, "clickbait_penalty": 1.5, "satisfaction_rate": 0.2},
            "simulation": {"slate_size": 1},
        },
    )
    # A warm-up log of 3,000 users makes the popularity (CTR) feature reveal appeal, as the
    # "kaleness" of a document is observable in RecSim's environment.
    return cfg, EnvConfig(horizon_days=60.0, candidates=10, warmup_users=3000)


def without_long_term_effects(config: Config) -> Config:
    """``config`` with every lasting effect of a recommendation on the user switched off.

    What the user consumes then changes nothing after the session it happened in: no
    interest drift (``drift_rate`` and ``random_walk_sd`` 0), no genre fatigue
    (``fatigue_weight`` 0), and satisfaction moves nothing: the churn hazard and the mean
    return gap are held at their values at the mean initial satisfaction
    (``churn_min = churn_max``, ``gap_min_days = gap_max_days``) and the session-exit hazard
    drops its satisfaction term (folded into ``exit_base`` at that satisfaction). The
    within-session effects remain (a no-click raises the exit hazard; repeats are penalised).
    This is the negative control of Lee et al. (SIGIR 2022): with no long-term effect of
    feedback, a greedy one-step policy should be as good as any long-term learner.
    """
    s0 = np.asarray(config.world.users.satisfaction_mean)
    ret, dyn = config.retention, config.dynamics
    hazard = float(
        churn_hazard(
            s0,
            h_min=ret.churn_min,
            h_max=ret.churn_max,
            midpoint=ret.churn_midpoint,
            width=ret.churn_width,
        )
    )
    gap = float(
        mean_return_gap(s0, gap_min=ret.gap_min_days, gap_max=ret.gap_max_days, shape=ret.gap_shape)
    )
    return with_settings(
        config,
        {
            "dynamics.drift_rate": 0.0,
            "dynamics.random_walk_sd": 0.0,
            "dynamics.fatigue_weight": 0.0,
            "dynamics.exit_base": dyn.exit_base - dyn.exit_satisfaction * (float(s0) - 0.5),
            "dynamics.exit_satisfaction": 0.0,
            "retention.churn_min": hazard,
            "retention.churn_max": hazard,
            "retention.gap_min_days": gap,
            "retention.gap_max_days": gap,
        },
    )


def long_term_satisfaction_static() -> tuple[Config, EnvConfig]:
    """:func:`long_term_satisfaction` without long-term effects (the negative control).

    The same catalog, users, choice model and warm-up; :func:`without_long_term_effects`.
    """
    cfg, env = long_term_satisfaction()
    return without_long_term_effects(cfg), env


def retention() -> tuple[Config, EnvConfig]:
    """KuaiSim-style cross-session retention.

    The reward comes at session end and is larger the sooner the user returns
    (``exp(-gap / 1 day)``); 0 when the user churns. A slate of 3 from 20 candidates.
    """
    cfg = from_dict(Config, {"simulation": {"slate_size": 3}})
    return cfg, EnvConfig(
        horizon_days=60.0, candidates=20, reward=RewardConfig(click=0.0, return_bonus=1.0)
    )


def learnable() -> tuple[Config, EnvConfig]:
    """A small world built so that a policy can learn quickly (the RL sanity checks).

    Two genres, users who each like one genre and state it truthfully, clicks driven by
    the match alone (no appeal, no clickbait): picking a candidate of the stated genre
    roughly doubles the clicks of a random policy. One item from 5 candidates, 3-day
    episodes; users come back within hours (mean gaps of 0.3 to 6 days, the default world's
    before its recalibration) so that an episode holds many requests.
    """
    cfg = from_dict(
        Config,
        {
            "world": {
                "n_genres": 2,
                "items": {"clickbait_fraction": 0.0, "n_items": 400},
                "users": {"interest_concentration": 0.05, "stated_genre_accuracy": 1.0},
            },
            "dynamics": {"appeal_weight": 0.0, "interest_weight": 8.0, "no_click_utility": 3.0},
            "retention": {"gap_min_days": 0.3, "gap_max_days": 6.0},
            "simulation": {"slate_size": 1},
        },
    )
    return cfg, EnvConfig(horizon_days=3.0, candidates=5, history_length=2)


#: Preset name -> builder.
PRESETS: dict[str, Callable[[], tuple[Config, EnvConfig]]] = {
    "user_lifetime": user_lifetime,
    "interest_evolution": interest_evolution,
    "long_term_satisfaction": long_term_satisfaction,
    "long_term_satisfaction_static": long_term_satisfaction_static,
    "retention": retention,
    "learnable": learnable,
}
