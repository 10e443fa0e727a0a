"""Metrics a researcher adds: registered from Python or through an entry point.

A custom metric has a name, and a daily function, a whole-run function, or both:

* ``daily(tables, days) -> (days,) array``: a column of ``daily.parquet`` and
  ``metrics.parquet``, drawn like any daily metric;
* ``total(tables, days) -> float``: a whole-run value in ``totals.json`` and
  ``summary.csv`` (with its CI and paired difference), usable in ``report.metrics``. Without
  one, the total of a daily metric is its mean over the days that have a value.

``tables`` are the log's tables (:mod:`simrec.log`; the hidden ``topic`` and the reference
popularity are there). Register from Python::

    from simrec.metrics.custom import register_metric
    register_metric("tail_clicks", daily=lambda t, days: ...)

or in a package's ``pyproject.toml``, under the entry-point group ``simrec.metrics``, naming
a :class:`CustomMetric` (or a daily function, whose entry-point name becomes the metric's)::

    [project.entry-points."simrec.metrics"]
    tail_clicks = "mypkg.metrics:tail_clicks"

Runs in worker processes see entry-point metrics, and the metrics registered in the calling
process as long as their functions can be pickled (defined in an importable module; a
function defined in a notebook needs ``workers=1``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simrec.config import check_plain_name
from simrec.errors import ConfigError
from simrec.plugins import group_entry_points

__all__ = [
    "ENTRY_POINT_GROUP",
    "CustomMetric",
    "custom_metrics",
    "register_metric",
    "unregister_metric",
]

#: Entry-point group custom metrics are registered under.
ENTRY_POINT_GROUP = "simrec.metrics"

Tables = Mapping[str, Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class CustomMetric:
    """A named metric: a daily function, a whole-run function, or both."""

    name: str
    daily: Callable[[Tables, int], Any] | None = None
    total: Callable[[Tables, int], float] | None = None

    def __post_init__(self) -> None:
        """Refuse a metric without a function or with a name that is not plain."""
        check_plain_name("metric name", self.name)
        if self.daily is None and self.total is None:
            raise ConfigError(f"metric {self.name!r}: give a daily function, a total, or both")

    def daily_values(self, t: Tables, days: int) -> np.ndarray:
        """The daily function's values, checked to be ``days`` numbers."""
        values = np.asarray(self.daily(t, days), dtype=np.float64)  # type: ignore[misc]
        if values.shape != (days,):
            raise ConfigError(
                f"metric {self.name!r}: the daily function returned shape {values.shape}, "
                f"expected ({days},)"
            )
        return values

    def total_value(self, t: Tables, days: int, daily: np.ndarray | None) -> float:
        """The whole-run value: ``total`` if given, else the mean of the daily values."""
        if self.total is not None:
            return float(self.total(t, days))
        x = daily if daily is not None else self.daily_values(t, days)
        return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


_REGISTERED: dict[str, CustomMetric] = {}


def register_metric(
    name: str,
    daily: Callable[[Tables, int], Any] | None = None,
    total: Callable[[Tables, int], float] | None = None,
    *,
    replace: bool = False,
) -> CustomMetric:
    """Register a custom metric for the runs of this process (and its workers).

    Raises:
        ConfigError: The name is taken by a built-in metric, or by another custom metric
            (unless ``replace``).
    """
    from simrec.metrics import BUILTIN_NAMES

    metric = CustomMetric(name, daily, total)
    if name in BUILTIN_NAMES:
        raise ConfigError(f"metric {name!r}: a built-in metric has that name; choose another")
    if name in custom_metrics() and not replace:
        raise ConfigError(f"metric {name!r} is registered already (pass replace=True)")
    _REGISTERED[name] = metric
    return metric


def unregister_metric(name: str) -> None:
    """Remove a metric registered from Python (no error if there is none)."""
    _REGISTERED.pop(name, None)


def custom_metrics() -> dict[str, CustomMetric]:
    """Every custom metric: entry points first, then those registered from Python."""
    found: dict[str, CustomMetric] = {}
    for ep in group_entry_points(ENTRY_POINT_GROUP):
        obj = ep.load()
        found[ep.name] = obj if isinstance(obj, CustomMetric) else CustomMetric(ep.name, obj)
    return found | _REGISTERED


def registered_from_python() -> tuple[CustomMetric, ...]:
    """The metrics registered from Python (handed to worker processes with each run)."""
    return tuple(_REGISTERED.values())


def ensure_registered(metrics: tuple[CustomMetric, ...]) -> None:
    """Register ``metrics`` in this process (a worker) where they are not yet."""
    for m in metrics:
        _REGISTERED.setdefault(m.name, m)
