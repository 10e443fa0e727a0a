"""Long-run calibration targets: what a run's users do over months, against published numbers.

:func:`measure` reads one run's session log and its users' arrival days and measures the
statistics below; :data:`TARGETS` holds the published ranges each is judged against
(docs/model.md, "A user model built on evidence", has the sources in full);
:func:`target_table` runs a scenario's world under the agents that stand for "no
recommender skill" (random, popularity) on several seeds and tabulates simulated vs target.

* ``hazard_ratio``: the day-0 cohort's churn hazard per day at risk in days 90-179 over that
  in days 0-29. Real cohorts' hazards fall with tenure, by selection (the fickle leave
  first): <= 1 (Fader & Hardie 2007; Vaupel, Manton & Stallard 1979).
* ``early_engager_ratio``: among day-0 users still there on day 14, the share churned by
  day 90 of those at or above the upper quartile of clicks in days 0-13 over that of those
  at or below the lower quartile (ties included on both sides). Early engagement predicts
  retention (Dror et al. 2012): <= 0.6.
* ``retention_180``: share of the day-0 cohort not churned by day 180. Premium streaming
  loses 2-5.2% of subscribers a month (Antenna, 2024): 0.70-0.90.
* ``d1``, ``d7``, ``d30``: share of the users arriving after day 0 who are active (start a
  session) on calendar day N after the day of their first session ("classic" day-N
  retention). Consumer apps:
  D1 about 25%, D7 10-12%, D30 4-10% (Appboy 2016; AppsFlyer 2018; Chen & Jain / Quettra
  2015).
* ``user_gini``: Gini of clicks per user among users with a click in days 0-29 (ML-1M:
  0.53 over all ratings, 0.59 on its held-out period; ``simrec.calibration_data``).
* ``dau_mau``: mean over days 0-29 of the users active that day over those active in the
  30 days. Consumer apps 0.1-0.5 (Sequoia via June.so: consumer average 30%, media 12%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simrec.metrics import gini

if TYPE_CHECKING:
    import pandas as pd

    from simrec.config import Config

__all__ = [
    "MODELS",
    "TARGETS",
    "TARGET_WORLD",
    "Target",
    "measure",
    "target_config",
    "target_table",
]

#: The world the targets are checked in: 2,000 established users, 20 newcomers a day for
#: 180 days (a 10,000-user world takes about 5x as long and moves no mean by more than its CI).
TARGET_WORLD: dict[str, Any] = {
    "world": {
        "kind": "synthetic",
        "dim": 32,
        "n_genres": 8,
        "items": {"n_items": 1000},
        "users": {"n_users": 2000, "arrivals_per_day": 20.0},
    },
    "simulation": {"days": 180, "slate_size": 5, "tick_minutes": 60.0},
}
#: The user models the table can be asked about: their satisfaction and retention components.
MODELS: dict[str, dict[str, str]] = {
    "evidence": {"satisfaction": "evidence", "retention": "frailty"},
    "default": {"satisfaction": "default", "retention": "default"},
}


def target_config(model: str = "evidence", sets: dict[str, Any] | None = None) -> Config:
    """:data:`TARGET_WORLD` with the components of ``model`` and the dotted ``sets`` applied."""
    from simrec.config import Config, from_dict, replace_path

    if model not in MODELS:
        raise ValueError(f"model: expected one of {list(MODELS)}, got {model!r}")
    cfg = from_dict(Config, {**TARGET_WORLD, "user_model": dict(MODELS[model])})
    for key, value in (sets or {}).items():
        cfg = replace_path(cfg, key, value)
    return cfg


@dataclass(frozen=True)
class Target:
    """A published range a long-run statistic should fall in.

    Attributes:
        name: The statistic (a key of :func:`measure`'s result).
        low: Lower end of the range (``-inf``: none).
        high: Upper end (``inf``: none).
        source: Where the range comes from (short; docs/model.md cites in full).
        days: The horizon the statistic needs, days.
    """

    name: str
    low: float
    high: float
    source: str
    days: int

    def holds(self, value: float) -> bool:
        """Whether ``value`` is in the range (NaN: no)."""
        return bool(self.low <= value <= self.high)


INF = float("inf")
#: The long-run targets, in the order of the table.
TARGETS = (
    Target("hazard_ratio", 0.0, 1.0, "Fader & Hardie 2007; Vaupel et al. 1979", 180),
    Target("early_engager_ratio", 0.0, 0.6, "Dror et al. 2012 (direction)", 90),
    Target("retention_180", 0.70, 0.90, "Antenna 2024: 2-5.2% monthly churn", 180),
    Target("d1", 0.20, 0.30, "Appboy 2016; AppsFlyer 2018", 2),
    Target("d7", 0.08, 0.15, "Appboy 2016: 11%; AppsFlyer 2018: 10-12%", 8),
    Target("d30", 0.04, 0.10, "AppsFlyer 2018: 4-5%; Quettra 2015: ~10%", 31),
    Target("user_gini", 0.45, 0.65, "ML-1M: 0.53 (all), 0.59 (held-out)", 30),
    Target("dau_mau", 0.10, 0.50, "Sequoia via June.so: media 12%, consumer 30%", 30),
)


def _hazard(start: np.ndarray, churn: np.ndarray, lo: float, hi: float) -> float:
    """Churns per user-day at risk in ``[lo, hi)`` (``start``: arrival; ``churn``: inf if none)."""
    at_risk = np.clip(np.minimum(churn, hi) - np.maximum(start, lo), 0.0, None).sum()
    events = ((churn >= lo) & (churn < hi)).sum()
    return float(events / at_risk) if at_risk > 0 else float("nan")


def measure(sessions: pd.DataFrame, arrival: np.ndarray, days: float) -> dict[str, float]:
    """The long-run statistics of one run (see the module docstring).

    NaN where the run is too short or has nobody to measure.

    Args:
        sessions: The run's session log (``user``, ``start``, ``clicks``, ``churned``,
            ``end``).
        arrival: Arrival day of every user (0: the day-0 cohort).
        days: The run's horizon, days.
    """
    n = len(arrival)
    user = sessions["user"].to_numpy(np.int64)
    start = sessions["start"].to_numpy(np.float64)
    clicks = sessions["clicks"].to_numpy(np.int64)
    churn = np.full(n, np.inf)
    gone = sessions["churned"].to_numpy(bool)
    churn[user[gone]] = sessions["end"].to_numpy(np.float64)[gone]
    cohort = arrival == 0.0
    out: dict[str, float] = {}
    nan = float("nan")
    if days >= 180:
        early = _hazard(arrival[cohort], churn[cohort], 0.0, 30.0)
        late = _hazard(arrival[cohort], churn[cohort], 90.0, 180.0)
        out["hazard_ratio"] = late / early if early > 0 else nan
        out["retention_180"] = float((churn[cohort] >= 180.0).mean()) if cohort.any() else nan
    else:
        out["hazard_ratio"] = out["retention_180"] = nan
    if days >= 90:
        there = cohort & (churn >= 14.0)
        early = np.bincount(user[start < 14.0], clicks[start < 14.0], minlength=n)[there]
        gone90 = churn[there] < 90.0
        if len(early) >= 4:
            # Quartiles by value, ties included on both sides (with many users at zero clicks
            # the bottom group is every one of them, not an arbitrary quarter).
            low, high = np.quantile(early, [0.25, 0.75])
            bottom, top = gone90[early <= low], gone90[early >= high]
            ok = high > low and bottom.size and top.size and bottom.mean() > 0
            out["early_engager_ratio"] = float(top.mean() / bottom.mean()) if ok else nan
        else:
            out["early_engager_ratio"] = nan
    else:
        out["early_engager_ratio"] = nan
    # A newcomer's day 0 is the calendar day of their first session (an arrival late in a day
    # first visits at the next tick, which may fall after midnight).
    first = np.full(n, np.inf)
    np.minimum.at(first, user, start)
    day0 = np.floor(np.where(np.isfinite(first), first, arrival))
    session_day = np.floor(start) - day0[user]
    newcomer = (arrival > 0.0) & np.isfinite(first)
    for k in (1, 7, 30):
        eligible = newcomer & (day0 + k + 1 <= days)
        active = np.zeros(n, dtype=bool)
        active[user[session_day == k]] = True
        out[f"d{k}"] = float(active[eligible].mean()) if eligible.any() else nan
    month = start < 30.0
    if days >= 30 and month.any():
        per_user = np.bincount(user[month], clicks[month], minlength=n)
        out["user_gini"] = gini(per_user[per_user > 0]) if (per_user > 0).any() else nan
        pairs = np.unique(np.stack([user[month], np.floor(start[month]).astype(np.int64)]), axis=1)
        dau = np.bincount(pairs[1], minlength=30)[:30]
        mau = len(np.unique(pairs[0]))
        out["dau_mau"] = float(dau.mean() / mau) if mau else nan
    else:
        out["user_gini"] = out["dau_mau"] = nan
    return out


def target_table(
    config: Config,
    agents: tuple[str, ...] = ("random", "popularity"),
    seeds: tuple[int, ...] = (0, 1),
    progress: bool = False,
) -> pd.DataFrame:
    """Each target's simulated mean (95% t CI over the runs) against its range.

    Runs ``config`` under ``agents`` x ``seeds``.

    The config should run at least 180 days with arrivals after day 0, or the targets that
    need them are NaN.
    """
    import pandas as pd

    from simrec.agent import make_agent
    from simrec.runner.results import mean_ci
    from simrec.simulation import Simulation

    rows: list[dict[str, Any]] = []
    values: dict[str, list[float]] = {t.name: [] for t in TARGETS}
    for seed in seeds:
        sim = Simulation(config)
        results = sim.run_many([make_agent(a) for a in agents], seed=seed, progress=progress)
        for res in results:
            sessions = pd.DataFrame(res.log.sessions.columns())
            got = measure(sessions, res.log.arrival_day, config.simulation.days)
            for name, value in got.items():
                values[name].append(value)
    for t in TARGETS:
        v = np.asarray(values[t.name], dtype=float)
        v = v[np.isfinite(v)]
        ci = mean_ci(v)
        mean, half = ci["mean"], ci["ci95"]
        rows.append(
            {
                "target": t.name,
                "range": f"[{t.low:g}, {t.high:g}]",
                "simulated": mean,
                "ci_low": mean - half,
                "ci_high": mean + half,
                "runs": len(v),
                "holds": t.holds(mean),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)
