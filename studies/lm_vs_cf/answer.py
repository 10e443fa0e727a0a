"""The study's answer in words, generated from the numbers with one rule.

A paired difference is called higher or lower only when its 95% CI over seeds excludes zero
(:func:`simrec.report.stats.direction`), level otherwise; so a re-run with other results
rewrites these statements consistently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from simrec_studies.lm_vs_cf.study import ENCODER_LABEL, Study

from simrec.report.stats import (
    agent_mean_ci,
    direction,
    format_value,
    hazard_ratio,
    paired_difference,
    paired_text,
    pareto_mask,
)
from simrec.runner.results import read_run

__all__ = ["answer_lines", "cold_line", "in_short", "yuan_lines"]


def answer_lines(study: Study) -> list[str]:
    """The plain answer for one world, from the numbers (rules in the module docstring)."""
    t, base = study.result.totals, study.scenario.baseline
    lines = []
    lm = [
        x for x in study.main_labels() if study.agents.set_index("label").loc[x, "family"] == "LM"
    ]
    better, worse, level = [], [], []
    for label in lm:
        d = direction(*paired_difference(t, label, base, "retention")[:2])
        hr = hazard_ratio(study.result.survival, label)
        what = f"`{label}` {paired_text(t, label, base, 'retention')}"
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
        rev.append(f"`{label}` {paired_text(t, label, base, 'revenue')}")
    lines.append(f"**Revenue over the run, against `{base}`:** " + "; ".join(rev) + ".")
    lines.append(cold_line(study, lm))
    homog = [f"`{x}` {paired_text(t, x, base, 'homogenization_vs_ideal')}" for x in lm]
    tail = [f"`{x}` {paired_text(t, x, base, 'long_tail_share')}" for x in lm]
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
    ret = {x: agent_mean_ci(t, x, "retention")[0] for x in learners}
    top = sorted(ret, key=ret.get, reverse=True)[:2]
    lm = [x for x in learners if rows.loc[x, "family"] == "LM"]
    ahead = [x for x in lm if direction(*paired_difference(t, x, base, "retention")[:2]) > 0]
    behind = [x for x in lm if direction(*paired_difference(t, x, base, "retention")[:2]) < 0]

    def scale_gains(metric: str) -> list[str]:
        """Larger-over-smaller encoder pairs with a significant gain on ``metric``."""
        out = []
        for name in ("lm-content", "lm-cf"):
            scales = {r.encoder: r.label for r in study.agents.itertuples() if r.name == name}
            for small, large in (("tfidf", "minilm"), ("minilm", "mpnet")):
                if small in scales and large in scales:
                    d = direction(*paired_difference(t, scales[large], scales[small], metric)[:2])
                    if d > 0:
                        out.append(f"`{name}` {ENCODER_LABEL[large]} over {ENCODER_LABEL[small]}")
        return out

    gains, click_gains = scale_gains("retention"), scale_gains("clicks")
    served = [*learners, "popularity"] if "popularity" in rows.index else learners
    ms = np.array([agent_mean_ci(t, x, "ms_per_request")[0] for x in served])
    rv = np.array([agent_mean_ci(t, x, "retention")[0] for x in served])
    front = [x for x, f in zip(served, pareto_mask(ms, rv), strict=True) if f]
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
            f"({paired_text(t, best, base, 'retention')} against `{base}`); against it, "
            + "; ".join(
                f"`{x}` {paired_text(t, x, best, 'retention')} "
                f"({verdict[direction(*paired_difference(t, x, best, 'retention')[:2])]})"
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
        d = direction(*paired_difference(t, "lm-ft", "lm-cf", "retention")[:2])
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
    base_ctr = agent_mean_ci(t, base, "cold_item_ctr")[0]
    parts = []
    for x in agents:
        ctr, ci = agent_mean_ci(t, x, "cold_item_ctr")
        clicks = paired_text(t, x, base, "cold_item_clicks")
        parts.append(
            f"`{x}` CTR {format_value(ctr, 'cold_item_ctr')} ± "
            f"{format_value(ci, 'cold_item_ctr')}, "
            f"clicks {clicks} vs `{base}`"
        )
    if not math.isfinite(base_ctr):
        head = (
            f"`{base}` shows no item in its first 3 days (no impression of a cold item in "
            f"any seed), so cold-item CTR has no paired difference; "
        )
    else:
        head = f"`{base}` CTR {format_value(base_ctr, 'cold_item_ctr')}; "
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
    frozen_warm = direction(*paired_difference(t, "lm-cf", "mf", "warm_item_ctr")[:2])
    ft_vs_frozen = direction(*paired_difference(t, "lm-ft", "lm-cf", "warm_item_ctr")[:2])
    ft_vs_id = direction(*paired_difference(t, "lm-ft", "mf", "warm_item_ctr")[:2])
    # Cold items by clicks: defined even when mf shows none (its cold-item CTR is then NaN).
    cold_frozen = direction(*paired_difference(t, "lm-cf", "mf", "cold_item_clicks")[:2])
    cold_ft = direction(*paired_difference(t, "lm-ft", "mf", "cold_item_clicks")[:2])
    verdict = {1: "higher", -1: "lower", 0: "level within the CI"}

    def cold_ctr(agent: str) -> str:
        return format_value(agent_mean_ci(t, agent, "cold_item_ctr")[0], "cold_item_ctr")

    checks = [
        (
            "frozen text features lag ID-based CF on warm items",
            frozen_warm < 0,
            f"`lm-cf` − `mf` warm-item CTR {paired_text(t, 'lm-cf', 'mf', 'warm_item_ctr')} "
            f"({verdict[frozen_warm]})",
        ),
        (
            "end-to-end fine-tuning closes the gap on warm items",
            ft_vs_frozen > 0 and ft_vs_id >= 0,
            f"`lm-ft` − `lm-cf` {paired_text(t, 'lm-ft', 'lm-cf', 'warm_item_ctr')} "
            f"({verdict[ft_vs_frozen]}); `lm-ft` − `mf` "
            f"{paired_text(t, 'lm-ft', 'mf', 'warm_item_ctr')} ({verdict[ft_vs_id]})",
        ),
        (
            "text wins on cold items",
            cold_frozen > 0 and cold_ft > 0,
            f"clicks on cold items `lm-cf` − `mf` "
            f"{paired_text(t, 'lm-cf', 'mf', 'cold_item_clicks')} ({verdict[cold_frozen]}); "
            f"`lm-ft` − `mf` {paired_text(t, 'lm-ft', 'mf', 'cold_item_clicks')} "
            f"({verdict[cold_ft]}); cold-item CTR `mf` {cold_ctr('mf')}, `lm-cf` "
            f"{cold_ctr('lm-cf')}, `lm-ft` {cold_ctr('lm-ft')}",
        ),
    ]
    _, _, cost = read_run(study.out, "lm-ft", study.scenario.seeds[0])
    spec = next(a for a in study.scenario.agents if a.key == "lm-ft")
    steps, batch = spec.params.get("finetune_steps", 10), spec.params.get("finetune_batch", 128)
    fit_ft, fit_cf = (
        agent_mean_ci(t, "lm-ft", "fit_seconds")[0],
        agent_mean_ci(t, "lm-cf", "fit_seconds")[0],
    )
    out = [
        f"The fine-tuning budget: {cost.get('extra', {}).get('finetune_rounds', '?')} rounds "
        f"of {steps} steps of {batch} clicks per run (seed {study.scenario.seeds[0]}), "
        f"{format_value(fit_ft, 'fit_seconds')} s of fitting per run against `lm-cf`'s "
        f'{format_value(fit_cf, "fit_seconds")} s: a small budget, so a "no" below says what this '
        "budget buys, not what end-to-end training can do.",
        "",
        "| Yuan et al. (SIGIR 2023) | reproduced here? | the numbers (paired, 95% CI) |",
        "|---|---|---|",
    ]
    for claim, ok, numbers in checks:
        out.append(f"| {claim} | {'yes' if ok else '**no**'} | {numbers} |")
    return out
