"""Metrics a researcher adds: one descriptor, registered from Python or through an entry point.

A custom metric is a :class:`~simrec.metrics.registry.Metric`, the type every built-in
metric is declared with, made by :func:`custom_metric` from a daily function, a whole-run
function, or both:

* ``daily(tables, days) -> (days,) array``: a column of ``daily.parquet`` and
  ``metrics.parquet``, drawn like any daily metric when the descriptor has a ``figure``;
* ``total(tables, days) -> float``: a whole-run value in ``totals.json`` and
  ``summary.csv`` (with its CI and paired difference), usable in ``report.metrics``. Without
  one, the total of a daily metric is its mean over the days that have a value.

``label``, ``unit``, ``fmt``, ``bounds`` and ``figure`` place it in the report's tables and
figures exactly as a built-in metric's do. ``tables`` are the log's tables
(:mod:`simrec.log`; the hidden ``topic`` and the reference popularity are there). Register
from Python::

    from simrec.metrics import Figure
    from simrec.metrics.custom import register_metric
    register_metric("tail_clicks", daily=lambda t, days: ..., label="tail clicks",
                    figure=Figure("tail_clicks", "clicks on tail items", "Tail clicks"))

or in a package's ``pyproject.toml``, under the entry-point group ``simrec.metrics``, naming
a :class:`~simrec.metrics.registry.Metric` (or a daily function, whose entry-point name
becomes the metric's)::

    [project.entry-points."simrec.metrics"]
    tail_clicks = "mypkg.metrics:tail_clicks"

Runs in worker processes see entry-point metrics, and the metrics registered in the calling
process as long as their functions can be pickled (defined in an importable module; a
function defined in a notebook needs ``workers=1``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simrec.metrics.common import Tables
from simrec.metrics.registry import ENTRY_POINT_GROUP, REGISTRY, Figure, Metric, custom_metric

__all__ = [
    "ENTRY_POINT_GROUP",
    "CustomMetric",
    "custom_metric",
    "custom_metrics",
    "ensure_registered",
    "register_metric",
    "registered_from_python",
    "unregister_metric",
]

#: The name older code made custom metrics with: :func:`custom_metric`.
CustomMetric = custom_metric


def register_metric(
    name: str,
    daily: Callable[[Tables, int], Any] | None = None,
    total: Callable[[Tables, int], float] | None = None,
    *,
    replace: bool = False,
    description: str = "",
    label: str = "",
    unit: str = "",
    fmt: str = "{:.4g}",
    bounds: tuple[float, float] | None = None,
    figure: Figure | None = None,
) -> Metric:
    """Register a custom metric for the runs of this process (and its workers).

    The arguments after ``replace`` are the descriptor's (:func:`custom_metric`).

    Raises:
        ConfigError: The name is taken by a built-in metric, or by another custom metric
            (unless ``replace``), or the descriptor is incomplete or inconsistent.
    """
    metric = custom_metric(
        name,
        daily,
        total,
        description=description,
        label=label,
        unit=unit,
        fmt=fmt,
        bounds=bounds,
        figure=figure,
    )
    return REGISTRY.register(metric, replace=replace)


def unregister_metric(name: str) -> None:
    """Remove a metric registered from Python (no error if there is none)."""
    REGISTRY.unregister(name)


def custom_metrics() -> dict[str, Metric]:
    """Every custom metric: entry points first, then those registered from Python."""
    return REGISTRY.custom()


def registered_from_python() -> tuple[Metric, ...]:
    """The metrics registered from Python (handed to worker processes with each run)."""
    return REGISTRY.from_python()


def ensure_registered(metrics: tuple[Metric, ...]) -> None:
    """Register ``metrics`` in this process (a worker) where they are not yet."""
    REGISTRY.ensure(metrics)
