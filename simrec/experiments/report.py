"""The report of an A/B experiment: ``ab_report.md`` and ``figures/ab_bias.png``."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from simrec.config import ScenarioConfig
from simrec.errors import DependencyNotInstalled
from simrec.runner.results import atomic_write_bytes, atomic_write_text

__all__ = ["save_png", "write_ab_report"]


def _pm(mean: float, half: float, digits: int = 4) -> str:
    if math.isnan(half):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {half:.2g}"


def _relative(row: pd.Series, column: str, base: float) -> str:
    return f"{100.0 * row[column] / base:+.1f}%" if base else "n/a"


def _table(summary: pd.DataFrame, per_seed: pd.DataFrame) -> str:
    base = per_seed.groupby("metric", sort=False)["control_test"].mean()
    head = (
        "| metric | A/B estimate (T) | test's 95% CI ± | truth at T | truth at the end | bias "
        "| of which interference | of which short horizon | test's CI covers truth at T / end | "
        "long-running holdout's interference |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for _, r in summary.iterrows():
        b = float(base[r["metric"]])
        naive = f" (naive {1.96 * r['se_naive']:.3g})" if r["se"] != r["se_naive"] else ""
        lines.append(
            f"| {r['metric']} | {_pm(r['estimate'], r['estimate_ci95'])} "
            f"({_relative(r, 'estimate', b)}) | {1.96 * r['se']:.3g}{naive} "
            f"| {_pm(r['truth_test'], r['truth_test_ci95'])} "
            f"({_relative(r, 'truth_test', b)}) | {_pm(r['truth_end'], r['truth_end_ci95'])} "
            f"| {_pm(r['bias'], r['bias_ci95'])} "
            f"| {_pm(r['bias_interference'], r['bias_interference_ci95'])} "
            f"| {_pm(r['bias_horizon'], r['bias_horizon_ci95'])} "
            f"| {r['covers_truth_test']:.0%} / {r['covers_truth_end']:.0%} "
            f"| {_pm(r['holdout_interference'], r['holdout_interference_ci95'])} |"
        )
    return head + "\n".join(lines)


def _figure(summary: pd.DataFrame, per_seed: pd.DataFrame, out: Path) -> Path:
    from simrec.report import pyplot

    plt = pyplot()
    base = per_seed.groupby("metric", sort=False)["control_test"].mean()
    metrics = list(summary["metric"])
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.0 * len(metrics), 3.2))
    kinds = [
        ("estimate", "A/B estimate", "#4477aa"),
        ("truth_test", "truth at T", "#228833"),
        ("truth_end", "truth at the end", "#cc3311"),
    ]
    for ax, (_, r) in zip(np.atleast_1d(axes), summary.iterrows(), strict=True):
        b = float(base[r["metric"]]) or 1.0
        for x, (col, name, color) in enumerate(kinds):
            half = r[f"{col}_ci95"]
            ax.bar(x, 100.0 * r[col] / b, color=color, label=name,
                   yerr=None if math.isnan(half) else 100.0 * half / b, capsize=3)  # fmt: skip
        ax.axhline(0.0, color="black", linewidth=0.7)
        ax.set_xticks([])
        ax.set_title(r["metric"], fontsize=10)
        ax.set_ylabel("effect, % of control at T")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_png(fig, out / "figures" / "ab_bias.png")


def save_png(fig, path: Path) -> Path:  # noqa: ANN001 - a matplotlib figure
    """Write ``fig`` to ``path`` as PNG atomically (no timestamp in it); close the figure."""
    import io

    from simrec.report import pyplot

    plt = pyplot()

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _warnings(summary: pd.DataFrame) -> str:
    """The summary's warnings as a paragraph of the report ('' without any), and on stderr."""
    if "warning" not in summary:
        return ""
    found = [str(w) for w in dict.fromkeys(summary["warning"]) if isinstance(w, str) and w]
    if not found:
        return ""
    for text in found:
        logging.getLogger("simrec.experiments").warning("A/B report: %s", text)
    return "\n" + "\n".join(f"**Warning: {text}.**" for text in found) + "\n"


def write_ab_report(
    scenario: ScenarioConfig, summary: pd.DataFrame, per_seed: pd.DataFrame, out: Path
) -> Path:
    """Write ``ab_report.md`` (and the figure, when matplotlib is installed); return its path."""
    ab = scenario.ab
    days = scenario.simulation.days
    channels = []
    if scenario.dynamics.trend_weight:
        channels.append(
            f"users see the platform-wide trending signal (dynamics.trend_weight = "
            f"{scenario.dynamics.trend_weight})"
        )
    if ab.shared_training:
        channels.append("both arms' agents learn from every arm's logs (ab.shared_training)")
    if scenario.world.kind == "social":
        cross = float(summary["cross_edges"].mean())
        channels.append(
            "users share clicks with their followers (world.kind: social; "
            f"{cross:.0%} of the follow edges join the two arms)"
        )
    ci_text = (
        "cluster-robust (clusters independent, users within them not)"
        if ab.unit == "cluster"
        else "the naive one a platform computes (Welch, users independent)"
    )
    channel_text = "; ".join(channels) or "none (the arms share only the catalog)"
    warnings = _warnings(summary)
    try:
        figure = _figure(summary, per_seed, out)
        fig_line = f"\n![effects]({figure.relative_to(out)})\n"
    except DependencyNotInstalled as err:
        fig_line = f"\n(no figure: {err})\n"
    text = f"""# A/B test: {ab.treatment} (treatment) vs {ab.control} (control)

Scenario `{scenario.name}`: {scenario.question or "(no question given)"}
{warnings}
A {ab.days}-day test with {ab.share:.0%} of users (unit: {ab.unit}) in the treatment arm,
inside one population that shares the world, against the truth: each agent on every user
with the same seeds ({len(scenario.seeds)} seeds: {list(scenario.seeds)}), over the
scenario's {days} days. Interference channels: {channel_text}.

Metrics are means over the day-0 cohort's users in a window of {ab.days} days: the test
(days 0-{ab.days - 1}) and the end (days {days - ab.days}-{days - 1}). Means ± 95% CI over
seeds; in brackets, relative to the control's mean in the test. Bias = A/B estimate -
truth at the end = interference (estimate - truth at T) + short horizon (truth at T - truth
at the end). The test's CI is {ci_text}; its coverage is the share of seeds where it holds
the truth. The long-running holdout column is
the arms' difference at the end in the same A/B population, minus the truth at the end.

{_table(summary, per_seed)}
{fig_line}
Per seed: `ab_seeds.csv`; these means: `ab_summary.csv`.
"""
    path = out / "ab_report.md"
    atomic_write_text(path, text)
    return path


def ope_figure(per_seed: pd.DataFrame, out: Path) -> Path:
    """``figures/ope_estimates.png``: each estimator's estimates per seed against the truth."""
    from simrec.report import pyplot

    plt = pyplot()
    metrics = list(dict.fromkeys(per_seed["metric"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        g = per_seed[per_seed.metric == metric]
        names = list(dict.fromkeys(g["estimator"]))
        for x, name in enumerate(names):
            e = g[g.estimator == name]
            ax.errorbar(
                np.full(len(e), x) + np.linspace(-0.15, 0.15, len(e)), e["estimate"],
                yerr=[e["estimate"] - e["ci_low"], e["ci_high"] - e["estimate"]],
                fmt="o", markersize=3, capsize=2, color="#4477aa",
            )  # fmt: skip
        truth = g.groupby("seed")["truth"].first()
        ax.axhspan(truth.min(), truth.max(), color="#cc3311", alpha=0.25, label="truth (seeds)")
        logged = g.groupby("seed")["logging_value"].first().mean()
        ax.axhline(logged, color="grey", linestyle="--", linewidth=1, label="logging policy")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=10)
    axes[0][0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_png(fig, out / "figures" / "ope_estimates.png")


def _nan_notes(summary: pd.DataFrame) -> list[str]:
    """Why a cell of the report is nan (never a silent NaN): lines of the report."""
    notes = []
    if summary["sd"].isna().any() and (summary["seeds"] < 2).any():
        notes.append("one seed: no standard deviation over seeds (sd is nan); run two or more")
    empty = summary[summary["estimate"].isna()]
    if len(empty):
        names = ", ".join(dict.fromkeys(f"{r.metric} {r.estimator}" for r in empty.itertuples()))
        why = "; ".join(dict.fromkeys(n for n in empty.get("note", []) if isinstance(n, str) and n))
        notes.append(f"no estimate ({names}): {why or 'see the note column of ope_seeds.csv'}")
    return ["", *(f"**Warning: {n}.**" for n in notes)] if notes else []


def ope_report(scenario: ScenarioConfig, summary: pd.DataFrame, figure: Path | None = None) -> str:
    """The markdown report of an OPE study."""
    o = scenario.ope
    lines = [
        f"# Off-policy evaluation: {o.target} (target) from the logs of {o.logging}",
        "",
        f"Scenario `{scenario.name}`: {scenario.question or '(no question given)'}",
        "",
        f"{len(scenario.seeds)} seeds; {scenario.simulation.days} days; slates of "
        f"{scenario.simulation.slate_size}. The truth is the target policy run on the same "
        "seed; bias, standard deviation and RMSE are over seeds; coverage is the share of "
        "seeds whose bootstrap 95% CI (obp) holds the truth; ESS is the effective sample "
        "size of the importance weights ((sum w)^2 / sum w^2).",
        "",
        "| metric | estimator | truth | logging policy's value | estimate | bias | sd | RMSE "
        "| CI coverage | ESS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        lines.append(
            f"| {r['metric']} | {r['estimator']} | {r['truth']:.4g} | {r['logging_value']:.4g} "
            f"| {r['estimate']:.4g} | {r['bias']:+.3g} | {r['sd']:.3g} | {r['rmse']:.3g} "
            f"| {r['coverage']:.0%} | {r['ess']:.4g} |"
        )
    lines += _nan_notes(summary)
    if figure is not None:
        lines += ["", f"![estimates]({figure.parent.name}/{figure.name})"]
    lines += ["", "Per seed: `ope_seeds.csv`; these rows: `ope_summary.csv`.", ""]
    return "\n".join(lines)
