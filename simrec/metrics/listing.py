"""The definitions table of the metrics, generated from the registry.

:func:`markdown_table` is what ``simrec metrics`` prints and what ``docs/metrics.md`` holds;
:func:`rst_table` closes the docstring of :mod:`simrec.metrics`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from simrec.metrics.registry import Metric

__all__ = ["markdown_table", "rst_table"]


def _bounds(m: Metric) -> str:
    return "" if m.bounds is None else f"[{m.bounds[0]:g}, {m.bounds[1]:g}]"


def _daily(m: Metric) -> str:
    if m.daily is not None:
        return "yes"
    return f"from {m.daily_source}" if m.daily_source else "no"


def markdown_table(metrics: Iterable[Metric]) -> str:
    """One row per metric: name, definition, unit and bounds, daily values, whole-run rule."""
    lines = [
        "| metric | definition (day d) | unit | daily | whole run (`summary.csv`) | figure |",
        "|---|---|---|---|---|---|",
    ]
    for m in metrics:
        unit = " ".join(x for x in (m.unit, _bounds(m)) if x)
        total = m.total.rule + (f" ({m.total.source})" if m.total.source else "")
        figure = f"`{m.figure.name}`" if m.figure else ""
        cells = [f"`{m.name}`", m.description, unit, _daily(m), total, figure]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def rst_table(metrics: Iterable[Metric], width: int = 96) -> str:
    """An reStructuredText simple table: each metric's name and definition (whole-run rule)."""
    rows = [(f"``{m.name}``", f"{m.description}; whole run: {m.total.rule}") for m in metrics]
    left = max(len(name) for name, _ in rows)
    right = width - left - 1
    rule = "=" * left + " " + "=" * right
    out = [rule]
    for name, text in rows:
        wrapped = textwrap.wrap(text, right) or [""]
        out.append(name.ljust(left) + " " + wrapped[0])
        out += [" " * (left + 1) + w for w in wrapped[1:]]
    out.append(rule)
    return "\n".join(out) + "\n"
