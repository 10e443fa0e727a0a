r"""Off-policy evaluation scored against the truth.

A platform has logs of its current (logging) policy and wants the value of another (target)
policy without deploying it. The estimators of the Open Bandit Pipeline (``obp``; Saito et
al., NeurIPS 2021 datasets track) reweight the logged decisions by
:math:`\pi_e(a \mid x) / \pi_0(a \mid x)`. simrec can score them, because it can also run
the target policy on the same seed (the truth).

Per seed, :func:`run_ope` runs

1. the **logging run**: the logging policy serves everyone (its propensities go to the
   impression log); the target policy, as a shadow (:class:`Shadow`), is asked its
   probability of every served slate (and, with slates of one item, of every candidate);
2. the **target run**: the target policy serves everyone (the truth).

Metrics (:data:`OPE_METRICS`) and estimators (:data:`ESTIMATORS`):

* ``ctr`` -- clicks per request. One-item slates: IPS, SNIPS, the direct method and doubly
  robust (obp's ``InverseProbabilityWeighting``, ``SelfNormalizedInverseProbabilityWeighting``,
  ``DirectMethod``, ``DoublyRobust``; actions are the request's candidates; the reward model
  is each item's smoothed click rate in the log). Slates: obp's standard, independent and
  reward-interaction slate IPS (``SlateStandardIPS``, ``SlateIndependentIPS``,
  ``SlateRewardInteractionIPS``) on the clicks of each position.
* ``returned_7d`` -- share of the day-0 cohort that comes back within 7 days of the end of
  its first session; ``retained_30`` -- share not churned by day 30. Trajectory IPS and SNIPS
  (obp's estimators with one weight per user: the product of the slate ratios of every
  decision before the outcome -- the first session, or all requests before day 30), and
  ``first-decision IPS``, the shortcut that weights a user's long-term outcome by the ratio of
  the first decision only (biased when later decisions matter).

The truth is the metric in the target run. For ``ctr`` it differs from what the estimators
target when the target policy changes who comes back and how long sessions last (the logged
requests are the logging policy's); a one-step world (one request per user) removes that
difference (the tests check that IPS then covers the truth).

Per seed and estimator: the estimate and obp's bootstrap 95% CI; across seeds: bias,
standard deviation, RMSE, CI coverage of the truth and the effective sample size of the
weights. Results: ``ope_seeds.csv``, ``ope_summary.csv``, ``ope_report.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simrec.agent import Agent, AgentContext
from simrec.config import ScenarioConfig, to_dict
from simrec.errors import ConfigError, DependencyNotInstalled, InvalidActionError
from simrec.experiments.report import ope_figure, ope_report
from simrec.experiments.split import arm_contexts
from simrec.experiments.tasks import (
    agent_of,
    digest,
    joined_seeds,
    run_tasks,
    task_output,
    to_do,
)
from simrec.preflight import preflight
from simrec.runner.results import atomic_write_bytes, atomic_write_text, comparable
from simrec.runner.store import ResultsFolder
from simrec.simulation import Simulation
from simrec.types import Cost, Feedback, RequestBatch, SlateProbabilities, StochasticSlates

__all__ = [
    "ESTIMATORS",
    "OPE_METRICS",
    "OPEResult",
    "Shadow",
    "estimate_seed",
    "run_ope",
    "summarise_ope",
    "user_outcomes",
]

#: The metrics estimated (see the module docstring).
OPE_METRICS = {
    "ctr": "clicks per request",
    "returned_7d": "share of the day-0 cohort back within 7 days of its first session",
    "retained_30": "share of the day-0 cohort not churned by day 30",
}
#: Estimators by metric kind.
ESTIMATORS = {
    "one-item": ("IPS", "SNIPS", "DM", "DR"),
    "slate": ("SIPS", "IIPS", "RIPS"),
    "long-term": ("trajectory IPS", "trajectory SNIPS", "first-decision IPS"),
}
#: Bootstrap samples of obp's confidence intervals.
BOOTSTRAP = 500


def _obp() -> Any:
    try:
        import obp.ope as ope
    except ImportError as err:
        raise DependencyNotInstalled(
            "off-policy evaluation needs obp; install it with pip install 'simrec[ope]'"
        ) from err
    return ope


class Shadow(Agent):
    """Serves the logging policy and records what the target policy would have done.

    Args:
        logging: A stochastic agent (its ``recommend`` returns
            :class:`~simrec.types.StochasticSlates`).
        target: An agent with ``probabilities(batch, slates)`` and
            ``first_item_probabilities(batch)`` (the stochastic wrappers of
            ``simrec_agents.stochastic``).
    """

    def __init__(self, logging: Agent, target: Agent) -> None:
        """Bind the two policies."""
        if not isinstance(target, SlateProbabilities):
            raise ConfigError(
                f"ope.target: expected a stochastic agent that gives the probability of any "
                f"slate (probabilities(batch, slates): epsilon-greedy, softmax), got "
                f"{type(target).__name__}"
            )
        self.logging, self.target = logging, target
        self._target_probabilities: SlateProbabilities = target
        self.reads_hidden_state = logging.reads_hidden_state or target.reads_hidden_state
        self.rows: list[dict[str, np.ndarray]] = []
        self._pending: dict[str, np.ndarray] | None = None

    def setup(self, context: AgentContext) -> None:
        """Set up both, each with its own stream (and the hidden state only if it reads it)."""
        super().setup(context)
        agents = (self.logging, self.target)
        for agent, ctx in zip(agents, arm_contexts(context, agents), strict=True):
            agent.setup(ctx)

    def recommend(self, batch: RequestBatch) -> StochasticSlates:
        """The logging policy's slates; the target's probabilities of them kept."""
        out = self.logging.recommend(batch)
        if not isinstance(out, StochasticSlates):
            raise InvalidActionError(
                "ope.logging: the logging policy must be stochastic and give its propensities "
                "(return StochasticSlates: epsilon-greedy, softmax)"
            )
        items = np.asarray(out.items)
        tp = self._target_probabilities.probabilities(batch, items)
        rec = {
            "user": np.asarray(batch.users),
            "time": np.full(len(batch), batch.time),
            "items": items,
            "lp_slate": out.propensities.slate,
            "lp_item": out.propensities.item,
            "lp_cascade": out.propensities.cascade,
            "tp_slate": tp.slate,
            "tp_item": tp.item,
            "tp_cascade": tp.cascade,
        }
        if items.shape[1] == 1 and batch.candidates is not None:
            cands = np.asarray(batch.candidates)
            rec["candidates"] = cands
            rec["target_dist"] = self._target_probabilities.first_item_probabilities(batch)
            rec["action"] = (cands == items).argmax(axis=1)
        self._pending = rec
        return out

    def observe(self, feedback: Feedback) -> None:
        """Keep the request's record with its clicks; both policies see the feedback."""
        if self._pending is not None:
            self.rows.append(self._pending | {"clicks": np.asarray(feedback.clicked)})
            self._pending = None
        self.logging.observe(feedback)
        self.target.observe(feedback)

    def retrain(self, now: float) -> None:
        """Both retrain."""
        self.logging.retrain(now)
        self.target.retrain(now)

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        """Both are told."""
        self.logging.on_items_released(items, now)
        self.target.on_items_released(items, now)

    def cost(self) -> Cost:
        """The logging policy's cost."""
        return self.logging.cost()

    def records(self) -> dict[str, np.ndarray]:
        """Every logged request, concatenated (``(n,)`` and ``(n, K)`` arrays)."""
        if not self.rows:
            return {}
        return {k: np.concatenate([r[k] for r in self.rows]) for k in self.rows[0]}


def user_outcomes(users: Any, days: int) -> pd.DataFrame:
    """Per day-0 cohort user with a session: first session end, ``returned_7d``, ``retained_30``.

    Read from a run's per-user table (:func:`simrec.metrics.users.user_table`, the
    ``users`` of a :class:`~simrec.SimulationResult`). ``returned_7d`` is NaN when the
    horizon ends less than 7 days after the first session; ``retained_30`` is NaN when the
    run is shorter than 30 days.
    """
    u = pd.DataFrame(users)
    u = u[u["cohort"] & u["first_end"].notna()]
    first_end = u["first_end"].to_numpy()
    returned = (u["gap_observed"] & (u["gap_days"] <= 7.0)).to_numpy(dtype=np.float64)
    returned[first_end + 7.0 > days] = np.nan
    churned_by_30 = u["churned"] & (u["lifetime_days"] < 30.0)  # the cohort arrived at 0
    retained = (~churned_by_30).to_numpy(dtype=np.float64)
    if days < 30:
        retained[:] = np.nan
    return pd.DataFrame(
        {
            "user": u["user"].to_numpy(),
            "first_end": first_end,
            "returned_7d": returned,
            "retained_30": retained,
        }
    )


@dataclass(frozen=True)
class _Task:
    scenario: ScenarioConfig
    role: str  # "logging" or "target"
    seed: int
    #: The results folder: the run's agent may write into ``out/agent-files/<role>/<seed>/``.
    out: str = ""


def _execute(task: _Task) -> dict[str, Any]:
    """One run: the logging run's records and outcomes, or the target run's truth."""
    sc = task.scenario
    days = sc.simulation.days
    shadow = None
    agent: Agent
    if task.role == "logging":
        agent = shadow = Shadow(agent_of(sc, sc.ope.logging), agent_of(sc, sc.ope.target))
    else:
        agent = agent_of(sc, sc.ope.target)
    result = Simulation(sc.config).run(
        agent,
        seed=task.seed,
        label=task.role,
        allow_hidden_state=agent.reads_hidden_state,
        output_dir=task_output(task.out, task.role, task.seed),
        time_limit=sc.time_limit or None,
    )
    out: dict[str, Any] = {"outcomes": user_outcomes(result.users, days)}
    if shadow is not None:
        out["records"] = shadow.records()
    else:
        imp = result.log.impressions.columns()
        slates = len(imp["click"]) / sc.simulation.slate_size
        out["ctr"] = float(np.sum(imp["click"]) / max(slates, 1.0))
    return out


def _log_ratio(tp: np.ndarray, lp: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(tp) - np.log(lp)


def _interval(est: Any, seed: int, **kw: Any) -> tuple[float, float, float]:
    """Obp's point estimate and bootstrap 95% CI."""
    value = float(est.estimate_policy_value(**kw))
    ci = est.estimate_interval(**kw, n_bootstrap_samples=BOOTSTRAP, random_state=seed)
    return value, float(ci["95.0% CI (lower)"]), float(ci["95.0% CI (upper)"])


def _ess(w: np.ndarray) -> float:
    w = w[np.isfinite(w)]
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) and (w**2).sum() > 0 else 0.0


def _ctr_estimates(rec: dict[str, np.ndarray], seed: int) -> list[dict[str, Any]]:
    ope = _obp()
    clicks = rec["clicks"].astype(np.float64)
    n, K = clicks.shape
    rows = []
    if K == 1 and "target_dist" in rec:
        action, reward = rec["action"], clicks[:, 0]
        pscore = rec["lp_slate"]
        dist = rec["target_dist"] / rec["target_dist"].sum(axis=1, keepdims=True)
        kw = {"reward": reward, "action": action, "pscore": pscore, "action_dist": dist[:, :, None]}
        # the reward model: each item's click rate in the log, smoothed toward the mean
        item = rec["items"][:, 0]
        M = int(max(item.max(), rec["candidates"].max())) + 1
        shown = np.bincount(item, minlength=M)
        hit = np.bincount(item, weights=reward, minlength=M)
        prior = reward.mean()
        rate = (hit + 10.0 * prior) / (shown + 10.0)
        q = rate[rec["candidates"]][:, :, None]
        w = dist[np.arange(n), action] / pscore
        for name, est, extra in (
            ("IPS", ope.InverseProbabilityWeighting(), {}),
            ("SNIPS", ope.SelfNormalizedInverseProbabilityWeighting(), {}),
            ("DM", ope.DirectMethod(), {"estimated_rewards_by_reg_model": q}),
            ("DR", ope.DoublyRobust(), {"estimated_rewards_by_reg_model": q}),
        ):
            args = (kw | extra) if name != "DM" else {"action_dist": kw["action_dist"]} | extra
            v, lo, hi = _interval(est, seed, **args)
            rows.append({"metric": "ctr", "estimator": name, "estimate": v, "ci_low": lo,
                         "ci_high": hi, "ess": _ess(w) if name != "DM" else float(n)})  # fmt: skip
        return rows
    slate_id = np.repeat(np.arange(n), K)
    position = np.tile(np.arange(K), n)
    reward = clicks.ravel()
    for name, est, lp, tp, keys in (
        ("SIPS", ope.SlateStandardIPS(len_list=K), "lp_slate", "tp_slate",
         ("pscore", "evaluation_policy_pscore")),
        ("IIPS", ope.SlateIndependentIPS(len_list=K), "lp_item", "tp_item",
         ("pscore_item_position", "evaluation_policy_pscore_item_position")),
        ("RIPS", ope.SlateRewardInteractionIPS(len_list=K), "lp_cascade", "tp_cascade",
         ("pscore_cascade", "evaluation_policy_pscore_cascade")),
    ):  # fmt: skip
        b, e = rec[lp], rec[tp]
        if b.ndim == 1:
            b, e = np.repeat(b, K), np.repeat(e, K)
        else:
            b, e = b.ravel(), e.ravel()
        if np.isnan(b).any() or np.isnan(e).any():
            rows.append({"metric": "ctr", "estimator": name, "estimate": math.nan,
                         "ci_low": math.nan, "ci_high": math.nan, "ess": math.nan,
                         "note": "a policy gives no item marginals"})  # fmt: skip
            continue
        kw = {"slate_id": slate_id, "reward": reward, "position": position,
              keys[0]: b, keys[1]: e}  # fmt: skip
        v, lo, hi = _interval(est, seed, **kw)
        rows.append({"metric": "ctr", "estimator": name, "estimate": v, "ci_low": lo,
                     "ci_high": hi, "ess": _ess((e / b)[position == K - 1])})  # fmt: skip
    return rows


def _long_term_estimates(
    rec: dict[str, np.ndarray], outcomes: pd.DataFrame, seed: int
) -> list[dict[str, Any]]:
    ope = _obp()
    user, time = rec["user"], rec["time"]
    logr = _log_ratio(rec["tp_slate"], rec["lp_slate"])
    n_users = int(max(user.max(), outcomes["user"].max())) + 1
    first_end = np.full(n_users, -np.inf)
    first_end[outcomes["user"].to_numpy()] = outcomes["first_end"].to_numpy()
    order = np.lexsort((time, user))
    first_row = order[np.unique(user[order], return_index=True)[1]]
    first_logr = np.full(n_users, np.nan)
    first_logr[user[first_row]] = logr[first_row]
    rows = []
    for metric, before in (
        ("returned_7d", time <= first_end[user]),
        ("retained_30", time < 30.0),
    ):
        y = outcomes[metric].to_numpy()
        keep = ~np.isnan(y)
        if not keep.any():
            continue
        users = outcomes["user"].to_numpy()[keep]
        y = y[keep]
        total = np.bincount(user[before], weights=logr[before], minlength=n_users)[users]
        for name, lw in (("trajectory", total), ("first-decision", first_logr[users])):
            lw = np.nan_to_num(lw, nan=0.0)  # a user with no logged request: weight 1
            with np.errstate(over="ignore"):
                w = np.exp(lw)
            n = len(y)
            base = {"reward": y, "action": np.zeros(n, dtype=int),
                    "action_dist": np.ones((n, 1, 1))}  # fmt: skip
            with np.errstate(divide="ignore"):
                pscore = 1.0 / w
            v, lo, hi = _interval(ope.InverseProbabilityWeighting(), seed, **base, pscore=pscore)
            rows.append({"metric": metric, "estimator": f"{name} IPS", "estimate": v,
                         "ci_low": lo, "ci_high": hi, "ess": _ess(w)})  # fmt: skip
            if name == "trajectory":  # self-normalised: the weights' scale cancels
                ws = np.exp(lw - lw.max())
                with np.errstate(divide="ignore"):
                    pscore = 1.0 / ws
                v, lo, hi = _interval(
                    ope.SelfNormalizedInverseProbabilityWeighting(), seed, **base, pscore=pscore
                )
                rows.append({"metric": metric, "estimator": "trajectory SNIPS", "estimate": v,
                             "ci_low": lo, "ci_high": hi, "ess": _ess(ws)})  # fmt: skip
    return rows


#: The long-term metrics.
LONG_TERM = ("returned_7d", "retained_30")


def _mean(x: pd.Series) -> float:
    x = x.to_numpy(dtype=np.float64)
    return float(np.mean(x[~np.isnan(x)])) if (~np.isnan(x)).any() else math.nan


def estimate_seed(logging: dict[str, Any], target: dict[str, Any], seed: int) -> pd.DataFrame:
    """Every estimator's estimate and CI for one seed, next to the truth and the logging value."""
    rec, outcomes = logging["records"], logging["outcomes"]
    clicks = rec.get("clicks", np.zeros((0, 1)))
    if len(clicks) < 2:  # a tiny world whose users hardly came: nothing to weight
        note = (
            f"the logging run logged {len(clicks)} request(s) on seed {seed}, too few to "
            "estimate anything; raise world.users.n_users or simulation.days"
        )
        nan = math.nan
        rows = [{"metric": m, "estimator": "(none)", "estimate": nan, "ci_low": nan,
                 "ci_high": nan, "ess": nan, "note": note} for m in OPE_METRICS]  # fmt: skip
    else:
        rows = _ctr_estimates(rec, seed) + _long_term_estimates(rec, outcomes, seed)
    truth = {"ctr": target["ctr"]} | {m: _mean(target["outcomes"][m]) for m in LONG_TERM}
    on_policy = {"ctr": float(clicks.sum() / len(clicks)) if len(clicks) else math.nan} | {
        m: _mean(outcomes[m]) for m in LONG_TERM
    }
    frame = pd.DataFrame(rows)
    frame["truth"] = frame["metric"].map(truth)
    frame["logging_value"] = frame["metric"].map(on_policy)
    frame["covers"] = (frame["ci_low"] <= frame["truth"]) & (frame["truth"] <= frame["ci_high"])
    frame["error"] = frame["estimate"] - frame["truth"]
    frame["requests"] = len(clicks)
    return frame.assign(seed=seed)


def summarise_ope(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Per metric and estimator over seeds: bias, sd, RMSE, CI coverage, ESS."""
    rows = []
    for (metric, name), g in per_seed.groupby(["metric", "estimator"], sort=False):
        err = g["error"].to_numpy(dtype=np.float64)
        rows.append(
            {
                "metric": metric,
                "estimator": name,
                "seeds": len(g),
                "truth": float(g["truth"].mean()),
                "logging_value": float(g["logging_value"].mean()),
                "estimate": float(g["estimate"].mean()),
                "bias": float(np.mean(err)),
                "sd": float(np.std(g["estimate"], ddof=1)) if len(g) > 1 else math.nan,
                "rmse": float(np.sqrt(np.mean(err**2))),
                "coverage": float(g["covers"].mean()),
                "ess": float(g["ess"].mean()),
                "note": "; ".join(
                    dict.fromkeys(str(n) for n in g.get("note", pd.Series(dtype=str)) if n == n)
                ),
            }
        )
    return pd.DataFrame(rows)


@dataclass
class OPEResult:
    """The outcome of :func:`run_ope`: the summary, the per-seed table and the folder."""

    summary: pd.DataFrame
    per_seed: pd.DataFrame
    out: Path


def _identity(scenario: ScenarioConfig) -> dict[str, Any]:
    design = comparable(scenario) | {"ope": to_dict(scenario.ope)}
    return {"kind": "simrec-ope", "scenario": scenario.name, "sha256": digest(design)}


def _save(path: Path, out: dict[str, Any]) -> None:
    import io

    arrays = {f"records.{k}": v for k, v in out.get("records", {}).items()}
    arrays |= {f"outcomes.{c}": out["outcomes"][c].to_numpy() for c in out["outcomes"]}
    if "ctr" in out:
        arrays["ctr"] = np.array([out["ctr"]])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> dict[str, Any]:
    with np.load(path) as z:
        out: dict[str, Any] = {
            "records": {k[8:]: z[k] for k in z.files if k.startswith("records.")},
            "outcomes": pd.DataFrame({k[9:]: z[k] for k in z.files if k.startswith("outcomes.")}),
        }
        if "ctr" in z.files:
            out["ctr"] = float(z["ctr"][0])
    return out


def run_ope(
    scenario: ScenarioConfig,
    out: str | Path,
    *,
    workers: int = 1,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
) -> OPEResult:
    """Run a scenario's OPE study (its ``ope`` block) on every seed (module docstring).

    Raises:
        ConfigError: Preflight refused it (:func:`simrec.preflight.preflight`, before any
            folder exists): no ``ope`` block, a ``grid`` (one study per folder), a policy
            that is not stochastic, the memory, an agent.
        DependencyNotInstalled: obp is missing.
        ResultsError: ``out`` holds something else (see ``resume`` and ``force``).
    """
    preflight(scenario, "ope", workers=workers)
    if not scenario.ope.enabled:
        raise ConfigError(
            f"scenario {scenario.name!r}: ope: expected a block naming the logging and "
            "target agent labels, got none"
        )
    _obp()
    out = Path(out)
    folder = ResultsFolder(out, "ope", "OPE study")
    folder.check()
    with folder.open(_identity(scenario), resume=resume, force=force, purpose="simrec ope"):
        return _run_ope(scenario, folder, workers=workers, resume=resume, progress=progress)


def _run_ope(
    scenario: ScenarioConfig, folder: ResultsFolder, *, workers: int, resume: bool, progress: bool
) -> OPEResult:
    out = folder.out
    scenario = joined_seeds(scenario, folder, r"runs/target-seed(\d+)\.npz", resume)
    roles = ("logging", "target")
    tasks = [_Task(scenario, role, s, str(out)) for s in scenario.seeds for role in roles]

    def path(t: _Task) -> Path:
        return out / "runs" / f"{t.role}-seed{t.seed}.npz"

    todo = to_do(tasks, path)
    run_tasks(todo, _execute, lambda t, result: _save(path(t), result), workers=workers,
              progress=progress, total=len(tasks), desc="OPE runs")  # fmt: skip
    frames = [
        estimate_seed(_load(path(_Task(scenario, "logging", s))),
                      _load(path(_Task(scenario, "target", s))), s)
        for s in scenario.seeds
    ]  # fmt: skip
    per_seed = pd.concat(frames, ignore_index=True)
    summary = summarise_ope(per_seed)
    atomic_write_text(out / "ope_seeds.csv", per_seed.to_csv(index=False))
    atomic_write_text(out / "ope_summary.csv", summary.to_csv(index=False))
    figure = None
    try:
        figure = ope_figure(per_seed, out)
    except DependencyNotInstalled:
        pass
    atomic_write_text(out / "ope_report.md", ope_report(scenario, summary, figure))
    return OPEResult(summary, per_seed, out)
