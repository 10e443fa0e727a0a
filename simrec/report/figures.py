"""The report's figures: lazy matplotlib, where and how figures are written, each figure.

Curves are the mean over seeds with a 95% confidence band (Student t over seeds,
:func:`daily_bands`); the paired-difference figure shows agent - baseline seed by seed (common
random numbers) with the CI of those differences (:func:`paired_bands`); the survival figure is
the Kaplan--Meier curve of the day-0 cohort (lifelines). :func:`draw_figures` draws every
figure of a report. matplotlib is imported lazily (the ``plots`` extra) by :func:`pyplot` and
:meth:`Output.save`: it is the named exception to simrec's no-heavy-imports rule. Other report
writers (sensitivity, experiments, findings) draw through :func:`pyplot` and :class:`Output`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simrec.config import ScenarioConfig
from simrec.errors import ConfigError, DependencyNotInstalled
from simrec.metrics import REGISTRY
from simrec.metrics.registry import DerivedView
from simrec.runner import ScenarioResult
from simrec.runner.results import FIGURE_FORMATS, atomic_write_bytes, t_quantile_975

__all__ = [
    "COST_FLOOR",
    "FIGURES",
    "PAIRED_PANELS",
    "Output",
    "check_figure_options",
    "daily_bands",
    "draw_figures",
    "paired_bands",
    "pareto_front",
    "pyplot",
    "survival_figure",
]

#: Figure name -> (metric, y label, title, cumulative): the line figures of the report, a
#: read-only view derived from the descriptors' ``figure`` (built-in and custom metrics, in
#: the order of :attr:`~simrec.metrics.Figure.rank`). A figure whose metric the results do
#: not hold (``homogenization_vs_ideal`` without an ideal recommender) is left out.
FIGURES: Mapping[str, tuple[str, str, str, bool]] = DerivedView(lambda: _figures(), "FIGURES")


def _figures() -> dict[str, tuple[str, str, str, bool]]:
    drawn = [(m.figure, m.name) for m in REGISTRY.all().values() if m.figure is not None]
    drawn.sort(key=lambda fig_name: fig_name[0].rank)  # stable: ties keep their order
    return {f.name: (name, f.ylabel, f.title, f.cumulative) for f, name in drawn}


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


def pyplot():  # noqa: ANN201 - matplotlib is optional
    """``matplotlib.pyplot`` on the non-interactive Agg backend, imported on first use.

    Every simrec figure is drawn through it, so that importing simrec never imports
    matplotlib (the ``plots`` extra).

    Raises:
        DependencyNotInstalled: matplotlib is missing (the error names the extra).
    """
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
class Output:
    """Where figures go and how: formats (png, svg, pdf) and the raster resolution.

    Attributes:
        folder: The folder the figure files are written to (``figures/`` of a results folder).
        formats: One file per format and figure, any of ``png``, ``svg``, ``pdf`` (checked by
            :func:`check_figure_options`).
        dpi: Resolution of raster figures, dots per inch.
    """

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


def survival_figure(plt, users, order, days):  # noqa: ANN001, ANN201 - matplotlib objects
    """Two panels: survival of the day-0 cohort, and time to the second visit.

    Kaplan--Meier curves (:func:`simrec.metrics.survival.kaplan_meier`) of every agent's
    day-0 users, seeds pooled, with 95% pointwise bands.

    Args:
        plt: ``matplotlib.pyplot``, as :func:`pyplot` returns it.
        users: The per-user tables by ``(agent, seed)`` (``ScenarioResult.users``).
        order: The agents to draw, in legend order (agents without users are skipped).
        days: The run's horizon in simulated days (lifetimes are censored there).

    Returns:
        The matplotlib figure, for :meth:`Output.save`.
    """
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


def draw_figures(
    output: Output, scenario: ScenarioConfig, result: ScenarioResult
) -> list[tuple[str, str]]:
    """Draw and save every figure of the report of ``result``.

    The daily line figures of :data:`FIGURES` whose metric the results hold, the CTR/retention
    and cost trade-offs, and, where the scenario or the results call for them, the
    ``report.curve`` and ``report.pareto`` figures, the survival figure and the paired
    differences against the baseline.

    Returns:
        ``(file name without extension, title)`` per figure, in the order ``report.md`` shows
        them.

    Raises:
        DependencyNotInstalled: matplotlib is missing.
    """
    plt = pyplot()
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
        output.save(survival_figure(plt, result.users, order, days), "survival")
        names.insert(0, ("survival", "Survival and time to the second visit (Kaplan–Meier)"))
    if baseline and len(order) > 1:
        output.save(_paired_figure(plt, metrics, order, baseline), "paired_differences")
        names.insert(0, ("paired_differences", f"Paired differences against {baseline}"))
    return names
