"""One descriptor per metric, one registry: everything else about a metric is derived.

A :class:`Metric` declares what simrec needs to know about a metric: its name and one-line
definition, its daily rule (a function of the log's tables, or the part of simrec that writes
its daily values), its whole-run rule (:class:`Total`: how its value in ``totals.json`` and
``summary.csv`` is formed from the run), its label, number format and unit for tables, its
bounds, and the line figure the report draws of it. The built-in metrics
(:mod:`simrec.metrics.builtin`) and a researcher's custom metrics
(:mod:`simrec.metrics.custom`) are the same type in the same :data:`REGISTRY`; the daily
table, the run totals, the report's labels, figures and CI clipping, the CLI listing and the
definitions table are read from it.

Every descriptor is checked when it is made (:func:`check_metric`): a metric without a
whole-run rule, a label or consistent bounds is refused with an error naming the metric, the
field, the value and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from simrec.config import check_plain_name
from simrec.errors import ConfigError
from simrec.metrics.common import Tables, last_value, mean_value
from simrec.plugins import group_entry_points

__all__ = [
    "ENTRY_POINT_GROUP",
    "LAST",
    "MEAN",
    "REGISTRY",
    "SUM",
    "DerivedView",
    "Figure",
    "FromTables",
    "Metric",
    "MetricRegistry",
    "RunData",
    "Total",
    "check_metric",
]

#: Entry-point group custom metrics are registered under.
ENTRY_POINT_GROUP = "simrec.metrics"

#: A daily rule: ``(tables, days) -> (days,)`` values, one per simulated day.
DailyFn = Callable[[Tables, int], Any]


@dataclass(frozen=True)
class RunData:
    """What a whole-run rule sees of one run.

    Attributes:
        tables: The log's tables (:mod:`simrec.log`).
        days: Horizon (days).
        daily: The run's daily metrics already computed (a frame or a mapping by name);
            ``None``: computed when a rule asks.
        early_days: Days counted as "early" for the short-term CTR.
        late_days: Last days counted as "late" for the CTR once models have warmed up.
    """

    tables: Tables
    days: int
    daily: Mapping[str, Any] | None = None
    early_days: int = 3
    late_days: int = 7

    def values(self, name: str) -> np.ndarray:
        """The daily values of metric ``name``: reused from :attr:`daily`, else computed."""
        if self.daily is not None and name in self.daily:
            return np.asarray(self.daily[name], dtype=np.float64)
        return REGISTRY.get(name).daily_values(self.tables, self.days)


#: A whole-run rule's function: ``(run, metric name) -> value``.
TotalFn = Callable[[RunData, str], float]


@dataclass(frozen=True)
class Total:
    """How a metric's whole-run value (``totals.json``, ``summary.csv``) is formed.

    Attributes:
        kind: ``"computed"``: :func:`simrec.metrics.run_totals` computes it with ``compute``;
            ``"elsewhere"``: the part of simrec named in ``source`` adds it to the totals
            (the per-user table, the survival analysis, the runner's cost report, ...);
            ``"none"``: the metric has daily values only, for the reason in ``rule``.
        rule: The rule in words (the definitions table and ``simrec metrics`` show it).
        compute: ``(run, name) -> float`` for a computed total.
        source: Who adds an ``elsewhere`` total (a module or function name).
    """

    kind: Literal["computed", "elsewhere", "none"]
    rule: str
    compute: TotalFn | None = None
    source: str = ""

    @classmethod
    def of(cls, rule: str, compute: TotalFn) -> Total:
        """A total computed from the run by ``compute(run, name)``."""
        return cls("computed", rule, compute)

    @classmethod
    def of_tables(cls, rule: str, fn: Callable[[Tables, int], float]) -> Total:
        """A total computed by ``fn(tables, days)`` (picklable when ``fn`` is)."""
        return cls("computed", rule, FromTables(fn))

    @classmethod
    def elsewhere(cls, rule: str, source: str) -> Total:
        """A total another part of simrec (``source``) adds to the run's totals."""
        return cls("elsewhere", rule, source=source)

    @classmethod
    def none(cls, reason: str) -> Total:
        """No whole-run value, on purpose: the metric is read day by day (``reason``)."""
        return cls("none", f"none: {reason}")


@dataclass(frozen=True)
class FromTables:
    """A whole-run rule from a function of the log's tables: ``fn(tables, days) -> float``."""

    fn: Callable[[Tables, int], float]

    def __call__(self, run: RunData, name: str) -> float:
        """``fn(run.tables, run.days)`` as a float."""
        return float(self.fn(run.tables, run.days))


def _sum(run: RunData, name: str) -> float:
    return float(run.values(name).sum())


def _last(run: RunData, name: str) -> float:
    return last_value(run.values(name))


def _mean(run: RunData, name: str) -> float:
    return mean_value(run.values(name))


#: Whole-run value: the sum of the daily values.
SUM = Total.of("sum over the days", _sum)
#: Whole-run value: the value on the last day (NaN without days).
LAST = Total.of("value on the last day", _last)
#: Whole-run value: the mean over the days that have a value (NaN when none has).
MEAN = Total.of("mean over the days with a value", _mean)


@dataclass(frozen=True)
class Figure:
    """The report's line figure of a daily metric: mean over seeds per day, 95% CI band.

    Attributes:
        name: File name in ``figures/`` (without the extension).
        ylabel: Label of the y axis (with the unit).
        title: Title of the figure and its heading in ``report.md``.
        cumulative: Draw the running sum over days instead of the daily values.
        rank: Place among the report's figures (lower first; ties in registry order).
    """

    name: str
    ylabel: str
    title: str
    cumulative: bool = False
    rank: int = 1000


@dataclass(frozen=True)
class Metric:
    """One metric, declared once.

    Attributes:
        name: Name in the results (a plain identifier).
        description: One-line definition (the definitions table, ``simrec metrics``).
        label: Column header in the summary tables.
        unit: Unit of the values (``share`` for values in [0, 1]).
        total: The whole-run rule (:class:`Total`).
        daily: The daily rule ``(tables, days) -> (days,)`` values; ``None`` when the
            metric has no daily values or ``daily_source`` writes them.
        daily_source: The part of simrec that writes the daily values when ``daily`` is
            ``None`` (e.g. the creator economy); empty when there are none.
        fmt: Number format of a value in the tables (:meth:`str.format`).
        bounds: ``(low, high)`` the values cannot leave (CI bands are clipped to it);
            ``None``: unbounded or not declared.
        figure: The report's line figure of the daily values; ``None``: none.
    """

    name: str
    description: str
    label: str
    unit: str
    total: Total
    daily: DailyFn | None = None
    daily_source: str = ""
    fmt: str = "{:.4g}"
    bounds: tuple[float, float] | None = None
    figure: Figure | None = None

    def __post_init__(self) -> None:
        """Refuse an incomplete or inconsistent descriptor (see :func:`check_metric`)."""
        check_metric(self)

    @property
    def has_daily(self) -> bool:
        """Whether the results hold daily values of this metric."""
        return self.daily is not None or bool(self.daily_source)

    def daily_values(self, t: Tables, days: int) -> np.ndarray:
        """The daily rule's values, checked to be ``days`` numbers."""
        if self.daily is None:
            raise ConfigError(
                f"metric {self.name!r}: daily is None, expected a daily function "
                f"(its daily values come from {self.daily_source or 'nowhere'})"
            )
        values = np.asarray(self.daily(t, days), dtype=np.float64)
        if values.shape != (days,):
            raise ConfigError(
                f"metric {self.name!r}: the daily function returned shape {values.shape}, "
                f"expected ({days},)"
            )
        return values

    def total_value(self, run: RunData) -> float:
        """The whole-run value of a ``computed`` total."""
        if self.total.compute is None:
            raise ConfigError(
                f"metric {self.name!r}: total is {self.total.rule!r} ({self.total.kind}), "
                "expected a total computed from the run"
            )
        return float(self.total.compute(run, self.name))


def _refuse(name: object, field: str, value: object, expected: str) -> None:
    raise ConfigError(f"metric {name!r}: {field} is {value!r}, expected {expected}")


def check_metric(m: Metric) -> None:
    """Check that a descriptor is complete and consistent.

    Raises:
        ConfigError: Naming the metric, the field, its value and what was expected: a name
            that is not plain, an empty description or label, a missing or malformed
            whole-run rule, a figure or a ``SUM``/``LAST``/``MEAN`` total without daily
            values, a number format that cannot format a float, bounds that are not
            ``(low, high)`` with ``low < high``, or a ``share`` without bounds ``(0, 1)``.
    """
    check_plain_name("metric name", m.name)
    for field in ("description", "label"):
        value = getattr(m, field)
        if not isinstance(value, str) or not value.strip():
            _refuse(m.name, field, value, "a non-empty string")
    if not isinstance(m.unit, str):
        _refuse(m.name, "unit", m.unit, "a string (empty: no unit)")
    _check_total(m)
    if m.daily is not None and not callable(m.daily):
        _refuse(m.name, "daily", m.daily, "a function (tables, days) -> values, or None")
    try:
        m.fmt.format(0.5)
    except (AttributeError, ValueError, IndexError, KeyError) as err:
        _refuse(m.name, "fmt", m.fmt, f"a format for one float, e.g. '{{:.3f}}' ({err})")
    _check_bounds(m)
    if m.figure is not None:
        if not isinstance(m.figure, Figure):
            _refuse(m.name, "figure", m.figure, "a Figure or None")
        if not m.has_daily:
            _refuse(m.name, "figure", m.figure.name, "a metric with daily values to draw")
        for field in ("name", "ylabel", "title"):
            if not getattr(m.figure, field):
                _refuse(m.name, f"figure.{field}", getattr(m.figure, field), "a non-empty string")


def _check_total(m: Metric) -> None:
    t = m.total
    expected = (
        "a whole-run rule: SUM, LAST, MEAN, Total.of(...), Total.of_tables(...), "
        "Total.elsewhere(rule, source) or Total.none(reason)"
    )
    if not isinstance(t, Total):
        _refuse(m.name, "total", t, expected)
    if not t.rule:
        _refuse(m.name, "total.rule", t.rule, "the rule in words")
    if t.kind == "computed" and not callable(t.compute):
        _refuse(m.name, "total.compute", t.compute, "a function (run, name) -> float")
    elif t.kind == "elsewhere" and not t.source:
        _refuse(m.name, "total.source", t.source, "the part of simrec that adds the total")
    elif t.kind == "none" and not m.has_daily:
        _refuse(m.name, "total", t.rule, "a whole-run rule for a metric without daily values")
    elif t.kind not in ("computed", "elsewhere", "none"):
        _refuse(m.name, "total.kind", t.kind, "'computed', 'elsewhere' or 'none'")
    if t in (SUM, LAST, MEAN) and m.daily is None:
        _refuse(m.name, "daily", None, f"a daily function for the total {t.rule!r}")


def _check_bounds(m: Metric) -> None:
    b = m.bounds
    if b is not None:
        ok = isinstance(b, tuple) and len(b) == 2 and all(isinstance(x, (int, float)) for x in b)
        if not ok or not (math.isfinite(b[0]) and math.isfinite(b[1]) and b[0] < b[1]):
            _refuse(m.name, "bounds", b, "None or (low, high) with finite low < high")
    if m.unit == "share" and b != (0.0, 1.0):
        _refuse(m.name, "bounds", b, "(0.0, 1.0) for a metric whose unit is 'share'")


def _custom_from_entry_point(name: str, obj: Any) -> Metric:
    if isinstance(obj, Metric):
        return obj
    return custom_metric(name, daily=obj)


def custom_metric(
    name: str,
    daily: DailyFn | None = None,
    total: Callable[[Tables, int], float] | None = None,
    *,
    description: str = "",
    label: str = "",
    unit: str = "",
    fmt: str = "{:.4g}",
    bounds: tuple[float, float] | None = None,
    figure: Figure | None = None,
) -> Metric:
    """A researcher's metric: a daily function, a whole-run function, or both.

    Without ``total``, the whole-run value of a daily metric is its mean over the days with
    a value (:data:`MEAN`). ``label`` defaults to the name, ``description`` to the first line
    of the function's docstring.

    Raises:
        ConfigError: Neither function is given, or the descriptor is inconsistent.
    """
    check_plain_name("metric name", name)
    if daily is None and total is None:
        raise ConfigError(f"metric {name!r}: give a daily function, a total, or both")
    fn = total if total is not None else daily
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    return Metric(
        name=name,
        description=description or (doc[0] if doc else f"custom metric {name}"),
        label=label or name,
        unit=unit,
        total=Total.of_tables("custom function of the log", total) if total else MEAN,
        daily=daily,
        fmt=fmt,
        bounds=bounds,
        figure=figure,
    )


class MetricRegistry:
    """The built-in metrics, then the custom ones: entry points, then those from Python."""

    def __init__(self) -> None:
        """An empty registry."""
        self._builtin: dict[str, Metric] = {}
        self._python: dict[str, Metric] = {}

    def add_builtin(self, metrics: Iterable[Metric]) -> None:
        """Declare built-in metrics (once each, in the order of the daily table)."""
        for m in metrics:
            if m.name in self._builtin:
                raise ConfigError(f"metric {m.name!r}: declared twice among the built-ins")
            self._builtin[m.name] = m

    def builtin(self) -> Mapping[str, Metric]:
        """The built-in metrics, read-only."""
        return MappingProxyType(self._builtin)

    def custom(self) -> dict[str, Metric]:
        """Every custom metric: entry points first, then those registered from Python."""
        found = {
            ep.name: _custom_from_entry_point(ep.name, ep.load())
            for ep in group_entry_points(ENTRY_POINT_GROUP)
        }
        return found | self._python

    def all(self) -> dict[str, Metric]:
        """Every metric: built-in ones first, in declaration order, then the custom ones."""
        return dict(self._builtin) | self.custom()

    def get(self, name: str) -> Metric:
        """The metric called ``name``.

        Raises:
            KeyError: No metric has that name.
        """
        hit = self._builtin.get(name) or self.all().get(name)
        if hit is None:
            raise KeyError(f"metric {name!r}: no metric of that name is registered")
        return hit

    def register(self, metric: Metric, replace: bool = False) -> Metric:
        """Register a custom metric from Python.

        Raises:
            ConfigError: The name is a built-in metric's, or another custom metric's
                (unless ``replace``).
        """
        if not isinstance(metric, Metric):
            raise ConfigError(f"register: {metric!r} is not a Metric")
        if metric.name in self._builtin:
            raise ConfigError(
                f"metric {metric.name!r}: a built-in metric has that name; choose another"
            )
        if metric.name in self.custom() and not replace:
            raise ConfigError(f"metric {metric.name!r} is registered already (pass replace=True)")
        self._python[metric.name] = metric
        return metric

    def unregister(self, name: str) -> None:
        """Remove a metric registered from Python (no error if there is none)."""
        self._python.pop(name, None)

    def from_python(self) -> tuple[Metric, ...]:
        """The metrics registered from Python (handed to worker processes with each run)."""
        return tuple(self._python.values())

    def ensure(self, metrics: Iterable[Metric]) -> None:
        """Register ``metrics`` where they are not yet (in a worker process)."""
        for m in metrics:
            self._python.setdefault(m.name, m)


#: The one registry of metrics.
REGISTRY = MetricRegistry()


class DerivedView(Mapping):
    """A read-only mapping rebuilt from the registry on every read (custom metrics included).

    The names older code knew as hand-written tables (``LABELS``, ``FIGURES``) are such views.
    """

    def __init__(self, build: Callable[[], Mapping[str, Any]], what: str) -> None:
        """A view whose contents are ``build()`` at the time of each read."""
        self._build, self._what = build, what

    def __getitem__(self, key: str) -> Any:
        """The value for ``key``."""
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        """The keys, in the registry's order."""
        return iter(self._build())

    def __len__(self) -> int:
        """How many keys there are now."""
        return len(self._build())

    def __repr__(self) -> str:
        """The view's name and its current contents."""
        return f"<{self._what} (derived from the metric registry): {dict(self._build())!r}>"
