"""Figures and ``report.md`` from a results folder.

:func:`write_report` verifies the runs of a results folder, summarises them
(:func:`simrec.runner.collect`) and writes ``figures/*.{png,svg,pdf}`` and ``report.md``, each
atomically. Curves are the mean over seeds with a 95% confidence band (Student t over
seeds); the paired-difference figure shows agent - baseline seed by seed (common random
numbers) with the CI of those differences; the survival figure is the Kaplan--Meier curve of
the day-0 cohort (lifelines). Tables show the scenario's ``report.metrics``. matplotlib is
imported lazily (the ``plots`` extra): it is the named exception to simrec's no-heavy-imports
rule.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simrec.config import ScenarioConfig, load_yaml
from simrec.errors import ConfigError, DependencyNotInstalled, ResultsError, SimrecError
from simrec.metrics import REGISTRY
from simrec.metrics.registry import DerivedView
from simrec.report.tables import (
    DEFAULT_METRICS,
    HORIZON_METRICS,
    check_metrics,
    console_table,
    horizon_totals,
    markdown_table,
    pairs_markdown,
)
from simrec.runner import ScenarioResult, collect, verify_runs
from simrec.runner.results import (
    FIGURE_FORMATS,
    MARKER,
    atomic_write_bytes,
    atomic_write_text,
    lock_folder,
    summarize,
    t_quantile_975,
    writing,
)

__all__ = [
    "FIGURES",
    "check_figure_options",
    "daily_bands",
    "horizon_table",
    "paired_bands",
    "write_report",
]

#: Figure name -> (metric, y label, title, cumulative): the line figures of the report, a
#: read-only view derived from the descriptors' ``figure`` (built-in and custom metrics, in
#: the order of :attr:`~simrec.metrics.Figure.rank`). A figure whose metric the results do
#: not hold (``homogenization_vs_ideal`` without an ideal recommender) is left out.
FIGURES: Mapping[str, tuple[str, str, str, bool]] = DerivedView(lambda: _figures(), "FIGURES")


def _figures() -> dict[str, tuple[str, str, str, bool]]:
    drawn = [m for m in REGISTRY.all().values() if m.figure is not None]
    drawn.sort(key=lambda m: m.figure.rank)  # type: ignore[union-attr] - stable: ties in order
    return {
        m.figure.name: (m.name, m.figure.ylabel, m.figure.title, m.figure.cumulative) for m in drawn
    }  # type: ignore[union-attr]


def _bounds(metric: str) -> tuple[float, float] | None:
    """The declared bounds of ``metric`` (CI bands are clipped to them); ``None``: none."""
    try:
        return REGISTRY.get(metric).bounds
    except KeyError:
        return None


#: Panels of the paired-difference figure: (metric, y label, cumulative).
PAIRED_PANELS = (
    ("retention", "retention", False),
    ("satisfaction_cohort", "satisfaction (cohort)", False),
    ("clicks_per_cohort_user", "cumulative clicks per day-0 user", True),
    ("revenue", "cumulative revenue", True),
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


@dataclass(frozen=True)
class _Output:
    """Where figures go and how: formats (png, svg, pdf) and the raster resolution."""

    folder: Path
    formats: tuple[str, ...] = ("png",)
    dpi: int = 110

    def save(self, fig, name: str) -> None:  # noqa: ANN001 - matplotlib figure
        """Write ``fig`` as ``name.<format>`` for every format (atomically), then close it."""
        import matplotlib.pyplot as plt

        for fmt in self.formats:
            buf = io.BytesIO()
            # Vector files carry no creation date, so the same results give the same bytes.
            meta = (
                {"CreationDate": None} if fmt == "pdf" else {"Date": None} if fmt == "svg" else {}
            )
            fig.savefig(buf, format=fmt, dpi=self.dpi, bbox_inches="tight", metadata=meta)
            atomic_write_bytes(self.folder / f"{name}.{fmt}", buf.getvalue())
        plt.close(fig)


def _line_figure(plt, metrics, order, metric, ylabel, title, cumulative):  # noqa: ANN001, ANN202
    bands = daily_bands(metrics, metric, cumulative)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for agent in order:
        b = bands[bands["agent"] == agent]
        if b.empty:
            continue
        (line,) = ax.plot(b["day"], b["mean"], label=agent, lw=1.8)
        if b["ci95"].notna().any():
            lo, hi = b["mean"] - b["ci95"], b["mean"] + b["ci95"]
            if (bounds := _bounds(metric)) is not None:
                lo, hi = lo.clip(*bounds), hi.clip(*bounds)
            ax.fill_between(b["day"], lo, hi, color=line.get_color(), alpha=0.18, lw=0)
    ax.set_xlabel("simulated day")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n(mean over seeds, 95% CI band)", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8)
    return fig


def _tradeoff_figure(plt, summary, order, days):  # noqa: ANN001, ANN202
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    for agent in order:
        row = summary[summary["agent"] == agent].set_index("metric")
        if not {"ctr_early", "retention"} <= set(row.index):
            continue
        x, y = row.loc["ctr_early"], row.loc["retention"]
        ax.errorbar(
            x["mean"], y["mean"], xerr=x["ci95"], yerr=y["ci95"], fmt="o", capsize=3, label=agent
        )
    ax.set_xlabel("CTR in days 0-2 (short term, clicks per impression)")
    ax.set_ylabel(f"retention at day {days - 1} (long term, share)")
    ax.set_title("Short-term CTR vs long-term retention (95% CI)")
    ax.grid(alpha=0.3)
    # A legend, not labels at the points: labels of nearby agents collide.
    ax.legend(frameon=False, fontsize=8, loc="best")
    return fig


def pareto_front(summary: pd.DataFrame, order: list[str], objectives: tuple[str, ...]) -> list[str]:
    """The agents no other agent dominates on ``objectives`` ('metric:max' / 'metric:min').

    Agent *a* dominates *b* when its mean over seeds is at least as good on every objective
    and better on one. Agents without every objective in ``summary`` are left out.

    >>> s = pd.DataFrame({"agent": list("aabbcc"), "metric": ["x", "y"] * 3,
    ...                   "mean": [1.0, 1.0, 2.0, 2.0, 0.5, 3.0]})
    >>> pareto_front(s, ["a", "b", "c"], ("x:max", "y:max"))
    ['b', 'c']
    """
    names = [o.rsplit(":", 1)[0] for o in objectives]
    sign = np.array([1.0 if o.endswith(":max") else -1.0 for o in objectives])
    means = summary.pivot_table(index="agent", columns="metric", values="mean")
    agents = [a for a in order if a in means.index and set(names) <= set(means.columns)]
    if not agents:
        return []
    v = means.loc[agents, names].to_numpy(dtype=float) * sign
    keep = []
    for i, a in enumerate(agents):
        others = np.delete(v, i, axis=0)
        dominated = ((others >= v[i]).all(axis=1) & (others > v[i]).any(axis=1)).any()
        if not dominated and np.isfinite(v[i]).all():
            keep.append(a)
    return keep


def _pareto_figure(plt, summary, order, objectives, days):  # noqa: ANN001, ANN202
    """One panel per objective after the first (the x axis); the front drawn as a line."""
    front = pareto_front(summary, order, objectives)
    names = [o.rsplit(":", 1)[0] for o in objectives]
    ways = ["higher" if o.endswith(":max") else "lower" for o in objectives]
    fig, axes = plt.subplots(1, len(names) - 1, figsize=(5.6 * (len(names) - 1), 4.6))
    axes = np.atleast_1d(axes)
    for ax, ym, way in zip(axes, names[1:], ways[1:], strict=True):
        points = []
        for agent in order:
            row = summary[summary["agent"] == agent].set_index("metric")
            if not {names[0], ym} <= set(row.index):
                continue
            x, y = row.loc[names[0]], row.loc[ym]
            on = agent in front
            ax.errorbar(
                x["mean"],
                y["mean"],
                xerr=x["ci95"],
                yerr=y["ci95"],
                fmt="o",
                mfc=None if on else "white",
                capsize=3,
                label=agent + (" (front)" if on else ""),
            )
            if on:
                points.append((float(x["mean"]), float(y["mean"])))
        if len(points) > 1:
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, color="0.4", lw=1.0, ls="--", zorder=0)
        ax.set_xlabel(f"{names[0]} ({ways[0]} is better)")
        ax.set_ylabel(f"{ym} ({way} is better)")
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=7, loc="best")
    fig.suptitle(
        f"Pareto front over {', '.join(names)} after {days} days: filled, dashed "
        "(mean over seeds, 95% CI; hollow: dominated)",
        fontsize=10,
    )
    return fig


def _curve_figure(plt, summary, scenario, order, curve, days):  # noqa: ANN001, ANN202
    """One panel per y metric; one line per registered agent name over its variants' mean x."""
    xm, ys = curve[0], curve[1:]
    names = {a.key: a.name for a in scenario.agents}
    # dropna=False: one seed gives NaN CIs, and a column of them must stay
    means = summary.pivot_table(index="agent", columns="metric", values="mean", dropna=False)
    cis = summary.pivot_table(index="agent", columns="metric", values="ci95", dropna=False)
    fig, axes = plt.subplots(1, len(ys), figsize=(4.6 * len(ys), 4.2), squeeze=False)
    finite = means[xm][np.isfinite(means[xm])] if xm in means else pd.Series(dtype=float)
    inf_at = float(finite.max()) * 2.0 if len(finite) and finite.max() > 0 else 1.0
    has_inf = xm in means and bool((~np.isfinite(means[xm])).any())
    for ax, ym in zip(axes[0], ys, strict=True):
        for color, family in enumerate(dict.fromkeys(names[a] for a in order)):
            members = [a for a in order if names[a] == family and a in means.index]
            pts = [
                (float(means.at[a, xm]), float(means.at[a, ym]), float(cis.at[a, ym]))
                for a in members
                if {xm, ym} <= set(means.columns) and np.isfinite(means.at[a, ym])
            ]
            if not pts:
                continue
            pts = sorted((inf_at if not np.isfinite(x) else x, y, c) for x, y, c in pts)
            xs, yv, cv = (np.array(v) for v in zip(*pts, strict=True))
            ax.errorbar(
                xs, yv, yerr=np.nan_to_num(cv), fmt="o-", capsize=3, label=family, color=f"C{color}"
            )
        ax.set_xscale("log")
        ticks = sorted(set(finite.tolist()))
        ax.set_xticks([*ticks, inf_at] if has_inf else ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks] + (["∞"] if has_inf else []))
        ax.minorticks_off()
        ax.set_xlabel(xm)
        ax.set_ylabel(ym)
        ax.grid(alpha=0.3)
    axes[0][0].legend(frameon=False, fontsize=8, loc="best")
    fig.suptitle(f"{', '.join(ys)} against {xm} after {days} days (mean over seeds, 95% CI)")
    return fig


#: Where zero costs are drawn on the log axes of the cost figure.
COST_FLOOR = 1e-3


def _cost_figure(plt, summary, order, days):  # noqa: ANN001, ANN202
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
    return fig


def paired_bands(
    metrics: pd.DataFrame, metric: str, baseline: str, cumulative: bool = False
) -> pd.DataFrame:
    """Per agent and day: the paired difference agent - baseline over seeds, with its CI.

    The difference is taken seed by seed (the same users and draws: common random numbers)
    and then averaged; the band is the Student-t 95% CI of those per-seed differences.

    Returns:
        Columns ``agent``, ``day``, ``mean``, ``ci95``, ``n`` (seeds both ran); no rows for
        the baseline itself.
    """
    m = metrics[metrics["metric"] == metric].sort_values(["agent", "seed", "day"])
    if cumulative:
        m = m.assign(value=m.groupby(["agent", "seed"])["value"].cumsum())
    base = m[m["agent"] == baseline][["seed", "day", "value"]]
    d = m[m["agent"] != baseline].merge(base, on=["seed", "day"], suffixes=("", "_base"))
    d = d.assign(value=d["value"] - d["value_base"])
    out = d.groupby(["agent", "day"])["value"].agg(mean="mean", sd="std", n="count")
    out = out.reset_index()
    t = out["n"].map(lambda n: t_quantile_975(int(n) - 1) if n > 1 else math.nan)
    out["ci95"] = t * out["sd"] / np.sqrt(out["n"])
    return out.drop(columns="sd")


def _paired_figure(plt, metrics, order, baseline):  # noqa: ANN001, ANN202
    panels = [p for p in PAIRED_PANELS if p[0] in set(metrics["metric"])]
    cols = 2 if len(panels) > 1 else 1
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    for ax, (metric, label, cumulative) in zip(axes.ravel(), panels, strict=False):
        bands = paired_bands(metrics, metric, baseline, cumulative)
        for i, agent in enumerate(order):
            b = bands[bands["agent"] == agent]
            if agent == baseline or b.empty:
                continue
            color = f"C{i % 10}"
            ax.plot(b["day"], b["mean"], label=agent, lw=1.6, color=color)
            if b["ci95"].notna().any():
                lo, hi = b["mean"] - b["ci95"], b["mean"] + b["ci95"]
                ax.fill_between(b["day"], lo, hi, color=color, alpha=0.18, lw=0)
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("simulated day")
        ax.set_ylabel(f"agent − {baseline}")
        ax.grid(alpha=0.3)
    axes[0][0].legend(frameon=False, fontsize=8, loc="best")
    fig.suptitle(
        f"Paired difference against {baseline}\n(per-seed differences: mean, 95% CI band)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def _world_sizes(scenario: ScenarioConfig, users: dict | None) -> str:
    """The world's size as the report states it: from the config, or from a run's users."""
    w = scenario.world
    if w.kind == "synthetic":
        return f"{w.users.n_users:,} users at day 0, {w.items.n_items:,} items"
    if users:  # sizes come from the data: read them off a run's user table
        u = next(iter(users.values()))
        return f"from the data: {int(u['cohort'].sum()):,} users at day 0, {len(u):,} in all"
    return "users and items from the data"


def _survival_figure(plt, users, order, days):  # noqa: ANN001, ANN202
    """Two panels: survival of the day-0 cohort, and time to the second visit."""
    from simrec.metrics.survival import kaplan_meier

    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2))
    panels = (
        (
            "lifetime_days",
            "churned",
            "days since day 0 (censored at the horizon)",
            "share of the day-0 cohort not churned",
            "Survival of users",
        ),
        (
            "gap_days",
            "gap_observed",
            "days since the end of the first session (users not back: censored)",
            "share of the day-0 cohort not yet back",
            "Time to the second visit",
        ),
    )
    for ax, (duration, event, xlabel, ylabel, title) in zip(axes, panels, strict=True):
        for i, agent in enumerate(order):
            runs = [u for (a, _), u in users.items() if a == agent]
            if not runs:
                continue
            table = pd.concat(runs, ignore_index=True)
            km = kaplan_meier(table, days, 4 * days + 1, duration=duration, event=event)
            color = f"C{i % 10}"
            ax.step(km["day"], km["survival"], where="post", label=agent, color=color, lw=1.6)
            ax.fill_between(
                km["day"], km["lower"], km["upper"], step="post", color=color, alpha=0.18, lw=0
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(top=1.01)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8, loc="lower left")
    fig.suptitle("Kaplan–Meier estimates, seeds pooled, 95% pointwise band", fontsize=11)
    fig.tight_layout()
    return fig


def check_figure_options(formats: tuple[str, ...], dpi: int) -> tuple[str, ...]:
    """The figure formats as a tuple, after checking them and the dpi.

    Raises:
        ConfigError: An unknown or empty format list, or a dpi outside [30, 1200].
    """
    formats = tuple(formats)
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad or not formats:
        raise ConfigError(
            f"--format: expected one or more of {', '.join(FIGURE_FORMATS)}, got "
            f"{','.join(formats) or '(none)'}"
        )
    if not 30 <= int(dpi) <= 1200:
        raise ConfigError(f"--dpi: expected an integer in [30, 1200], got {dpi!r}")
    return formats


def write_report(
    out: Path | str,
    partial: bool = False,
    formats: tuple[str, ...] = ("png",),
    dpi: int = 110,
    result: ScenarioResult | None = None,
) -> Path:
    """Write the figures and ``report.md`` for the results folder ``out``.

    Args:
        out: A results folder written by ``simrec run``.
        partial: Report the runs that are there when some were never run (an interrupted
            sweep); the report lists the missing ones. Corrupt runs are an error regardless.
        formats: Figure formats, any of ``png``, ``svg``, ``pdf`` (``report.md`` links the
            first).
        dpi: Resolution of raster figures.
        result: What :func:`~simrec.runner.run_scenario` returned for this folder just
            before: its summaries are used instead of being computed again (the runs are
            still verified under the folder's lock).

    Returns:
        The path of ``report.md``.

    Raises:
        ConfigError: An unknown format, a dpi outside [30, 1200], or a ``report.metrics``
            name the results do not hold.
        ResultsError: Not a results folder, another process is using it, or a run is
            missing (unless ``partial``), partial or corrupt -- each one named.
        DependencyNotInstalled: matplotlib is missing.
    """
    out = Path(out)
    formats = check_figure_options(formats, dpi)
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
        if result is None or partial or Path(result.out) != out or result.missing:
            result = collect(scenario, out, allow_missing=partial)
        else:
            verify_runs(scenario, out)
        metrics_shown = scenario.report.metrics or DEFAULT_METRICS
        check_metrics(scenario.report.metrics, result.summary)
        with writing(f"the report in {out}", "the runs are kept"):
            return _write(
                _Output(out / "figures", formats, int(dpi)), scenario, result, metrics_shown
            )


def horizon_table(
    scenario: ScenarioConfig, result: ScenarioResult, console: bool = False
) -> list[tuple[int, str]]:
    """The short-term/long-term tables of ``report.horizons``: one ``(H, table)`` per horizon.

    Horizons beyond the run's days are left out (empty list without horizons). Tables are
    markdown, or plain text with ``console``.
    """
    kept = [h for h in scenario.report.horizons if h <= scenario.simulation.days]
    if not kept or result.metrics.empty:
        return []
    totals = horizon_totals(result.metrics, kept)
    summary = summarize(totals, scenario.baseline or None)
    order = [a.key for a in scenario.agents]
    render = console_table if console else markdown_table
    return [
        (h, render(summary, order, scenario.baseline, [f"{m}@{h}" for m in HORIZON_METRICS]))
        for h in kept
    ]


def pairs_table(scenario: ScenarioConfig, result: ScenarioResult, metrics: Sequence[str]) -> str:
    """The markdown table of ``report.pairs``: per pair, agent - against on each metric.

    Pairs with an agent absent from the results (a partial report) are left out; empty
    string without pairs.
    """
    present = set(result.totals["agent"]) if not result.totals.empty else set()
    rows = []
    for pair in scenario.report.pairs:
        agent, _, against = pair.partition(" vs ")
        if {agent, against} <= present:
            both = result.totals[result.totals["agent"].isin([agent, against])]
            rows.append((agent, against, summarize(both, against)))
    return pairs_markdown(rows, metrics) if rows else ""


def _survival_markdown(survival: pd.DataFrame, baseline: str, days: int) -> str:
    versus = f"hazard ratio vs `{baseline}` (95% CI)" if baseline else "hazard ratio"
    lines = [
        f"| agent | day-0 users | churned | median lifetime (d) | RMST (d) | {versus} | p "
        "| median days to 2nd visit | median session (min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in survival.iterrows():
        m = r["median_lifetime_days"]
        median = f"> {days}" if m == math.inf else "–" if m != m else f"{m:.1f}"
        hr = (
            "–"
            if r["hr"] != r["hr"]
            else f"{r['hr']:.2f} ({r['hr_lower']:.2f}–{r['hr_upper']:.2f})"
        )
        p = "–" if r["p"] != r["p"] else f"{r['p']:.2g}" if r["p"] > 0 else "< 1e-300"
        back = r["median_days_to_return"]
        back = f"> {days}" if back == math.inf else "–" if back != back else f"{back:.2f}"
        lines.append(
            f"| `{r['agent']}` | {int(r['users']):,} | {r['churned']:.3f} | {median} | "
            f"{r['rmst_days']:.2f} | {hr} | {p} | {back} | {r['median_session_minutes']:.0f} |"
        )
    return "\n".join(lines)


def _write(
    output: _Output, scenario: ScenarioConfig, result: ScenarioResult, shown: tuple[str, ...]
) -> Path:
    plt = _pyplot()
    metrics, summary = result.metrics, result.summary
    order = [a.key for a in scenario.agents if a.key in set(metrics["agent"])]
    days = scenario.simulation.days
    baseline = scenario.baseline
    present = set(metrics["metric"])
    names = []
    for name, (metric, ylabel, title, cumulative) in FIGURES.items():
        if metric not in present:
            continue
        output.save(_line_figure(plt, metrics, order, metric, ylabel, title, cumulative), name)
        names.append((name, title))
    output.save(_tradeoff_figure(plt, summary, order, days), "ctr_vs_retention")
    names.append(("ctr_vs_retention", "Short-term CTR vs long-term retention"))
    output.save(_cost_figure(plt, summary, order, days), "cost_vs_outcome")
    names.append(("cost_vs_outcome", "Compute cost vs long-term outcome"))
    if scenario.report.curve:
        curve = scenario.report.curve
        output.save(_curve_figure(plt, summary, scenario, order, curve, days), "curve")
        names.insert(0, ("curve", f"{', '.join(curve[1:])} against {curve[0]}"))
    objectives = scenario.report.pareto
    if objectives:
        output.save(_pareto_figure(plt, summary, order, objectives, days), "pareto")
        names.insert(0, ("pareto", "Pareto front: " + ", ".join(objectives)))
    if result.users:
        output.save(_survival_figure(plt, result.users, order, days), "survival")
        names.insert(0, ("survival", "Survival and time to the second visit (Kaplan–Meier)"))
    if baseline and len(order) > 1:
        output.save(_paired_figure(plt, metrics, order, baseline), "paired_differences")
        names.insert(0, ("paired_differences", f"Paired differences against {baseline}"))
    seeds = sorted(set(metrics["seed"]))
    missing = result.missing
    ext = output.formats[0]
    text = [
        f"# {scenario.name}",
        "",
        f"**Question.** {scenario.question or '(none stated)'}",
        "",
        f"{len(order)} agents × {len(seeds)} seeds {seeds}, {days} simulated days, world "
        f"`{scenario.world.kind}` ({_world_sizes(scenario, result.users)}), slate of "
        f"{scenario.simulation.slate_size}.",
        "Every agent meets the same users and the same behavioural draws for a given seed "
        "(common random numbers), so differences are paired seed by seed.",
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
        "Mean ± 95% CI over seeds (Student t)"
        + (
            f"; beneath each agent, in italics, the paired difference against `{baseline}` "
            "(mean ± 95% CI of the per-seed differences)."
            if baseline
            else "."
        )
        + " Retention and satisfaction are at the last day; clicks and revenue are totals; "
        "satisfaction is over the day-0 cohort, churned users included (`satisfaction_alive` "
        "in `summary.csv` is over survivors only).",
        "",
        markdown_table(summary, order, baseline, shown),
        "",
    ]
    pairs = pairs_table(scenario, result, shown)
    if pairs:
        text += [
            "## Chosen pairs",
            "",
            "Paired differences (agent − against, the same seeds) of the metrics above: mean "
            "± 95% CI of the per-seed differences (`report.pairs`).",
            "",
            pairs,
            "",
        ]
    horizons = horizon_table(scenario, result)
    if horizons:
        text += [
            "## Short term and long term",
            "",
            "The same runs cut at "
            + ", ".join(f"{h} days" for h, _ in horizons)
            + ": clicks, engagement and revenue summed over the first H days, retention and "
            "cohort satisfaction on day H − 1 (mean ± 95% CI; paired differences beneath). A "
            "short A/B test reads the first table; the platform lives with the last.",
            "",
        ]
        for h, table in horizons:
            text += [f"### The first {h} days", "", table, ""]
    if result.survival is not None and not result.survival.empty:
        text += [
            "## Survival",
            "",
            "Day-0 users of all seeds pooled: Kaplan–Meier median lifetime (censored at the "
            f"horizon, day {days}) and restricted mean survival time (RMST, mean days within "
            "the horizon); the hazard ratio of churn is a Cox model stratified by seed with "
            "a robust variance clustered on the user (the same users under every agent).",
            "",
            _survival_markdown(result.survival, baseline, days),
            "",
        ]
    if objectives:
        front = pareto_front(summary, order, objectives)
        text += [
            "## Pareto front",
            "",
            f"Objectives: {', '.join(f'`{o}`' for o in objectives)}. Not dominated (no other "
            "agent at least as good on every objective and better on one, means over seeds): "
            + (", ".join(f"`{a}`" for a in front) or "none (an objective is missing)")
            + ". Dominated: "
            + (", ".join(f"`{a}`" for a in order if a not in front) or "none")
            + ". Means carry the CIs of the summary table: a point inside another's CI is "
            "not clearly better or worse.",
            "",
        ]
    text += ["## Figures", ""]
    if "homogenization_vs_ideal" in present:
        text += [
            "Homogenization is Chaney et al.'s measure: the mean Jaccard index of the items "
            "consumed by pairs of users most alike in true preference, minus the same under "
            f"the ideal recommender (`{scenario.ideal}`) on the same seed; users with no "
            "consumption or who churned are left out. The volume-matched variant "
            "(`homogenization_matched_vs_ideal`, each user's 10 most recent items) is in "
            "`summary.csv` and `metrics.parquet`.",
            "",
        ]
    for name, title in names:
        text += [f"### {title}", "", f"![{title}](figures/{name}.{ext})", ""]
    text += [
        "## Files",
        "",
        "- `config.yaml` — the resolved scenario (load with `simrec.load_yaml`).",
        "- `metrics.parquet` — daily metrics, long format: scenario, agent, seed, day, "
        "metric, value.",
        "- `summary.csv` — agent × metric: mean, 95% CI, paired difference to the baseline.",
        "- `survival.csv` — per agent: median lifetime, RMST, hazard ratio vs the baseline.",
        "- `runs/<agent>/<seed>/` — per-run daily metrics, per-user table, totals and cost.",
        "",
    ]
    path = output.folder.parent / "report.md"
    atomic_write_text(path, "\n".join(text))
    return path
