"""The off-policy estimators on real logs: the Open Bandit Dataset sample that obp ships.

The Open Bandit Dataset (Saito et al. 2021) logged two policies on ZOZOTOWN's fashion
recommendations -- uniform random and Bernoulli Thompson sampling (BTS) -- each on its own
share of traffic, with their propensities. As obp's authors validate their estimators, one
policy's click rate is estimated from the other policy's logs and compared with its
on-policy click rate (its own logs' mean). :func:`open_bandit_check` does both directions
with IPS, SNIPS, the direct method and doubly robust (obp's, with its ``RegressionModel``
over a logistic regression, cross-fitted in 3 folds, as in obp's examples), so that the
estimators simrec scores against its truth can be seen on real data next to it.

obp 0.4.1's loader calls ``DataFrame.drop`` with a positional axis, which pandas 3 refuses;
:class:`OpenBanditData` is the loader with that one step written for pandas 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simrec.errors import DependencyNotInstalled

__all__ = ["open_bandit_check"]


def _dataset_class() -> Any:
    try:
        from obp.dataset import OpenBanditDataset
    except ImportError as err:
        raise DependencyNotInstalled(
            "the Open Bandit Dataset check needs obp; pip install 'simrec[ope]'"
        ) from err
    from sklearn.preprocessing import LabelEncoder

    class OpenBanditData(OpenBanditDataset):
        """obp's loader of the shipped sample, with its pre-processing for pandas 3."""

        def pre_process(self) -> None:
            user_cols = self.data.columns.str.contains("user_feature")
            self.context = pd.get_dummies(self.data.loc[:, user_cols], drop_first=True).values
            first = self.item_context["item_feature_0"]
            rest = self.item_context.drop(columns="item_feature_0").apply(
                LabelEncoder().fit_transform
            )
            self.action_context = pd.concat([rest, first], axis=1).values

    return OpenBanditData


def open_bandit_check(
    campaign: str = "all", seed: int = 12345, n_sim: int = 100_000, bootstrap: int = 500
) -> pd.DataFrame:
    """Estimate each OBD policy's click rate from the other policy's logs.

    Args:
        campaign: ``"all"``, ``"men"`` or ``"women"``.
        seed: Seed of BTS's simulated action distribution, the folds and the bootstrap.
        n_sim: Thompson-sampling draws simulating BTS's action distribution (obp's default).
        bootstrap: Bootstrap samples of the 95% CIs.

    Returns:
        One row per (evaluated policy, estimator): the estimate, its CI, the evaluated
        policy's on-policy click rate, the relative error and whether the CI covers it.
    """
    import obp.ope as ope
    from obp.policy import BernoulliTS, Random
    from sklearn.linear_model import LogisticRegression

    data = _dataset_class()
    rows = []
    for logged, evaluated in (("random", "bts"), ("bts", "random")):
        ds = data(behavior_policy=logged, campaign=campaign)
        fb = ds.obtain_batch_bandit_feedback()
        n = fb["n_rounds"]
        if evaluated == "bts":
            policy = BernoulliTS(
                n_actions=ds.n_actions, len_list=ds.len_list, is_zozotown_prior=True,
                campaign=campaign, random_state=seed,
            )  # fmt: skip
            dist = policy.compute_batch_action_dist(n_sim=n_sim, n_rounds=n)
        else:
            dist = Random(n_actions=ds.n_actions, len_list=ds.len_list).compute_batch_action_dist(
                n_rounds=n
            )
        truth = float(data.calc_on_policy_policy_value_estimate(evaluated, campaign))
        model = ope.RegressionModel(
            n_actions=ds.n_actions, len_list=ds.len_list, action_context=fb["action_context"],
            base_model=LogisticRegression(max_iter=1000, C=100, random_state=seed),
        )  # fmt: skip
        q = model.fit_predict(
            context=fb["context"], action=fb["action"], reward=fb["reward"],
            position=fb["position"], pscore=fb["pscore"], n_folds=3, random_state=seed,
        )  # fmt: skip
        kw = {"reward": fb["reward"], "action": fb["action"], "position": fb["position"],
              "pscore": fb["pscore"], "action_dist": dist}  # fmt: skip
        dm = {"action_dist": dist, "position": fb["position"], "estimated_rewards_by_reg_model": q}
        for name, est, args in (
            ("IPS", ope.InverseProbabilityWeighting(), kw),
            ("SNIPS", ope.SelfNormalizedInverseProbabilityWeighting(), kw),
            ("DM", ope.DirectMethod(), dm),
            ("DR", ope.DoublyRobust(), kw | {"estimated_rewards_by_reg_model": q}),
        ):
            value = float(est.estimate_policy_value(**args))
            ci = est.estimate_interval(**args, n_bootstrap_samples=bootstrap, random_state=seed)
            lo, hi = float(ci["95.0% CI (lower)"]), float(ci["95.0% CI (upper)"])
            rows.append(
                {
                    "campaign": campaign,
                    "logged": logged,
                    "evaluated": evaluated,
                    "estimator": name,
                    "rounds": n,
                    "estimate": value,
                    "ci_low": lo,
                    "ci_high": hi,
                    "on_policy": truth,
                    "relative_error": abs(value - truth) / truth,
                    "covers": bool(lo <= truth <= hi),
                }
            )
    return pd.DataFrame(rows).astype({"rounds": np.int64})


def main() -> None:  # pragma: no cover - a command-line wrapper of open_bandit_check
    """``python -m simrec.experiments.obd``: the check for every campaign, as markdown."""
    import logging

    logging.getLogger("obp").setLevel(logging.WARNING)
    for campaign in ("all", "men", "women"):
        t = open_bandit_check(campaign)
        print(f"\ncampaign {campaign}\n")
        print("| evaluated (from the logs of) | estimator | estimate [95% CI] | on-policy "
              "| relative error | covers |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for _, r in t.iterrows():
            print(
                f"| {r.evaluated} ({r.logged}) | {r.estimator} | {r.estimate:.5f} "
                f"[{r.ci_low:.5f}, {r.ci_high:.5f}] | {r.on_policy:.5f} "
                f"| {r.relative_error:.1%} | {'yes' if r.covers else 'no'} |"
            )


if __name__ == "__main__":  # pragma: no cover
    main()
