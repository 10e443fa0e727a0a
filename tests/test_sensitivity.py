"""`simrec sensitivity`: uncertain ranges, designs, the robustness analysis and its folder."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_figure

from simrec.cli import main
from simrec.config import ScenarioConfig, from_dict, load_yaml, to_dict
from simrec.errors import ConfigError, ResultsError
from simrec.runner import run_scenario
from simrec.sensitivity import analyse, make_design, run_sensitivity
from simrec.sensitivity.analysis import agent_pairs, differences, flip_rule, indices, robustness
from simrec.sensitivity.design import Design

UNCERTAIN = {
    "retention.churn_max": [0.05, 0.4],
    "world.items.clickbait_fraction": [0.0, 0.4],
    "dynamics.appeal_weight": [1.0, 5.0],
}


def tiny(uncertain=None, **over) -> ScenarioConfig:
    data = to_dict(load_yaml("scenarios/quickstart.yaml").smoke_variant())
    data.update(
        seeds=[0, 1],
        agents=[{"name": "random"}, {"name": "myopic-oracle"}],
        uncertain=UNCERTAIN if uncertain is None else uncertain,
    )
    data["world"]["users"]["n_users"] = 120
    data["world"]["items"]["n_items"] = 200
    data["simulation"]["days"] = 2
    data["simulation"]["tick_minutes"] = 60.0
    data.update(over)
    return from_dict(ScenarioConfig, data)


# ----------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("uncertain", "message"),
    [
        ({"retention.churn_maxx": [0.1, 0.2]}, "uncertain.retention.churn_maxx: "),
        ({"world.kind": [0, 1]}, "expected a numeric setting, but world.kind is str"),
        ({"retention.churn_max": [0.3, 0.2]}, "expected a range [low, high] with low < high"),
        ({"retention.churn_max": [0.1]}, "expected a range [low, high]"),
        ({"retention.churn_max": ["a", "b"]}, "expected a range [low, high]"),
        ({"world.users.n_users": [100.5, 200]}, "integer setting; expected integer bounds"),
        ({"retention.churn_max": [0.1, 5]}, "expected a value >= 0.0 and <= 1.0"),
        ({"seeds": [0, 1]}, "expected a setting of world, user_model"),
    ],
)
def test_uncertain_ranges_are_checked(uncertain, message) -> None:
    with pytest.raises(ConfigError, match="uncertain") as err:
        tiny(uncertain)
    assert message in str(err.value)


# ----------------------------------------------------------------------------- designs


def test_morris_and_sobol_designs_have_the_documented_sizes() -> None:
    sc = tiny()
    morris = make_design(sc, "morris", samples=3)
    assert morris.points.shape == (3 * 4, 3)
    sobol = make_design(sc, "sobol", samples=8)
    assert sobol.points.shape == (8 * 5, 3)
    for d in (morris, sobol):
        lo, hi = np.array(d.bounds).T
        assert (d.points >= lo).all() and (d.points <= hi).all()
    # Morris steps move one parameter at a time along each trajectory.
    steps = np.diff(morris.points.reshape(3, 4, 3), axis=1)
    assert ((steps != 0).sum(axis=2) == 1).all()


def test_designs_are_reproducible_and_seeded() -> None:
    sc = tiny()
    a, b = make_design(sc, samples=4, seed=3), make_design(sc, samples=4, seed=3)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, make_design(sc, samples=4, seed=4).points)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "fast"}, "--method: expected one of morris, sobol"),
        ({"method": "sobol", "samples": 12}, "--samples: Sobol sequences need a power of 2"),
        ({"samples": 1}, "--samples: expected an integer >= 2"),
        ({"levels": 3}, "--levels: expected an even integer"),
    ],
)
def test_bad_design_options_are_refused(kwargs, message) -> None:
    with pytest.raises(ConfigError, match="--"):
        make_design(tiny(), **kwargs)
    with pytest.raises(ConfigError) as err:
        make_design(tiny(), **kwargs)
    assert message in str(err.value)


def test_a_scenario_without_ranges_is_refused() -> None:
    with pytest.raises(ConfigError, match="declares no uncertain parameters"):
        make_design(tiny({}))


def test_points_round_integer_settings_and_name_the_variant() -> None:
    sc = tiny({"world.users.n_users": [100, 130], "dynamics.drift_rate": [0.0, 0.1]})
    d = make_design(sc, samples=2)
    assert d.integer == (True, False)
    for i in range(len(d.points)):
        variant = d.scenario_at(sc, i)
        assert variant.world.users.n_users == round(d.points[i, 0])
        assert variant.dynamics.drift_rate == pytest.approx(d.points[i, 1])
        assert variant.name == f"{sc.name}-p{i:04d}" and variant.uncertain == {}


# ----------------------------------------------------------------------------- analysis


def synthetic(method: str, f, n_seeds: int = 3, noise: float = 0.0, samples: int = 8):
    """A design over three unit parameters and per-seed differences y = f(x) + noise."""
    names = ("a.x", "a.y", "a.z")
    problem = {"num_vars": 3, "names": list(names), "bounds": [[0.0, 1.0]] * 3}
    import SALib.sample.morris
    import SALib.sample.sobol

    if method == "morris":
        x = SALib.sample.morris.sample(problem, samples, num_levels=4, seed=1)
    else:
        x = SALib.sample.sobol.sample(problem, samples, calc_second_order=False, seed=1)
    design = Design(method, names, ((0.0, 1.0),) * 3, (False,) * 3, samples, 4, 1, x)
    rng = np.random.default_rng(0)
    rows = []
    for label, point in zip(design.labels, x, strict=True):
        for seed in range(n_seeds):
            rows.append({"agent": "b", "seed": seed, "m": 0.0})
            rows.append({"agent": "a", "seed": seed, "m": f(point) + noise * rng.normal()})
        totals = pd.DataFrame(rows[-2 * n_seeds :])
        rows[-2 * n_seeds :] = [dict(r, point=label) for r in totals.to_dict("records")]
    frame = pd.DataFrame(rows)
    points = pd.concat(
        differences(g.drop(columns="point"), [("a", "b")], ["m"]).assign(point=p)
        for p, g in frame.groupby("point", sort=False)
    )
    return design, points


def test_morris_ranks_the_parameters_that_matter() -> None:
    design, points = synthetic("morris", lambda p: 3 * p[0] + 0.5 * p[1])
    idx = indices(design, points).set_index("parameter")
    # A linear effect: every elementary effect is the slope, so mu* = |slope| and sigma = 0.
    assert idx.loc["a.x", "mu_star"] == pytest.approx(3.0)
    assert idx.loc["a.y", "mu_star"] == pytest.approx(0.5)
    assert idx.loc["a.z", "mu_star"] == pytest.approx(0.0)
    assert idx["sigma"].abs().max() == pytest.approx(0.0, abs=1e-9)


def test_sobol_indices_find_the_variance_share() -> None:
    design, points = synthetic("sobol", lambda p: 4 * p[0] + 1 * p[1], samples=64)
    idx = indices(design, points).set_index("parameter")
    # Var of 4x is 16/12, of y 1/12: shares 16/17 and 1/17; z none.
    assert idx.loc["a.x", "ST"] == pytest.approx(16 / 17, abs=0.05)
    assert idx.loc["a.y", "ST"] == pytest.approx(1 / 17, abs=0.03)
    assert abs(idx.loc["a.z", "ST"]) < 0.01


def nominal_diff(value: float, ci: float) -> pd.DataFrame:
    return pd.DataFrame([{"a": "a", "b": "b", "metric": "m", "diff": value, "ci95": ci, "n": 3}])


def test_a_conclusion_that_reverses_past_a_threshold_flips_there() -> None:
    # Positive below y = 0.5, negative above: the nominal (positive) conclusion flips.
    design, points = synthetic("sobol", lambda p: 1.0 - 2.0 * (p[1] > 0.5), samples=32)
    idx = indices(design, points)
    row = robustness(design, nominal_diff(1.0, 0.1), points, idx).iloc[0]
    assert row["verdict"] == "flips"
    assert row["share_holds"] == pytest.approx((design.points[:, 1] <= 0.5).mean())
    assert row["share_reversed"] == pytest.approx((design.points[:, 1] > 0.5).mean())
    assert row["driver"] == "a.y"
    assert row["flips_when"].startswith("a.y > 0.") and row["rule_accuracy"] == 1.0
    cut = float(row["flips_when"].split(">")[1])
    assert 0.4 < cut < 0.6


def test_verdicts_hold_weaken_and_no_conclusion() -> None:
    design, points = synthetic("morris", lambda p: 1.0 + p[0], samples=4)
    idx = indices(design, points)
    assert robustness(design, nominal_diff(1.0, 0.1), points, idx).iloc[0]["verdict"] == "holds"
    assert (
        robustness(design, nominal_diff(1.0, 2.0), points, idx).iloc[0]["verdict"]
        == "no conclusion"
    )
    # Differences around zero with wide CIs: opposite signs only within noise.
    design, points = synthetic("morris", lambda p: 0.05 - 0.1 * p[0], noise=1.0, samples=4)
    idx = indices(design, points)
    row = robustness(design, nominal_diff(1.0, 0.1), points, idx).iloc[0]
    significant = points["diff"].abs() > points["ci95"]
    reversed_sig = (np.sign(points["diff"]) < 0) & significant
    assert row["verdict"] == ("flips" if reversed_sig.any() else "weakens")
    assert row["share_holds"] < 1
    supports = (np.sign(points["diff"]) > 0) & significant
    assert row["share_significant"] == pytest.approx(supports.mean())


def at_points(diff, ci) -> tuple[Design, pd.DataFrame, pd.DataFrame]:
    """A one-parameter design of ``len(diff)`` points whose difference ``a - b`` of ``m`` is
    ``diff`` with CI half-widths ``ci``, and no indices."""
    n = len(diff)
    x = np.linspace(0.0, 1.0, n)[:, None]
    design = Design("sobol", ("a.x",), ((0.0, 1.0),), (False,), n, 4, 0, x)
    points = pd.DataFrame(
        {"a": "a", "b": "b", "metric": "m", "diff": diff, "ci95": ci, "n": 2}
    ).assign(point=design.labels)
    idx = pd.DataFrame(columns=["a", "b", "metric", "parameter", "ST"])
    return design, points, idx


def verdict_of(diff, ci, nominal=(1.0, 0.5)) -> pd.Series:
    design, points, idx = at_points(np.asarray(diff, float), np.asarray(ci, float))
    return robustness(design, nominal_diff(*nominal), points, idx).iloc[0]


def test_holds_needs_the_sign_with_a_ci_excluding_zero_at_90_percent_of_the_points() -> None:
    from simrec.sensitivity.analysis import HOLDS_SHARE

    assert HOLDS_SHARE == 0.9
    # 9 of 10 points positive with a CI excluding zero, one positive within noise: holds.
    row = verdict_of([1.0] * 10, [0.5] * 9 + [2.0])
    assert (row["verdict"], row["share_holds"], row["share_significant"]) == ("holds", 1.0, 0.9)
    # 8 of 10: the sign everywhere, but not significant at 90% of the points: weakens (the
    # earlier rule called this one "holds").
    row = verdict_of([1.0] * 10, [0.5] * 8 + [2.0] * 2)
    assert (row["verdict"], row["share_holds"], row["share_significant"]) == ("weakens", 1.0, 0.8)
    # An opposite sign within noise is no reversal; 9 of 10 still support the conclusion.
    row = verdict_of([1.0] * 9 + [-0.1], [0.5] * 9 + [0.2])
    assert (row["verdict"], row["share_holds"], row["share_reversed"]) == ("holds", 0.9, 0.0)
    # A significant reversal at one point flips the conclusion, whatever the share.
    row = verdict_of([1.0] * 19 + [-1.0], [0.5] * 20)
    assert (row["verdict"], row["share_significant"], row["share_reversed"]) == (
        "flips",
        0.95,
        0.05,
    )
    # A point where the difference is undefined supports nothing.
    row = verdict_of([1.0] * 8 + [np.nan] * 2, [0.5] * 8 + [np.nan] * 2)
    assert (row["verdict"], row["share_holds"], row["share_significant"]) == ("weakens", 0.8, 0.8)


def test_no_conclusion_without_a_significant_nominal_difference() -> None:
    # The nominal CI contains zero, or there is none (one seed): nothing to test.
    assert verdict_of([1.0] * 10, [0.5] * 10, nominal=(1.0, 2.0))["verdict"] == "no conclusion"
    assert verdict_of([1.0] * 10, [0.5] * 10, nominal=(1.0, np.nan))["verdict"] == ("no conclusion")
    # Without CIs at the points (one seed) no point supports or reverses the conclusion.
    row = verdict_of([1.0] * 9 + [-1.0], [np.nan] * 10)
    assert (row["verdict"], row["share_holds"], row["share_significant"]) == ("weakens", 0.9, 0.0)
    assert row["share_reversed"] == 0.0


def test_flip_rule_without_flips_is_empty() -> None:
    rule, acc = flip_rule(np.zeros((3, 1)), np.zeros(3, bool), ["a"])
    assert rule == "" and acc != acc


def test_agent_pairs_put_the_baseline_first() -> None:
    sc = dataclasses.replace(tiny(), baseline="")
    data = to_dict(sc)
    data["agents"] = [{"name": "random"}, {"name": "popularity"}, {"name": "oracle"}]
    data["baseline"] = "oracle"
    sc = from_dict(ScenarioConfig, data)
    assert agent_pairs(sc) == [
        ("random", "oracle"),
        ("popularity", "oracle"),
        ("popularity", "random"),
    ]


# ----------------------------------------------------------------------------- end to end


#: The end-to-end analysis: one uncertain parameter, two Morris trajectories of two points.
ONE = {"retention.churn_max": UNCERTAIN["retention.churn_max"]}


def shared() -> ScenarioConfig:
    """The scenario of the module's analysis: one uncertain parameter, two seeds (the
    fewest that give a CI at each point)."""
    return tiny(ONE, seeds=[0, 1])


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    out = tmp_path_factory.mktemp("sens") / "out"
    return run_sensitivity(shared(), out, samples=2, progress=False), out


def test_the_folder_holds_every_point_and_the_analysis(analysed) -> None:
    res, out = analysed
    design = pd.read_csv(out / "design.csv")
    assert len(design) == len(res.design.points) == 2 * (1 + 1)
    for label in design["point"]:
        assert (out / "points" / label / "summary.csv").is_file()
    assert (out / "nominal" / "summary.csv").is_file()
    table = pd.read_csv(out / "robustness.csv")
    assert len(table) == 1 * 7  # one pair x the default headline metrics
    assert set(table["verdict"]) <= {"holds", "weakens", "flips", "no conclusion"}
    assert ((table["share_holds"] >= 0) & (table["share_holds"] <= 1)).all()
    assert (table["share_significant"] <= table["share_holds"]).all()
    # Each point's difference has a CI over the two seeds.
    assert res.differences["ci95"].notna().all() and (res.differences["n"] == 2).all()


def test_differences_are_the_paired_differences_of_each_folder(analysed, tmp_path) -> None:
    res, out = analysed
    nominal = res.nominal.summary.set_index(["agent", "metric"])
    diffs = res.differences[res.differences["point"] == "nominal"].set_index("metric")
    for metric in res.metrics:
        # The scenario's baseline is random: its summary's diff_mean is myopic-oracle - random.
        assert diffs.loc[metric, "diff"] == pytest.approx(
            nominal.loc[("myopic-oracle", metric), "diff_mean"]
        )
    # A point's runs are those of its scenario run on its own (same seeds, same draws).
    variant = res.design.scenario_at(res.scenario, 3)
    alone = run_scenario(variant, tmp_path / "alone", progress=False)
    point = pd.read_csv(out / "points" / "p0003" / "summary.csv")
    merged = point.merge(alone.summary, on=["agent", "metric"], suffixes=("", "_alone"))
    merged = merged[merged["metric"].isin(res.metrics)]  # not the timings
    assert len(merged) == 2 * len(res.metrics)
    np.testing.assert_allclose(merged["mean"], merged["mean_alone"], rtol=1e-12)


def test_resume_runs_nothing_twice_and_a_new_design_is_refused(analysed) -> None:
    res, out = analysed
    again = run_sensitivity(shared(), out, samples=2, resume=True, progress=False)
    assert again.ran == 0
    pd.testing.assert_frame_equal(again.robustness, res.robustness)
    with pytest.raises(ResultsError, match="already holds this sensitivity analysis"):
        run_sensitivity(shared(), out, samples=2, progress=False)
    with pytest.raises(ResultsError, match="another scenario or design"):
        run_sensitivity(shared(), out, samples=3, resume=True, progress=False)


def test_the_analysis_reads_back_from_its_folder(analysed) -> None:
    res, out = analysed
    back = analyse(out)
    pd.testing.assert_frame_equal(back.indices, res.indices)
    pd.testing.assert_frame_equal(back.robustness, res.robustness)


def test_a_foreign_folder_and_a_grid_are_refused(tmp_path) -> None:
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(ResultsError, match="holds files simrec did not write"):
        run_sensitivity(tiny(), tmp_path, samples=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    grid = tiny(grid={"dynamics.drift_rate": [0.0, 0.1]})
    with pytest.raises(ConfigError, match="grid: a sensitivity analysis varies"):
        run_sensitivity(grid, tmp_path / "g", samples=2, progress=False)


def test_one_seed_is_refused_before_anything_runs(tmp_path) -> None:
    """No CI over seeds exists with one: the design is refused, naming seeds and the value."""
    with pytest.raises(ConfigError, match=r"^seeds: .*expected at least 2 seeds, got \[0\]"):
        run_sensitivity(tiny(ONE, seeds=[0]), tmp_path / "one", samples=2, progress=False)
    assert not (tmp_path / "one").exists()


def test_unknown_headline_metric_is_named_before_the_design_runs(tmp_path) -> None:
    with pytest.raises(ConfigError, match="--metrics: 'clickz'"):
        run_sensitivity(tiny(), tmp_path / "m", samples=2, metrics=("clickz",), progress=False)
    assert not any((tmp_path / "m" / "points").rglob("totals.json"))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, report_libraries):
    """``simrec sensitivity`` on a one-parameter scenario: the scenario, its folder and what
    the command printed (shared by the two tests below)."""
    import contextlib
    import io

    tmp = tmp_path_factory.mktemp("cli")
    scenario = tmp / "s.yaml"
    scenario.write_text(
        "name: s\nseeds: [0, 1]\nbaseline: random\n"
        "agents: [{name: random}, {name: myopic-oracle}]\n"
        "world: {items: {n_items: 150}, users: {n_users: 80}}\n"
        "simulation: {days: 1, tick_minutes: 60.0}\nuncertain: {retention.churn_max: [0.05, 0.4]}\n"
    )
    out = tmp / "out"
    args = ["sensitivity", str(scenario), "--out", str(out), "--samples", "2", "--workers", "1"]
    args += ["--no-progress", "--metrics", "clicks,retention"]
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:  # the nominal report: one daily line figure
        one_line_figure(mp)
        with contextlib.redirect_stdout(printed):
            code = main(args)
    return scenario, out, code, printed.getvalue()


def test_cli_writes_the_robustness_report(cli_run) -> None:
    _, out, code, printed = cli_run
    assert code == 0
    assert "2 conclusions (agent pair x metric)" in printed
    report = (out / "report.md").read_text()
    assert "## Robustness" in report and "`myopic-oracle` − `random`" in report
    assert "| significant at |" in report and "significant at ≥ 90% of the points" in report
    assert "(holds: the nominal sign with a 95% CI excluding zero at >= 90%" in printed
    assert (out / "figures" / "robustness.png").is_file()
    assert (out / "nominal" / "report.md").is_file()


def test_cli_refuses_a_second_design_over_a_finished_folder(cli_run, capsys) -> None:
    scenario, out, _, _ = cli_run
    assert main(["sensitivity", str(scenario), "--out", str(out), "--samples", "2"]) == 2
    assert "another scenario or design" in capsys.readouterr().err


def test_cli_refuses_one_seed(cli_run, tmp_path, capsys) -> None:
    scenario = cli_run[0]
    out = tmp_path / "one"
    assert main(["sensitivity", str(scenario), "--out", str(out), "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert "seeds: " in err and "expected at least 2 seeds, got [0]" in err and "--seeds 0,1" in err
    assert not out.exists()


@pytest.mark.slow  # analyses every folder again and draws the nominal report: 8-10 s
def test_the_report_command_rewrites_a_sensitivity_report(analysed, tmp_path, few_figures) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(analysed[1], out)  # the module's analysis stays as it was
    assert not (out / "report.md").exists()
    assert main(["report", str(out)]) == 0
    assert "## Robustness" in (out / "report.md").read_text()
    assert (out / "figures" / "robustness.png").is_file()
    assert (out / "nominal" / "report.md").is_file()


def test_horizon_metrics_are_conclusions_too(tmp_path) -> None:
    """``clicks@2``: the clicks of the first two days, as the report's horizon tables cut them."""
    from simrec.report.tables import horizon_totals

    res = run_sensitivity(
        tiny(ONE, seeds=[0, 1]),
        tmp_path / "h",
        samples=2,
        metrics=("clicks@2", "retention"),
        progress=False,
    )
    assert set(res.robustness["metric"]) == {"clicks@2", "retention"}
    cut = horizon_totals(res.nominal.metrics, [2]).set_index(["agent", "seed"])["clicks@2"]
    expected = (cut["myopic-oracle"] - cut["random"]).mean()
    nominal = res.differences[(res.differences["point"] == "nominal")]
    assert nominal.set_index("metric").loc["clicks@2", "diff"] == pytest.approx(expected)
    with pytest.raises(ConfigError, match=r"'clicks@9': expected <metric>@<days>"):
        run_sensitivity(tiny(), tmp_path / "bad", samples=2, metrics=("clicks@9",), progress=False)


def test_horizons_lead_the_default_headline() -> None:
    from simrec.sensitivity import _headline

    sc = tiny(report={"horizons": [1, 2]})
    assert _headline(sc, None)[:3] == ("clicks@1", "engagement@1", "revenue@1")
    assert _headline(sc, ("retention",)) == ("retention",)
