"""Figures and ``report.md`` from a results folder.

:func:`write_report` reads ``config.yaml``, ``metrics.parquet`` and ``summary.csv`` (all
written by the runner) and writes ``figures/*.png`` and ``report.md``, each atomically.
Curves are the mean over seeds with a 95% confidence band (Student t over seeds). matplotlib
is imported lazily (the ``plots`` extra): it is the named exception to simrec's no-heavy-
imports rule.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from simrec.config import ScenarioConfig, load_yaml
from simrec.errors import DependencyNotInstalled, ResultsError, SimrecError
from simrec.runner import collect
from simrec.runner.results import (
    MARKER,
    atomic_write_bytes,
    atomic_write_text,
    lock_folder,
    t_quantile_975,
    writing,
)

__all__ = ["FIGURES", "daily_bands", "write_report"]

#: Metrics that are shares in [0, 1]; their CI bands are clipped to that range.
BOUNDED = frozenset(
    {"retention", "satisfaction", "ctr", "coverage", "homogenization", "long_tail_share"}
)

#: Figure name -> (metric, y label, title, cumulative).
FIGURES: dict[str, tuple[str, str, str, bool]] = {
    "retention": ("retention", "share of day-0 cohort not churned", "Retention", False),
    "satisfaction": ("satisfaction", "mean hidden satisfaction [0, 1]", "Satisfaction", False),
    "ctr": ("ctr", "clicks per impression", "Click-through rate per day", False),
    "dau": ("dau", "daily active users", "Daily active users", False),
    "revenue": ("revenue", "cumulative revenue (currency)", "Cumulative revenue", True),
    "coverage": ("coverage", "share of catalog shown that day", "Catalog coverage", False),
    "diversity": (
        "intra_list_diversity",
        "mean pairwise topic distance in a slate",
        "Intra-list diversity",
        False,
    ),
    "homogenization": (
        "homogenization",
        "mean Jaccard of users' consumed sets",
        "Homogenization of users",
        False,
    ),
    "long_tail": (
        "long_tail_share",
        "share of impressions on tail items",
        "Long-tail share",
        False,
    ),
    "interest_drift": (
        "interest_drift",
        "mean 1 - cos(interest now, at start)",
        "Interest drift",
        False,
    ),
}

#: Rows of the summary table in the report: (metric, header, format).
REPORT_TABLE = (
    ("clicks", "clicks", "{:,.0f}"),
    ("ctr_early", "CTR d0-2", "{:.4f}"),
    ("ctr", "CTR", "{:.4f}"),
    ("ctr_late", "CTR last 7 d", "{:.4f}"),
    ("retention", "retention (end)", "{:.3f}"),
    ("satisfaction", "satisfaction (end)", "{:.3f}"),
    ("revenue", "revenue", "{:,.0f}"),
    ("dau", "mean DAU", "{:,.0f}"),
    ("ms_per_request", "ms/request", "{:.3f}"),
    ("flops_per_request", "FLOPs/request", "{:.3g}"),
)


def _pyplot():  # noqa: ANN202 - matplotlib is optional
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise DependencyNotInstalled(
            "figures need matplotlib; install it with pip install 'simrec[plots]'"
        ) from err
    return plt


def daily_bands(metrics: pd.DataFrame, metric: str, cumulative: bool = False) -> pd.DataFrame:
    """Per agent and day: mean over seeds and the 95% CI half-width of ``metric``.

    Args:
        metrics: Long-format metrics (scenario, agent, seed, day, metric, value).
        metric: Metric name.
        cumulative: Accumulate over days within each run before averaging.

    Returns:
        Columns ``agent``, ``day``, ``mean``, ``ci95``, ``n``.
    """
    m = metrics[metrics["metric"] == metric].sort_values(["agent", "seed", "day"])
    if cumulative:
        m = m.assign(value=m.groupby(["agent", "seed"])["value"].cumsum())
    g = m.groupby(["agent", "day"])["value"]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    t = out["n"].map(lambda n: t_quantile_975(int(n) - 1) if n > 1 else math.nan)
    out["ci95"] = t * out["sd"] / np.sqrt(out["n"])
    return out.drop(columns="sd")


def _png(fig) -> bytes:  # noqa: ANN001 - matplotlib figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _line_figure(plt, metrics, order, metric, ylabel, title, cumulative) -> bytes:  # noqa: ANN001
    bands = daily_bands(metrics, metric, cumulative)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for agent in order:
        b = bands[bands["agent"] == agent]
        if b.empty:
            continue
        (line,) = ax.plot(b["day"], b["mean"], label=agent, lw=1.8)
        if b["ci95"].notna().any():
            lo, hi = b["mean"] - b["ci95"], b["mean"] + b["ci95"]
            if metric in BOUNDED:
                lo, hi = lo.clip(0.0, 1.0), hi.clip(0.0, 1.0)
            ax.fill_between(b["day"], lo, hi, color=line.get_color(), alpha=0.18, lw=0)
    ax.set_xlabel("simulated day")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} (mean over seeds, 95% CI band)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    data = _png(fig)
    plt.close(fig)
    return data


def _tradeoff_figure(plt, summary, order, days) -> bytes:  # noqa: ANN001
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    for agent in order:
        row = summary[summary["agent"] == agent].set_index("metric")
        if not {"ctr_early", "retention"} <= set(row.index):
            continue
        x, y = row.loc["ctr_early"], row.loc["retention"]
        ax.errorbar(
            x["mean"], y["mean"], xerr=x["ci95"], yerr=y["ci95"], fmt="o", capsize=3, label=agent
        )
        ax.annotate(agent, (x["mean"], y["mean"]), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("CTR in days 0-2 (short term, clicks per impression)")
    ax.set_ylabel(f"retention at day {days - 1} (long term, share)")
    ax.set_title("Short-term CTR vs long-term retention (95% CI)")
    ax.grid(alpha=0.3)
    if len(order) > 4:  # labels of nearby points overlap; a legend stays readable
        ax.legend(frameon=False, fontsize=8, loc="best")
    data = _png(fig)
    plt.close(fig)
    return data


#: Where zero costs are drawn on the log axes of the cost figure.
COST_FLOOR = 1e-3


def _cost_figure(plt, summary, order, days) -> bytes:  # noqa: ANN001
    """Cost (ms per request; fit seconds) against long-term outcomes (retention; revenue)."""
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.4))
    panels = (
        (
            "ms_per_request",
            "retention",
            "ms per request (recommend, wall)",
            f"retention at day {days - 1} (share)",
        ),
        (
            "fit_seconds",
            "revenue",
            "fit seconds per run (all retrains, wall)",
            f"revenue over {days} days (currency)",
        ),
    )
    for ax, (xm, ym, xl, yl) in zip(axes, panels, strict=True):
        for agent in order:
            row = summary[summary["agent"] == agent].set_index("metric")
            if not {xm, ym} <= set(row.index):
                continue
            x, y = row.loc[xm], row.loc[ym]
            # Log axis: costs of zero (agents that never fit) sit at the floor.
            xc = max(float(x["mean"]), COST_FLOOR)
            ci = 0.0 if x["ci95"] != x["ci95"] else float(x["ci95"])
            low = max(0.0, min(ci, xc - COST_FLOOR / 2))
            ax.errorbar(
                xc,
                y["mean"],
                xerr=[[low], [ci]],
                yerr=y["ci95"],
                fmt="o",
                capsize=3,
                label=agent,
            )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short spans
        ax.set_xlabel(f"{xl}; log scale, 0 drawn at {COST_FLOOR:g}")
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8, loc="best")
    fig.suptitle("Compute cost vs long-term outcome (mean over seeds, 95% CI)")
    data = _png(fig)
    plt.close(fig)
    return data


def _summary_markdown(summary: pd.DataFrame, order: list[str], baseline: str) -> str:
    header = ["agent", *(h for _, h, _ in REPORT_TABLE)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for agent in order:
        cells = [f"`{agent}`"]
        for metric, _, fmt in REPORT_TABLE:
            hit = summary[(summary["agent"] == agent) & (summary["metric"] == metric)]
            if hit.empty:
                cells.append("–")
                continue
            r = hit.iloc[0]
            cell = fmt.format(r["mean"])
            if r["ci95"] == r["ci95"]:
                cell += " ± " + fmt.format(r["ci95"])
            if (
                baseline
                and agent != baseline
                and "diff_mean" in r
                and r["diff_mean"] == r["diff_mean"]
            ):
                sign = "+" if r["diff_mean"] >= 0 else "−"
                cell += f" ({sign}{fmt.format(abs(r['diff_mean']))})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(out: Path | str, partial: bool = False) -> Path:
    """Write ``figures/*.png`` and ``report.md`` for the results folder ``out``.

    Args:
        out: A results folder written by ``simrec run``.
        partial: Report the runs that are there when some were never run (an interrupted
            sweep); the report lists the missing ones. Corrupt runs are an error regardless.

    Returns:
        The path of ``report.md``.

    Raises:
        ResultsError: Not a results folder, another process is using it, or a run is
            missing (unless ``partial``), partial or corrupt -- each one named.
        DependencyNotInstalled: matplotlib is missing.
    """
    out = Path(out)
    if not (out / MARKER).is_file() or not (out / "config.yaml").is_file():
        raise ResultsError(
            f"{out}: not a simrec results folder (no {MARKER} or config.yaml); run "
            f"`simrec run SCENARIO --out {out}` first"
        )
    with lock_folder(out, "simrec report"):
        try:
            scenario: ScenarioConfig = load_yaml(out / "config.yaml")
        except SimrecError as err:
            raise ResultsError(f"{out}: unreadable config.yaml ({err})") from None
        result = collect(scenario, out, allow_missing=partial)
        with writing(f"the report in {out}", "the runs are kept"):
            return _write(out, scenario, result.metrics, result.summary, result.missing)


def _write(
    out: Path,
    scenario: ScenarioConfig,
    metrics: pd.DataFrame,
    summary: pd.DataFrame,
    missing: tuple[str, ...],
) -> Path:
    plt = _pyplot()
    order = [a.key for a in scenario.agents if a.key in set(metrics["agent"])]
    days = scenario.simulation.days
    figs = out / "figures"
    names = []
    for name, (metric, ylabel, title, cumulative) in FIGURES.items():
        data = _line_figure(plt, metrics, order, metric, ylabel, title, cumulative)
        atomic_write_bytes(figs / f"{name}.png", data)
        names.append((name, title))
    atomic_write_bytes(figs / "ctr_vs_retention.png", _tradeoff_figure(plt, summary, order, days))
    names.append(("ctr_vs_retention", "Short-term CTR vs long-term retention"))
    atomic_write_bytes(figs / "cost_vs_outcome.png", _cost_figure(plt, summary, order, days))
    names.append(("cost_vs_outcome", "Compute cost vs long-term outcome"))
    seeds = sorted(set(metrics["seed"]))
    text = [
        f"# {scenario.name}",
        "",
        f"**Question.** {scenario.question or '(none stated)'}",
        "",
        f"{len(order)} agents × {len(seeds)} seeds {seeds}, {days} simulated days, world "
        f"`{scenario.world.kind}` ({scenario.world.users.n_users:,} users at day 0, "
        f"{scenario.world.items.n_items:,} items), slate of {scenario.simulation.slate_size}.",
        "Every agent meets the same users and the same behavioural draws for a given seed "
        "(common random numbers).",
        "",
        *(
            [
                f"**Partial results.** {len(missing)} planned run(s) were never run and are "
                f"not in any number below: {', '.join(missing)}.",
                "",
            ]
            if missing
            else []
        ),
        "## Summary",
        "",
        "Mean ± 95% CI over seeds"
        + (
            f"; in brackets the mean paired difference against `{scenario.baseline}`."
            if scenario.baseline
            else "."
        )
        + " Retention and satisfaction are at the last day; clicks and revenue are totals.",
        "",
        _summary_markdown(summary, order, scenario.baseline),
        "",
        "## Figures",
        "",
    ]
    for name, title in names:
        text += [f"### {title}", "", f"![{title}](figures/{name}.png)", ""]
    text += [
        "## Files",
        "",
        "- `config.yaml` — the resolved scenario (load with `simrec.load_yaml`).",
        "- `metrics.parquet` — daily metrics, long format: scenario, agent, seed, day, "
        "metric, value.",
        "- `summary.csv` — agent × metric: mean, 95% CI, paired difference to the baseline.",
        "- `runs/<agent>/<seed>/` — per-run daily metrics, totals and cost report.",
        "",
    ]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(text))
    return path
