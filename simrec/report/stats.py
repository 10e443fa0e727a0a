r"""Estimates over seeds for the text of a study: CIs, paired differences, directions, frontiers.

A study compares agents on the whole-run totals of a results folder (``totals``: one row per
run, columns ``agent``, ``seed`` and one per metric). For agent :math:`a` on metric
:math:`m` over the seeds :math:`s = 1..n` it reports the mean and the Student-t 95% CI
half-width

.. math:: \bar x = \frac{1}{n} \sum_s x_{a,s}, \qquad
          h = t_{0.975,\,n-1}\, \frac{\mathrm{sd}(x_{a,\cdot})}{\sqrt{n}},

and for two agents the same on the paired differences :math:`d_s = x_{a,s} - x_{b,s}`
(common random numbers: both ran the same users under the same draws on seed :math:`s`, so
:math:`h` of the differences is far narrower than the two CIs suggest). A difference has a
*direction* only when its CI excludes zero: :math:`+1` when :math:`\bar d - h > 0`,
:math:`-1` when :math:`\bar d + h < 0`, else :math:`0` (level within the CI).

The formatting functions write these estimates in each metric's number format
(:func:`simrec.report.tables.label_format`), shares of a population in percentage points; the
survival functions read the per-agent table of :func:`simrec.metrics.survival.survival_table`
(``survival.csv``). No plotting library is imported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from simrec.report.tables import label_format
from simrec.runner.results import mean_ci

__all__ = [
    "POINT_METRICS",
    "agent_mean_ci",
    "direction",
    "format_difference",
    "format_value",
    "hazard_ratio",
    "paired_difference",
    "paired_text",
    "pareto_mask",
    "survival_markdown",
]

#: Shares of a population whose differences read as percentage points (``+3.1 ± 1.2
#: points``); the other metrics, rates per impression (CTRs) included, keep their own format.
POINT_METRICS = frozenset({"retention", "satisfaction_cohort", "long_tail_share", "coverage"})


def agent_mean_ci(totals: pd.DataFrame, agent: str, metric: str) -> tuple[float, float]:
    """Mean and 95% CI half-width over seeds of one agent's whole-run ``metric``.

    Seeds whose value is NaN are left out. A single seed gets a CI of 0 (a figure then draws
    no bar); no seed at all gives ``(nan, nan)``.

    Args:
        totals: One row per run: ``agent``, ``seed`` and one column per metric.
        agent: The agent's label.
        metric: The column.

    Returns:
        ``(mean, ci95)``.

    >>> t = pd.DataFrame({"agent": ["a", "a", "b"], "seed": [0, 1, 0], "clicks": [2.0, 4.0, 5.0]})
    >>> agent_mean_ci(t, "a", "clicks")
    (3.0, 12.706...)
    >>> agent_mean_ci(t, "b", "clicks")
    (5.0, 0.0)
    """
    x = totals.loc[totals["agent"] == agent, metric].to_numpy(float)
    r = mean_ci(x)
    return r["mean"], (0.0 if np.count_nonzero(~np.isnan(x)) == 1 else r["ci95"])


def paired_difference(
    totals: pd.DataFrame, a: str, b: str, metric: str
) -> tuple[float, float, int]:
    """Mean, 95% CI half-width and number of seeds of ``a - b`` on ``metric``, paired by seed.

    Args:
        totals: One row per run: ``agent``, ``seed`` and one column per metric.
        a: The agent compared.
        b: The agent it is compared against (the baseline).
        metric: The column.

    Returns:
        ``(mean, ci95, n)``: ``n`` counts the seeds both ran with a value; ``(nan, nan, 0)``
        when either agent is missing, a CI of NaN with a single seed.

    >>> t = pd.DataFrame({"agent": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
    ...                   "retention": [0.5, 0.6, 0.7, 0.4, 0.45, 0.7]})
    >>> paired_difference(t, "a", "b", "retention")
    (0.0833..., 0.1897..., 3)
    >>> paired_difference(t, "a", "c", "retention")
    (nan, nan, 0)
    """
    wide = totals.pivot(index="seed", columns="agent", values=metric)
    if a not in wide or b not in wide:
        return math.nan, math.nan, 0
    d = (wide[a] - wide[b]).to_numpy(float)
    r = mean_ci(d)
    return r["mean"], r["ci95"], int(np.count_nonzero(~np.isnan(d)))


def direction(mean: float, ci: float) -> int:
    """+1 / -1 when the 95% CI excludes zero on that side, else 0 (also when not finite).

    >>> direction(0.3, 0.2), direction(-0.3, 0.2), direction(0.1, 0.2), direction(0.1, math.nan)
    (1, -1, 0, 0)
    """
    if not (math.isfinite(mean) and math.isfinite(ci)):
        return 0
    return 1 if mean - ci > 0 else -1 if mean + ci < 0 else 0


def format_value(value: float, metric: str, signed: bool = False) -> str:
    """A number in the metric's format (``–`` when not finite), with its sign when ``signed``.

    The sign is written ``+`` or ``−`` (U+2212, the minus of running text).

    >>> format_value(1234.4, "revenue"), format_value(-0.01234, "warm_item_ctr", signed=True)
    ('1,234', '−0.0123')
    >>> format_value(math.nan, "revenue")
    '–'
    """
    if not math.isfinite(value):
        return "–"
    text = label_format(metric)[1].replace("+", "").format(abs(value) if signed else value)
    return (("+" if value >= 0 else "−") + text) if signed else text


def format_difference(
    mean: float, ci: float, metric: str, points: frozenset[str] = POINT_METRICS
) -> str:
    """A difference as ``mean ± ci``: in percentage points for the shares in ``points``.

    Args:
        mean: The mean difference.
        ci: Its 95% CI half-width (``–`` when not finite).
        metric: The metric (its number format, or points).
        points: The metrics written in percentage points.

    Returns:
        The text; ``–`` when the mean is not finite.

    >>> format_difference(0.031, 0.012, "retention")
    '+3.1 ± 1.2 points'
    >>> format_difference(-12.4, math.nan, "revenue")
    '−12 ± –'
    """
    if not math.isfinite(mean):
        return "–"
    if metric in points:
        half = f"{ci * 100:.1f}" if math.isfinite(ci) else "–"
        return f"{'+' if mean >= 0 else '−'}{abs(mean) * 100:.1f} ± {half} points"
    half = format_value(ci, metric) if math.isfinite(ci) else "–"
    return f"{format_value(mean, metric, signed=True)} ± {half}"


def paired_text(totals: pd.DataFrame, a: str, b: str, metric: str) -> str:
    """``+3.1 ± 1.2 points``: :func:`paired_difference` of ``a - b`` as :func:`format_difference`.

    >>> t = pd.DataFrame({"agent": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
    ...                   "retention": [0.5, 0.6, 0.7, 0.4, 0.45, 0.7]})
    >>> paired_text(t, "a", "b", "retention")
    '+8.3 ± 19.0 points'
    """
    mean, ci, _ = paired_difference(totals, a, b, metric)
    return format_difference(mean, ci, metric)


def pareto_mask(costs: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Mask of the points no other point beats on both (lower cost, higher outcome).

    A point is dropped when another has a cost no higher and an outcome no lower, and is
    strictly better on one of the two; ties on both keep both.

    >>> pareto_mask(np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.4, 0.9])).tolist()
    [True, False, True]
    """
    keep = np.ones(len(costs), dtype=bool)
    for i in range(len(costs)):
        better = (costs <= costs[i]) & (outcomes >= outcomes[i])
        strictly = (costs < costs[i]) | (outcomes > outcomes[i])
        keep[i] = not (better & strictly).any()
    return keep


def hazard_ratio(survival: pd.DataFrame | None, agent: str) -> tuple[float, float, float]:
    """The hazard ratio of churn against the baseline and its 95% CI, from ``survival.csv``.

    Args:
        survival: The survival table (:func:`simrec.metrics.survival.survival_table`:
            columns ``agent``, ``hr``, ``hr_lower``, ``hr_upper``, ...), or ``None``.
        agent: The agent's label.

    Returns:
        ``(hr, lower, upper)``; NaNs when the table or the agent is missing.

    >>> s = pd.DataFrame({"agent": ["a"], "hr": [0.8], "hr_lower": [0.7], "hr_upper": [0.9]})
    >>> hazard_ratio(s, "a"), hazard_ratio(s, "b")
    ((0.8, 0.7, 0.9), (nan, nan, nan))
    """
    if survival is None or agent not in set(survival["agent"]):
        return math.nan, math.nan, math.nan
    r = survival.set_index("agent").loc[agent]
    return float(r["hr"]), float(r["hr_lower"]), float(r["hr_upper"])


def survival_markdown(survival: pd.DataFrame | None, agents: Sequence[str], baseline: str) -> str:
    """A markdown table of RMST and hazard ratio of churn (95% CI, p) for ``agents``.

    Agents the table lacks are left out; a missing hazard ratio or p (the baseline's own
    row) is written ``–``.

    Args:
        survival: The survival table (:func:`simrec.metrics.survival.survival_table`), or
            ``None``.
        agents: The rows, in order.
        baseline: The agent the hazard ratios are against (the header names it).

    Returns:
        The table; ``(no survival table)`` when there is none.

    >>> s = pd.DataFrame({"agent": ["mf", "lm"], "rmst_days": [10.04, 12.5],
    ...                   "hr": [math.nan, 0.8], "hr_lower": [math.nan, 0.7],
    ...                   "hr_upper": [math.nan, 0.9], "p": [math.nan, 0.0012]})
    >>> print(survival_markdown(s, ["mf", "lm"], "mf"))
    | agent | RMST (d) | hazard ratio of churn vs `mf` (95% CI) | p |
    |---|---|---|---|
    | `mf` | 10.0 | – | – |
    | `lm` | 12.5 | 0.80 (0.70–0.90) | 0.0012 |
    """
    if survival is None or survival.empty:
        return "(no survival table)"
    s = survival.set_index("agent")
    lines = [
        f"| agent | RMST (d) | hazard ratio of churn vs `{baseline}` (95% CI) | p |",
        "|---|---|---|---|",
    ]
    for label in agents:
        if label not in s.index:
            continue
        r = s.loc[label]
        hr = (
            "–"
            if r["hr"] != r["hr"]
            else f"{r['hr']:.2f} ({r['hr_lower']:.2f}–{r['hr_upper']:.2f})"
        )
        p = "–" if r["p"] != r["p"] else f"{r['p']:.2g}"
        lines.append(f"| `{label}` | {r['rmst_days']:.1f} | {hr} | {p} |")
    return "\n".join(lines)
