"""The language-model vs CF study: its findings document written from real (smoke) results."""

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers", reason="needs the lm extra: pip install 'simrec[lm]'")
pytest.importorskip("matplotlib", reason="needs the plots extra: pip install 'simrec[plots]'")

import simrec_studies.lm_vs_cf as study
from test_scenarios import smoke

from simrec.errors import ResultsError
from simrec.report.stats import paired_difference

# The study's statistics (paired differences, directions, the Pareto mask) are
# simrec.report.stats, tested in tests/test_report_stats.py.


def tiny_study(name, out):
    """The smoke variant cut to two days of 50 users and six agents (the baseline mf, the
    LM agents the document compares it with, popularity and the oracle), lm-ft on a small
    batch."""
    import dataclasses

    from simrec.config import load_yaml, replace_path
    from simrec.runner import run_scenario

    sc = load_yaml(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml")
    sc = sc.smoke_variant()
    for key, value in {"world.users.n_users": 50, "world.items.n_items": 80,
                       "world.items.release_over_days": 2.0, "simulation.days": 2,
                       "simulation.tick_minutes": 60.0}.items():  # fmt: skip
        sc = replace_path(sc, key, value)
    keep = {"popularity", "oracle", "mf", "lm-content", "lm-cf", "lm-ft"}
    agents = tuple(
        dataclasses.replace(a, params={**a.params, "finetune_steps": 3, "finetune_batch": 32})
        if a.key == "lm-ft"
        else a
        for a in sc.agents
        if a.key in keep
    )
    sc = dataclasses.replace(sc, agents=agents)
    return sc, run_scenario(sc, out / name, workers=1, progress=False)


def study_folder(run, results):
    """The synthetic part run by ``run`` into the study folder ``results``, with a timing."""
    sc, res = run("lm_vs_cf_long_term", results)
    (results / "lm_vs_cf_long_term").rename(results / "synthetic")
    timings = {
        "synthetic": [
            {
                "started": "2026-12-01T00:00:00+00:00",
                "seconds": 61.5,
                "fresh": True,
                "exit_code": 0,
                "command": "simrec run (test)",
            }
        ]
    }
    (results / "timings.json").write_text(json.dumps(timings))
    return sc, res


def check_sections(text):
    """The document's sections, the recorded wall time, the missing MovieLens part."""
    for section in (
        "## The question",
        "## The answer",
        "## Setup",
        "## Frozen vs fine-tuned",
        "## Encoder scale",
        "## The cost frontier",
        "## Robustness",
        "## Limits",
    ):
        assert section in text, section
    assert "1 min 02 s in one fresh run" in text  # the recorded wall time
    assert "Not run yet (no `movielens/` folder)" in text


def check_figures(doc):
    """Every figure the document links is there, drawn."""
    figures = re.findall(r"\]\(figures/([^)]+)\)", doc.read_text())
    assert {
        "lm_vs_cf_cost_frontier.png",
        "lm_vs_cf_survival.png",
        "lm_vs_cf_warm_cold.png",
        "lm_vs_cf_over_time.png",
        "lm_vs_cf_paired.png",
    } <= set(figures)
    for name in figures:
        assert (doc.parent / "figures" / name).stat().st_size > 10_000, name


def check_numbers(text, sc, res):
    """The document's numbers are the results folder's."""
    # The Yuan et al. rows quote the paired differences computed from the runs' totals.
    mean, ci, _ = paired_difference(res.totals, "lm-cf", "mf", "warm_item_ctr")
    sign = "+" if mean >= 0 else "−"
    assert f"`lm-cf` − `mf` warm-item CTR {sign}{abs(mean):.4f} ± {ci:.4f}" in text
    # Every agent that ran is in the agents table with its parameter count.
    for label in {a.key for a in sc.agents}:
        assert f"| `{label}` |" in text, label


@pytest.mark.slow
def test_findings_document_from_the_study_smoke(tmp_path, report_libraries, sentence_model):
    """The synthetic part's smoke variant (mpnet agents only with lm-large), then the
    document: every section, every figure file, and its numbers equal to the results
    folder's."""
    sc, res = study_folder(smoke, tmp_path / "study")
    doc = study.write_findings(tmp_path / "study", tmp_path / "docs" / "lm_vs_cf.md")
    check_sections(doc.read_text())
    check_figures(doc)
    check_numbers(doc.read_text(), sc, res)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, sentence_model, report_libraries):
    """A tiny run of the synthetic part (:func:`tiny_study`) and its document, written as
    `make lm-vs-cf` writes it (the module's `report` command): the study folder, the
    scenario, its results, the document."""
    root = tmp_path_factory.mktemp("tiny")
    sc, res = study_folder(tiny_study, root / "study")
    doc = root / "docs" / "lm_vs_cf.md"
    assert study.main(["report", "--results", str(root / "study"), "--doc", str(doc)]) == 0
    return root / "study", sc, res, doc


def test_the_tiny_study_document_has_every_section(tiny):
    check_sections(tiny[3].read_text())


def test_the_tiny_study_document_draws_every_figure(tiny):
    check_figures(tiny[3])


def test_the_tiny_study_document_quotes_the_results(tiny):
    _, sc, res, doc = tiny
    check_numbers(doc.read_text(), sc, res)


def test_findings_refuse_a_study_with_a_corrupt_run(tiny, tmp_path):
    import shutil

    copy = tmp_path / "study"
    shutil.copytree(tiny[0], copy)
    daily = copy / "synthetic" / "runs" / "lm-cf" / "1" / "daily.parquet"
    daily.write_bytes(daily.read_bytes()[:-10])
    with pytest.raises(ResultsError, match=r"runs/lm-cf/1 daily\.parquet has"):
        study.write_findings(copy, tmp_path / "doc.md")
    assert study.main(["report", "--results", str(copy), "--doc", str(tmp_path / "d.md")]) == 2


def test_findings_refuse_a_missing_study(tmp_path):
    with pytest.raises(ResultsError, match=r"no results \(synthetic part of the study\)"):
        study.write_findings(tmp_path, tmp_path / "doc.md")


@pytest.mark.slow
def test_the_study_main_claims_hold_on_a_reduced_run():
    """The synthetic study's main qualitative claims (docs/findings/lm_vs_cf.md) on a reduced
    run: 400 users, 600 items released over 60 days, 60 days, seeds 0-2, mf against the
    content agent and the frozen-feature CF agent. In every seed the content agent gets
    more clicks and revenue than mf, shows new items that mf never shows, and spreads
    impressions into the long tail; lm-cf's CTR on warm items is above mf's (frozen text
    features do not lag the ID model here)."""
    from simrec import Simulation
    from simrec.config import load_yaml, with_settings

    scenario = load_yaml(Path(__file__).resolve().parents[1] / "scenarios/lm_vs_cf_long_term.yaml")
    cfg = with_settings(
        scenario.config,
        {
            "world.users.n_users": 400,
            "world.users.arrivals_per_day": 1.0,
            "world.items.n_items": 600,
            "world.items.release_over_days": 60.0,
            "simulation.days": 60,
        },
    )
    sim = Simulation(cfg)
    for seed in (0, 1, 2):
        t = {a: sim.run(a, seed=seed).totals for a in ("mf", "lm-content", "lm-cf")}
        mf, content, frozen = t["mf"], t["lm-content"], t["lm-cf"]
        assert content["clicks"] > mf["clicks"] and content["revenue"] > mf["revenue"], seed
        assert mf["cold_item_clicks"] == 0 < content["cold_item_clicks"], seed
        assert content["long_tail_share"] > mf["long_tail_share"] + 0.1, seed
        assert frozen["warm_item_ctr"] > mf["warm_item_ctr"], seed
