r"""Survival analysis of the users' lifetimes, with :mod:`lifelines`.

Every function takes per-user tables (:mod:`simrec.metrics.users`) and uses the day-0 cohort:
lifetime is the time from day 0 to churn, censored at the horizon for users who did not churn
(:math:`T = \min(\text{churn}, H)`, event = churned).

* :func:`kaplan_meier` -- the Kaplan--Meier estimate :math:`\hat S(t)` with the 95%
  pointwise confidence band lifelines gives (Greenwood variance, exponential/log-log
  transform);
* :func:`lifetime_summary` -- median lifetime (``inf`` when more than half of the cohort is
  still there at the horizon) and the restricted mean survival time up to the horizon
  (RMST, :math:`\int_0^H \hat S(t)\,dt`, always finite: the days an average user stays
  within the horizon);
* :func:`hazard_ratio` -- the Cox proportional-hazards ratio of an agent's users against the
  baseline's, stratified by seed (each seed is its own population) with the robust
  (sandwich) variance clustered on the user, because under common random numbers the same
  user appears under both agents.

lifelines is imported when one of these is called, not with :mod:`simrec`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

__all__ = ["hazard_ratio", "kaplan_meier", "lifetime_summary", "survival_table"]


def _cohort(users: pd.DataFrame) -> pd.DataFrame:
    return users[users["cohort"].astype(bool)]


def kaplan_meier(
    users: pd.DataFrame,
    horizon: int,
    points: int = 0,
    duration: str = "lifetime_days",
    event: str = "churned",
) -> pd.DataFrame:
    """Kaplan--Meier survival of the day-0 cohort.

    Args:
        users: Per-user tables (one or several runs concatenated).
        horizon: Days simulated (the censoring time).
        points: Evaluate on this many evenly spaced times in ``[0, horizon]`` (0: one per
            day).
        duration: Column of the times (default: lifetime; ``gap_days``: time to the
            second visit).
        event: Column saying the event happened (default: churned; ``gap_observed``: the
            user came back); otherwise the time is censored.

    Returns:
        Columns ``day``, ``survival``, ``lower``, ``upper`` (95% band), ``at_risk``.
    """
    from lifelines import KaplanMeierFitter

    c = _cohort(users)
    c = c[c[duration].notna()]
    grid = np.linspace(0.0, horizon, points) if points else np.arange(horizon + 1.0)
    if c.empty:
        nan = np.full(len(grid), np.nan)
        return pd.DataFrame(
            {"day": grid, "survival": nan, "lower": nan, "upper": nan, "at_risk": nan}
        )
    km = KaplanMeierFitter().fit(c[duration], c[event].astype(bool))
    band = km.confidence_interval_survival_function_
    # Step functions: the value at t is the last estimate at or before t.
    at = np.searchsorted(km.survival_function_.index.to_numpy(), grid, side="right") - 1
    at = np.maximum(at, 0)
    table = km.event_table
    at_risk = table["at_risk"].to_numpy()
    risk_at = np.searchsorted(table.index.to_numpy(), grid, side="left")
    return pd.DataFrame(
        {
            "day": grid,
            "survival": km.survival_function_.iloc[at, 0].to_numpy(),
            "lower": band.iloc[at, 0].to_numpy(),
            "upper": band.iloc[at, 1].to_numpy(),
            "at_risk": np.where(
                risk_at < len(at_risk), at_risk[np.minimum(risk_at, len(at_risk) - 1)], 0
            ),
        }
    )


def lifetime_summary(users: pd.DataFrame, horizon: int) -> dict[str, float]:
    """Median lifetime and RMST (days) of one run's day-0 cohort.

    Returns:
        ``median_lifetime_days`` (``inf``: the curve never falls to one half within the
        horizon) and ``rmst_days`` (restricted mean survival time up to ``horizon``).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    c = _cohort(users)
    if c.empty:
        return {"median_lifetime_days": math.nan, "rmst_days": math.nan}
    km = KaplanMeierFitter().fit(c["lifetime_days"], c["churned"].astype(bool))
    return {
        "median_lifetime_days": float(km.median_survival_time_),
        "rmst_days": float(restricted_mean_survival_time(km, t=float(horizon))),
    }


def _visit_summary(cohort: pd.DataFrame) -> dict[str, float]:
    """Median days to the second visit and median of the users' mean session lengths.

    Kaplan--Meier for the return: users not back by the horizon are censored, not dropped.
    """
    from lifelines import KaplanMeierFitter

    gaps = cohort[cohort["gap_days"].notna()]
    back = math.nan
    if len(gaps):
        km = KaplanMeierFitter().fit(gaps["gap_days"], gaps["gap_observed"].astype(bool))
        back = float(km.median_survival_time_)
    minutes = cohort["session_minutes"].dropna()
    return {
        "median_days_to_return": back,
        "median_session_minutes": float(minutes.median()) if len(minutes) else math.nan,
    }


def hazard_ratio(
    agent: dict[int, pd.DataFrame], baseline: dict[int, pd.DataFrame]
) -> dict[str, float]:
    """Cox hazard ratio of churn under ``agent`` against ``baseline``.

    Args:
        agent: Seed -> per-user table of the agent's run.
        baseline: Seed -> per-user table of the baseline's run (the seeds both have are used).

    Returns:
        ``hr`` (above 1: users churn faster than under the baseline), ``hr_lower``,
        ``hr_upper`` (95% CI), ``p`` (Wald test of ``hr = 1``), ``users`` (rows per arm) and
        ``events`` (churns, both arms); NaN values when there are no churns to compare.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    parts = []
    for seed in sorted(set(agent) & set(baseline)):
        for arm, table in ((1.0, agent[seed]), (0.0, baseline[seed])):
            c = _cohort(table)
            parts.append(
                pd.DataFrame(
                    {
                        "T": c["lifetime_days"].to_numpy(dtype=float),
                        "E": c["churned"].to_numpy(dtype=bool),
                        "agent": arm,
                        "seed": seed,
                        "id": seed * (1 << 32) + c["user"].to_numpy(dtype=np.int64),
                    }
                )
            )
    nan = {"hr": math.nan, "hr_lower": math.nan, "hr_upper": math.nan, "p": math.nan}
    if not parts:
        return nan | {"users": 0.0, "events": 0.0}
    df = pd.concat(parts, ignore_index=True)
    size = {"users": float((df["agent"] == 1.0).sum()), "events": float(df["E"].sum())}
    arms_with_events = df.loc[df["E"], "agent"].nunique()
    if arms_with_events == 0:
        return nan | size
    # T > 0 for lifelines; a user churning within the first instant is at 1e-9 days.
    df["T"] = df["T"].clip(lower=1e-9)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # lifelines' own pandas calls (positional axis) warn under pandas 3.
            warnings.filterwarnings("ignore", module="lifelines")
            cox = CoxPHFitter().fit(
                df, "T", "E", strata=["seed"], cluster_col="id", formula="agent"
            )
    except ConvergenceError:
        return nan | size
    row = cox.summary.loc["agent"]
    return {
        "hr": float(row["exp(coef)"]),
        "hr_lower": float(row["exp(coef) lower 95%"]),
        "hr_upper": float(row["exp(coef) upper 95%"]),
        "p": float(row["p"]),
    } | size


def survival_table(
    users: dict[tuple[str, int], pd.DataFrame],
    agents: list[str],
    baseline: str,
    horizon: int,
) -> pd.DataFrame:
    """One row per agent: pooled lifetime summary and the hazard ratio against the baseline.

    Args:
        users: ``(agent, seed)`` -> per-user table.
        agents: Agent labels, in report order.
        baseline: Agent label the hazard ratio is taken against (``""``: none).
        horizon: Days simulated.

    Returns:
        Columns ``agent``, ``seeds``, ``users`` (day-0 users over all seeds), ``churned``
        (share), ``median_lifetime_days`` and ``rmst_days`` (Kaplan--Meier over the users of
        all seeds pooled), ``median_days_to_return`` (from the end of the first session to
        the start of the second; users not back by the horizon are censored, not dropped),
        ``median_session_minutes`` (median over users of their mean session length),
        ``hr``, ``hr_lower``, ``hr_upper``, ``p`` (against ``baseline``; NaN for the
        baseline itself or without one).
    """
    rows = []
    for agent in agents:
        by_seed = {s: u for (a, s), u in users.items() if a == agent}
        if not by_seed:
            continue
        pooled = pd.concat(by_seed.values(), ignore_index=True)
        cohort = _cohort(pooled)
        row = {
            "agent": agent,
            "seeds": len(by_seed),
            "users": len(cohort),
            "churned": float(cohort["churned"].mean()) if len(cohort) else math.nan,
            **lifetime_summary(pooled, horizon),
            **_visit_summary(cohort),
        }
        hr = {"hr": math.nan, "hr_lower": math.nan, "hr_upper": math.nan, "p": math.nan}
        if baseline and agent != baseline:
            base = {s: u for (a, s), u in users.items() if a == baseline}
            hr = {k: v for k, v in hazard_ratio(by_seed, base).items() if k in hr}
        rows.append(row | hr)
    return pd.DataFrame(rows)
