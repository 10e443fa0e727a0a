"""The built-in metrics whose values another part of simrec computes and adds to the results.

The agent's cost report, the per-user table, the survival analysis, the comparison with the
ideal recommender (the runner) and the creator economy (:mod:`simrec.supply`): each
descriptor names that part in its whole-run rule (:meth:`Total.elsewhere`), so that every
name in the results has one descriptor. :mod:`simrec.metrics.builtin` declares them with the
metrics of the log.
"""

from __future__ import annotations

from simrec.metrics.registry import Figure, Metric, Total

__all__ = ["COST", "ELSEWHERE", "IDEAL", "SUPPLY", "SURVIVAL", "USERS"]

SHARE = (0.0, 1.0)
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
#: Every built-in metric another part of simrec adds, in the order of the daily table.
ELSEWHERE: tuple[Metric, ...] = (
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
