"""The robustness report of a sensitivity folder: ``report.md`` and its figures.

Sections: the design; the summary at the scenario's own settings (its full report is in
``nominal/report.md``); one row per conclusion (pair x headline metric) with the share of
the design where it keeps its nominal sign, where it keeps it with a 95% CI excluding zero,
where it reverses, the verdict, its main driver and, for a flip, the one-parameter rule that
best tells where; the drivers of every conclusion as heatmaps; scatter plots of the flipping
differences against the parameter that decides them. The legend states the rule of the
verdicts (:mod:`simrec.sensitivity.analysis`; a conclusion holds at
:data:`~simrec.sensitivity.analysis.HOLDS_SHARE` = 90% of supporting points or more).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from simrec.report import Output, check_figure_options, pyplot, write_report
from simrec.report.tables import label_format, markdown_table
from simrec.runner.results import atomic_write_text, summarize, writing
from simrec.runner.store import ResultsFolder
from simrec.sensitivity import SensitivityResult, analyse, headline_totals
from simrec.sensitivity.analysis import HOLDS_SHARE, agent_pairs

__all__ = ["write_sensitivity_report"]

#: Flipping conclusions drawn in ``flips.png``, at most.
MAX_FLIP_PANELS = 6


def _label(metric: str) -> str:
    return label_format(metric)[0]


def _number(value: float, metric: str) -> str:
    if value != value:
        return "–"
    fmt = label_format(metric)[1].replace("+", "")
    return ("+" if value >= 0 else "−") + fmt.format(abs(value))


def _share(value: float) -> str:
    return f"{value:.0%}" if value == value else "–"


def _index_name(method: str) -> str:
    return "μ*" if method == "morris" else "S_T"


def _drivers_figure(plt, res: SensitivityResult):  # noqa: ANN001, ANN202
    key = "mu_star" if res.design.method == "morris" else "ST"
    pairs = [f"{a} − {b}" for a, b in agent_pairs(res.scenario)]
    names = list(res.design.names)
    n = len(res.metrics)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(4.2 * cols, (0.35 * len(pairs) + 2.2) * rows),
        squeeze=False,
        layout="constrained",
    )
    idx = res.indices.assign(pair=res.indices["a"] + " − " + res.indices["b"])
    image = None
    for k, metric in enumerate(res.metrics):
        ax = axes[k // cols][k % cols]
        sub = idx[idx["metric"] == metric].pivot(index="pair", columns="parameter", values=key)
        sub = sub.reindex(index=pairs, columns=names)
        top = sub.max(axis=1).replace(0, np.nan)
        share = sub.div(top, axis=0).to_numpy(float)
        image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues", aspect="auto")
        ax.set_title(_label(metric), fontsize=10)
        ax.set_xticks(
            range(len(names)),
            [s.split(".")[-1] for s in names],
            rotation=45,
            ha="right",
            fontsize=8,
        )
        ax.set_yticks(range(len(pairs)), pairs if k % cols == 0 else [""] * len(pairs), fontsize=8)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    if image is not None:
        fig.colorbar(
            image, ax=axes, shrink=0.6, label=f"{_index_name(res.design.method)} / largest"
        )
    fig.suptitle(
        "What drives each paired difference (each row scaled to its largest index)", fontsize=11
    )
    return fig


def _robustness_figure(plt, res: SensitivityResult):  # noqa: ANN001, ANN202
    table = res.robustness.assign(pair=res.robustness["a"] + " − " + res.robustness["b"])
    pairs = list(dict.fromkeys(table["pair"]))
    grid = table.pivot(index="pair", columns="metric", values="share_significant")
    grid = grid.reindex(index=pairs, columns=list(res.metrics))
    verdict = table.pivot(index="pair", columns="metric", values="verdict")
    verdict = verdict.reindex(index=pairs, columns=list(res.metrics))
    fig, ax = plt.subplots(figsize=(1.3 * len(res.metrics) + 2.5, 0.5 * len(pairs) + 1.5))
    image = ax.imshow(grid.to_numpy(float), vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    marks = {"holds": "✓", "weakens": "~", "flips": "✗", "no conclusion": "·"}
    for i in range(len(pairs)):
        for j in range(len(res.metrics)):
            v = grid.iat[i, j]
            text = f"{marks.get(verdict.iat[i, j], '')} {v:.0%}" if v == v else "–"
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(
        range(len(res.metrics)),
        [_label(m) for m in res.metrics],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    ax.set_yticks(range(len(pairs)), pairs, fontsize=8)
    fig.colorbar(image, ax=ax, label="share of points: nominal sign, CI excluding 0")
    ax.set_title(
        "Does the conclusion hold over the uncertain parameters?\n"
        f"✓ holds (at ≥ {HOLDS_SHARE:.0%} of points)  ~ weakens  ✗ flips (reversed, CI "
        "excluding 0)  · no conclusion at the scenario's settings",
        fontsize=9,
    )
    return fig


def _flips_figure(plt, res: SensitivityResult, flips: pd.DataFrame):  # noqa: ANN001, ANN202
    n = min(len(flips), MAX_FLIP_PANELS)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    design = res.design.frame().set_index("point")
    diffs = res.differences
    for k, (_, row) in enumerate(flips.head(n).iterrows()):
        ax = axes[k // cols][k % cols]
        param = row["flips_when"].split(" ")[0] if row["flips_when"] else row["driver"]
        sub = diffs[
            (diffs["a"] == row["a"]) & (diffs["b"] == row["b"]) & (diffs["metric"] == row["metric"])
        ]
        pts = sub[sub["point"] != "nominal"]
        x = design.loc[pts["point"], param].to_numpy(float)
        ax.errorbar(x, pts["diff"], yerr=pts["ci95"].fillna(0), fmt="o", ms=3, alpha=0.7, lw=0.8)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel(param, fontsize=8)
        ax.set_ylabel(f"{row['a']} − {row['b']}", fontsize=8)
        ax.set_title(_label(row["metric"]), fontsize=9)
        ax.grid(alpha=0.3)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(
        "Conclusions that flip: the difference (95% CI over seeds) at each design point",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _markdown(res: SensitivityResult, figures: list[tuple[str, str]], ext: str) -> str:
    sc, d = res.scenario, res.design
    agents = [a.key for a in sc.agents]
    per_point = len(agents) * len(sc.seeds)
    if d.method == "morris":
        what = (
            f"Morris elementary effects: {d.samples} trajectories on a {d.levels}-level grid "
            f"(sampler seed {d.seed}), {len(d.points)} points"
        )
    else:
        what = (
            f"Sobol indices (Saltelli's scheme, first order and total): {d.samples} base "
            f"samples of a scrambled Sobol sequence (seed {d.seed}), {len(d.points)} points"
        )
    params = ["| parameter | scenario's value | range |", "|---|---|---|"]
    for name, (lo, hi), is_int in zip(d.names, d.bounds, d.integer, strict=True):
        value = _value(sc, name)
        rng = f"[{int(lo)}, {int(hi)}]" if is_int else f"[{lo:g}, {hi:g}]"
        params.append(f"| `{name}` | {value} | {rng} |")
    rows = [
        "| a − b | metric | at the scenario's settings | nominal sign at | significant at "
        f"| reversed at | verdict | main driver ({_index_name(d.method)}) "
        "| flips when (accuracy) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in res.robustness.iterrows():
        at = _number(r["nominal_diff"], r["metric"])
        if r["nominal_ci95"] == r["nominal_ci95"]:
            at += " ± " + _number(r["nominal_ci95"], r["metric"]).lstrip("+")
        driver = f"`{r['driver']}` ({r['driver_index']:.3g})" if r["driver"] else "–"
        rule = f"`{r['flips_when']}` ({r['rule_accuracy']:.0%})" if r["flips_when"] else "–"
        verdict = f"**{r['verdict']}**" if r["verdict"] == "flips" else r["verdict"]
        rows.append(
            f"| `{r['a']}` − `{r['b']}` | {_label(r['metric'])} | {at} "
            f"| {_share(r['share_holds'])} | {_share(r['share_significant'])} "
            f"| {_share(r['share_reversed'])} | {verdict} "
            f"| {driver} | {rule} |"
        )
    morris = d.method == "morris"
    columns = "mu, mu_star, sigma, mu_star_conf" if morris else "S1, S1_conf, ST, ST_conf"
    counts = res.robustness["verdict"].value_counts()
    tally = ", ".join(
        f"{counts.get(v, 0)} {v}" for v in ("holds", "weakens", "flips", "no conclusion")
    )
    text = [
        f"# {sc.name}: robustness of its conclusions",
        "",
        f"**Question.** {sc.question or '(none stated)'}",
        "",
        f"**Design.** {what} over {len(d.names)} uncertain parameters. Every point runs "
        f"{len(agents)} agents × {len(sc.seeds)} seeds {list(sc.seeds)} on the same users and "
        f"behavioural draws (common random numbers): {per_point * len(d.points):,} runs, and "
        f"{per_point} more at the scenario's own settings (`nominal/`).",
        "",
        *params,
        "",
        "## At the scenario's own settings",
        "",
        "Mean ± 95% CI over seeds; the full report is [nominal/report.md](nominal/report.md).",
        "",
        markdown_table(
            summarize(headline_totals(res.nominal, res.metrics), sc.baseline or None),
            agents,
            sc.baseline,
            res.metrics,
        ),
        "",
        "## Robustness",
        "",
        "A conclusion is the sign of a paired difference `a − b` at the scenario's settings, "
        "significant when its 95% CI over seeds excludes zero; at every design point the "
        f"difference gets its own 95% CI over the same {len(sc.seeds)} seeds. *Nominal sign "
        "at*: the share of design points where the difference has that sign; *significant "
        "at*: where it has that sign with a CI excluding zero; *reversed at*: where it has "
        "the opposite sign with a CI excluding zero (a point where the difference is "
        "undefined counts for none). Verdicts: **no conclusion** (not significant at the "
        "scenario's settings), else **flips** (significantly reversed at some point of the "
        f"plausible range), else **holds** (significant at ≥ {HOLDS_SHARE:.0%} of the points: "
        "the sign is stable, with CIs), else **weakens** (the sign is not stable with CIs "
        f"at {HOLDS_SHARE:.0%} of the points). The main driver is the parameter with "
        f"the largest {_index_name(d.method)}"
        + (
            " (mean absolute elementary effect: the difference's change for a move across the "
            "parameter's whole range)"
            if d.method == "morris"
            else " (share of the difference's variance involving the parameter)"
        )
        + "; *flips when* is the one-parameter threshold that best separates the points where "
        "it reverses, with the share of points it classifies correctly."
        + (
            " Morris points are trajectories on a grid, not a uniform sample: shares are "
            "shares of the design's points."
            if d.method == "morris"
            else " Sobol points are a uniform quasi-random sample: shares estimate the share "
            "of the box's volume."
        ),
        "",
        f"{len(res.robustness)} conclusions: {tally}.",
        "",
        *rows,
        "",
    ]
    for name, title in figures:
        text += [f"### {title}", "", f"![{title}](figures/{name}.{ext})", ""]
    text += [
        "## Files",
        "",
        "`design.csv` (the points), `differences.csv` (every paired difference at every "
        f"point), `indices.csv` ({columns} "
        "of every difference and parameter), `robustness.csv` (this table), and a results "
        "folder per point under `points/`.",
        "",
    ]
    return "\n".join(text)


def _value(scenario, name: str) -> str:  # noqa: ANN001 - ScenarioConfig
    from simrec.config import get_path

    value = get_path(scenario, name)
    return f"{value:g}" if isinstance(value, float) else str(value)


def write_sensitivity_report(
    out: Path | str,
    formats: tuple[str, ...] = ("png",),
    dpi: int = 110,
    result: SensitivityResult | None = None,
) -> Path:
    """Write a sensitivity folder's ``report.md`` and figures.

    ``result`` is the analysis just made by :func:`~simrec.sensitivity.run_sensitivity`;
    without it the folder is verified and analysed again. The folder's ``nominal/`` results
    get their ordinary report too.

    Raises:
        ResultsError: Not a sensitivity folder, or a run is missing or corrupt.
        ConfigError: An unknown figure format or a dpi outside [30, 1200].
        DependencyNotInstalled: SALib or matplotlib is missing.
    """
    out = Path(out)
    formats = check_figure_options(formats, dpi)
    res = result if result is not None else analyse(out)
    write_report(out / "nominal", formats=formats, dpi=dpi)
    plt = pyplot()
    root = ResultsFolder(out, "sensitivity")
    with (
        root.open(None, exists_ok=True, purpose="simrec report"),
        writing(f"the report in {out}", "the runs are kept"),
    ):
        output = Output(out / "figures", formats, int(dpi))
        output.folder.mkdir(exist_ok=True)
        figures = [("robustness", "Share of the design where each conclusion is significant")]
        output.save(_robustness_figure(plt, res), "robustness")
        output.save(_drivers_figure(plt, res), "drivers")
        figures.append(("drivers", "What drives each difference"))
        flips = res.robustness[res.robustness["verdict"] == "flips"]
        if not flips.empty:
            output.save(_flips_figure(plt, res, flips), "flips")
            figures.append(
                ("flips", "Conclusions that flip, against the parameter that decides them")
            )
        path = out / "report.md"
        atomic_write_text(path, _markdown(res, figures, formats[0]))
    return path
