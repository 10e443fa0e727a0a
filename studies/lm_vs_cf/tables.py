"""The study's tables and setup lines: agents, headline metrics, encoder scale, cost, robustness.

Every number is read from the results folders; differences are paired by seed
(:mod:`simrec.report.stats`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from simrec_studies.lm_vs_cf.study import ENCODER_LABEL, WHAT, Study

from simrec.config import ScenarioConfig
from simrec.report.stats import agent_mean_ci, paired_text, pareto_mask
from simrec.report.tables import markdown_table
from simrec.runner.results import read_run
from simrec.sensitivity.analysis import HOLDS_SHARE

__all__ = [
    "HEADLINE",
    "agents_table",
    "budget_line",
    "cost_lines",
    "encoder_lines",
    "headline_table",
    "minutes",
    "robustness_lines",
    "rule_text",
    "scale_lines",
    "seeds_text",
    "timing_line",
]

#: The metrics of the results tables, in order.
HEADLINE = (
    "retention",
    "rmst_days",
    "revenue",
    "satisfaction_cohort",
    "clicks",
    "warm_item_ctr",
    "cold_item_ctr",
    "long_tail_share",
    "homogenization_vs_ideal",
    "ms_per_request",
    "fit_seconds",
)


def minutes(seconds: float) -> str:
    """A wall time in minutes and seconds.

    >>> minutes(61.5)
    '1 min 02 s'
    """
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s"


def budget_line(sc: ScenarioConfig) -> str:
    """The per-retrain training budgets the scenario gives its agents (empty: none)."""
    budgets: dict[str, list[str]] = {}
    for spec in sc.agents:
        params = dict(spec.params) | dict(spec.params.get("mf") or {})
        for key, unit in (("max_clicks", "clicks"), ("max_users", "users' sequences")):
            if key in params:
                budgets.setdefault(f"{params[key]:,} {unit}", []).append(f"`{spec.key}`")
    if not budgets:
        return ""
    parts = [f"{b} ({', '.join(agents)})" for b, agents in budgets.items()]
    return (
        "Per-retrain training budget (each epoch trains on everything logged since the last "
        "retrain plus a uniform replay sample of older data, up to): "
        + "; ".join(parts)
        + "; `bpr`, `als` and `item-knn` use the whole log. "
    )


def timing_line(timings: dict[str, list[dict]], part: str) -> str:
    """The recorded wall time of a part (``timings.json``): one fresh run, or the resumed total."""
    runs = timings.get(part, [])
    ok = [t for t in runs if t.get("exit_code") == 0]
    if not ok:
        return "not timed (no recorded invocation)"
    total = sum(t["seconds"] for t in runs)
    if len(runs) == 1 and runs[0]["fresh"]:
        first = runs[0]
        return (
            f"{minutes(total)} in one fresh run (`{first['command']}`, started {first['started']})"
        )
    return (
        f"{minutes(total)} over {len(runs)} invocations (resumed; the first started "
        f"{runs[0]['started']}, fresh: {runs[0]['fresh']})"
    )


def agents_table(study: Study) -> str:
    """One row per agent: family, encoder, parameter counts (seed 0's ledger), what it is."""
    lines = [
        "| agent | family | encoder | parameters (trainable) | what it is |",
        "|---|---|---|---|---|",
    ]
    for r in study.agents.itertuples():
        params = f"{r.params:,} ({r.trainable:,})" if r.params else "—"
        lines.append(
            f"| `{r.label}` | {r.family} | {ENCODER_LABEL.get(r.encoder, r.encoder)} | "
            f"{params} | {WHAT.get(r.name, '')} |"
        )
    return "\n".join(lines)


def scale_lines(study: Study) -> list[str]:
    """Encoder scale: paired differences between the scales of each LM agent."""
    t = study.result.totals
    lines = [
        "| agent | larger − smaller encoder | retention | revenue | clicks | warm-item CTR |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("lm-content", "lm-cf"):
        scales = {
            r.encoder: r.label
            for r in study.agents.itertuples()
            if r.name == name and r.encoder in ENCODER_LABEL
        }
        for big, small in (("minilm", "tfidf"), ("mpnet", "minilm")):
            if big in scales and small in scales:
                a, b = scales[big], scales[small]
                cells = [
                    paired_text(t, a, b, m)
                    for m in ("retention", "revenue", "clicks", "warm_item_ctr")
                ]
                lines.append(
                    f"| `{name}` | {ENCODER_LABEL[big]} − {ENCODER_LABEL[small]} | "
                    + " | ".join(cells)
                    + " |"
                )
    return lines


def cost_lines(study: Study) -> list[str]:
    """Cost of each agent relative to mf, and the agents on the frontier."""
    t, base = study.result.totals, study.scenario.baseline
    rows = [
        "| agent | ms/request | × `mf` | fit s per run | × `mf` | FLOPs/request "
        "| retention (end) | on the frontier (ms/request vs retention)? |",
        "|---|---|---|---|---|---|---|---|",
    ]
    labels = [x for x in study.labels if x != "oracle"]
    ms = np.array([agent_mean_ci(t, x, "ms_per_request")[0] for x in labels])
    ret = np.array([agent_mean_ci(t, x, "retention")[0] for x in labels])
    front = pareto_mask(ms, ret)
    ms_base = agent_mean_ci(t, base, "ms_per_request")[0]
    fit_base = agent_mean_ci(t, base, "fit_seconds")[0]
    for k, x in enumerate(labels):
        fit = agent_mean_ci(t, x, "fit_seconds")[0]
        fl = agent_mean_ci(t, x, "flops_per_request")[0]
        rows.append(
            f"| `{x}` | {ms[k]:.3f} | {ms[k] / ms_base:.1f} | {fit:,.0f} | "
            f"{(fit / fit_base) if fit_base else math.nan:.1f} | {fl:.3g} | {ret[k]:.3f} | "
            f"{'yes' if front[k] else ''} |"
        )
    return rows


def encoder_lines(study: Study) -> list[str]:
    """Encoding throughput per encoder, from every run's ledger (cache misses only)."""
    seconds: dict[str, float] = {}
    texts: dict[str, int] = {}
    for spec in study.scenario.agents:
        for seed in study.scenario.seeds:
            _, _, cost = read_run(study.out, spec.key, seed)
            extra = cost.get("extra", {})
            if not extra.get("texts_encoded"):
                continue
            key = f"{extra['encoder']} (fine-tuned)" if spec.name == "lm-ft" else extra["encoder"]
            seconds[key] = seconds.get(key, 0.0) + float(extra["encoder_seconds"])
            texts[key] = texts.get(key, 0) + int(extra["texts_encoded"])
    lines = [
        "| encoder | texts encoded (all runs) | seconds | texts per second |",
        "|---|---|---|---|",
    ]
    for key in sorted(seconds):
        rate = texts[key] / seconds[key] if seconds[key] > 0 else math.nan
        lines.append(f"| {key} | {texts[key]:,} | {seconds[key]:,.1f} | {rate:,.0f} |")
    return lines


def _old_rule(sens: Path) -> bool:
    """Whether the analysis in ``sens`` was made under the rule before issue 35.

    Its ``robustness.csv`` has no ``share_significant`` column.
    """
    path = sens / "robustness.csv"
    return path.is_file() and "share_significant" not in pd.read_csv(path, nrows=0).columns


def seeds_text(sens: Path) -> str:
    """The seeds of the sensitivity analysis in ``sens`` (its ``sensitivity.yaml``)."""
    path = sens / "sensitivity.yaml"
    if not path.is_file():
        return "seeds unknown (no sensitivity.yaml)"
    seeds = yaml.safe_load(path.read_text()).get("seeds", [])
    return "one seed" if len(seeds) == 1 else f"{len(seeds)} seeds {seeds}"


def rule_text(sens: Path) -> str:
    """The rule the verdicts of the analysis in ``sens`` were made under."""
    if _old_rule(sens):
        return (
            "**These verdicts were made under the old rule** (before issue 35, which now "
            "refuses one seed): a conclusion **holds** when its sign is the same at every "
            "design point, **flips** when it is reversed somewhere in the plausible range "
            "(with one seed per point there is no CI: a reversal counts by its sign, so a "
            "small difference flips on noise alone)."
        )
    return (
        "A conclusion is significant at a point when its 95% CI over the seeds excludes "
        "zero; it **holds** when it is significant at the scenario's settings and, with its "
        f"sign, at ≥ {HOLDS_SHARE:.0%} of the design points; it **flips** when it is "
        "significantly reversed at some point of the plausible range; otherwise it "
        "**weakens** (or there is **no conclusion** at the scenario's settings)."
    )


def robustness_lines(sens: Path) -> list[str]:
    """The verdicts of the sensitivity analysis for the conclusions against mf."""
    path = sens / "robustness.csv"
    if not path.is_file():
        return [f"(no sensitivity analysis in {sens})"]
    rob = pd.read_csv(path)
    rob = rob[rob["b"] == "mf"]
    significant = "share_significant" in rob.columns
    lines = [
        "| conclusion | metric | difference at the scenario's settings | verdict "
        + ("| nominal sign at | significant at " if significant else "| holds at ")
        + "| reversed at | driven by | flips when |",
        "|---|---|---|---|---|---|---|---|" + ("---|" if significant else ""),
    ]
    for r in rob.itertuples():
        ci = f" ± {r.nominal_ci95:.3g}" if np.isfinite(r.nominal_ci95) else " (one seed)"
        lines.append(
            f"| {r.conclusion} | {r.metric} | {r.nominal_diff:+.4g}{ci} | "
            f"**{r.verdict}** | {r.share_holds:.0%} | "
            + (f"{r.share_significant:.0%} | " if significant else "")
            + f"{r.share_reversed:.0%} | "
            f"`{r.driver}` | {r.flips_when if isinstance(r.flips_when, str) else ''} |"
        )
    return lines


def headline_table(study: Study, labels: list[str]) -> str:
    """The :data:`HEADLINE` metrics: mean ± CI per agent, the paired difference beneath."""
    return markdown_table(study.result.summary, labels, study.scenario.baseline, HEADLINE)
