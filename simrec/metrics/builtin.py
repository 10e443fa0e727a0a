"""The built-in metrics, each declared once (:class:`~simrec.metrics.registry.Metric`).

The order of :data:`BUILTIN` is the order of the columns of ``daily.parquet``. Metrics whose
values another part of simrec computes (the per-user table, the survival analysis, the
comparison with the ideal recommender, the agent's cost report, the creator economy) are
declared here too, naming that part, so that every name in the results has one descriptor.
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
USERS = "simrec.metrics.users.user_totals"
SURVIVAL = "simrec.metrics.survival.lifetime_summary (runner)"
IDEAL = "simrec.metrics.paired (runner, with an ideal recommender)"
COST = "the agent's cost report (runner)"
SUPPLY = "simrec.supply.CreatorEconomy (world.supply.enabled)"


def _versus_ideal(name: str, what: str) -> Metric:
    figure = None
    if name == "homogenization":
        figure = Figure(
            "homogenization",
            "Jaccard of paired users' items, minus the ideal's",
            "Homogenization relative to the ideal recommender (Chaney et al.)",
            rank=80,
        )
    return Metric(
        f"{name}_vs_ideal",
        f"``{name}`` minus the ideal recommender's on the same seed and day ({what})",
        "homogenization vs ideal" if name == "homogenization" else "homog. 10 items vs ideal",
        "Jaccard",
        Total.elsewhere("value on the last day", IDEAL),
        daily_source=IDEAL,
        fmt="{:+.4f}",
        figure=figure,
    )


def _ltv(col: str, stat: str) -> Metric:
    unit = "currency" if col == "revenue" else "minutes"
    labels = {
        ("revenue", "mean"): "LTV revenue (mean)",
        ("engagement", "mean"): "LTV minutes (mean)",
    }
    fmts = {("revenue", "mean"): "{:.2f}", ("engagement", "mean"): "{:.1f}"}
    return Metric(
        f"ltv_{col}_{stat}",
        f"{col} per day-0 user over the horizon, {stat} over the cohort (churned users count "
        "with what they brought before leaving)",
        labels.get((col, stat), f"ltv_{col}_{stat}"),
        unit,
        Total.elsewhere(f"{stat} over the day-0 cohort", USERS),
        fmt=fmts.get((col, stat), "{:.4g}"),
    )


def _return(n: int) -> Metric:
    return Metric(
        f"return_d{n}",
        f"share of the users whose day {n} after arrival is observable who had a session on it",
        f"D{n} return",
        "share",
        Total.elsewhere("share of the users", USERS),
        fmt="{:.3f}",
        bounds=SHARE,
    )


def _regret(stat: str) -> Metric:
    return Metric(
        f"regret_engagement_{stat}",
        f"engagement (minutes) the ideal recommender gives a day-0 user minus this agent's, "
        f"{stat} over the cohort",
        "regret vs ideal (min)" if stat == "mean" else f"regret_engagement_{stat}",
        "minutes",
        Total.elsewhere(f"{stat} over the day-0 cohort", IDEAL),
        fmt="{:.1f}" if stat == "mean" else "{:.4g}",
    )


def _supply(name: str, description: str, unit: str, rule: str, **kw: object) -> Metric:
    daily = kw.pop("daily", True)
    return Metric(
        name,
        description,
        str(kw.pop("label", name)),
        unit,
        Total.elsewhere(rule, SUPPLY),
        daily_source=SUPPLY if daily else "",
        **kw,  # type: ignore[arg-type]
    )


#: Every built-in metric, in the order of the daily table.
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
    # The agent's cost report.
    Metric(
        "ms_per_request",
        "milliseconds the agent took per request",
        "ms/request",
        "ms",
        Total.elsewhere("recommend time / requests", COST),
        fmt="{:.3f}",
    ),
    Metric(
        "fit_seconds",
        "seconds the agent spent fitting over the run",
        "fit s",
        "s",
        Total.elsewhere("sum over the run", COST),
        fmt="{:.1f}",
    ),
    Metric(
        "params",
        "parameters of the agent's model",
        "params",
        "parameters",
        Total.elsewhere("at the end of the run", COST),
    ),
    Metric(
        "flops_per_request",
        "estimated floating-point operations of the agent's model per request",
        "FLOPs/request",
        "FLOPs",
        Total.elsewhere("estimate per request", COST),
        fmt="{:.3g}",
    ),
    # The per-user table and the survival analysis of the day-0 cohort.
    *(_ltv(col, stat) for col in ("revenue", "engagement") for stat in ("mean", "median", "p90")),
    *(_return(n) for n in (1, 7, 30)),
    Metric(
        "median_lifetime_days",
        "Kaplan-Meier median lifetime of the day-0 cohort (inf: above one half at the horizon)",
        "median lifetime (d)",
        "days",
        Total.elsewhere("Kaplan-Meier median", SURVIVAL),
        fmt="{:.1f}",
    ),
    Metric(
        "rmst_days",
        "restricted mean survival time of the day-0 cohort up to the horizon",
        "mean lifetime (RMST, d)",
        "days",
        Total.elsewhere("RMST up to the horizon", SURVIVAL),
        fmt="{:.2f}",
    ),
    # Against the ideal recommender on the same seed.
    *(_regret(stat) for stat in ("mean", "median", "p90")),
    Metric(
        "regret_revenue_mean",
        "revenue the ideal recommender gives a day-0 user minus this agent's, mean over the cohort",
        "regret_revenue_mean",
        "currency",
        Total.elsewhere("mean over the day-0 cohort", IDEAL),
    ),
    Metric(
        "worse_off_share",
        "share of day-0 users with less engagement than under the ideal recommender",
        "worse off than ideal",
        "share",
        Total.elsewhere("share of the day-0 cohort", IDEAL),
        fmt="{:.3f}",
        bounds=SHARE,
    ),
    _versus_ideal("homogenization", "Chaney et al.'s relative homogenization"),
    _versus_ideal("homogenization_matched", "the volume-matched homogenization"),
    # The creator economy.
    _supply(
        "creators_active",
        "creators who joined and have not left, at the end of day d",
        "creators",
        "value on the last day",
        figure=Figure(
            "creators", "active creators", "Active creators (joined, not left)", rank=140
        ),
    ),
    _supply(
        "creator_retention",
        "share of the day-0 creators still active at the end of day d",
        "share",
        "value on the last day",
        bounds=SHARE,
        figure=Figure(
            "creator_retention",
            "share of day-0 creators still active",
            "Creator retention",
            rank=130,
        ),
    ),
    _supply(
        "creators_joined",
        "creators joining on day d (whole run: creators who joined after day 0)",
        "creators",
        "creators who joined after day 0",
    ),
    _supply(
        "items_released",
        "items released on day d",
        "items",
        "sum over days 1 onward",
    ),
    _supply(
        "catalog_size",
        "items in the catalog on day d",
        "items",
        "value on the last day",
        figure=Figure("catalog_size", "items in the catalog", "Catalog supply", rank=150),
    ),
    _supply(
        "catalog_genre_entropy",
        "genre entropy of the catalog on day d over its maximum log G",
        "normalized entropy",
        "value on the last day",
        bounds=SHARE,
        figure=Figure(
            "catalog_diversity",
            "genre entropy of the catalog / log G",
            "Catalog genre diversity",
            rank=160,
        ),
    ),
    _supply(
        "creator_income",
        "income the creators earned on day d",
        "currency",
        "sum over the run",
    ),
    _supply(
        "income_gini",
        "Gini of the window income over the active creators on day d",
        "Gini",
        "Gini of the income over the run of every creator who was active",
        bounds=SHARE,
        figure=Figure(
            "income_inequality",
            "Gini of window income over active creators",
            "Creator income inequality",
            rank=170,
        ),
    ),
    _supply(
        "creator_rmst_days",
        "mean days the day-0 creators stayed, up to the horizon",
        "days",
        "mean over the day-0 creators",
        daily=False,
    ),
    _supply(
        "new_creator_retention",
        "share of the creators who joined after day 0 still active at the end",
        "share",
        "share at the end of the run",
        daily=False,
        bounds=SHARE,
    ),
    _supply(
        "reservoir_exhausted",
        "creators whose reservoir of items ran out",
        "creators",
        "count at the end of the run",
        daily=False,
    ),
)
