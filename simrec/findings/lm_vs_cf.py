r"""Language-model vs collaborative-filtering recommenders over six months: the study.

``python -m simrec.findings.lm_vs_cf run --results DIR`` runs the study's three parts, each
resumable, into ``DIR/synthetic`` (``scenarios/lm_vs_cf_long_term.yaml``: 17 agents x 4 seeds
x 180 days), ``DIR/movielens`` (``scenarios/lm_vs_cf_movielens.yaml``, the MovieLens-100K
world) and ``DIR/sensitivity`` (``simrec sensitivity`` over the synthetic scenario's
``uncertain`` ranges, for the headline agents), recording the wall time of every invocation in
``DIR/timings.json``. ``... report --results DIR --doc docs/findings/lm_vs_cf.md`` writes the
findings document and its figures from those folders alone (verified runs only), so every
number in the document is read from them; ``make lm-vs-cf`` does both.

The document's statements are generated from the numbers with fixed rules (a difference is
"higher" or "lower" only when its 95% CI over seeds excludes zero), so a re-run with other
results rewrites them consistently. matplotlib is imported lazily, through
:mod:`simrec.report`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from simrec.config import ScenarioConfig, load_yaml
from simrec.errors import ResultsError, SimrecError
from simrec.report import Output, daily_bands, paired_bands, pyplot, survival_figure
from simrec.report.tables import label_format, markdown_table
from simrec.runner import ScenarioResult, collect
from simrec.runner.results import atomic_write_text, lock_folder, read_run, writing
from simrec.runner.results import mean_ci as summary_mean_ci

__all__ = ["PARTS", "main", "run_study", "write_findings"]

SYNTHETIC = "scenarios/lm_vs_cf_long_term.yaml"
MOVIELENS = "scenarios/lm_vs_cf_movielens.yaml"
#: Agents of the sensitivity analysis: the baseline and the three LM agents that decide the
#: headline answer (one seed: see :data:`PARTS`).
SENSITIVITY_AGENTS = ("mf", "lm-content", "lm-cf", "lm-hybrid")

#: Part -> the ``simrec`` command line that produces ``DIR/<part>`` (``{out}``, ``{workers}``).
PARTS: dict[str, tuple[str, ...]] = {
    "synthetic": ("run", SYNTHETIC, "--out", "{out}", "--resume", "--workers", "{workers}"),
    "movielens": ("run", MOVIELENS, "--out", "{out}", "--resume", "--workers", "{workers}"),
    "sensitivity": (
        "sensitivity",
        SYNTHETIC,
        "--out",
        "{out}",
        "--resume",
        "--workers",
        "{workers}",
        "--agents",
        ",".join(SENSITIVITY_AGENTS),
        "--seeds",
        "0",
        "--samples",
        "2",
        "--metrics",
        "retention,rmst_days,revenue,clicks,satisfaction_cohort",
    ),
}

#: Registered agent name -> family in the tables and figures.
FAMILY = {
    "popularity": "reference",
    "oracle": "reference",
    "mf": "CF",
    "bpr": "CF",
    "als": "CF",
    "item-knn": "CF",
    "ncf": "CF",
    "seq": "CF",
    "lm-content": "LM",
    "lm-cf": "LM",
    "lm-ft": "LM",
    "lm-hybrid": "LM",
    "lm-seq": "LM",
}
#: What each agent is, in a few words.
WHAT = {
    "popularity": "most clicked items of the last 7 days",
    "oracle": "reads the hidden state: true utility of each item (the ideal)",
    "mf": "BPR matrix factorisation, torch, warm-started daily (the baseline)",
    "bpr": "BPR matrix factorisation from `implicit`",
    "als": "weighted ALS (Hu et al. 2008) from `implicit`",
    "item-knn": "item-item cosine neighbours of the user's clicks",
    "ncf": "neural CF (GMF + MLP)",
    "seq": "SASRec-style transformer over the click history, learned item IDs",
    "lm-content": (
        "encoder vectors of item text; user = recency-weighted clicked vectors + profile text"
    ),
    "lm-cf": "`mf` whose item embedding is an adapter over frozen encoder vectors",
    "lm-ft": "`lm-cf` with the encoder's top layer fine-tuned end to end on the logs",
    "lm-hybrid": "`mf` and `lm-content` blended, moving to CF as an item gathers data",
    "lm-seq": "`seq` with item inputs from an adapter over frozen encoder vectors",
}
LM_AGENTS = ("lm-content", "lm-cf", "lm-ft", "lm-hybrid", "lm-seq")
FIGURE_AGENTS = (
    "popularity",
    "oracle",
    "mf",
    "bpr",
    "seq",
    "lm-content",
    "lm-cf",
    "lm-ft",
    "lm-hybrid",
    "lm-seq",
)
ENCODER_LABEL = {"tfidf": "TF-IDF + SVD", "minilm": "MiniLM-L6", "mpnet": "MPNet-base", "": "—"}
MARKERS = {"": "o", "tfidf": "s", "minilm": "^", "mpnet": "D"}
COLORS = {"reference": "0.45", "CF": "C0", "LM": "C3"}


# ---------------------------------------------------------------------------------- running


def _timings_path(results: Path) -> Path:
    return results / "timings.json"


def read_timings(results: Path) -> dict[str, list[dict]]:
    """``DIR/timings.json``: part -> the invocations that ran it (empty if none)."""
    path = _timings_path(results)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ResultsError(f"{path}: not valid JSON ({err})") from None


def run_study(
    results: Path | str, parts: Sequence[str] = tuple(PARTS), workers: int = 2
) -> dict[str, list[dict]]:
    """Run (or resume) the parts of the study into ``results/<part>``, timing each.

    Each part is the ``simrec`` command of :data:`PARTS`, run in this process; its wall time,
    start and whether the folder was fresh are appended to ``results/timings.json``
    (atomically) whether it succeeds or fails.
    """
    from simrec.cli import main as simrec_main

    results = Path(results)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SimrecError(f"--parts: unknown part(s) {unknown}; known: {', '.join(PARTS)}")
    with writing(f"--results {results}"):
        results.mkdir(parents=True, exist_ok=True)
    timings = read_timings(results)
    for part in parts:
        out = results / part
        argv = [a.format(out=out, workers=workers) for a in PARTS[part]]
        fresh = not out.exists()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        code = simrec_main(argv)
        entry = {
            "started": started,
            "seconds": round(time.perf_counter() - t0, 1),
            "fresh": fresh,
            "exit_code": code,
            "command": "simrec " + " ".join(argv),
        }
        timings.setdefault(part, []).append(entry)
        atomic_write_text(_timings_path(results), json.dumps(timings, indent=1) + "\n")
        if code != 0:
            raise SimrecError(f"{part}: `simrec {' '.join(argv)}` failed (exit code {code})")
    return timings


# ---------------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class Study:
    """One results folder read back: the scenario, the verified runs, agent descriptions."""

    name: str
    out: Path
    scenario: ScenarioConfig
    result: ScenarioResult
    agents: pd.DataFrame  # label, name, family, encoder, params, trainable, encoder_s

    @property
    def days(self) -> int:
        """The horizon."""
        return self.scenario.simulation.days

    @property
    def labels(self) -> list[str]:
        """Agent labels in scenario order."""
        return list(self.agents["label"])

    def main_labels(self) -> list[str]:
        """One label per agent kind: MiniLM for the language models, no encoder variants."""
        return [r.label for r in self.agents.itertuples() if r.encoder in ("", "minilm")]

    def figure_labels(self) -> list[str]:
        """The agents drawn over time, ten so that each has its own colour.

        The references, the baseline, one library and one sequential CF model, and the MiniLM
        language-model agents; every agent is in the tables and the cost frontier.
        """
        return [x for x in FIGURE_AGENTS if x in set(self.labels)]


def load_study(name: str, out: Path) -> Study:
    """Read and verify a results folder of the study (every planned run must be there)."""
    if not (out / "config.yaml").is_file():
        raise ResultsError(
            f"{out}: no results ({name} part of the study); run "
            f"`python -m simrec.findings.lm_vs_cf run --results {out.parent}` first"
        )
    with lock_folder(out, "the lm_vs_cf findings"):
        scenario = load_yaml(out / "config.yaml")
        result = collect(scenario, out)
        rows = []
        for spec in scenario.agents:
            _, _, cost = read_run(out, spec.key, scenario.seeds[0])
            extra = cost.get("extra", {})
            encoder = ""
            if spec.name in LM_AGENTS:
                encoder = str(spec.params.get("encoder", "minilm"))
            rows.append(
                {
                    "label": spec.key,
                    "name": spec.name,
                    "family": FAMILY.get(spec.name, "other"),
                    "encoder": encoder,
                    "params": int(cost.get("params", 0)),
                    "trainable": int(cost.get("trainable_params", 0)),
                    "frozen": int(extra.get("frozen_params", 0)),
                }
            )
    return Study(name, out, scenario, result, pd.DataFrame(rows))


def paired(totals: pd.DataFrame, a: str, b: str, metric: str) -> tuple[float, float, int]:
    """Mean, 95% CI half-width and seeds of ``a - b`` on ``metric``, paired by seed."""
    wide = totals.pivot(index="seed", columns="agent", values=metric)
    if a not in wide or b not in wide:
        return math.nan, math.nan, 0
    d = (wide[a] - wide[b]).to_numpy(float)
    r = summary_mean_ci(d)
    return r["mean"], r["ci95"], int(np.count_nonzero(~np.isnan(d)))


def mean_ci(totals: pd.DataFrame, agent: str, metric: str) -> tuple[float, float]:
    """Mean and 95% CI half-width over seeds of one agent's whole-run ``metric``.

    A single seed gets a CI of 0, so the figures draw no bar.
    """
    x = totals.loc[totals["agent"] == agent, metric].to_numpy(float)
    r = summary_mean_ci(x)
    return r["mean"], (0.0 if np.count_nonzero(~np.isnan(x)) == 1 else r["ci95"])


def direction(mean: float, ci: float) -> int:
    """+1 / -1 when the 95% CI excludes zero on that side, else 0."""
    if not (math.isfinite(mean) and math.isfinite(ci)):
        return 0
    return 1 if mean - ci > 0 else -1 if mean + ci < 0 else 0


def _fmt(value: float, metric: str, signed: bool = False) -> str:
    """A number in the metric's format, with its sign when ``signed``."""
    if not math.isfinite(value):
        return "–"
    text = label_format(metric)[1].replace("+", "").format(abs(value) if signed else value)
    return (("+" if value >= 0 else "−") + text) if signed else text


#: Shares reported as percentage points in differences.
POINTS = frozenset({"retention", "satisfaction_cohort", "long_tail_share", "coverage"})


def diff_text(totals: pd.DataFrame, a: str, b: str, metric: str) -> str:
    """``+3.1 ± 1.2 points`` (paired mean ± 95% CI)."""
    m, ci, _ = paired(totals, a, b, metric)
    if not math.isfinite(m):
        return "–"
    if metric in POINTS:
        half = f"{ci * 100:.1f}" if math.isfinite(ci) else "–"
        return f"{'+' if m >= 0 else '−'}{abs(m) * 100:.1f} ± {half} points"
    half = _fmt(ci, metric) if math.isfinite(ci) else "–"
    return f"{_fmt(m, metric, signed=True)} ± {half}"


# ---------------------------------------------------------------------------------- figures


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


def _over_time_figure(plt, study: Study, labels: list[str]):  # noqa: ANN001, ANN202
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


def _paired_time_figure(plt, study: Study, labels: list[str]):  # noqa: ANN001, ANN202
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


def pareto(costs: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Mask of the points no other point beats on both (lower cost, higher outcome).

    >>> pareto(np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.4, 0.9])).tolist()
    [True, False, True]
    """
    keep = np.ones(len(costs), dtype=bool)
    for i in range(len(costs)):
        better = (costs <= costs[i]) & (outcomes >= outcomes[i])
        strictly = (costs < costs[i]) | (outcomes > outcomes[i])
        keep[i] = not (better & strictly).any()
    return keep


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


def _frontier_figure(plt, study: Study):  # noqa: ANN001, ANN202
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
                x, _ = mean_ci(totals, label, xm)
                y, yci = mean_ci(totals, label, ym)
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
            front = pareto(xs_a, ys_a)
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


def _warm_cold_figure(plt, study: Study, labels: list[str]):  # noqa: ANN001, ANN202
    """Warm- and cold-item CTR per agent (the Yuan et al. comparison)."""
    totals = study.result.totals
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    width = 0.38
    for k, (metric, name) in enumerate(
        (("warm_item_ctr", "warm items"), ("cold_item_ctr", "cold items (first 3 days)"))
    ):
        means, cis = zip(*(mean_ci(totals, x, metric) for x in labels), strict=True)
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


# ---------------------------------------------------------------------------------- text


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


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s"


def _budget_line(sc: ScenarioConfig) -> str:
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


def _timing_line(timings: dict[str, list[dict]], part: str) -> str:
    runs = timings.get(part, [])
    ok = [t for t in runs if t.get("exit_code") == 0]
    if not ok:
        return "not timed (no recorded invocation)"
    total = sum(t["seconds"] for t in runs)
    if len(runs) == 1 and runs[0]["fresh"]:
        first = runs[0]
        return (
            f"{_minutes(total)} in one fresh run (`{first['command']}`, started {first['started']})"
        )
    return (
        f"{_minutes(total)} over {len(runs)} invocations (resumed; the first started "
        f"{runs[0]['started']}, fresh: {runs[0]['fresh']})"
    )


def _agents_table(study: Study) -> str:
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


def _survival_rows(study: Study, labels: list[str]) -> str:
    s = study.result.survival
    if s is None or s.empty:
        return "(no survival table)"
    s = s.set_index("agent")
    lines = [
        f"| agent | RMST (d) | hazard ratio of churn vs `{study.scenario.baseline}` (95% CI) | p |",
        "|---|---|---|---|",
    ]
    for label in labels:
        if label not in s.index:
            continue
        r = s.loc[label]
        hr = (
            "–"
            if r["hr"] != r["hr"]
            else f"{r['hr']:.2f} ({r['hr_lower']:.2f}–{r['hr_upper']:.2f})"
        )
        p = "–" if r["p"] != r["p"] else f"{r['p']:.2g}"
        lines.append(f"| `{label}` | {r['rmst_days']:.1f} | {hr} | {p} |")
    return "\n".join(lines)


def _hr(study: Study, label: str) -> tuple[float, float, float]:
    s = study.result.survival
    if s is None or label not in set(s["agent"]):
        return math.nan, math.nan, math.nan
    r = s.set_index("agent").loc[label]
    return float(r["hr"]), float(r["hr_lower"]), float(r["hr_upper"])


def answer_lines(study: Study) -> list[str]:
    """The plain answer for one world, from the numbers (rules in the module docstring)."""
    t, base = study.result.totals, study.scenario.baseline
    lines = []
    lm = [
        x for x in study.main_labels() if study.agents.set_index("label").loc[x, "family"] == "LM"
    ]
    better, worse, level = [], [], []
    for label in lm:
        d = direction(*paired(t, label, base, "retention")[:2])
        hr = _hr(study, label)
        what = f"`{label}` {diff_text(t, label, base, 'retention')}"
        if math.isfinite(hr[0]):
            what += f" (hazard ratio {hr[0]:.2f}, {hr[1]:.2f}–{hr[2]:.2f})"
        (better if d > 0 else worse if d < 0 else level).append(what)
    lines.append(
        f"**Retention after {study.days} days, against `{base}`.** "
        + "; ".join(
            x
            for x in (
                ("keep more users: " + ", ".join(better)) if better else "",
                ("keep fewer: " + ", ".join(worse)) if worse else "",
                ("level within the CI: " + ", ".join(level)) if level else "",
            )
            if x
        )
        + "."
    )
    rev = []
    for label in lm:
        rev.append(f"`{label}` {diff_text(t, label, base, 'revenue')}")
    lines.append(f"**Revenue over the run, against `{base}`:** " + "; ".join(rev) + ".")
    lines.append(cold_line(study, lm))
    homog = [f"`{x}` {diff_text(t, x, base, 'homogenization_vs_ideal')}" for x in lm]
    tail = [f"`{x}` {diff_text(t, x, base, 'long_tail_share')}" for x in lm]
    lines.append(
        "**Homogenization (Jaccard of paired users' items minus the ideal's), against "
        f"`{base}`:** " + "; ".join(homog) + ". **Long-tail share:** " + "; ".join(tail) + "."
    )
    return lines


def in_short(study: Study) -> str:
    """One paragraph of the answer, from the numbers.

    Who keeps the most users, how the LM agents compare with the baseline, what a larger
    encoder and fine-tuning buy, and which agents are on the cost frontier.
    """
    t, base = study.result.totals, study.scenario.baseline
    rows = study.agents.set_index("label")
    learners = [x for x in study.labels if rows.loc[x, "family"] != "reference"]
    ret = {x: mean_ci(t, x, "retention")[0] for x in learners}
    top = sorted(ret, key=ret.get, reverse=True)[:2]
    lm = [x for x in learners if rows.loc[x, "family"] == "LM"]
    ahead = [x for x in lm if direction(*paired(t, x, base, "retention")[:2]) > 0]
    behind = [x for x in lm if direction(*paired(t, x, base, "retention")[:2]) < 0]

    def scale_gains(metric: str) -> list[str]:
        """Larger-over-smaller encoder pairs with a significant gain on ``metric``."""
        out = []
        for name in ("lm-content", "lm-cf"):
            scales = {r.encoder: r.label for r in study.agents.itertuples() if r.name == name}
            for small, large in (("tfidf", "minilm"), ("minilm", "mpnet")):
                if small in scales and large in scales:
                    d = direction(*paired(t, scales[large], scales[small], metric)[:2])
                    if d > 0:
                        out.append(f"`{name}` {ENCODER_LABEL[large]} over {ENCODER_LABEL[small]}")
        return out

    gains, click_gains = scale_gains("retention"), scale_gains("clicks")
    served = [*learners, "popularity"] if "popularity" in rows.index else learners
    ms = np.array([mean_ci(t, x, "ms_per_request")[0] for x in served])
    rv = np.array([mean_ci(t, x, "retention")[0] for x in served])
    front = [x for x, f in zip(served, pareto(ms, rv), strict=True) if f]
    text = (
        f"In short: after {study.days} days {len(ahead)} of the {len(lm)} text-based agents "
        f"(the language-model agents at every encoder scale, TF-IDF included) keep "
        f"significantly more users than `{base}`"
        + (f" ({len(behind)} keep fewer)" if behind else " and none keeps fewer")
        + f"; the most users are kept by {' and '.join(f'`{x}`' for x in top)}. "
    )
    cf = [x for x in learners if rows.loc[x, "family"] == "CF" and x != base]
    if cf:
        best = max(cf, key=lambda x: ret[x])
        main_lm = [x for x in study.main_labels() if rows.loc[x, "family"] == "LM"]
        verdict = {1: "ahead of", -1: "behind", 0: "level with"}
        text += (
            f"The strongest CF agent on retention is `{best}` "
            f"({diff_text(t, best, base, 'retention')} against `{base}`); against it, "
            + "; ".join(
                f"`{x}` {diff_text(t, x, best, 'retention')} "
                f"({verdict[direction(*paired(t, x, best, 'retention')[:2])]})"
                for x in main_lm
            )
            + ". "
        )
    text += (
        "A larger encoder brought a significant retention gain for " + ", ".join(gains) + ". "
        if gains
        else "No larger encoder brought a significant retention gain over a smaller one"
        + (
            f" (on clicks: {', '.join(click_gains)}). "
            if click_gains
            else ", nor a gain in clicks. "
        )
    )
    if {"lm-ft", "lm-cf"} <= set(study.labels):
        d = direction(*paired(t, "lm-ft", "lm-cf", "retention")[:2])
        text += (
            "Fine-tuning the encoder's top layer "
            + {1: "raised", -1: "lowered", 0: "did not change (within the CI)"}[d]
            + " retention against the frozen encoder. "
        )
    text += (
        "On serving cost against retention the frontier is "
        + ", ".join(f"`{x}`" for x in front)
        + "."
    )
    return text


def cold_line(study: Study, agents: Sequence[str]) -> str:
    """Cold items: who shows them (clicks on items in their first 3 days) and their CTR."""
    t, base = study.result.totals, study.scenario.baseline
    base_ctr = mean_ci(t, base, "cold_item_ctr")[0]
    parts = []
    for x in agents:
        ctr, ci = mean_ci(t, x, "cold_item_ctr")
        clicks = diff_text(t, x, base, "cold_item_clicks")
        parts.append(
            f"`{x}` CTR {_fmt(ctr, 'cold_item_ctr')} ± {_fmt(ci, 'cold_item_ctr')}, "
            f"clicks {clicks} vs `{base}`"
        )
    if not math.isfinite(base_ctr):
        head = (
            f"`{base}` shows no item in its first 3 days (no impression of a cold item in "
            f"any seed), so cold-item CTR has no paired difference; "
        )
    else:
        head = f"`{base}` CTR {_fmt(base_ctr, 'cold_item_ctr')}; "
    return (
        "**Cold items (released during the run, in their first 3 days):** "
        + head
        + "; ".join(parts)
        + "."
    )


def yuan_lines(study: Study) -> list[str]:
    """Does simrec reproduce Yuan et al.'s pattern? Three checks, each from paired CIs."""
    t = study.result.totals
    have = set(study.labels)
    if not {"mf", "lm-cf", "lm-ft"} <= have:
        return ["(the study lacks mf, lm-cf or lm-ft)"]
    frozen_warm = direction(*paired(t, "lm-cf", "mf", "warm_item_ctr")[:2])
    ft_vs_frozen = direction(*paired(t, "lm-ft", "lm-cf", "warm_item_ctr")[:2])
    ft_vs_id = direction(*paired(t, "lm-ft", "mf", "warm_item_ctr")[:2])
    # Cold items by clicks: defined even when mf shows none (its cold-item CTR is then NaN).
    cold_frozen = direction(*paired(t, "lm-cf", "mf", "cold_item_clicks")[:2])
    cold_ft = direction(*paired(t, "lm-ft", "mf", "cold_item_clicks")[:2])
    verdict = {1: "higher", -1: "lower", 0: "level within the CI"}
    checks = [
        (
            "frozen text features lag ID-based CF on warm items",
            frozen_warm < 0,
            f"`lm-cf` − `mf` warm-item CTR {diff_text(t, 'lm-cf', 'mf', 'warm_item_ctr')} "
            f"({verdict[frozen_warm]})",
        ),
        (
            "end-to-end fine-tuning closes the gap on warm items",
            ft_vs_frozen > 0 and ft_vs_id >= 0,
            f"`lm-ft` − `lm-cf` {diff_text(t, 'lm-ft', 'lm-cf', 'warm_item_ctr')} "
            f"({verdict[ft_vs_frozen]}); `lm-ft` − `mf` "
            f"{diff_text(t, 'lm-ft', 'mf', 'warm_item_ctr')} ({verdict[ft_vs_id]})",
        ),
        (
            "text wins on cold items",
            cold_frozen > 0 and cold_ft > 0,
            f"clicks on cold items `lm-cf` − `mf` "
            f"{diff_text(t, 'lm-cf', 'mf', 'cold_item_clicks')} ({verdict[cold_frozen]}); "
            f"`lm-ft` − `mf` {diff_text(t, 'lm-ft', 'mf', 'cold_item_clicks')} "
            f"({verdict[cold_ft]}); cold-item CTR `mf` "
            f"{_fmt(mean_ci(t, 'mf', 'cold_item_ctr')[0], 'cold_item_ctr')}, `lm-cf` "
            f"{_fmt(mean_ci(t, 'lm-cf', 'cold_item_ctr')[0], 'cold_item_ctr')}, `lm-ft` "
            f"{_fmt(mean_ci(t, 'lm-ft', 'cold_item_ctr')[0], 'cold_item_ctr')}",
        ),
    ]
    _, _, cost = read_run(study.out, "lm-ft", study.scenario.seeds[0])
    spec = next(a for a in study.scenario.agents if a.key == "lm-ft")
    steps, batch = spec.params.get("finetune_steps", 10), spec.params.get("finetune_batch", 128)
    fit_ft, fit_cf = mean_ci(t, "lm-ft", "fit_seconds")[0], mean_ci(t, "lm-cf", "fit_seconds")[0]
    out = [
        f"The fine-tuning budget: {cost.get('extra', {}).get('finetune_rounds', '?')} rounds "
        f"of {steps} steps of {batch} clicks per run (seed {study.scenario.seeds[0]}), "
        f"{_fmt(fit_ft, 'fit_seconds')} s of fitting per run against `lm-cf`'s "
        f'{_fmt(fit_cf, "fit_seconds")} s: a small budget, so a "no" below says what this '
        "budget buys, not what end-to-end training can do.",
        "",
        "| Yuan et al. (SIGIR 2023) | reproduced here? | the numbers (paired, 95% CI) |",
        "|---|---|---|",
    ]
    for claim, ok, numbers in checks:
        out.append(f"| {claim} | {'yes' if ok else '**no**'} | {numbers} |")
    return out


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
                    diff_text(t, a, b, m)
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
    ms = np.array([mean_ci(t, x, "ms_per_request")[0] for x in labels])
    ret = np.array([mean_ci(t, x, "retention")[0] for x in labels])
    front = pareto(ms, ret)
    ms_base = mean_ci(t, base, "ms_per_request")[0]
    fit_base = mean_ci(t, base, "fit_seconds")[0]
    for k, x in enumerate(labels):
        fit = mean_ci(t, x, "fit_seconds")[0]
        fl = mean_ci(t, x, "flops_per_request")[0]
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


def robustness_lines(sens: Path) -> list[str]:
    """The verdicts of the sensitivity analysis for the conclusions against mf."""
    path = sens / "robustness.csv"
    if not path.is_file():
        return [f"(no sensitivity analysis in {sens})"]
    rob = pd.read_csv(path)
    rob = rob[rob["b"] == "mf"]
    lines = [
        "| conclusion | metric | difference at the scenario's settings | verdict | holds at "
        "| reversed at | driven by | flips when |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rob.itertuples():
        ci = f" ± {r.nominal_ci95:.3g}" if np.isfinite(r.nominal_ci95) else " (one seed)"
        lines.append(
            f"| {r.conclusion} | {r.metric} | {r.nominal_diff:+.4g}{ci} | "
            f"**{r.verdict}** | {r.share_holds:.0%} | {r.share_reversed:.0%} | "
            f"`{r.driver}` | {r.flips_when if isinstance(r.flips_when, str) else ''} |"
        )
    return lines


def _headline_table(study: Study, labels: list[str]) -> str:
    return markdown_table(study.result.summary, labels, study.scenario.baseline, HEADLINE)


def write_findings(
    results: Path | str,
    doc: Path | str,
    formats: tuple[str, ...] = ("png",),
    dpi: int = 110,
) -> Path:
    """Write the findings document and its figures from the study's results folders.

    Args:
        results: The study folder (``synthetic/``, ``movielens/``, ``sensitivity/``,
            ``timings.json``); the MovieLens and sensitivity parts may be missing (the
            document says so).
        doc: The markdown file to write; figures go to ``<doc folder>/figures/``.
        formats: Figure formats (``png``, ``svg``, ``pdf``); the document links the first.
        dpi: Resolution of raster figures.

    Raises:
        ResultsError: The synthetic part is missing or any of its runs is missing or invalid.
    """
    results, doc = Path(results), Path(doc)
    plt = pyplot()
    timings = read_timings(results)
    syn = load_study("synthetic", results / "synthetic")
    ml, ml_missing = None, "Not run yet (no `movielens/` folder)."
    if (results / "movielens" / "config.yaml").is_file():
        try:
            ml = load_study("MovieLens-100K", results / "movielens")
        except ResultsError as err:  # running or interrupted: the document says so
            ml_missing = f"Not complete: {err}"
    output = Output(doc.parent / "figures", formats, dpi)
    with writing(f"the findings in {doc.parent}"):
        output.folder.mkdir(parents=True, exist_ok=True)
    ext = formats[0]
    stem = doc.stem

    def figure(fig, name: str, title: str) -> str:  # noqa: ANN001
        output.save(fig, f"{stem}_{name}")
        return f"![{title}](figures/{stem}_{name}.{ext})"

    main = syn.figure_labels()
    base = syn.scenario.baseline
    sc = syn.scenario
    w = sc.world
    text = [
        "# Language-model vs collaborative-filtering recommenders over six months",
        "",
        "*Generated by `python -m simrec.findings.lm_vs_cf report --results "
        f"{results} --doc {doc}` from the results folders of `make lm-vs-cf`; every number "
        "below is read from them. Statements of direction (higher, lower, level) follow one "
        "rule: a paired difference is called higher or lower only when its 95% CI over seeds "
        "excludes zero.*",
        "",
        "## The question",
        "",
        "If a platform replaces its collaborative-filtering recommender with one built on a "
        "language model, what happens after six months to retention, revenue, user "
        "satisfaction, diversity, the long tail and cold-start items — and what does each "
        "model cost to run? A simulator knows what an A/B test cannot: the same users under "
        "the same random draws for every agent (common random numbers, so differences are "
        "paired seed by seed), their true interests, and the whole six months.",
        "",
        "## The answer",
        "",
        f"On the synthetic world ({len(sc.seeds)} seeds, {syn.days} days):",
        "",
        *(f"- {line}" for line in answer_lines(syn)),
        "",
        in_short(syn),
        "",
    ]
    if ml is not None:
        text += [
            f"On the MovieLens-100K world ({len(ml.scenario.seeds)} seeds, {ml.days} days):",
            "",
            *(f"- {line}" for line in answer_lines(ml)),
            "",
            in_short(ml),
            "",
        ]
    budget = _budget_line(sc)
    text += [
        "Cost, scale, fine-tuning and robustness are in their sections below; the limits of "
        "what this can say are at the end.",
        "",
        "## Setup",
        "",
        f"**Synthetic world** (`{SYNTHETIC}`): {w.users.n_users:,} users at day 0 plus "
        f"{w.users.arrivals_per_day:g} arrivals a day, {w.items.n_items:,} items of which "
        f"{w.items.initial_fraction:.0%} exist at day 0 and the rest are released over "
        f"{w.items.release_over_days:g} days; {syn.days} days; slates of "
        f"{sc.simulation.slate_size} from the whole available catalog; every agent retrained "
        f"every {sc.simulation.retrain_every_days:g} day(s) on its own logs; seeds "
        f"{list(sc.seeds)}; simrec's default user model (drifting interests, satisfaction, "
        "fatigue, sessions, return visits, churn, purchases). "
        f"{budget}Wall time on this machine "
        f"(2 cores): {_timing_line(timings, 'synthetic')}.",
        "",
    ]
    if ml is not None:
        ml_budget = _budget_line(ml.scenario)
        if ml_budget == budget:
            ml_budget = ""
        else:
            ml_budget = (
                " ("
                + (
                    ml_budget.strip()
                    or "without a training budget: every epoch trains on the whole log"
                )
                + ")"
            )
        text += [
            f"**MovieLens-100K world** (`{MOVIELENS}`): the real movies, users and their "
            f"1997–98 timeline, hidden tastes fitted to the real ratings; the same agents"
            f"{ml_budget}; {ml.days} days; seeds {list(ml.scenario.seeds)}. Wall time: "
            f"{_timing_line(timings, 'movielens')}.",
            "",
        ]
    text += [
        "The agents (parameter counts from the seed-0 run; the encoder's frozen parameters "
        "are counted in the total, the trainable ones in parentheses):",
        "",
        _agents_table(syn),
        "",
        "## Synthetic world: results",
        "",
        f"Mean ± 95% CI over seeds; beneath each agent, in italics, the paired difference "
        f"against `{base}`. Retention and satisfaction at the last day; revenue and clicks "
        "totals; CTRs daily means; homogenization relative to the ideal recommender (the "
        "oracle) at the last day; cost in wall ms per request and fit seconds per run.",
        "",
        _headline_table(syn, syn.labels),
        "",
        "Survival of the day-0 cohort (seeds pooled; Cox model stratified by seed, robust "
        "variance clustered on the user):",
        "",
        _survival_rows(syn, syn.labels),
        "",
        figure(
            survival_figure(plt, syn.result.users, main, syn.days),
            "survival",
            "Kaplan–Meier survival and time to the second visit",
        ),
        "",
        figure(_paired_time_figure(plt, syn, main), "paired", "Paired differences against mf"),
        "",
        figure(_over_time_figure(plt, syn, main), "over_time", "Outcomes over the six months"),
        "",
        "## Frozen vs fine-tuned encoders (Yuan et al., SIGIR 2023)",
        "",
        "Text-based recommenders match ID-based ones on warm items only when the encoder is "
        "trained end to end; frozen features lag; text wins on cold items. Here `mf` is the "
        "ID-based model, `lm-cf` the same model with frozen MiniLM item vectors (through a "
        "trained adapter), `lm-ft` the same with the top transformer layer trained on the "
        "recommendation loss as well. Warm items: the initial catalog and items past their "
        "first 3 days; cold: items in their first 3 days.",
        "",
        *yuan_lines(syn),
        "",
        figure(
            _warm_cold_figure(
                plt,
                syn,
                [x for x in ("mf", "bpr", "lm-cf", "lm-ft", "lm-content") if x in syn.labels],
            ),
            "warm_cold",
            "Warm- and cold-item CTR",
        ),
        "",
        "## Encoder scale",
        "",
        "The same agent at three encoder scales, paired seed by seed (TF-IDF + SVD: no "
        "language model; MiniLM-L6: 22.7M parameters; MPNet-base: 109.5M):",
        "",
        *scale_lines(syn),
        "",
        "## The cost frontier",
        "",
        "What each agent costs to serve and to train, against what it achieves after six "
        "months. ms per request is the wall time of `recommend` (the encoders' text encoding "
        "is cached on disk and paid once per item text); fit seconds are all retrains of a "
        "run; FLOPs per request are the model's estimate (multiply-adds count two).",
        "",
        *cost_lines(syn),
        "",
        "Encoding item and profile text is paid once per text and cached on disk (keyed by "
        "the model's weights and the text), so it is not in ms per request; it is in each "
        "run's ledger (`encoder_seconds`, counted by the run that encoded a text first; for "
        "`lm-ft` the frozen lower layers' pass plus the fine-tuned layer; an encoder whose "
        "texts were all in the cache before the study has no row):",
        "",
        *encoder_lines(syn),
        "",
        figure(_frontier_figure(plt, syn), "cost_frontier", "Cost frontier"),
        "",
    ]
    if ml is not None:
        text += [
            "## MovieLens-100K world: results",
            "",
            _headline_table(ml, ml.labels),
            "",
            _survival_rows(ml, ml.labels),
            "",
            figure(
                survival_figure(plt, ml.result.users, ml.figure_labels(), ml.days),
                "movielens_survival",
                "MovieLens: Kaplan–Meier survival",
            ),
            "",
            *yuan_lines(ml),
            "",
            figure(_frontier_figure(plt, ml), "movielens_cost_frontier", "MovieLens cost frontier"),
            "",
        ]
    else:
        text += ["## MovieLens-100K world", "", ml_missing, ""]
    text += [
        "## Robustness",
        "",
        "`simrec sensitivity` (Morris) over the synthetic scenario's `uncertain` ranges, for "
        f"{', '.join(f'`{a}`' for a in SENSITIVITY_AGENTS)} on the same world, one seed; "
        f"wall time {_timing_line(timings, 'sensitivity')}. A conclusion **holds** "
        "when its sign is the same at every design point, **flips** when it is reversed "
        "somewhere in the plausible range (with one seed per point there is no CI: a "
        "reversal counts by its sign, so a small difference flips on noise alone).",
        "",
        *robustness_lines(results / "sensitivity"),
        "",
        "## Limits",
        "",
        "- The users are simulated: their interests, satisfaction and churn follow simrec's "
        "model (docs/model.md), with default parameters that are assumptions; the "
        "robustness section shows which conclusions survive the plausible range of the "
        "uncertain ones, not that the model is right.",
        "- Item text in the synthetic world is generated from the hidden topic's genre "
        "vocabulary, quality and clickbait cues: how informative text is about what users "
        "want is itself an assumption (`world.items.genre_mixture` in the robustness "
        "analysis varies it). MovieLens text is real (title, year, genres) but short.",
        "- The encoders are sentence encoders used as item and profile encoders; no "
        "generative language model is simulated (no prompts, no generated explanations). "
        "Fine-tuning covers one transformer layer of MiniLM on a budget of steps; larger "
        "budgets and larger fine-tuned models were not run on this 2-core machine.",
        "- Costs are wall times on one 2-core CPU machine, one thread per run: ratios "
        "between agents carry over better than absolute numbers.",
        "",
    ]
    with writing(f"the findings document {doc}"):
        atomic_write_text(doc, "\n".join(text))
    return doc


# ---------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``run`` the study's parts, ``report`` the findings, or both (``all``)."""
    parser = argparse.ArgumentParser(
        prog="python -m simrec.findings.lm_vs_cf",
        description="The language-model vs CF study: run it, or write its findings document.",
    )
    parser.add_argument("command", choices=("run", "report", "all"))
    parser.add_argument("--results", default="results/lm_vs_cf", help="study folder")
    parser.add_argument("--doc", default="docs/findings/lm_vs_cf.md", help="document to write")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"parts to run (default: {','.join(PARTS)})"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        if args.command in ("run", "all"):
            run_study(args.results, [p for p in args.parts.split(",") if p], args.workers)
        if args.command in ("report", "all"):
            path = write_findings(args.results, args.doc)
            print(f"wrote {path}")
    except SimrecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
