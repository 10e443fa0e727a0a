"""Figures and ``report.md`` from a results folder.

:func:`write_report` verifies the runs of a results folder, summarises them
(:func:`simrec.runner.collect`) and writes ``figures/*.{png,svg,pdf}`` and ``report.md``, each
atomically. Curves are the mean over seeds with a 95% confidence band (Student t over
seeds); the paired-difference figure shows agent - baseline seed by seed (common random
numbers) with the CI of those differences; the survival figure is the Kaplan--Meier curve of
the day-0 cohort (lifelines). Tables show the scenario's ``report.metrics``. matplotlib is
imported lazily (the ``plots`` extra): it is the named exception to simrec's no-heavy-imports
rule.

The package by concern:

- :mod:`simrec.report.figures` -- lazy matplotlib (:func:`pyplot`), where and how figures are
  written (:class:`Output`, :func:`check_figure_options`), the bands and every figure.
- :mod:`simrec.report.markdown` -- the ``report.md`` document (:func:`write_report`).
- :mod:`simrec.report.tables` -- the summary tables (markdown and console).

The names below are the package's public surface; other report writers (sensitivity,
experiments, findings) draw through :func:`pyplot` and :class:`Output`.
"""

from simrec.report.figures import (
    FIGURES,
    Output,
    check_figure_options,
    daily_bands,
    paired_bands,
    pareto_front,
    pyplot,
    survival_figure,
)
from simrec.report.markdown import horizon_table, pairs_table, write_report

__all__ = [
    "FIGURES",
    "Output",
    "check_figure_options",
    "daily_bands",
    "horizon_table",
    "paired_bands",
    "pairs_table",
    "pareto_front",
    "pyplot",
    "survival_figure",
    "write_report",
]
