"""Metrics: pure functions of the event log, each declared once in the metric registry.

Each daily metric takes the log's tables (see :mod:`simrec.log`) and the horizon and returns
one value per simulated day; its whole-run value (``totals.json``, ``summary.csv``) follows
the rule its descriptor declares. A metric is one :class:`Metric` in :data:`REGISTRY`
(:mod:`simrec.metrics.registry`): the built-in ones in :mod:`simrec.metrics.builtin`, a
researcher's through :mod:`simrec.metrics.custom`. The daily table, the run totals, the
report's labels and figures and this table are read from the registry. The functions live by
family: :mod:`~simrec.metrics.activity` (clicks, revenue, satisfaction, retention, visits),
:mod:`~simrec.metrics.exposure` (coverage, concentration, long tail, diversity, providers),
:mod:`~simrec.metrics.homogenization` (homogenization, interest drift) and
:mod:`~simrec.metrics.coldstart` (new items and users).

Every agent of a world and seed is measured against the same references, fixed before the
first request (:mod:`simrec.metrics.reference`): the reference popularity :math:`r_i` of
every item (its share of free choices from the whole catalog at day 0), its head (the
``HEAD_SHARE`` of items with the highest :math:`r_i`) and Chaney's user pairs (sampled day-0
users, each with the day-0 user most alike in initial interest). Day *d* is the interval
``[d, d + 1)``. The per-user table (lifetime, returns, value) is :mod:`simrec.metrics.users`;
survival analysis :mod:`simrec.metrics.survival`; comparisons with the ideal recommender
:mod:`simrec.metrics.paired`.

Sampled logs: with ``simulation.log_impressions < 1`` the log keeps only a share of the
requests' slates, and the exact per-day, per-(day, item) and per-user counts the engine keeps
(:class:`simrec.log.Counts`) feed ``clicks``, ``impressions``, ``ctr``, ``conversion_rate``,
``revenue``, ``engagement``, ``dau``, ``coverage``, ``gini_exposure``, ``long_tail_share``,
``novelty``, ``provider_gini``, ``provider_zero_share``, ``cold_item_ctr``,
``warm_item_ctr`` and the per-user
table -- identical to a full log of the same run. The day-table and session metrics are exact
anyway; ``intra_list_diversity``, ``calibration``, the homogenization metrics,
``clicks_per_cohort_user``, ``interest_drift_per_click`` and ``new_user_ctr`` are estimated
from the sampled slates.

The built-in metrics (generated from :data:`REGISTRY`):

"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from simrec.metrics.activity import (
    churn_rate,
    churn_time,
    clicks,
    clicks_per_cohort_user,
    conversion_rate,
    ctr,
    dau,
    engagement,
    impressions,
    retention,
    return_gap_days,
    revenue,
    satisfaction_alive,
    satisfaction_cohort,
    sessions_per_user,
)
from simrec.metrics.builtin import BUILTIN
from simrec.metrics.coldstart import cold_item_ctr, new_user_ctr, warm_item_ctr
from simrec.metrics.common import COLD_DAYS, Tables, gini
from simrec.metrics.exposure import (
    CALIBRATION_ALPHA,
    HEAD_SHARE,
    calibration,
    coverage,
    gini_exposure,
    head_items,
    intra_list_diversity,
    long_tail_share,
    novelty,
    provider_gini,
    provider_zero_share,
)
from simrec.metrics.homogenization import (
    HOMOGENIZATION_VOLUME,
    homogenization,
    homogenization_matched,
    homogenization_per_click,
    interest_drift,
    interest_drift_per_click,
)
from simrec.metrics.listing import rst_table
from simrec.metrics.registry import (
    LAST,
    MEAN,
    REGISTRY,
    SUM,
    Figure,
    Metric,
    RunData,
    Total,
    check_metric,
)

__all__ = [
    "BUILTIN_NAMES",
    "CALIBRATION_ALPHA",
    "COLD_DAYS",
    "DAILY_METRICS",
    "HEAD_SHARE",
    "HOMOGENIZATION_VOLUME",
    "LAST",
    "MEAN",
    "REGISTRY",
    "SUM",
    "Figure",
    "Metric",
    "RunData",
    "Tables",
    "Total",
    "calibration",
    "check_metric",
    "churn_rate",
    "churn_time",
    "clicks",
    "clicks_per_cohort_user",
    "cold_item_ctr",
    "conversion_rate",
    "coverage",
    "ctr",
    "daily_metrics",
    "dau",
    "engagement",
    "gini",
    "gini_exposure",
    "head_items",
    "homogenization",
    "homogenization_matched",
    "homogenization_per_click",
    "impressions",
    "interest_drift",
    "interest_drift_per_click",
    "intra_list_diversity",
    "long_tail_share",
    "new_user_ctr",
    "novelty",
    "provider_gini",
    "provider_zero_share",
    "retention",
    "return_gap_days",
    "revenue",
    "run_totals",
    "satisfaction_alive",
    "satisfaction_cohort",
    "sessions_per_user",
    "warm_item_ctr",
]

REGISTRY.add_builtin(BUILTIN)

#: Built-in metric name -> function(tables, days) -> per-day values (derived, read-only).
DAILY_METRICS: Mapping[str, Callable[[Tables, int], np.ndarray]] = MappingProxyType(
    {m.name: m.daily for m in BUILTIN if m.daily is not None}
)

#: Names no custom metric may take: every built-in metric (derived from the registry).
BUILTIN_NAMES = frozenset(m.name for m in BUILTIN)

__doc__ = f"{__doc__}{rst_table(BUILTIN)}"


def daily_metrics(t: Tables, days: int):  # noqa: ANN201 - pandas imported lazily
    """All daily metrics, custom ones included, as a :class:`pandas.DataFrame` by ``day``."""
    import pandas as pd

    columns = {
        name: m.daily_values(t, days) for name, m in REGISTRY.all().items() if m.daily is not None
    }
    frame = pd.DataFrame(columns)
    frame.index.name = "day"
    return frame


def run_totals(
    t: Tables,
    days: int,
    early_days: int = 3,
    daily: Mapping[str, Any] | None = None,
    late_days: int = 7,
) -> dict[str, float]:
    """Whole-run values of one run: every metric whose total is computed from the log.

    Each metric's value follows its descriptor's whole-run rule (:class:`Total`; the table
    above names each); metrics whose totals another part of simrec adds (the per-user table,
    survival, the cost report, ...) and daily-only metrics are left out.

    Args:
        t: The log's tables.
        days: Horizon.
        early_days: Days counted as "early" for the short-term CTR (``ctr_early``).
        daily: The run's daily metrics (e.g. from :func:`daily_metrics`), reused instead of
            computed again; ``None`` computes what is needed.
        late_days: Last days counted as "late" for the CTR once models have warmed up
            (``ctr_late``).

    Returns:
        Metric name -> whole-run value, built-in metrics first, then custom ones.
    """
    run = RunData(t, days, daily, early_days, late_days)
    return {
        name: m.total_value(run) for name, m in REGISTRY.all().items() if m.total.kind == "computed"
    }
