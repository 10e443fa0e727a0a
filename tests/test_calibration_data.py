"""Real data for the user model (docs/model.md, section 6): CDNOW's BG/NBD fit on the whole
log, and the activity of MovieLens-1M raters."""

import pytest

from simrec.calibration_data import activity_summary, cdnow_bgnbd


def test_cdnow_bgnbd_on_the_whole_log(cdnow_wheel):
    summary, fit = cdnow_bgnbd(sample=False, folder=cdnow_wheel.parent)
    assert len(summary) == 23_570 and fit.converged and fit.n == 23_570
    assert {k: round(v, 3) for k, v in fit.params.items()} == {
        "r": 0.252,
        "alpha": 4.789,
        "a": 0.723,
        "b": 2.161,
    }
    assert fit.log_likelihood == pytest.approx(-95_368.44, abs=0.01)
    assert (int(summary["frequency"].sum()), int(summary["holdout"].sum())) == (24_337, 19_684)


def test_movielens_1m_activity(movielens_1m):
    held = activity_summary(movielens_1m, "held-out")
    # The numbers issue 35 cites (docs/movielens.md's held-out table): the last 20% of ratings.
    assert (held.users, held.ratings) == (1_783, 200_041)
    assert round(held.user_gini, 3) == 0.590 and round(held.one_day_share, 3) == 0.409
    row = held.row()
    assert row["gap_median_days"] == 10.0 and round(row["gap_mean_days"], 1) == 34.8
    whole = activity_summary(movielens_1m, "all")
    assert (whole.users, whole.ratings) == (6_040, 1_000_209)
    assert round(whole.user_gini, 3) == 0.529 and round(whole.one_day_share, 3) == 0.587
    assert whole.gap_quantiles()[0.5] == 8.0 and round(whole.gap_share_within(7), 3) == 0.488
    with pytest.raises(ValueError, match="period"):
        activity_summary(movielens_1m, "test")
