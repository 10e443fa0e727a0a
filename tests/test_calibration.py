"""The MovieLens-100K world against the real data (numbers in docs/movielens.md)."""

import numpy as np
import pytest

from simrec.calibration import ReplayExposure, calibrate, comparison, stats_of
from simrec.config import DEFAULTS_0_1


def test_stats_by_hand():
    # Users 0 (items 0, 1 on day 0; item 0 on day 3) and 1 (item 2 on day 1).
    s = stats_of(
        user=np.array([0, 0, 0, 1]),
        item=np.array([0, 1, 0, 2]),
        day=np.array([0.2, 0.5, 3.1, 1.0]),
        genre=np.array([0, 0, 1]),
        n_items=3,
        n_genres=2,
    )
    assert s.genre_share.tolist() == [0.75, 0.25]
    assert s.top10_share == 0.5  # the top 10% of 3 items is one item: item 0, 2 of 4
    assert s.gap_median_days == 3.0 and s.single_day_users == 0.5


def test_replay_exposure_follows_the_weights():
    from simrec.agent import AgentContext
    from simrec.types import RequestBatch

    agent = ReplayExposure(np.array([0.0, 0.0, 99.0, 9.0]), exclude_recent=0)
    world = type("W", (), {"n_users": 1})()
    agent.setup(AgentContext(world, np.random.default_rng(0), 1, 0, 0.0))
    n = 4000
    batch = RequestBatch(
        users=np.zeros(n, np.int64),
        time=0.0,
        step=np.zeros(n, np.int32),
        available=np.arange(4),
        candidates=None,
        slate_size=1,
    )
    counts = np.bincount(agent.recommend(batch).ravel(), minlength=4) / n
    assert counts == pytest.approx(np.array([1, 1, 100, 10]) / 112, abs=0.015)


@pytest.mark.slow
def test_movielens_world_reproduces_real_popularity_genres_and_gaps(movielens):
    # The in-sample calibration of simrec 0.1, on its settings (return, churn and the
    # MovieLens appeal): it still holds there. The held-out calibration is tested below.
    over: dict = {"retention": {}, "world": {"movielens": {}}}
    for key, value in DEFAULTS_0_1.items():
        if key.startswith("retention."):
            over["retention"][key.split(".")[1]] = value
        elif key.startswith("world.movielens."):
            over["world"]["movielens"][key.split(".")[2]] = value
    real, sim, genre_tv = calibrate(over, days=185, exposure_power=0.5)
    table = comparison(real, sim)
    assert genre_tv < 0.06, table
    assert abs(sim.item_gini - real.item_gini) < 0.06, table
    assert abs(sim.top10_share - real.top10_share) < 0.05, table
    assert abs(sim.gap_median_days - real.gap_median_days) <= 2, table


def test_ranking_metrics_by_hand():
    from simrec.calibration import _user_metrics

    score = np.array([0.9, 0.8, 0.1, 0.5, 0.0])
    candidates = np.array([True, True, True, True, False])  # item 4 was rated in training
    positive = np.array([False, True, True, False, True])
    auc, ndcg = _user_metrics(score, candidates, positive, k=2)
    # Positives 0.8 and 0.1 against negatives 0.9 and 0.5: 1 of 4 pairs ordered right.
    assert auc == 0.25
    # Top 2: items 0 (miss) and 1 (hit at rank 2): (1 / log2 3) / (1 + 1 / log2 3).
    assert ndcg == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))


def test_heldout_ranking_world_against_popularity_and_mf(movielens):
    from simrec.calibration import heldout_ranking

    table = heldout_ranking("movielens-100k", 0.8, n_boot=500)
    cover = table.attrs["coverage"]
    assert cover["held-out ratings"] == 20_001
    assert sum(list(cover.values())[1:]) == pytest.approx(1.0)
    warm = table.loc["users with training ratings"]
    assert set(warm.index) == {"world click model", "popularity", "MF (PureSVD, d=32)"}
    assert warm["n users"].nunique() == 1 and warm["n users"].iloc[0] > 100
    # Every scorer ranks held-out ratings well above chance (AUC 0.5).
    assert (warm["auc"] > 0.7).all(), table
    # The target of docs/movielens.md: the world's click model ranks held-out ratings as well
    # as popularity does -- its paired CI against popularity reaches 0 (measured: 0.781 vs
    # 0.790, CI [-0.027, +0.008]); on NDCG@10 it is behind (said so in the docs).
    lo, hi = (
        float(x) for x in warm.loc["world click model", "auc - popularity, 95% CI"][1:-1].split(",")
    )
    assert lo < 0 < hi or lo >= 0, table
    new = table.loc["new users"]
    assert set(new.index) == {"world click model", "popularity"}  # MF has no new users


def test_heldout_ranking_rejects_a_split_outside_0_1():
    from simrec.calibration import heldout_ranking

    with pytest.raises(ValueError, match=r"split: expected a share in \(0, 1\), got 1.0"):
        heldout_ranking("movielens-100k", 1.0)


@pytest.mark.slow
def test_temporal_calibration_on_the_refitted_activity(movielens):
    from simrec.calibration import REFITTED, temporal_calibration

    overrides, power = REFITTED["movielens-100k"]
    out = temporal_calibration("movielens-100k", 0.8, overrides, exposure_power=power)
    assert out["days"] == 185 and 130 < out["split_day"] < 145
    held = out["held-out"]
    real, sim = held["real"], held["simulated"]
    # The held-out period's real ratings come from users active in it (301 of 943).
    assert real["active_users"] == 301
    # What docs/movielens.md reports for the held-out period (seed 0): popularity, genres,
    # the share of one-day users and the volume agree within the stated bounds; user
    # activity is less unequal in the simulation (not asserted: said so in the docs).
    assert out["genre_tv"]["held-out"] < 0.08, held
    assert abs(sim["item_gini"] - real["item_gini"]) < 0.08, held
    assert abs(sim["single_day_users"] - real["single_day_users"]) < 0.1, held
    assert 1.0 / 2.5 < out["volume_ratio"]["held-out"] < 2.5, held
    assert sim["active_users"] > 150


@pytest.mark.slow
def test_refit_prefers_the_recorded_settings_to_the_defaults(movielens):
    from simrec.calibration import REFITTED, refit_sessions

    overrides, power = REFITTED["movielens-100k"]
    chosen, chosen_power, table = refit_sessions(
        "movielens-100k", 0.8, candidates=({}, overrides), powers=(0.5, power)
    )
    assert chosen == overrides and chosen_power == power, table
    assert list(table["stage"]) == [1, 1, 2, 2]
    # Only the training period was simulated: the held-out period plays no part.
    assert table["loss"].iloc[1] < table["loss"].iloc[0]


def test_calibrate_command_rejects_bad_options(capsys):
    from simrec.cli import main

    assert main(["calibrate", "--fraction", "1.5"]) == 2
    assert "--fraction: expected a share in [0.01, 0.99]" in capsys.readouterr().err
    assert main(["calibrate", "--split", "in-sample", "--world", "movielens-1m"]) == 2
    assert "only for movielens-100k" in capsys.readouterr().err


@pytest.mark.slow
def test_calibrate_command_prints_the_heldout_tables(movielens, capsys):
    from simrec.cli import main

    assert main(["calibrate", "--world", "movielens-100k", "--split", "temporal"]) == 0
    out = capsys.readouterr().out
    assert "fitted on the first 80% of the ratings (time order)" in out
    assert "last 20% (20,001 ratings)" in out
    for line in ("world click model", "popularity", "MF (PureSVD, d=32)", "new users"):
        assert line in out
    assert "activity, held-out period (real ratings vs simulated clicks)" in out
    assert "volume, real / simulated clicks per active user" in out


def test_session_loss_by_hand():
    import pandas as pd

    from simrec.calibration import session_loss

    table = pd.DataFrame(
        {"real": [100.0, 10.0, 0.6], "simulated": [50.0, 20.0, 0.2]},
        index=["per_user_mean", "gap_mean_days", "single_day_users"],
    )
    logit = np.log(0.6 / 0.4) - np.log(0.2 / 0.8)
    assert session_loss(table) == pytest.approx(np.log(2) + np.log(2) + logit)
    assert session_loss(table.assign(simulated=table["real"])) == 0.0
