"""The metric registry: one descriptor per metric, complete, and everything else derived from it."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from test_metrics import tables

import simrec.report
from simrec import Simulation
from simrec.config import Config, from_dict
from simrec.errors import ConfigError
from simrec.metrics import (
    BUILTIN_NAMES,
    DAILY_METRICS,
    MEAN,
    REGISTRY,
    SUM,
    Figure,
    Metric,
    Total,
    check_metric,
    daily_metrics,
    run_totals,
)
from simrec.metrics.builtin import BUILTIN
from simrec.metrics.custom import custom_metric, register_metric, unregister_metric
from simrec.metrics.listing import markdown_table
from simrec.metrics.paired import VERSUS_IDEAL, regret
from simrec.metrics.survival import lifetime_summary
from simrec.metrics.users import user_table, user_totals
from simrec.report.tables import LABELS, label_format
from simrec.supply import DAILY as SUPPLY_DAILY


def good(**over):
    """A complete descriptor of a made-up metric, with ``over`` replacing fields."""
    fields = dict(
        name="bad",
        description="clicks on day d",
        label="clicks",
        unit="clicks",
        total=SUM,
        daily=lambda t, days: np.zeros(days),
    )
    return Metric(**(fields | over))


# The registry-wide contract: every declared metric is complete.


@pytest.mark.parametrize("metric", list(REGISTRY.all().values()), ids=lambda m: m.name)
def test_every_registered_metric_is_complete(metric):
    check_metric(metric)  # as at construction: a rule, a label, consistent bounds, ...
    assert isinstance(metric.total, Total) and metric.total.rule
    assert metric.label.strip() and metric.description.strip()
    if metric.total.kind == "computed":
        assert callable(metric.total.compute)
    elif metric.total.kind == "elsewhere":
        assert metric.total.source
    else:  # no whole-run value on purpose: only a daily metric may say so
        assert metric.total.kind == "none" and metric.has_daily
    if metric.unit == "share":
        assert metric.bounds == (0.0, 1.0)
    if metric.figure is not None:
        assert metric.has_daily


def test_the_views_are_derived_from_the_registry():
    builtin = REGISTRY.builtin()
    assert BUILTIN_NAMES == frozenset(builtin) == frozenset(m.name for m in BUILTIN)
    assert list(DAILY_METRICS) == [m.name for m in BUILTIN if m.daily is not None]
    assert all(DAILY_METRICS[n] is builtin[n].daily for n in DAILY_METRICS)
    assert all(LABELS[n] == (m.label, m.fmt) for n, m in builtin.items())
    drawn = {m.figure.name: m for m in builtin.values() if m.figure is not None}
    assert set(simrec.report.FIGURES) == set(drawn)
    for name, (metric, ylabel, title, cumulative) in simrec.report.FIGURES.items():
        f = drawn[name].figure
        assert (metric, ylabel, title, cumulative) == (
            drawn[name].name,
            *dataclasses.astuple(f)[1:4],
        )
    with pytest.raises(TypeError):
        DAILY_METRICS["x"] = len  # read-only
    with pytest.raises(TypeError):
        LABELS["x"] = ("x", "{}")
    table = markdown_table(BUILTIN)
    assert all(f"| `{m.name}` | {m.description}" in table for m in BUILTIN)
    assert "`retention`" in simrec.metrics.__doc__ and "value on the last day" in (
        simrec.metrics.__doc__
    )


def test_run_totals_and_daily_metrics_are_exactly_the_declared_ones():
    t = tables()
    daily = daily_metrics(t, 2)
    assert list(daily.columns) == [m.name for m in BUILTIN if m.daily is not None]
    totals = run_totals(t, 2, daily=daily)
    assert list(totals) == [m.name for m in BUILTIN if m.total.kind == "computed"]
    # The rules as declared: a sum, a last day, a mean over the days with a value.
    assert totals["clicks"] == daily["clicks"].sum() == 3.0
    assert totals["retention"] == daily["retention"].iloc[-1]
    assert totals["dau"] == daily["dau"].mean()


def test_what_other_parts_of_simrec_add_is_declared_with_them():
    """Each part that adds totals or daily values names exactly the metrics declared with it."""

    def declared(word, daily=False):
        return {
            n
            for n, m in REGISTRY.builtin().items()
            if word in (m.daily_source if daily else m.total.source)
        }

    users = pd.DataFrame(user_table(tables(), 2))
    assert set(user_totals(users)) == declared("users.user_totals")
    assert set(lifetime_summary(users, 2)) == declared("survival")
    vs_ideal = {f"{n}_vs_ideal" for n in VERSUS_IDEAL}
    assert set(regret(users, users)) | vs_ideal == declared("paired")
    assert declared("paired", daily=True) == vs_ideal
    assert set(SUPPLY_DAILY) == declared("supply", daily=True)
    cfg = from_dict(
        Config,
        {
            "world": {
                "items": {"n_items": 200, "initial_fraction": 0.3},
                "users": {"n_users": 40},
                "supply": {"enabled": True},
            },
            "simulation": {"days": 2, "tick_minutes": 120.0},
        },
    )
    run = Simulation(cfg).run("random", seed=0)
    has_daily = {m.name for m in REGISTRY.builtin().values() if m.has_daily}
    assert set(run.daily.columns) == has_daily - vs_ideal  # those: the runner's, with an ideal
    assert set(run.daily.columns) - set(DAILY_METRICS) == declared("supply", daily=True)
    computed = {m.name for m in BUILTIN if m.total.kind == "computed"}
    assert set(run.totals) - computed - set(user_totals(users)) == declared("supply")
    cost = {"ms_per_request", "fit_seconds", "params", "flops_per_request"}
    assert cost == declared("cost report")
    assert {n for n, m in REGISTRY.builtin().items() if m.total.kind == "elsewhere"} == (
        set(user_totals(users))
        | declared("survival")
        | declared("paired")
        | declared("supply")
        | cost
    )


# A bad descriptor is refused, naming the metric, the field and what was expected.


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"total": None}, r"metric 'bad': total is None, expected a whole-run rule"),
        ({"label": ""}, r"metric 'bad': label is '', expected a non-empty string"),
        ({"description": "  "}, r"metric 'bad': description is '  ', expected a non-empty"),
        (
            {"unit": "share"},
            r"metric 'bad': bounds is None, expected \(0.0, 1.0\) for a metric whose unit is",
        ),
        ({"bounds": (1.0, 0.0)}, r"metric 'bad': bounds is \(1.0, 0.0\), expected None or \(low"),
        ({"bounds": (0.0, float("inf"))}, r"bounds is \(0.0, inf\), expected None or \(low, high"),
        ({"daily": None}, r"metric 'bad': daily is None, expected a daily function for the total"),
        ({"fmt": "{:.3q}"}, r"metric 'bad': fmt is '\{:.3q\}', expected a format for one float"),
        (
            {"total": Total.elsewhere("added later", "")},
            r"metric 'bad': total.source is '', expected the part of simrec that adds the total",
        ),
        (
            {"daily": None, "total": Total.none("daily only")},
            r"metric 'bad': total is 'none: daily only', expected a whole-run rule for a metric",
        ),
        (
            {
                "daily": None,
                "total": Total.of_tables("one number", len),
                "figure": Figure("bad", "y", "Bad"),
            },
            r"metric 'bad': figure is 'bad', expected a metric with daily values to draw",
        ),
        ({"figure": Figure("bad", "", "Bad")}, r"figure.ylabel is '', expected a non-empty"),
        ({"name": "no spaces"}, r"metric name"),
    ],
)
def test_an_incomplete_descriptor_is_refused_naming_field_and_expectation(over, message):
    assert good().total is SUM  # the complete one is accepted
    with pytest.raises(ConfigError, match=message):
        good(**over)


def test_a_descriptor_cannot_be_made_incomplete_afterwards():
    with pytest.raises(ConfigError, match="total is None"):
        dataclasses.replace(good(), total=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        good().label = ""  # type: ignore[misc]


def test_builtin_names_are_taken_and_the_registry_refuses_non_metrics():
    with pytest.raises(ConfigError, match="'retention': a built-in metric has that name"):
        REGISTRY.register(good(name="retention"))
    with pytest.raises(ConfigError, match="is not a Metric"):
        REGISTRY.register("tail_clicks")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="declared twice"):
        REGISTRY.add_builtin([REGISTRY.get("ctr")])
    with pytest.raises(KeyError, match="no metric of that name"):
        REGISTRY.get("retension")
    with pytest.raises(ConfigError, match="daily is None, expected a daily function"):
        REGISTRY.get("ctr_early").daily_values(tables(), 2)
    with pytest.raises(ConfigError, match="expected a total computed from the run"):
        REGISTRY.get("rmst_days").total_value(None)


# A custom metric is a descriptor like a built-in one, and appears where a built-in one does.


def tail_clicks(t, days):
    """Clicks on items outside the reference head, per day."""
    imp = t["impressions"]
    tail = np.asarray(t["items"]["reference"])[imp["item"]] < 0.25
    return np.bincount(imp["day"], weights=imp["click"] & tail, minlength=days)[:days]


@pytest.fixture
def tail():
    metric = register_metric(
        "tail_clicks",
        daily=tail_clicks,
        label="tail clicks",
        unit="clicks",
        fmt="{:.1f}",
        figure=Figure("tail_clicks", "clicks on tail items", "Tail clicks", cumulative=True),
    )
    yield metric
    unregister_metric("tail_clicks")


def test_a_custom_metric_is_the_same_descriptor_type(tail):
    assert type(tail) is Metric and tail.total == MEAN
    assert tail.description == "Clicks on items outside the reference head, per day."
    assert REGISTRY.get("tail_clicks") is tail and "tail_clicks" not in BUILTIN_NAMES
    bare = custom_metric("buyers", total=len)
    assert bare.label == "buyers" and bare.total.kind == "computed" and not bare.has_daily


def test_a_custom_metric_appears_in_daily_metrics_totals_labels_and_figures(tail):
    t = tables()
    daily = daily_metrics(t, 2)
    assert list(daily["tail_clicks"]) == [0.0, 1.0]  # user 2 clicks item 3 on day 1
    totals = run_totals(t, 2, daily=daily)
    assert totals["tail_clicks"] == 0.5 == run_totals(t, 2)["tail_clicks"]  # mean over days
    assert LABELS["tail_clicks"] == ("tail clicks", "{:.1f}")
    assert label_format("tail_clicks") == ("tail clicks", "{:.1f}")
    figures = simrec.report.FIGURES
    assert figures["tail_clicks"] == ("tail_clicks", "clicks on tail items", "Tail clicks", True)
    assert list(figures)[-1] == "tail_clicks"  # after the built-in figures (rank 1000)
    assert "| `tail_clicks` | Clicks on items outside" in markdown_table(REGISTRY.all().values())


def test_a_custom_metric_is_drawn_and_tabled_in_a_run_and_its_report(tmp_path, tail, monkeypatch):
    from test_runner_python import scenario

    from simrec.report import write_report
    from simrec.runner import run_scenario

    # Two line figures of the registry's: a built-in one and the custom one.
    keep = {k: v for k, v in simrec.report.FIGURES.items() if k in ("retention", "tail_clicks")}
    monkeypatch.setattr(simrec.report.figures, "FIGURES", keep)  # where the report reads it
    sc = scenario(seeds=[0], report={"metrics": ["clicks", "tail_clicks"]})
    res = run_scenario(sc, tmp_path / "out", progress=False)
    assert set(res.metrics[res.metrics.metric == "tail_clicks"]["day"]) == {0, 1, 2}
    row = res.summary[(res.summary.agent == "random") & (res.summary.metric == "tail_clicks")]
    assert np.isfinite(row["mean"].iloc[0])
    report = write_report(tmp_path / "out").read_text()
    assert "tail clicks" in report  # the label heads the summary table's column
    assert "Tail clicks" in report  # the figure's title heads its section
    assert (tmp_path / "out" / "figures" / "tail_clicks.png").stat().st_size > 0
