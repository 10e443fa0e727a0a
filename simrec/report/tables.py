"""The summary tables of a results folder, for the console and for ``report.md``.

Each agent has a row of means ± 95% CI over seeds and, when the scenario names a baseline, a
row beneath it of the paired differences against the baseline (agent - baseline on the same
seeds, mean ± 95% CI: common random numbers make these far narrower than the two CIs
suggest). The metrics shown are the scenario's ``report.metrics``, else
:data:`DEFAULT_METRICS`. No plotting library is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from simrec.errors import ConfigError, suggest
from simrec.metrics import REGISTRY
from simrec.metrics.registry import DerivedView

__all__ = [
    "DEFAULT_METRICS",
    "HORIZON_METRICS",
    "LABELS",
    "check_metrics",
    "console_table",
    "horizon_totals",
    "label_format",
    "markdown_table",
    "pairs_markdown",
]

#: Metric -> (column header, number format), built-in and custom metrics alike: a read-only
#: view derived from each metric's descriptor (:mod:`simrec.metrics.registry`). Names no
#: descriptor declares (an agent's own totals) get their name and ``{:.4g}``.
LABELS: Mapping[str, tuple[str, str]] = DerivedView(
    lambda: {name: (m.label, m.fmt) for name, m in REGISTRY.all().items()}, "LABELS"
)

#: The table when the scenario does not choose one.
DEFAULT_METRICS = (
    "clicks",
    "ctr_early",
    "retention",
    "satisfaction_cohort",
    "rmst_days",
    "revenue",
    "ms_per_request",
)


#: The short-term/long-term table (``report.horizons``): metric -> summed over the first H
#: days (True) or its value on day H - 1 (False).
HORIZON_METRICS = {
    "clicks": True,
    "engagement": True,
    "revenue": True,
    "retention": False,
    "satisfaction_cohort": False,
}


def label_format(metric: str) -> tuple[str, str]:
    """Column header and number format of a metric (``clicks@14`` for the horizon table)."""
    base, at, horizon = metric.partition("@")
    label, fmt = LABELS.get(base, (base, "{:.4g}"))
    if at:
        days = int(horizon)
        label = (
            f"{label.split(' (')[0]}, days 0–{days - 1}"
            if HORIZON_METRICS.get(base, True)
            else f"{label.split(' (')[0]}, day {days - 1}"
        )
    return label, fmt


def horizon_totals(metrics: pd.DataFrame, horizons: Sequence[int]) -> pd.DataFrame:
    """One row per run (``agent``, ``seed``): :data:`HORIZON_METRICS` at each horizon H.

    Columns ``<metric>@<H>``: cumulative metrics summed over days 0..H-1, the others on day
    H - 1 (the same definitions as the whole-run totals, cut at H).
    """
    rows: dict[tuple[str, int], dict[str, float]] = {}
    for (agent, seed, metric), grp in metrics[
        metrics["metric"].isin(list(HORIZON_METRICS))
    ].groupby(["agent", "seed", "metric"], sort=False):
        series = grp.set_index("day")["value"].sort_index()
        row = rows.setdefault((agent, seed), {"agent": agent, "seed": seed})
        for h in horizons:
            if HORIZON_METRICS[metric]:
                row[f"{metric}@{h}"] = float(series.loc[: h - 1].sum())
            else:
                row[f"{metric}@{h}"] = float(series.get(h - 1, float("nan")))
    return pd.DataFrame(list(rows.values()))


def check_metrics(metrics: Sequence[str], summary: pd.DataFrame) -> None:
    """Refuse ``report.metrics`` names the summary does not hold, naming each.

    Raises:
        ConfigError: ``report.metrics[i]`` is unknown (with a suggestion).
    """
    known = sorted(set(summary["metric"])) if not summary.empty else []
    for i, name in enumerate(metrics):
        if name not in known:
            raise ConfigError(
                f"report.metrics[{i}]: {name!r} is not a whole-run metric of these results"
                f"{suggest(name, known)}; known: {', '.join(known)}"
            )


def _cell(summary: pd.DataFrame, agent: str, metric: str, diff: bool) -> str:
    hit = summary[(summary["agent"] == agent) & (summary["metric"] == metric)]
    if hit.empty:
        return "-"
    r = hit.iloc[0]
    fmt = label_format(metric)[1]
    mean, ci = (r["diff_mean"], r["diff_ci95"]) if diff else (r["mean"], r["ci95"])
    if mean != mean:  # NaN
        return "-"
    plain = fmt.replace("+", "")
    if diff or "+" in fmt:  # signed: differences, and metrics that are differences already
        text = ("+" if mean >= 0 else "−") + plain.format(abs(mean))
    else:
        text = plain.format(mean)
    if ci == ci:
        text += " ± " + plain.format(ci)
    return text


def _rows(
    summary: pd.DataFrame, order: Sequence[str], baseline: str, metrics: Sequence[str]
) -> tuple[list[str], list[tuple[str, list[str]]]]:
    header = ["agent", *(label_format(m)[0] for m in metrics)]
    present = set(summary["agent"]) if not summary.empty else set()
    rows: list[tuple[str, list[str]]] = []
    has_diff = bool(baseline) and "diff_mean" in summary.columns
    for agent in [a for a in order if a in present]:
        rows.append(("mean", [agent, *(_cell(summary, agent, m, False) for m in metrics)]))
        if has_diff and agent != baseline:
            cells = [_cell(summary, agent, m, True) for m in metrics]
            rows.append(("diff", [f"  Δ vs {baseline}", *cells]))
    return header, rows


def console_table(
    summary: pd.DataFrame, order: Sequence[str], baseline: str, metrics: Sequence[str]
) -> str:
    """Plain-text table: agents with their means ± CI, paired differences beneath."""
    if summary.empty:
        return "(no finished runs)"
    header, rows = _rows(summary, order, baseline, metrics)
    cells = [header, *(r for _, r in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(
    summary: pd.DataFrame, order: Sequence[str], baseline: str, metrics: Sequence[str]
) -> str:
    """Markdown table: agents in code font, paired-difference rows in italics."""
    header, rows = _rows(summary, order, baseline, metrics)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for kind, cells in rows:
        if kind == "mean":
            cells = [f"`{cells[0]}`", *cells[1:]]
        else:
            cells = [f"*Δ vs `{baseline}`*", *(f"*{c}*" if c != "-" else c for c in cells[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pairs_markdown(pairs: Sequence[tuple[str, str, pd.DataFrame]], metrics: Sequence[str]) -> str:
    """Markdown table of chosen pairs: a row per (agent, against, summary), signed differences.

    Each summary is :func:`~simrec.runner.results.summarize` of the two agents' runs with
    ``against`` as the baseline (columns ``diff_mean``, ``diff_ci95``).
    """
    header = ["agent − against", *(label_format(m)[0] for m in metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for agent, against, summary in pairs:
        cells = [_cell(summary, agent, m, True) for m in metrics]
        lines.append(f"| `{agent}` − `{against}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
