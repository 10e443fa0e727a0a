"""The study's figures: outcomes over time, paired differences, the cost frontier, warm/cold CTR.

Each function takes the lazily imported ``matplotlib.pyplot`` (:mod:`simrec.report`'s
``pyplot``) and returns the figure; :mod:`simrec_studies.lm_vs_cf.document` saves them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from simrec_studies.lm_vs_cf.study import COLORS, ENCODER_LABEL, MARKERS, Study

from simrec.report import daily_bands, paired_bands
from simrec.report.stats import agent_mean_ci, pareto_mask

__all__ = [
    "COST_AXES",
    "COST_FLOOR",
    "OUTCOME_AXES",
    "frontier_figure",
    "over_time_figure",
    "paired_time_figure",
    "warm_cold_figure",
]


def _style(study: Study, label: str) -> dict:
    row = study.agents.set_index("label").loc[label]
    return {
        "color": COLORS.get(row["family"], "C7"),
        "marker": MARKERS.get(row["encoder"], "o"),
    }


def _draw_bands(
    ax,  # noqa: ANN001 - a matplotlib axes
    bands: pd.DataFrame,
    labels: list[str],
    share: bool = False,
) -> None:
    """One line per agent (its colour fixed by its place in ``labels``), with its CI band.

    ``share``: a quantity in [0, 1] (a CTR): bands are clipped to it and the axis is scaled
    to the lines (a day with a handful of impressions can have a band of the whole range).
    """
    top = 0.0
    for i, label in enumerate(labels):
        b = bands[bands["agent"] == label]
        if b.empty:
            continue
        color = f"C{i % 10}"
        ax.plot(b["day"], b["mean"], label=label, color=color, lw=1.5)
        top = max(top, float(np.nanmax(b["mean"])) if b["mean"].notna().any() else 0.0)
        if b["ci95"].notna().any():
            lo, hi = b["mean"] - b["ci95"], b["mean"] + b["ci95"]
            if share:
                lo, hi = lo.clip(0.0, 1.0), hi.clip(0.0, 1.0)
            ax.fill_between(b["day"], lo, hi, color=color, alpha=0.1, lw=0)
    if share and top > 0:
        ax.set_ylim(0.0, min(1.0, 1.3 * top))


def over_time_figure(plt, study: Study, labels: list[str]):  # noqa: ANN001, ANN201 - matplotlib is optional
    """Six panels of daily means with 95% bands: what changes over the six months."""
    panels = (
        ("revenue", "cumulative revenue", True, 1),
        ("satisfaction_cohort", "satisfaction of the day-0 cohort", False, 1),
        ("homogenization_vs_ideal", "homogenization minus the ideal's (Chaney)", False, 1),
        ("long_tail_share", "long-tail share of impressions (7-day mean)", False, 7),
        ("cold_item_ctr", "CTR of items in their first 3 days (7-day mean)", False, 7),
        ("warm_item_ctr", "CTR of all other items (7-day mean)", False, 7),
    )
    metrics = study.result.metrics
    present = set(metrics["metric"])
    panels = tuple(p for p in panels if p[0] in present)
    cols = 3
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(15.0, 3.9 * rows), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    for ax, (metric, title, cumulative, window) in zip(axes.ravel(), panels, strict=False):
        m = metrics[metrics["metric"] == metric]
        if window > 1:  # weekly means per run before the bands: daily CTRs are noisy
            m = m.sort_values(["agent", "seed", "day"])
            m = m.assign(
                value=m.groupby(["agent", "seed"])["value"].transform(
                    lambda s, w=window: s.rolling(w, min_periods=1).mean()
                )
            )
        _draw_bands(ax, daily_bands(m, metric, cumulative), labels, share=window > 1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("simulated day")
        ax.grid(alpha=0.3)
    axes[0][0].legend(frameon=False, fontsize=7, ncol=2, loc="upper left")
    fig.suptitle(
        f"{study.name}: mean over {len(study.scenario.seeds)} seeds, 95% CI band", fontsize=11
    )
    fig.tight_layout()
    return fig


def paired_time_figure(plt, study: Study, labels: list[str]):  # noqa: ANN001, ANN201 - matplotlib is optional
    """Retention and cumulative revenue of each agent minus mf's, seed by seed."""
    base = study.scenario.baseline
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.2))
    for ax, (metric, title, cumulative) in zip(
        axes,
        (("retention", "retention", False), ("revenue", "cumulative revenue", True)),
        strict=True,
    ):
        _draw_bands(ax, paired_bands(study.result.metrics, metric, base, cumulative), labels)
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_title(f"{title}: agent − {base}", fontsize=10)
        ax.set_xlabel("simulated day")
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=7, ncol=2, loc="lower left")
    fig.suptitle("Paired differences against mf (per-seed differences: mean, 95% CI band)")
    fig.tight_layout()
    return fig


#: Cost axes of the frontier: (metric, axis label).
COST_AXES = (
    ("ms_per_request", "ms per request (recommend, wall)"),
    ("fit_seconds", "fit seconds per run (all retrains, wall)"),
    ("flops_per_request", "model FLOPs per request (estimate)"),
)
#: Outcome axes of the frontier.
OUTCOME_AXES = (
    ("retention", "retention of the day-0 cohort at the end"),
    ("revenue", "revenue over the run (currency)"),
)
COST_FLOOR = 1e-3


def frontier_figure(plt, study: Study):  # noqa: ANN001, ANN201 - matplotlib is optional
    """Long-term outcome against compute cost: one point per agent and encoder scale."""
    Line2D = plt.Line2D  # the matplotlib class, through the lazy import
    totals = study.result.totals
    family = study.agents.set_index("label")["family"]
    labels = [x for x in study.labels if family[x] != "reference" or x == "popularity"]
    fig, axes = plt.subplots(
        len(OUTCOME_AXES), len(COST_AXES), figsize=(15.0, 4.3 * len(OUTCOME_AXES)), squeeze=False
    )
    for r, (ym, ylabel) in enumerate(OUTCOME_AXES):
        for c, (xm, xlabel) in enumerate(COST_AXES):
            ax = axes[r][c]
            xs, ys = [], []
            for label in labels:
                x, _ = agent_mean_ci(totals, label, xm)
                y, yci = agent_mean_ci(totals, label, ym)
                x = max(x, COST_FLOOR) if math.isfinite(x) else COST_FLOOR
                st = _style(study, label)
                ax.errorbar(
                    x,
                    y,
                    yerr=yci,
                    fmt=st["marker"],
                    color=st["color"],
                    capsize=2,
                    ms=6,
                    mec="black",
                    mew=0.4,
                )
                ax.annotate(label, (x, y), fontsize=6, xytext=(4, 3), textcoords="offset points")
                xs.append(x)
                ys.append(y)
            xs_a, ys_a = np.array(xs), np.array(ys)
            front = pareto_mask(xs_a, ys_a)
            order = np.argsort(xs_a[front])
            ax.step(
                xs_a[front][order],
                ys_a[front][order],
                where="post",
                color="0.2",
                lw=0.9,
                ls="--",
            )
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(plt.NullFormatter())  # minor labels collide
            ax.set_xlabel(f"{xlabel} (log; 0 at {COST_FLOOR:g})", fontsize=9)
            if c == 0:
                ax.set_ylabel(ylabel, fontsize=9)
            ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=COLORS[f], marker="o", ls="", label=f) for f in ("CF", "LM")
    ] + [Line2D([], [], color=COLORS["reference"], marker="o", ls="", label="popularity")]
    handles += [
        Line2D([], [], color="0.3", marker=MARKERS[e], ls="", label=f"encoder: {ENCODER_LABEL[e]}")
        for e in ("tfidf", "minilm", "mpnet")
    ]
    handles.append(Line2D([], [], color="0.2", ls="--", label="cost frontier (Pareto)"))
    axes[0][0].legend(handles=handles, frameon=False, fontsize=7, loc="lower right")
    fig.suptitle(
        f"{study.name}: long-term outcome vs compute cost (mean over seeds, 95% CI of the "
        "outcome; dashed: the frontier, agents no other beats on both)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def warm_cold_figure(plt, study: Study, labels: list[str]):  # noqa: ANN001, ANN201 - matplotlib is optional
    """Warm- and cold-item CTR per agent (the Yuan et al. comparison)."""
    totals = study.result.totals
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    width = 0.38
    for k, (metric, name) in enumerate(
        (("warm_item_ctr", "warm items"), ("cold_item_ctr", "cold items (first 3 days)"))
    ):
        means, cis = zip(*(agent_mean_ci(totals, x, metric) for x in labels), strict=True)
        ax.bar(
            np.arange(len(labels)) + (k - 0.5) * width,
            means,
            width,
            yerr=cis,
            capsize=3,
            label=name,
            color=("C0", "C1")[k],
        )
    ax.set_xticks(np.arange(len(labels)), labels, rotation=20, fontsize=8)
    ax.set_ylabel("CTR (daily mean)")
    ax.set_title("ID vs frozen text vs fine-tuned text on warm and cold items (95% CI)")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
