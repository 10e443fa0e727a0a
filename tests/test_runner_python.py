"""The runner from Python: agents as objects, custom metrics, the report's table."""

import numpy as np
import pandas as pd
import pytest
from conftest import fake_distribution, small_config

from simrec.agent import Agent, AgentContext
from simrec.config import ScenarioConfig, from_dict, to_dict
from simrec.errors import ConfigError
from simrec.metrics.custom import CustomMetric, custom_metrics, register_metric, unregister_metric
from simrec.report import write_report
from simrec.runner import run_scenario
from simrec.runner.local import execute, plan


class TopOfCatalog(Agent):
    """Shows the first K available items, shifted by ``offset`` (a notebook-style agent)."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.setups = 0

    def setup(self, context: AgentContext) -> None:
        self.setups += 1  # a deep copy per run: every run sees 1
        assert self.setups == 1

    def recommend(self, batch):
        k = batch.slate_size
        row = batch.available[self.offset : self.offset + k]
        return np.broadcast_to(row, (len(batch), k)).copy()


def scenario(**over) -> ScenarioConfig:
    cfg = to_dict(small_config(days=3, n_users=80, n_items=120))
    data = {"name": "py", "seeds": [0, 1], "baseline": "random", "agents": [{"name": "random"}]}
    return from_dict(ScenarioConfig, cfg | data | over)


def test_agents_as_classes_and_instances_get_seeds_and_cis(tmp_path):
    inst = TopOfCatalog(offset=5)
    res = run_scenario(
        scenario(),
        tmp_path / "out",
        workers=2,  # the registered agent runs in the pool, the Python ones here
        progress=False,
        agents={"top": TopOfCatalog, "top-5": inst},
    )
    assert inst.setups == 0  # the caller's object is never run, only its copies
    assert set(res.totals["agent"]) == {"random", "top", "top-5"}
    assert len(res.totals) == 6
    row = res.summary[(res.summary.agent == "top") & (res.summary.metric == "clicks")]
    assert np.isfinite(row["diff_ci95"].iloc[0])  # paired against random over 2 seeds
    # The two Python agents differ, and each is deterministic per seed.
    again = run_scenario(
        scenario(seeds=[0]), tmp_path / "again", progress=False, agents={"top": TopOfCatalog}
    )
    first = res.totals.set_index(["agent", "seed"])
    assert (
        again.totals.set_index(["agent", "seed"]).loc[("top", 0), "clicks"]
        == first.loc[("top", 0), "clicks"]
    )
    assert first.loc[("top", 0), "clicks"] != first.loc[("top-5", 0), "clicks"]
    yaml_text = (tmp_path / "out" / "config.yaml").read_text()
    assert "python:" in yaml_text and "TopOfCatalog" in yaml_text


def test_the_report_of_python_agents_names_them_and_their_differences(tmp_path, few_figures):
    run_scenario(
        scenario(seeds=[0]),
        tmp_path / "out",
        progress=False,
        agents={"top-5": TopOfCatalog(offset=5)},
    )
    report = write_report(tmp_path / "out").read_text()
    assert "`top-5`" in report and "Δ vs `random`" in report


def test_python_agents_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="already has an agent labelled 'random'"):
        run_scenario(scenario(), tmp_path / "a", agents={"random": TopOfCatalog})
    with pytest.raises(ConfigError, match="expected an Agent subclass or instance"):
        run_scenario(scenario(), tmp_path / "b", agents={"x": object()})
    with pytest.raises(ConfigError, match="plain name"):
        run_scenario(scenario(), tmp_path / "c", agents={"a/b": TopOfCatalog})
    with pytest.raises(ConfigError, match="run in this process"):
        run_scenario(scenario(), tmp_path / "d", agents={"x": TopOfCatalog}, backend="ray")
    assert not (tmp_path / "a").exists()


def clicked_on_day_one(t, days):
    imp = t["impressions"]
    out = np.zeros(days)
    out[1] = float(imp["click"][imp["day"] == 1].sum())
    return out


@pytest.fixture
def custom():
    register_metric("day1_clicks", daily=clicked_on_day_one)
    register_metric(
        "unique_users", total=lambda t, days: float(len(np.unique(t["impressions"]["user"])))
    )
    yield
    unregister_metric("day1_clicks")
    unregister_metric("unique_users")


def test_custom_metric_appears_in_results_summary_and_report(tmp_path, custom, few_figures):
    sc = scenario(report={"metrics": ["clicks", "day1_clicks", "unique_users"]})
    res = run_scenario(sc, tmp_path / "out", progress=False)
    daily = res.metrics[res.metrics.metric == "day1_clicks"]
    assert len(daily) == 2 * 3 and (daily[daily.day != 1]["value"] == 0).all()
    clicks = res.metrics[res.metrics.metric == "clicks"].set_index(["seed", "day"])["value"]
    d1 = daily.set_index(["seed", "day"])["value"]
    assert d1.loc[(0, 1)] == clicks.loc[(0, 1)] and d1.loc[(1, 1)] == clicks.loc[(1, 1)]
    t = res.totals.set_index("seed")
    assert (t["day1_clicks"] == daily.groupby("seed")["value"].mean()).all()
    assert (t["unique_users"] > 0).all()
    report = write_report(tmp_path / "out").read_text()
    assert "day1_clicks" in report and "unique_users" in report


def test_a_worker_registers_the_callers_metrics_with_the_run(tmp_path, custom):
    specs = plan(scenario(seeds=[0]), tmp_path)
    unregister_metric("day1_clicks")  # as in a fresh worker process
    assert "day1_clicks" not in custom_metrics()
    out = execute(specs[0])
    assert "day1_clicks" in out.daily.columns and "day1_clicks" in out.totals


def test_custom_metric_errors(custom):
    with pytest.raises(ConfigError, match="built-in metric"):
        register_metric("ctr", daily=clicked_on_day_one)
    with pytest.raises(ConfigError, match="registered already"):
        register_metric("day1_clicks", daily=clicked_on_day_one)
    with pytest.raises(ConfigError, match="a daily function, a total, or both"):
        CustomMetric("nothing")
    bad = CustomMetric("bad", daily=lambda t, days: np.zeros(days + 1))
    with pytest.raises(ConfigError, match=r"shape \(4,\), expected \(3,\)"):
        bad.daily_values({}, 3)


def test_report_metrics_must_exist(tmp_path, few_figures):
    sc = scenario(report={"metrics": ["clicks", "retension"]})
    res = run_scenario(sc, tmp_path / "out", progress=False)
    assert not res.summary.empty
    with pytest.raises(ConfigError, match=r"report.metrics\[1\]: 'retension'.*retention"):
        write_report(tmp_path / "out")


def test_report_formats_and_dpi(tmp_path, few_figures):
    run_scenario(scenario(), tmp_path / "out", progress=False)
    write_report(tmp_path / "out", formats=("svg", "pdf"), dpi=80)
    figs = tmp_path / "out" / "figures"
    assert (figs / "survival.svg").read_text().lstrip().startswith("<?xml")
    assert (figs / "retention.pdf").read_bytes()[:4] == b"%PDF"
    assert "figures/retention.svg" in (tmp_path / "out" / "report.md").read_text()
    with pytest.raises(ConfigError, match="--format"):
        write_report(tmp_path / "out", formats=("gif",))
    with pytest.raises(ConfigError, match="--dpi"):
        write_report(tmp_path / "out", dpi=5)
    pd.read_csv(tmp_path / "out" / "survival.csv")  # written beside summary.csv


def test_agent_grid_expands_into_labelled_agents():
    sc = scenario(
        agents=[
            {"name": "random"},
            {
                "name": "mf",
                "params": {"factors": 4},
                "grid": {"epsilon": [0.0, 0.25], "l2": [0.01]},
            },
        ]
    )
    keys = [a.key for a in sc.agents]
    assert keys == ["random", "mf-epsilon-0.0-l2-0.01", "mf-epsilon-0.25-l2-0.01"]
    assert dict(sc.agents[2].params) == {"factors": 4, "epsilon": 0.25, "l2": 0.01}
    assert all(not a.grid for a in sc.agents)
    with pytest.raises(ConfigError, match=r"grid.epsilon: expected a non-empty list"):
        scenario(agents=[{"name": "mf", "grid": {"epsilon": []}}])
    with pytest.raises(ConfigError, match=r"grid\.factors: is also in params"):
        scenario(agents=[{"name": "mf", "params": {"factors": 4}, "grid": {"factors": [8]}}])


def test_scenario_grid_runs_each_variant_into_its_folder(tmp_path):
    from simrec.runner import run_grid

    sc = scenario(seeds=[0], grid={"dynamics.drift_rate": [0.0, 0.3]})
    results = run_grid(sc, tmp_path / "g", progress=False)
    assert list(results) == ["drift_rate-0.0", "drift_rate-0.3"]
    for label, res in results.items():
        assert (tmp_path / "g" / label / "summary.csv").is_file() and res.ran == 1
    grid = pd.read_csv(tmp_path / "g" / "grid.csv")
    assert list(grid.columns[:2]) == ["variant", "dynamics.drift_rate"]
    drift = grid[grid.metric == "interest_drift"].set_index("dynamics.drift_rate")["mean"]
    assert drift.loc[0.3] > 5 * drift.loc[0.0]  # the setting reached the runs
    with pytest.raises(ConfigError, match=r"grid.dynamics.drift_rate"):
        scenario(grid={"dynamics.drift_rate": [0.1, -5.0]}).variants()
    with pytest.raises(ConfigError, match=r"grid.seeds: expected a setting of world"):
        scenario(grid={"seeds": [[0], [1]]})
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="not variants of this grid"):
        run_grid(sc, tmp_path / "h", progress=False)


def test_custom_metric_registered_under_the_entry_point_group(tmp_path):
    """A package installed beside simrec registers a metric; a scenario's report names it."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    fake_distribution(
        tmp_path,
        "mymetrics",
        """
            import numpy as np
            from simrec.metrics.custom import CustomMetric

            def daily_purchases(t, days):
                imp = t["impressions"]
                return np.bincount(imp["day"], weights=imp["purchase"], minlength=days)[:days]

            def count_buyers(t, days):
                imp = t["impressions"]
                return float(len(set(imp["user"][imp["purchase"]])))

            buyers = CustomMetric("buyers", total=count_buyers)
            """,
        "[simrec.metrics]\n"
        "purchases_daily = mymetrics:daily_purchases\n"
        "buyers = mymetrics:buyers\n",
    )
    program = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_runner_python import scenario
        from simrec.runner import run_scenario
        sc = scenario(seeds=[0], report={{"metrics": ["purchases_daily", "buyers"]}})
        res = run_scenario(sc, {str(tmp_path / "out")!r}, workers=1, progress=False)
        t = res.totals.iloc[0]
        print(int(round(t["purchases_daily"] * 3)), int(t["buyers"]) > 0)
        import simrec.report.figures
        from simrec.report import write_report
        # one daily line figure of thirteen, as the few_figures fixture draws them
        simrec.report.figures.FIGURES = {{"retention": simrec.report.figures.FIGURES["retention"]}}
        assert "buyers" in write_report({str(tmp_path / "out")!r}).read_text()
        """
    )
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # The daily metric's total is its mean over the 3 days: mean * 3 = the purchases, which
    # the built-in metrics give as conversion rate x clicks.
    daily = pd.read_parquet(tmp_path / "out" / "runs" / "random" / "0" / "daily.parquet")
    purchases = (daily["conversion_rate"].fillna(0) * daily["clicks"]).sum()
    assert daily["purchases_daily"].sum() == pytest.approx(purchases)
    assert r.stdout.split() == [str(round(purchases)), "True"]


def test_report_states_the_world_size_of_a_data_world():
    from simrec.report.markdown import _world_sizes

    synthetic = from_dict(ScenarioConfig, {"name": "s", "agents": [{"name": "random"}]})
    assert _world_sizes(synthetic, None) == "2,000 users at day 0, 2,000 items"
    real = from_dict(
        ScenarioConfig,
        {"name": "m", "agents": [{"name": "random"}], "world": {"kind": "movielens-100k"}},
    )
    users = {("random", 0): pd.DataFrame({"cohort": [True, True, False]})}
    # A data world's sizes are not the config's (2,000): they come from a run's users.
    assert _world_sizes(real, users) == "from the data: 2 users at day 0, 3 in all"
    assert _world_sizes(real, None) == "users and items from the data"
