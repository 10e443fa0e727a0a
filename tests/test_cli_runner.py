import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import one_line_figure

import simrec.report
from simrec.cli import main
from simrec.config import ScenarioConfig, from_dict, load_yaml
from simrec.errors import ConfigError, ResultsError
from simrec.runner import resolve, run_scenario
from simrec.runner.results import finished_runs, summarize, t_quantile_975

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"


def tiny(tmp_path, **over):
    data = {
        "name": "tiny",
        "seeds": [0, 1],
        "baseline": "random",
        "agents": [{"name": "random"}, {"name": "popularity"}],
        "world": {"items": {"n_items": 100}, "users": {"n_users": 60}},
        "simulation": {"days": 3, "tick_minutes": 60.0},
    } | over
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_scenario_loads_and_has_a_smoke_variant():
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        sc = load_yaml(path)
        assert sc.question, path
        assert sc.smoke, f"{path.name} has no smoke variant"
        assert sc.smoke_variant().simulation.days <= sc.simulation.days


#: Every figure of the quickstart's report; the daily line figures are simrec.report.FIGURES.
QUICKSTART_FIGURES = (
    "retention",
    "satisfaction",
    "ctr",
    "dau",
    "revenue",
    "coverage",
    "ctr_vs_retention",
    "diversity",
    "homogenization",
    "long_tail",
    "interest_drift",
    "cost_vs_outcome",
    "calibration",
    "provider_exposure",
    "survival",
    "paired_differences",
)
LINE_FIGURES = {name: spec[0] for name, spec in simrec.report.FIGURES.items()}


@pytest.fixture(
    scope="module",
    params=[
        # fast tier: one seed of two days in this process, one daily line figure drawn (of the
        # others, their metrics are checked); slow tier: the whole smoke variant in a process
        # pool, every figure drawn, as the README runs it
        pytest.param(["--seeds", "0", "--days", "2", "--workers", "1"], id="short"),
        pytest.param(["--workers", "2"], id="whole", marks=pytest.mark.slow),
    ],
)
def quickstart_smoke(request, tmp_path_factory, report_libraries):
    """``simrec run scenarios/quickstart.yaml --smoke``: (folder, printed, short), shared by the
    three tests below (what it prints, its runs and report, its tables)."""
    import contextlib
    import io

    size = request.param
    short = "--days" in size
    out = tmp_path_factory.mktemp("qs") / "qs"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        if short:  # as the few_figures fixture: one daily line figure of thirteen
            one_line_figure(mp)
        with contextlib.redirect_stdout(printed):
            code = main(
                ["run", str(QUICKSTART), "--out", str(out), "--smoke", *size, "--no-progress"]
            )
    assert code == 0
    return out, printed.getvalue(), short


def test_quickstart_smoke_cli_prints_its_table_and_keeps_its_config(quickstart_smoke):
    out, printed, short = quickstart_smoke
    assert "myopic-oracle" in printed and "retention" in printed
    sc = load_yaml(out / "config.yaml")
    assert sc == resolve(
        load_yaml(QUICKSTART), smoke=True, **({"seeds": [0], "days": 2} if short else {})
    )
    assert len(finished_runs(out)) == len(sc.agents) * len(sc.seeds)


def test_quickstart_smoke_cli_writes_its_report_and_figures(quickstart_smoke):
    out, _, short = quickstart_smoke
    sc = load_yaml(out / "config.yaml")
    report = (out / "report.md").read_text()
    assert "## Summary" in report and sc.question in report
    m = pd.read_parquet(out / "metrics.parquet")
    for name in QUICKSTART_FIGURES:
        if short and name in LINE_FIGURES and name != "retention":
            assert LINE_FIGURES[name] in set(m["metric"]), name  # would be drawn
            continue
        png = out / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"figures/{name}.png" in report


def test_quickstart_smoke_cli_writes_metrics_and_summary_tables(quickstart_smoke):
    out, _, _ = quickstart_smoke
    m = pd.read_parquet(out / "metrics.parquet")
    assert list(m.columns) == ["scenario", "agent", "seed", "day", "metric", "value"]
    assert set(m["agent"]) == {"random", "popularity", "oracle", "myopic-oracle"}
    assert not m.duplicated(["agent", "seed", "day", "metric"]).any()
    s = pd.read_csv(out / "summary.csv")
    assert {"agent", "metric", "mean", "ci95", "diff_mean", "diff_ci95"} <= set(s.columns)
    base = s[(s.agent == "random") & (s.metric == "clicks")]
    assert float(base["diff_mean"].iloc[0]) == 0.0


def test_rerun_skips_finished_runs_and_parallel_equals_serial(tmp_path):
    sc = load_yaml(tiny(tmp_path))
    a = run_scenario(sc, tmp_path / "a", workers=1, progress=False)
    assert a.ran == 4
    with pytest.raises(ResultsError, match=r"already holds 4 finished runs.*--resume"):
        run_scenario(sc, tmp_path / "a", workers=1, progress=False)
    again = run_scenario(sc, tmp_path / "a", workers=1, resume=True, progress=False)
    assert again.ran == 0
    pd.testing.assert_frame_equal(a.metrics, again.metrics)
    b = run_scenario(sc, tmp_path / "b", workers=2, progress=False)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    assert (tmp_path / "a" / "metrics.parquet").read_bytes() == (
        tmp_path / "b" / "metrics.parquet"
    ).read_bytes()


def test_overrides_and_bad_input(tmp_path, capsys):
    path = tiny(tmp_path)
    sc = resolve(load_yaml(path), seeds=[5], agents=["popularity"], days=2)
    assert sc.seeds == (5,) and [a.key for a in sc.agents] == ["popularity"]
    assert sc.simulation.days == 2 and sc.baseline == ""
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--agents", "popularty"]) == 2
    assert "did you mean 'popularity'" in capsys.readouterr().err
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--days", "-1"]) == 2
    assert "simulation.days: expected a value > 0" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nagents: [{name: random}\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "o2")]) == 2
    assert "malformed YAML at line" in capsys.readouterr().err
    typo = tiny(tmp_path, simulaton={"days": 3})
    assert main(["run", str(typo), "--out", str(tmp_path / "o3")]) == 2
    assert "simulaton: unknown key (did you mean 'simulation'?)" in capsys.readouterr().err
    unknown = tiny(tmp_path, agents=[{"name": "random"}, {"name": "rando"}])
    assert main(["run", str(unknown), "--out", str(tmp_path / "o4"), "--no-progress"]) == 2
    assert "agent 'rando' is not registered (did you mean 'random'?)" in capsys.readouterr().err
    assert not list((tmp_path / "o4").glob("runs/*/*"))


def test_folder_of_another_scenario_is_refused(tmp_path, capsys, few_figures):
    out = tmp_path / "res"
    run_scenario(load_yaml(tiny(tmp_path)), out, progress=False)
    other = tiny(tmp_path, name="other", seeds=[0])
    assert main(["run", str(other), "--out", str(out)]) == 2
    assert "holds results of a different scenario" in capsys.readouterr().err
    args = ["--force", "--no-progress", "--workers", "1"]
    assert main(["run", str(other), "--out", str(out), *args]) == 0
    assert load_yaml(out / "config.yaml").name == "other"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder(tmp_path, capsys):  # pragma: no cover - CI runs as root
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    assert main(["run", str(tiny(tmp_path)), "--out", str(ro / "x")]) == 2
    assert "cannot write --out" in capsys.readouterr().err


def test_out_path_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert main(["run", str(tiny(tmp_path)), "--out", str(f / "sub")]) == 2
    assert "cannot write --out" in capsys.readouterr().err


def test_report_command_regenerates_and_rejects_non_results(tmp_path, capsys, few_figures):
    out = tmp_path / "r"
    run_scenario(load_yaml(tiny(tmp_path)), out, progress=False)
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").exists() and (out / "figures" / "retention.png").exists()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a simrec results folder" in capsys.readouterr().err


def test_summary_ci_and_paired_difference():
    totals = pd.DataFrame(
        {
            "agent": ["a", "a", "a", "b", "b", "b"],
            "seed": [0, 1, 2] * 2,
            "x": [1.0, 2.0, 3.0, 2.0, 4.0, 3.0],
        }
    )
    s = summarize(totals, "a").set_index("agent")
    assert s.loc["a", "mean"] == 2.0
    assert s.loc["a", "ci95"] == pytest.approx(t_quantile_975(2) * 1.0 / 3**0.5)
    assert s.loc["b", "diff_mean"] == pytest.approx(1.0)  # per-seed diffs 1, 2, 0
    assert s.loc["b", "diff_ci95"] == pytest.approx(t_quantile_975(2) * 1.0 / 3**0.5)


def test_console_script_list():
    exe = Path(sys.executable).parent / "simrec"
    out = subprocess.run([str(exe), "list"], capture_output=True, text=True, check=True)
    assert "myopic-oracle" in out.stdout and "quickstart" in out.stdout


def test_list_names_worlds_components_metrics_agents_and_scenarios(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for section in ("worlds:", "user-model components", "daily metrics", "custom metrics",
                    "agents:", "scenarios ("):  # fmt: skip
        assert section in out, section
    assert "myopic-oracle" in out and "quickstart" in out and "movielens-100k" in out


def test_scenario_config_from_dict_rejects_unknown_agent_field():
    with pytest.raises(Exception, match=r"agents\[0\]\.parms: unknown key"):
        from_dict(ScenarioConfig, {"agents": [{"name": "random", "parms": {}}]})


def test_sampled_event_log_is_saved(tmp_path, few_figures):
    path = tiny(tmp_path)
    out = tmp_path / "ev"
    assert (
        main(
            [
                "run",
                str(path),
                "--out",
                str(out),
                "--events",
                "0.5",
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    ev = pd.read_parquet(out / "runs" / "random" / "0" / "events.parquet")
    daily = pd.read_parquet(out / "runs" / "random" / "0" / "daily.parquet")
    total = daily["impressions"].sum()
    assert 0.4 * total < len(ev) < 0.6 * total
    assert {"user", "item", "click", "satisfaction"} <= set(ev.columns)
    assert main(["run", str(path), "--out", str(tmp_path / "e2"), "--events", "2"]) == 2


def test_horizon_tables_cut_the_same_runs(tmp_path, capsys, few_figures):
    path = tiny(tmp_path, report={"horizons": [1, 2, 9]})
    out = tmp_path / "h"
    assert main(["run", str(path), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "the first 1 days" in printed and "the first 2 days" in printed
    assert "the first 9 days" not in printed  # beyond the 3-day run: left out
    from simrec.report.tables import horizon_totals
    from simrec.runner.results import read_run

    metrics = pd.read_parquet(out / "metrics.parquet")
    totals = horizon_totals(metrics, [2, 3]).set_index(["agent", "seed"])
    daily, whole, _ = read_run(out, "popularity", 1)
    row = totals.loc[("popularity", 1)]
    # Cumulative metrics: the first H days summed; states: day H - 1; H = the horizon: the
    # whole-run totals.
    assert row["clicks@2"] == daily["clicks"].iloc[:2].sum()
    assert row["retention@2"] == daily["retention"].iloc[1]
    assert row["clicks@3"] == whole["clicks"] and row["revenue@3"] == pytest.approx(
        whole["revenue"]
    )
    report = (out / "report.md").read_text()
    assert "## Short term and long term" in report and "### The first 2 days" in report
    assert "| clicks, days 0–1 |" in report.replace("agent | ", "")
    with pytest.raises(ConfigError, match=r"report\.horizons: expected increasing positive days"):
        load_yaml(tiny(tmp_path, report={"horizons": [14, 7]}))


def test_report_pairs_pareto_and_curve(tmp_path, few_figures):
    """The chosen-pairs table is the per-seed paired difference; front and curve are drawn."""
    path = tiny(
        tmp_path,
        agents=[
            {"name": "random"},
            {"name": "popularity", "label": "popularity", "grid": {"window_days": [1, 3]}},
        ],
        report={
            "metrics": ["clicks", "retention"],
            "pairs": ["popularity-window_days-3 vs popularity-window_days-1"],
            "pareto": ["clicks:max", "retention:max"],
            "curve": ["clicks", "retention"],
        },
    )
    out = tmp_path / "p"
    assert main(["run", str(path), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    report = (out / "report.md").read_text()
    from simrec.report import pareto_front
    from simrec.runner.results import read_run

    clicks = {
        (a, s): read_run(out, a, s)[1]["clicks"]
        for a in ("popularity-window_days-1", "popularity-window_days-3")
        for s in (0, 1)
    }
    diffs = [
        clicks[("popularity-window_days-3", s)] - clicks[("popularity-window_days-1", s)]
        for s in (0, 1)
    ]
    mean = sum(diffs) / 2
    half = t_quantile_975(1) * abs(diffs[0] - diffs[1]) / 2  # sd/sqrt(2) = |d0 - d1| / 2
    row = next(
        line for line in report.splitlines() if line.startswith("| `popularity-window_days-3` − ")
    )
    sign = "+" if mean >= 0 else "−"
    assert f"{sign}{abs(mean):,.0f} ± {half:,.0f}" in row
    assert "## Chosen pairs" in report and "## Pareto front" in report
    summary = pd.read_csv(out / "summary.csv")
    front = pareto_front(
        summary, [a.key for a in load_yaml(path).agents], ("clicks:max", "retention:max")
    )
    assert front and all(f"`{a}`" in report.split("## Pareto front")[1] for a in front)
    assert (out / "figures" / "pareto.png").is_file() and (out / "figures" / "curve.png").is_file()
    with pytest.raises(ConfigError, match=r"report\.pairs\[0\]: 'populrity' is not an agent"):
        load_yaml(tiny(tmp_path, report={"pairs": ["populrity vs random"]}))
    with pytest.raises(ConfigError, match=r"report\.pairs\[0\]: expected 'agent vs against'"):
        load_yaml(tiny(tmp_path, report={"pairs": ["popularity-random"]}))
