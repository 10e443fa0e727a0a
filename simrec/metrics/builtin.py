"""The built-in metrics, each declared once (:class:`~simrec.metrics.registry.Metric`).

The order of :data:`BUILTIN` is the order of the columns of ``daily.parquet``: the metrics of
the log (daily rules and whole-run rules of the log), then those whose values another part of
simrec computes (:mod:`simrec.metrics.elsewhere`).
"""

from __future__ import annotations

from simrec.metrics.activity import (
    churn_rate,
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
from simrec.metrics.coldstart import (
    cold_item_clicks,
    cold_item_ctr,
    new_user_ctr,
    new_user_ctr_pooled,
    warm_item_ctr,
)
from simrec.metrics.elsewhere import ELSEWHERE
from simrec.metrics.exposure import (
    calibration,
    coverage,
    gini_exposure,
    intra_list_diversity,
    items_shown,
    long_tail_share,
    novelty,
    provider_gini,
    provider_totals,
    provider_zero_share,
)
from simrec.metrics.homogenization import (
    homogenization,
    homogenization_matched,
    homogenization_per_click,
    interest_drift,
    interest_drift_per_click,
)
from simrec.metrics.registry import LAST, MEAN, SUM, Figure, Metric, RunData, Total

__all__ = ["BUILTIN"]

SHARE = (0.0, 1.0)


def _pooled_ctr(run: RunData, first: int | None, last: int | None) -> float:
    c, n = run.values("clicks"), run.values("impressions")
    return float(c[first:last].sum() / max(n[first:last].sum(), 1.0))


def _ctr_total(run: RunData, name: str) -> float:
    return _pooled_ctr(run, None, None)


def _ctr_early(run: RunData, name: str) -> float:
    return _pooled_ctr(run, None, min(run.early_days, run.days))


def _ctr_late(run: RunData, name: str) -> float:
    return _pooled_ctr(run, -max(min(run.late_days, run.days), 1), None)


def _provider_total(run: RunData, name: str) -> float:
    return provider_totals(run.tables, run.days)[name]


POOLED = Total.of("clicks / impressions over the run", _ctr_total)
PROVIDER = Total.of(
    "impressions summed over the run, over the creators with an item in the catalog on any day",
    _provider_total,
)
DAILY_ONLY = Total.none("read day by day; no whole-run value is written")
BUILTIN: tuple[Metric, ...] = (
    Metric(
        "ctr",
        "clicks / impressions on day d (of the users still there)",
        "CTR",
        "share",
        POOLED,
        ctr,
        fmt="{:.4f}",
        bounds=SHARE,
        figure=Figure(
            "ctr", "clicks per impression (active users)", "Click-through rate per day", rank=30
        ),
    ),
    Metric(
        "clicks", "clicked impressions on day d", "clicks", "clicks", SUM, clicks, fmt="{:,.0f}"
    ),
    Metric(
        "impressions",
        "impressions on day d",
        "impressions",
        "impressions",
        SUM,
        impressions,
        fmt="{:,.0f}",
    ),
    Metric(
        "conversion_rate",
        "purchases / clicks on day d",
        "conversion_rate",
        "share",
        DAILY_ONLY,
        conversion_rate,
        bounds=SHARE,
    ),
    Metric(
        "revenue",
        "platform revenue on day d",
        "revenue",
        "currency",
        SUM,
        revenue,
        fmt="{:,.0f}",
        figure=Figure(
            "revenue", "cumulative revenue (currency)", "Cumulative revenue", True, rank=50
        ),
    ),
    Metric(
        "engagement",
        "minutes spent on clicked items on day d",
        "engagement (min)",
        "minutes",
        SUM,
        engagement,
        fmt="{:,.0f}",
    ),
    Metric(
        "satisfaction_alive",
        "mean hidden satisfaction of users alive at the end of day d",
        "satisfaction, alive (end)",
        "level in [0, 1]",
        LAST,
        satisfaction_alive,
        fmt="{:.3f}",
        bounds=SHARE,
    ),
    Metric(
        "satisfaction_cohort",
        "mean hidden satisfaction of the day-0 cohort at the end of day d, churned users at "
        "the level they left with",
        "satisfaction, cohort (end)",
        "level in [0, 1]",
        LAST,
        satisfaction_cohort,
        fmt="{:.3f}",
        bounds=SHARE,
        figure=Figure(
            "satisfaction",
            "mean hidden satisfaction of the day-0 cohort",
            "Satisfaction (day-0 cohort, churned users included)",
            rank=20,
        ),
    ),
    Metric(
        "clicks_per_cohort_user",
        "clicks of the day-0 cohort on day d / the cohort's size (churned users count 0)",
        "clicks / day-0 user",
        "clicks per user",
        SUM,
        clicks_per_cohort_user,
        fmt="{:.2f}",
    ),
    Metric(
        "retention",
        "share of the day-0 cohort not churned by the end of day d",
        "retention (end)",
        "share",
        LAST,
        retention,
        fmt="{:.3f}",
        bounds=SHARE,
        figure=Figure("retention", "share of day-0 cohort not churned", "Retention", rank=10),
    ),
    Metric(
        "dau",
        "distinct users with at least one request on day d",
        "mean DAU",
        "users",
        MEAN,
        dau,
        fmt="{:,.0f}",
        figure=Figure("dau", "daily active users", "Daily active users", rank=40),
    ),
    Metric(
        "sessions_per_user",
        "sessions started on day d / users alive at the end of day d",
        "sessions_per_user",
        "sessions per user",
        DAILY_ONLY,
        sessions_per_user,
    ),
    Metric(
        "return_gap_days",
        "mean days between a session's start and the end of the user's previous session, over "
        "sessions starting on day d (conditional on a return)",
        "return_gap_days",
        "days",
        DAILY_ONLY,
        return_gap_days,
    ),
    Metric(
        "churn_rate",
        "users churning on day d / users at risk (arrived by its end, alive at its start)",
        "churn_rate",
        "share",
        DAILY_ONLY,
        churn_rate,
        bounds=SHARE,
    ),
    Metric(
        "coverage",
        "distinct items shown on day d / items in the catalog on day d",
        "coverage",
        "share",
        DAILY_ONLY,
        coverage,
        bounds=SHARE,
        figure=Figure("coverage", "share of catalog shown that day", "Catalog coverage", rank=60),
    ),
    Metric(
        "gini_exposure",
        "Gini coefficient of impressions over the items in the catalog on day d",
        "gini_exposure",
        "Gini",
        DAILY_ONLY,
        gini_exposure,
    ),
    Metric(
        "long_tail_share",
        "share of day d's impressions on items outside the reference head",
        "long-tail share",
        "share",
        MEAN,
        long_tail_share,
        fmt="{:.3f}",
        bounds=SHARE,
        figure=Figure(
            "long_tail",
            "share of impressions outside the reference head",
            "Long-tail share",
            rank=90,
        ),
    ),
    Metric(
        "intra_list_diversity",
        "mean over day d's slates of the mean pairwise topic distance 1 - cos(z_i, z_j) within "
        "the slate (hidden topics)",
        "intra-list diversity",
        "topic distance",
        MEAN,
        intra_list_diversity,
        fmt="{:.3f}",
        figure=Figure(
            "diversity",
            "mean pairwise topic distance in a slate",
            "Intra-list diversity",
            rank=70,
        ),
    ),
    Metric(
        "novelty",
        "mean self-information -log2 r_i of day d's impressions (Zhou et al. 2010)",
        "novelty (bits)",
        "bits",
        MEAN,
        novelty,
        fmt="{:.2f}",
    ),
    Metric(
        "homogenization",
        "mean Jaccard index of the items consumed by d over Chaney's pairs, both users alive at "
        "the end of d and with consumption (Chaney, Stewart and Engelhardt 2018)",
        "homogenization (end)",
        "Jaccard",
        LAST,
        homogenization,
        fmt="{:.4f}",
        bounds=SHARE,
    ),
    Metric(
        "homogenization_matched",
        "the same over each user's HOMOGENIZATION_VOLUME most recent distinct items (pairs "
        "where both have as many)",
        "homogenization, 10 items",
        "Jaccard",
        LAST,
        homogenization_matched,
        fmt="{:.4f}",
        bounds=SHARE,
    ),
    Metric(
        "homogenization_per_click",
        "homogenization / mean cumulative clicks of its users",
        "homogenization_per_click",
        "Jaccard per click",
        LAST,
        homogenization_per_click,
    ),
    Metric(
        "interest_drift",
        "mean 1 - <u_j(t), u_j(0)> of users alive at the end of day d (hidden interests)",
        "interest drift (end)",
        "cosine distance",
        LAST,
        interest_drift,
        fmt="{:.4f}",
        figure=Figure(
            "interest_drift",
            "mean 1 - cos(interest now, at start)",
            "Interest drift",
            rank=120,
        ),
    ),
    Metric(
        "interest_drift_per_click",
        "interest_drift / mean cumulative clicks of the alive users",
        "interest_drift_per_click",
        "cosine distance per click",
        LAST,
        interest_drift_per_click,
    ),
    Metric(
        "calibration",
        "Steck's (2018) C_KL of the genres a user clicked before d against the genres shown "
        "on d, mean over users served with a history",
        "miscalibration (KL)",
        "nats",
        MEAN,
        calibration,
        fmt="{:.3f}",
        figure=Figure(
            "calibration",
            "KL(history genres || shown genres)",
            "Miscalibration (Steck 2018)",
            rank=100,
        ),
    ),
    Metric(
        "provider_gini",
        "Gini of impressions over the creators with an item in the catalog on day d",
        "provider Gini",
        "Gini",
        PROVIDER,
        provider_gini,
        fmt="{:.3f}",
        bounds=SHARE,
        figure=Figure(
            "provider_exposure",
            "Gini of impressions over creators",
            "Provider exposure inequality",
            rank=110,
        ),
    ),
    Metric(
        "provider_zero_share",
        "share of those creators without an impression on day d",
        "providers unseen",
        "share",
        PROVIDER,
        provider_zero_share,
        fmt="{:.3f}",
        bounds=SHARE,
    ),
    Metric(
        "cold_item_ctr",
        "CTR on day d of impressions of items released during the run and at most COLD_DAYS "
        "days old",
        "cold-item CTR",
        "share",
        MEAN,
        cold_item_ctr,
        fmt="{:.4f}",
        bounds=SHARE,
    ),
    Metric(
        "warm_item_ctr",
        "CTR on day d of impressions of all other items (initial catalog, and released items "
        "past their first COLD_DAYS days)",
        "warm-item CTR",
        "share",
        MEAN,
        warm_item_ctr,
        fmt="{:.4f}",
        bounds=SHARE,
    ),
    Metric(
        "new_user_ctr",
        "CTR on day d of impressions served to users who arrived during the run (after day 0), "
        "in their first COLD_DAYS days since arrival",
        "new-user CTR",
        "share",
        Total.of_tables("clicks / impressions of new users over the run", new_user_ctr_pooled),
        new_user_ctr,
        fmt="{:.4f}",
        bounds=SHARE,
    ),
    # Whole-run metrics of the log without daily values.
    Metric(
        "ctr_early",
        "CTR over the first early_days (3) days: the short-term CTR",
        "CTR d0-2",
        "share",
        Total.of("clicks / impressions over the first early_days days", _ctr_early),
        fmt="{:.4f}",
        bounds=SHARE,
    ),
    Metric(
        "ctr_late",
        "CTR over the last late_days (7) days, once models have warmed up",
        "CTR last 7 d",
        "share",
        Total.of("clicks / impressions over the last late_days days", _ctr_late),
        fmt="{:.4f}",
        bounds=SHARE,
    ),
    Metric(
        "items_shown",
        "distinct items shown over the run",
        "items_shown",
        "items",
        Total.of_tables("distinct items over the run", items_shown),
    ),
    Metric(
        "cold_item_clicks",
        "clicks on items in their first COLD_DAYS after a release during the run (an agent "
        "that never shows new items has NaN cold-item CTR and 0 here)",
        "cold-item clicks",
        "clicks",
        Total.of_tables("sum over the run", cold_item_clicks),
        fmt="{:,.0f}",
    ),
    *ELSEWHERE,
)
