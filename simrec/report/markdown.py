"""``report.md`` of a results folder: the document that states the question and the numbers.

:func:`write_report` verifies the runs of a results folder, summarises them
(:func:`simrec.runner.collect`), draws the figures (:func:`simrec.report.figures.draw_figures`)
and writes ``report.md``, each file atomically. Tables show the scenario's ``report.metrics``
as mean ± 95% CI over seeds, with the paired difference against the baseline beneath
(:mod:`simrec.report.tables`); the optional sections follow the scenario's ``report``
settings (pairs, horizons, Pareto objectives) and the results (survival).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from simrec.config import ScenarioConfig, load_yaml
from simrec.errors import ResultsError, SimrecError
from simrec.report.figures import Output, check_figure_options, draw_figures, pareto_front
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
from simrec.runner.results import MARKER, atomic_write_text, summarize, writing
from simrec.runner.store import ResultsFolder

__all__ = ["horizon_table", "pairs_table", "write_report"]


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
    folder = ResultsFolder(out, "run", "results")
    if not (out / MARKER).is_file() or not (out / "config.yaml").is_file():
        raise ResultsError(
            f"{out}: not a simrec results folder (no {MARKER} or config.yaml); run "
            f"`simrec run SCENARIO --out {out}` first"
        )
    with folder.open(None, exists_ok=True, purpose="simrec report"):
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
                Output(out / "figures", formats, int(dpi)), scenario, result, metrics_shown
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


def _world_sizes(scenario: ScenarioConfig, users: dict | None) -> str:
    """The world's size as the report states it: from the config, or from a run's users."""
    w = scenario.world
    if w.kind == "synthetic":
        return f"{w.users.n_users:,} users at day 0, {w.items.n_items:,} items"
    if users:  # sizes come from the data: read them off a run's user table
        u = next(iter(users.values()))
        return f"from the data: {int(u['cohort'].sum()):,} users at day 0, {len(u):,} in all"
    return "users and items from the data"


def _write(
    output: Output, scenario: ScenarioConfig, result: ScenarioResult, shown: tuple[str, ...]
) -> Path:
    """Draw the figures into ``output`` and write ``report.md`` beside them; its path."""
    names = draw_figures(output, scenario, result)
    metrics, summary = result.metrics, result.summary
    order = [a.key for a in scenario.agents if a.key in set(metrics["agent"])]
    days = scenario.simulation.days
    baseline = scenario.baseline
    present = set(metrics["metric"])
    objectives = scenario.report.pareto
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
