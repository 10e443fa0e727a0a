"""Whether a scenario's conclusions hold over its uncertain parameters, and what drives them.

A *conclusion* is the sign of a paired difference ``a - b`` of a whole-run metric between
two agents at the scenario's own (nominal) settings, significant when its 95% CI over seeds
(Student t over the paired per-seed differences) excludes zero. At every design point the
same difference is measured on the same seeds (common random numbers), with its own 95% CI
over those seeds: a design needs at least two seeds (``simrec sensitivity`` refuses one,
:func:`simrec.preflight.preflight`). For each conclusion:

* ``share_holds``: the share of design points where the difference has the nominal sign;
* ``share_significant``: the share where it has the nominal sign *and* its CI excludes zero
  (the points that support the conclusion);
* ``share_reversed``: the share where it has the opposite sign *and* its CI excludes zero;
* ``verdict``, in this order:

  - ``no conclusion``: the nominal difference is not significant (nothing to test);
  - ``flips``: the difference is significantly reversed at some point of the box;
  - ``holds``: the share of supporting points (``share_significant``) is at least
    :data:`HOLDS_SHARE` (0.9): the sign is stable, with CIs, at 90% of the design;
  - ``weakens``: otherwise (the sign is not stable with CIs at 90% of the points, and no
    point reverses it significantly);

  a point where the difference is undefined (NaN) supports nothing: shares are of all the
  design's points (NaN only when the difference is undefined everywhere);
* the parameters that drive the difference: Morris ``mu_star`` (mean absolute elementary
  effect; the difference's change for a move across the parameter's whole range) and
  ``sigma`` (interactions or non-linearity), or Sobol ``S1`` / ``ST`` (first-order and total
  shares of its variance);
* for a flip, the single-threshold rule on one parameter that best separates the points
  where it reverses from the others (``flips_when``), with the share of points it classifies
  correctly.

The points of a design are not an equal-weight sample of the box for Morris (trajectories on
a grid), so shares are shares of the design's points; Sobol points are a quasi-random
uniform sample, so there the shares estimate the volume of the box.

Verdicts of folders analysed before this rule (``robustness.csv`` without
``share_significant``) were made under the earlier one: ``holds`` when the nominal sign held
at every point, whatever the CIs, and, with one seed, any opposite sign counted as a reversal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from simrec.config import ScenarioConfig
from simrec.runner.results import mean_ci
from simrec.sensitivity.design import Design, salib

__all__ = [
    "HOLDS_SHARE",
    "VERDICTS",
    "agent_pairs",
    "differences",
    "flip_rule",
    "indices",
    "robustness",
]

#: Verdicts of a conclusion, from the strongest.
VERDICTS = ("holds", "weakens", "flips", "no conclusion")

#: The least share of design points where the difference must have the nominal sign with a
#: 95% CI excluding zero for a conclusion to hold.
HOLDS_SHARE = 0.9


def agent_pairs(scenario: ScenarioConfig) -> list[tuple[str, str]]:
    """Every pair ``(a, b)`` of agents, compared as ``a - b``.

    With a baseline: every agent against it first; then the other pairs, later agent minus
    earlier one in the scenario's order.
    """
    keys = [a.key for a in scenario.agents]
    base = scenario.baseline
    pairs = [(k, base) for k in keys if base and k != base]
    rest = [k for k in keys if k != base]
    pairs += [(rest[j], rest[i]) for i in range(len(rest)) for j in range(i + 1, len(rest))]
    return pairs


def differences(
    totals: pd.DataFrame, pairs: Sequence[tuple[str, str]], metrics: Sequence[str]
) -> pd.DataFrame:
    """Paired differences ``a - b`` over the seeds both agents ran.

    Args:
        totals: One row per run: ``agent``, ``seed`` and one column per metric.
        pairs: ``(a, b)`` agent labels.
        metrics: Whole-run metrics.

    Returns:
        Rows ``a, b, metric, diff, ci95, n`` (``ci95`` the Student-t half-width; NaN with
        one seed).
    """
    by_agent = {a: g.set_index("seed") for a, g in totals.groupby("agent")}
    rows = []
    for a, b in pairs:
        if a not in by_agent or b not in by_agent:
            continue
        common = by_agent[a].index.intersection(by_agent[b].index)
        for m in metrics:
            d = (by_agent[a].loc[common, m] - by_agent[b].loc[common, m]).to_numpy(float)
            stats = mean_ci(d)
            rows.append(
                {
                    "a": a,
                    "b": b,
                    "metric": m,
                    "diff": stats["mean"],
                    "ci95": stats["ci95"],
                    "n": int(np.isfinite(d).sum()),
                }
            )
    return pd.DataFrame(rows, columns=["a", "b", "metric", "diff", "ci95", "n"])


def _significant(diff: np.ndarray, ci95: np.ndarray) -> np.ndarray:
    """Finite, with a CI that excludes zero (no CI, as with one seed: not significant)."""
    ok = np.isfinite(diff) & np.isfinite(ci95)
    return ok & (np.abs(np.where(ok, diff, 0.0)) > np.where(ok, ci95, np.inf))


def indices(design: Design, points: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Sensitivity indices of every difference to every parameter.

    Args:
        design: The design the points were run at.
        points: :func:`differences` rows of every design point, with a ``point`` column.
        seed: Seed of SALib's bootstrap of the confidence intervals.

    Returns:
        Rows ``a, b, metric, parameter`` and, for Morris, ``mu, mu_star, sigma,
        mu_star_conf``; for Sobol, ``S1, S1_conf, ST, ST_conf``. A difference that is NaN
        at any point (a metric undefined there) gets NaN indices.
    """
    lib = salib()
    order = {label: i for i, label in enumerate(design.labels)}
    morris = design.method == "morris"
    keys = (
        ("mu", "mu_star", "sigma", "mu_star_conf") if morris else ("S1", "S1_conf", "ST", "ST_conf")
    )
    rows = []
    for (a, b, metric), grp in points.groupby(["a", "b", "metric"], sort=False):
        y = np.full(len(design.points), np.nan)
        y[[order[p] for p in grp["point"]]] = grp["diff"].to_numpy(float)
        base = {"a": a, "b": b, "metric": metric}
        if not np.isfinite(y).all():
            res = None
        elif morris:
            res = lib.analyze.morris.analyze(
                design.problem, design.points, y, num_levels=design.levels, seed=seed
            )
        else:
            res = lib.analyze.sobol.analyze(design.problem, y, calc_second_order=False, seed=seed)
        for j, name in enumerate(design.names):
            row = base | {"parameter": name}
            row.update({k: (float(res[k][j]) if res is not None else math.nan) for k in keys})
            rows.append(row)
    return pd.DataFrame(rows)


def flip_rule(x: np.ndarray, reversed_: np.ndarray, names: Sequence[str]) -> tuple[str, float]:
    """The one-parameter threshold rule that best tells the reversed points from the others.

    Args:
        x: ``(n_points, n_parameters)`` settings.
        reversed_: Whether the conclusion is reversed at each point.
        names: Parameter names.

    Returns:
        The rule as text (``"retention.churn_max > 0.1425"``) and the share of points it
        classifies correctly; ``("", nan)`` when nothing is reversed.
    """
    if not reversed_.any():
        return "", math.nan
    best = ("", -1.0)
    for j, name in enumerate(names):
        values = np.unique(x[:, j])
        cuts = (values[:-1] + values[1:]) / 2
        for cut in cuts:
            above = x[:, j] > cut
            for text, pred in ((f"{name} > {cut:.4g}", above), (f"{name} < {cut:.4g}", ~above)):
                acc = float((pred == reversed_).mean())
                if acc > best[1]:
                    best = (text, acc)
    return best


def _verdict(significant: bool, supports: int, reversed_: int, points: int) -> str:
    """The verdict of a conclusion (the module docstring).

    Args:
        significant: Whether the nominal difference's CI excludes zero.
        supports: Points with the nominal sign and a CI excluding zero.
        reversed_: Points with the opposite sign and a CI excluding zero.
        points: The design's points.
    """
    if not significant:
        return "no conclusion"
    if reversed_ > 0:
        return "flips"
    # in counts, so that 9 of 10 points is 90% whatever the rounding of 9 / 10
    if points > 0 and supports >= math.ceil(HOLDS_SHARE * points - 1e-9):
        return "holds"
    return "weakens"


def robustness(
    design: Design, nominal: pd.DataFrame, points: pd.DataFrame, idx: pd.DataFrame
) -> pd.DataFrame:
    """One row per conclusion (pair x metric): does it hold over the design, and why not.

    Args:
        design: The design.
        nominal: :func:`differences` at the scenario's own settings.
        points: :func:`differences` of every point, with a ``point`` column.
        idx: :func:`indices`.

    Returns:
        Rows ``a, b, metric, nominal_diff, nominal_ci95, conclusion, share_holds,
        share_significant, share_reversed, verdict, driver, driver_index, flips_when,
        rule_accuracy`` (the rule: the module docstring).
    """
    order = {label: i for i, label in enumerate(design.labels)}
    key = "mu_star" if design.method == "morris" else "ST"
    rows = []
    for _, nom in nominal.iterrows():
        grp = points[(points["a"] == nom["a"]) & (points["b"] == nom["b"])]
        grp = grp[grp["metric"] == nom["metric"]]
        at = np.array([order[p] for p in grp["point"]])
        diff, ci = grp["diff"].to_numpy(float), grp["ci95"].to_numpy(float)
        sign = float(np.sign(nom["diff"]))
        significant = bool(_significant(np.array([nom["diff"]]), np.array([nom["ci95"]]))[0])
        if sign == 0 or not np.isfinite(sign):
            conclusion = "no difference"
        else:
            conclusion = f"{nom['a']} {'>' if sign > 0 else '<'} {nom['b']}"
        valid = np.isfinite(diff)
        same = valid & (np.sign(diff) == sign) if sign else np.zeros(len(diff), bool)
        reversed_ = valid & (np.sign(diff) == -sign) & _significant(diff, ci) if sign else same
        supports = same & _significant(diff, ci)
        share_holds, share_significant, share_reversed = (
            (float(same.mean()), float(supports.mean()), float(reversed_.mean()))
            if valid.any()
            else (math.nan, math.nan, math.nan)
        )
        verdict = _verdict(significant, int(supports.sum()), int(reversed_.sum()), len(diff))
        sub = idx[
            (idx["a"] == nom["a"]) & (idx["b"] == nom["b"]) & (idx["metric"] == nom["metric"])
        ]
        driver, driver_index = "", math.nan
        if not sub.empty and sub[key].notna().any():
            top = sub.loc[sub[key].idxmax()]
            driver, driver_index = str(top["parameter"]), float(top[key])
        rule, acc = (
            flip_rule(design.points[at], reversed_, design.names) if sign else ("", math.nan)
        )
        rows.append(
            {
                "a": nom["a"],
                "b": nom["b"],
                "metric": nom["metric"],
                "nominal_diff": float(nom["diff"]),
                "nominal_ci95": float(nom["ci95"]),
                "conclusion": conclusion,
                "share_holds": share_holds,
                "share_significant": share_significant,
                "share_reversed": share_reversed,
                "verdict": verdict,
                "driver": driver,
                "driver_index": driver_index,
                "flips_when": rule,
                "rule_accuracy": acc,
            }
        )
    return pd.DataFrame(rows)
