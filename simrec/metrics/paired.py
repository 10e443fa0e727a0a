r"""Measures that compare two runs of the same seed (common random numbers).

The same seed gives every agent the same world, the same users and the same behavioural
draws, so two runs of a seed can be compared user by user and day by day:

* :func:`versus_ideal` -- a daily metric of an agent minus the same metric of the ideal
  recommender on the same seed and day. For homogenization this is Chaney, Stewart and
  Engelhardt's (RecSys 2018) measure: the change in the Jaccard index of paired users'
  consumption *relative to the ideal recommender* (positive: the agent's users are more
  alike than the ideal makes them; negative: less alike).
* :func:`regret` -- per day-0 user, what the ideal recommender gave that user minus what
  the agent gave the same user (engagement minutes and revenue over the horizon), summarised
  as mean, median and 90th percentile, with the share of users who got less.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["VERSUS_IDEAL", "regret", "versus_ideal"]

#: Daily metrics reported relative to the ideal recommender (as ``<name>_vs_ideal``).
VERSUS_IDEAL = ("homogenization", "homogenization_matched")


def versus_ideal(metrics: pd.DataFrame, ideal: str) -> pd.DataFrame:
    """Long-format rows ``<metric>_vs_ideal`` = agent - ideal, per seed and day.

    Args:
        metrics: Long-format daily metrics (scenario, agent, seed, day, metric, value).
        ideal: Agent label of the ideal recommender.

    Returns:
        Rows in the same format for every agent (the ideal's own rows are 0), for the seeds
        the ideal ran on; empty when the ideal has no rows.
    """
    m = metrics[metrics["metric"].isin(VERSUS_IDEAL)]
    ref = m[m["agent"] == ideal][["seed", "day", "metric", "value"]]
    if ref.empty:
        return metrics.iloc[0:0]
    out = m.merge(ref, on=["seed", "day", "metric"], suffixes=("", "_ideal"))
    out["value"] = out["value"] - out["value_ideal"]
    out["metric"] = out["metric"] + "_vs_ideal"
    return out[metrics.columns].reset_index(drop=True)


def regret(agent: pd.DataFrame, ideal: pd.DataFrame) -> dict[str, float]:
    """Per-user regret of the day-0 cohort against the ideal recommender (same seed).

    Args:
        agent: The agent's per-user table (:mod:`simrec.metrics.users`).
        ideal: The ideal recommender's per-user table for the same seed.

    Returns:
        ``regret_engagement_mean``, ``regret_engagement_median``, ``regret_engagement_p90``
        (minutes), ``regret_revenue_mean`` (currency) and ``worse_off_share`` (share of
        day-0 users with less engagement than under the ideal recommender).
    """
    a = agent[agent["cohort"].astype(bool)].set_index("user")
    b = ideal[ideal["cohort"].astype(bool)].set_index("user")
    common = a.index.intersection(b.index)
    if len(common) == 0:
        keys = ("engagement_mean", "engagement_median", "engagement_p90", "revenue_mean")
        return {f"regret_{k}": math.nan for k in keys} | {"worse_off_share": math.nan}
    d = (b.loc[common, "engagement"] - a.loc[common, "engagement"]).to_numpy(dtype=float)
    r = (b.loc[common, "revenue"] - a.loc[common, "revenue"]).to_numpy(dtype=float)
    return {
        "regret_engagement_mean": float(d.mean()),
        "regret_engagement_median": float(np.median(d)),
        "regret_engagement_p90": float(np.quantile(d, 0.9)),
        "regret_revenue_mean": float(r.mean()),
        "worse_off_share": float((d > 0).mean()),
    }
