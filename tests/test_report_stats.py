"""simrec.report.stats: estimates over seeds, paired differences, directions, frontiers."""

import math

import numpy as np
import pandas as pd
import pytest

from simrec.report import stats
from simrec.runner.results import t_quantile_975


def totals():
    return pd.DataFrame(
        {
            "agent": ["a", "a", "a", "b", "b", "b"],
            "seed": [0, 1, 2, 0, 1, 2],
            "retention": [0.5, 0.6, 0.7, 0.4, 0.45, 0.7],
            "revenue": [100.0, 120.0, 90.0, 80.0, 100.0, 95.0],
        }
    )


def test_pareto_and_direction_rules():
    costs = np.array([1.0, 2.0, 2.0, 5.0, 0.5])
    outcome = np.array([0.5, 0.7, 0.6, 0.9, 0.1])
    assert stats.pareto_mask(costs, outcome).tolist() == [True, True, False, True, True]
    # Ties on both: neither beats the other.
    assert stats.pareto_mask(np.array([1.0, 1.0]), np.array([2.0, 2.0])).tolist() == [True, True]
    assert stats.direction(0.3, 0.2) == 1
    assert stats.direction(-0.3, 0.2) == -1
    assert stats.direction(0.1, 0.2) == 0
    assert stats.direction(0.1, float("nan")) == 0
    assert stats.direction(math.inf, 0.1) == 0


def test_paired_differences_match_by_hand():
    mean, ci, n = stats.paired_difference(totals(), "a", "b", "retention")
    d = np.array([0.1, 0.15, 0.0])
    assert n == 3 and mean == pytest.approx(d.mean())
    assert ci == pytest.approx(t_quantile_975(2) * d.std(ddof=1) / np.sqrt(3))
    assert t_quantile_975(2) == pytest.approx(4.303, abs=1e-3)
    text = stats.paired_text(totals(), "a", "b", "retention")
    assert text.startswith("+8.3 ± ") and text.endswith(" points")


def test_paired_differences_pair_by_seed_and_skip_missing_values():
    t = totals()
    t.loc[(t["agent"] == "b") & (t["seed"] == 2), "revenue"] = math.nan
    t = t.sample(frac=1.0, random_state=0)  # row order does not matter: seeds pair
    mean, ci, n = stats.paired_difference(t, "a", "b", "revenue")
    assert n == 2 and mean == pytest.approx(20.0)
    assert ci == pytest.approx(0.0)  # both differences are 20
    assert stats.paired_difference(t, "b", "b", "revenue")[:2] == (0.0, 0.0)


def test_agent_mean_ci_is_the_runner_summary_and_zero_for_one_seed():
    t = totals()
    mean, ci = stats.agent_mean_ci(t, "a", "revenue")
    x = np.array([100.0, 120.0, 90.0])
    assert mean == pytest.approx(x.mean())
    assert ci == pytest.approx(t_quantile_975(2) * x.std(ddof=1) / np.sqrt(3))
    one = t[t["seed"] == 0]
    assert stats.agent_mean_ci(one, "a", "revenue") == (100.0, 0.0)
    assert all(math.isnan(v) for v in stats.agent_mean_ci(t, "missing", "revenue"))


def test_formatting_of_estimates():
    assert stats.format_value(0.12345, "warm_item_ctr") == "0.1235"
    assert stats.format_value(0.12345, "warm_item_ctr", signed=True) == "+0.1235"
    # A format that writes its own sign does not write it twice.
    assert stats.format_value(-0.5, "homogenization_vs_ideal", signed=True) == "−0.5000"
    assert stats.format_value(math.inf, "revenue") == "–"
    assert stats.format_difference(-0.0123, 0.004, "retention") == "−1.2 ± 0.4 points"
    assert stats.format_difference(0.0123, 0.004, "warm_item_ctr") == "+0.0123 ± 0.0040"
    assert stats.format_difference(0.0123, 0.004, "retention", points=frozenset()) == (
        "+0.012 ± 0.004"
    )
    assert stats.format_difference(math.nan, 0.1, "retention") == "–"
    assert stats.format_difference(0.02, math.nan, "retention") == "+2.0 ± – points"


def test_survival_summaries():
    s = pd.DataFrame(
        {
            "agent": ["mf", "lm"],
            "rmst_days": [10.0, 12.0],
            "hr": [math.nan, 0.5],
            "hr_lower": [math.nan, 0.4],
            "hr_upper": [math.nan, 0.6],
            "p": [math.nan, 1e-5],
        }
    )
    assert stats.hazard_ratio(s, "lm") == (0.5, 0.4, 0.6)
    assert all(math.isnan(v) for v in stats.hazard_ratio(None, "lm"))
    table = stats.survival_markdown(s, ["lm", "absent", "mf"], "mf").splitlines()
    assert table[0].startswith("| agent | RMST (d) | hazard ratio of churn vs `mf`")
    assert table[2:] == ["| `lm` | 12.0 | 0.50 (0.40–0.60) | 1e-05 |", "| `mf` | 10.0 | – | – |"]
    assert stats.survival_markdown(None, ["mf"], "mf") == "(no survival table)"
    assert stats.survival_markdown(s.iloc[:0], ["mf"], "mf") == "(no survival table)"
