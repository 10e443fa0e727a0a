"""Fairness re-rankers: the greedy rules by hand, the base at weight 0, the metrics they move."""

import numpy as np
import pytest
from conftest import small_config
from simrec_agents.fair import (
    CalibratedAgent,
    FairExposureAgent,
    calibrated_rerank,
    exposure_rerank,
    position_weights,
)

from simrec import Simulation, make_agent
from simrec.errors import ConfigError


def test_exposure_rerank_by_hand():
    ranked = np.array([[0, 1, 2, 3]])
    creator = np.array([0, 0, 1, 2])
    exposure = np.array([10.0, 5.0, 0.0])
    assert exposure_rerank(ranked, creator, exposure, 0.0, 3).tolist() == [[0, 1, 2]]
    # weight 1: the least-exposed creator first (item 3), then creator 1 (item 2), then 0
    assert exposure_rerank(ranked, creator, exposure, 1.0, 3).tolist() == [[3, 2, 0]]
    # in between: rank gain (1, .63, .5, .43) against the exposure deficit (0, 0, .5, 1):
    # item 3 (.5*.43 + .5*1 = .72) beats item 0 (.5); then creator 2 has exposure 1, the
    # deficits are (0, 0, 1) over items 0-2 and item 2 (.5*.5 + .5*1 = .75) beats item 0 (.5)
    mid = exposure_rerank(ranked, creator, exposure, 0.5, 2)
    assert mid.tolist() == [[3, 2]]
    assert exposure.tolist() == [10.0, 5.0, 0.0]  # the caller's exposure is not modified


def test_exposure_rerank_spreads_a_slate_over_creators():
    rng = np.random.default_rng(0)
    ranked = np.stack([rng.permutation(40) for _ in range(50)])
    creator = np.arange(40) % 4  # every creator has 10 items
    exposure = np.zeros(4)
    out = exposure_rerank(ranked, creator, exposure, 1.0, 4)
    assert all(len(set(creator[row])) == 4 for row in out)  # one item of each creator
    assert np.array_equal(exposure_rerank(ranked, creator, exposure, 0.0, 4), ranked[:, :4])


def test_calibrated_rerank_by_hand():
    ranked = np.array([[0, 1, 2, 3, 4, 5]])
    genre = np.array([0, 0, 0, 0, 1, 1])
    half = np.array([[0.5, 0.5]])
    assert calibrated_rerank(ranked, genre, half, 0.0, 4).tolist() == [[0, 1, 2, 3]]
    out = calibrated_rerank(ranked, genre, half, 0.9, 4)
    assert sorted(genre[out[0]].tolist()) == [0, 0, 1, 1]  # the user's 50/50 mix
    assert out[0, 0] == 0  # the base's best item still leads
    nobody = np.zeros((1, 2))  # no history: the base's slate
    assert calibrated_rerank(ranked, genre, nobody, 0.9, 4).tolist() == [[0, 1, 2, 3]]


def test_weight_zero_is_the_base_agent():
    cfg = small_config(days=4)
    base = Simulation(cfg).run("popularity", seed=3).log.impressions.columns()
    for cls in (FairExposureAgent, CalibratedAgent):
        wrapped = Simulation(cfg).run(cls(base="popularity", weight=0.0), seed=3)
        cols = wrapped.log.impressions.columns()
        assert np.array_equal(cols["item"], base["item"]) and np.array_equal(
            cols["click"], base["click"]
        )


def test_the_wrappers_move_their_metric_the_right_way():
    cfg = small_config(days=10, n_users=200, n_items=300)
    totals = {
        (name, w): Simulation(cfg).run(cls(base="popularity", weight=w), seed=1).totals
        for name, cls in (("fair", FairExposureAgent), ("calibrated", CalibratedAgent))
        for w in (0.0, 0.5)
    }
    assert totals["fair", 0.5]["provider_gini"] < totals["fair", 0.0]["provider_gini"] - 0.05
    assert totals["calibrated", 0.5]["calibration"] < 0.8 * totals["calibrated", 0.0]["calibration"]


def test_a_learned_base_learns_from_what_was_shown():
    pytest.importorskip("torch", reason="needs the cf extra")
    agent = make_agent("fair-exposure", base="mf", base_params={"epochs": 1}, weight=0.3)
    r = Simulation(small_config(days=4, retrain_every_days=1.0)).run(agent, seed=0)
    assert agent.base.fits == 3 and r.cost.fits == 3
    assert len(agent.base.log.table) == r.totals["impressions"]  # every served impression
    assert r.cost.extra["base"] == "mf" and r.cost.extra["weight"] == 0.3
    w = position_weights(5)
    assert agent.exposure.sum() == pytest.approx(r.totals["impressions"] / 5 * w.sum())


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"weight": 1.5}, r"weight: expected a number in \[0, 1\], got 1.5"),
        ({"depth": 0}, "depth: expected a positive integer, got 0"),
        ({"base": "oracle"}, "base: expected an agent that sees only observable data"),
        ({"base": "nope"}, "nope"),
    ],
)
def test_bad_settings(params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make_agent("fair-exposure", **params)
