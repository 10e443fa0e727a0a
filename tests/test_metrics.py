import numpy as np
import pytest

from simrec import metrics


def tables():
    # Two days, three users; user 2 arrives on day 1.
    imp = {
        "day": np.array([0, 0, 0, 0, 1, 1, 1, 1]),
        "user": np.array([0, 0, 1, 1, 0, 0, 2, 2]),
        "item": np.array([0, 1, 0, 2, 0, 1, 3, 0]),
        "click": np.array([1, 0, 0, 0, 1, 0, 1, 0], bool),
        "purchase": np.array([1, 0, 0, 0, 0, 0, 0, 0], bool),
        "revenue": np.array([3.0, 0, 0, 0, 0, 0, 0, 0]),
        "engagement": np.array([5.0, 0, 0, 0, 2.0, 0, 1.0, 0]),
        "position": np.array([0, 1, 0, 1, 0, 1, 0, 1]),
        "time": np.array([0.1, 0.1, 0.2, 0.2, 1.1, 1.1, 1.5, 1.5]),
    }
    sessions = {
        "user": np.array([0, 1, 0, 2]),
        "visit": np.array([1, 1, 2, 1]),
        "start": np.array([0.1, 0.2, 1.1, 1.5]),
        "end": np.array([0.3, 0.4, 1.2, 1.6]),
        "churned": np.array([False, True, False, False]),
    }
    days = {
        "day": np.array([0, 1]),
        "alive": np.array([1, 2]),
        "arrived": np.array([2, 3]),
        "satisfaction": np.array([0.6, 0.5]),
        "satisfaction_cohort": np.array([0.6, 0.45]),
        "available_items": np.array([4, 4]),
    }
    users = {"user": np.arange(3), "arrival_day": np.array([0.0, 0.0, 1.2])}
    days["interest_drift"] = np.array([0.0, 0.1])
    items = {
        "topic": np.eye(4),
        "release_day": np.array([0.0, 0.0, 0.0, 1.0]),
        "genre": np.array([0, 0, 1, 1], np.int16),
        "creator": np.array([0, 0, 1, 2]),
        "reference": np.array([0.4, 0.3, 0.2, 0.1]),
    }
    pairs = {"a": np.array([0]), "b": np.array([1])}
    return {
        "impressions": imp,
        "sessions": sessions,
        "days": days,
        "users": users,
        "items": items,
        "pairs": pairs,
    }


def test_daily_metrics_by_hand():
    t = tables()
    assert metrics.clicks(t, 2).tolist() == [1, 2]
    assert metrics.ctr(t, 2).tolist() == [0.25, 0.5]
    assert metrics.conversion_rate(t, 2).tolist() == [1.0, 0.0]
    assert metrics.revenue(t, 2).tolist() == [3.0, 0.0]
    assert metrics.engagement(t, 2).tolist() == [5.0, 3.0]
    assert metrics.dau(t, 2).tolist() == [2, 2]
    assert metrics.retention(t, 2).tolist() == [0.5, 0.5]  # user 1 churned on day 0
    assert metrics.churn_rate(t, 2).tolist() == [0.5, 0.0]  # at risk: 2, then 3 - 1
    assert metrics.return_gap_days(t, 2)[1] == pytest.approx(0.8)  # 1.1 - 0.3
    assert np.isnan(metrics.return_gap_days(t, 2)[0])
    assert metrics.sessions_per_user(t, 2).tolist() == [2.0, 1.0]
    assert metrics.coverage(t, 2).tolist() == [0.75, 0.75]
    assert metrics.satisfaction_alive(t, 2).tolist() == [0.6, 0.5]
    assert metrics.satisfaction_cohort(t, 2).tolist() == [0.6, 0.45]
    # Day-0 cohort = users 0 and 1: one click on day 0 (user 0), one on day 1 (user 0; user
    # 2's click is not the cohort's).
    assert metrics.clicks_per_cohort_user(t, 2).tolist() == [0.5, 0.5]
    # Day 1 exposure over 4 items: counts {0: 2, 1: 1, 3: 1, 2: 0}.
    assert metrics.gini_exposure(t, 2)[1] == pytest.approx(metrics.gini(np.array([0, 1, 1, 2])))
    frame = metrics.daily_metrics(t, 2)
    assert list(frame.index) == [0, 1]
    assert set(metrics.DAILY_METRICS) <= set(frame.columns)


def test_gini_limits():
    assert metrics.gini(np.ones(10)) == 0.0
    assert metrics.gini(np.r_[np.zeros(99), 1.0]) == pytest.approx(0.99)
    assert metrics.gini(np.zeros(5)) == 0.0


def test_run_totals():
    tot = metrics.run_totals(tables(), 2, early_days=1)
    assert tot["clicks"] == 3 and tot["impressions"] == 8
    assert tot["ctr_early"] == 0.25 and tot["retention"] == 0.5
    assert tot["items_shown"] == 4
    # Day 1 alone: clicks 2 of 4 impressions; the default late window covers both days.
    assert metrics.run_totals(tables(), 2, late_days=1)["ctr_late"] == 0.5
    assert tot["ctr_late"] == tot["ctr"] == 3 / 8


def slate_tables():
    # Two days; slates of K = 2; users 0, 1 (cohort) and 2 (arrives day 1).
    z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    imp = {
        "day": np.array([0, 0, 0, 0, 1, 1]),
        "time": np.array([0.1, 0.1, 0.2, 0.2, 1.5, 1.5]),
        "user": np.array([0, 0, 1, 1, 0, 0]),
        "item": np.array([0, 1, 0, 2, 3, 1]),
        "position": np.array([0, 1, 0, 1, 0, 1]),
        "click": np.array([1, 0, 1, 0, 1, 0], bool),
    }
    items = {
        "topic": z,
        "release_day": np.array([0.0, 0.0, 0.0, 1.0]),
        "genre": np.zeros(4, np.int16),
        "creator": np.arange(4),
        # Reference popularity: item 1 is the head (top 20% of 4 items = 1 item).
        "reference": np.array([0.25, 0.5, 0.125, 0.125]),
    }
    users = {"user": np.arange(3), "arrival_day": np.array([0.0, 0.0, 1.0])}
    days = {"day": np.array([0, 1]), "interest_drift": np.array([0.01, 0.03])}
    sessions = {
        "user": np.array([0, 1, 0]),
        "start": np.array([0.1, 0.2, 1.5]),
        "end": np.array([0.15, 0.25, 1.6]),
        "churned": np.zeros(3, bool),
    }
    pairs = {"a": np.array([0, 1]), "b": np.array([1, 0])}
    return {
        "impressions": imp,
        "items": items,
        "users": users,
        "days": days,
        "sessions": sessions,
        "pairs": pairs,
    }


def test_diversity_novelty_tail_cold_by_hand():
    t = slate_tables()
    ild = metrics.intra_list_diversity(t, 2)
    # Day 0: slates (0, 1) distance 1 and (0, 2) distance 0; day 1: (3, 1) distance 0.2.
    assert ild.tolist() == pytest.approx([0.5, 0.2])
    # The head of the reference popularity is item 1; day 0 shows 0, 1, 0, 2 -> tail 0.75;
    # day 1 shows 3, 1 -> 0.5.
    assert metrics.long_tail_share(t, 2).tolist() == pytest.approx([0.75, 0.5])
    nov = metrics.novelty(t, 2)
    # Self-information of the reference: item 0: 2 bits, 1: 1 bit, 2 and 3: 3 bits.
    assert nov.tolist() == pytest.approx([(2 + 1 + 2 + 3) / 4, (3 + 1) / 2])
    # Item 3 is released on day 1 and clicked at day 1.5: cold CTR 1.0 on day 1.
    cold = metrics.cold_item_ctr(t, 2)
    assert np.isnan(cold[0]) and cold[1] == 1.0
    # Warm: every other impression (all of day 0; day 1's item 1), by hand from the log.
    warm = metrics.warm_item_ctr(t, 2)
    imp = t["impressions"]
    for d in (0, 1):
        on = imp["day"] == d
        not_cold = on & ~((imp["item"] == 3) & (d == 1))
        assert warm[d] == pytest.approx(imp["click"][not_cold].mean())
    assert metrics.interest_drift(t, 2).tolist() == [0.01, 0.03]


def test_homogenization_by_hand():
    t = slate_tables()
    # Users 0 and 1 both clicked item 0 on day 0; user 0 also item 3 on day 1.
    h = metrics.homogenization(t, 2)
    assert h.tolist() == pytest.approx([1.0, 0.5])  # the pairs are (0, 1) and (1, 0)
    # Per click: day 1, J = 0.5 over (2 + 1) / 2 clicks per paired user.
    assert metrics.homogenization_per_click(t, 2)[1] == pytest.approx(0.5 / 1.5)
    # Nobody has 10 distinct items: the volume-matched variant has no pair to count.
    assert np.isnan(metrics.homogenization_matched(t, 2)).all()


def test_run_totals_reuse_the_daily_frame():
    t = tables()
    assert metrics.run_totals(t, 2, daily=metrics.daily_metrics(t, 2)) == pytest.approx(
        metrics.run_totals(t, 2), nan_ok=True
    )


def test_new_user_ctr_by_hand():
    t = tables()
    # Only user 2 arrived during the run (day 1.2); its two impressions at 1.5: one click.
    new = metrics.new_user_ctr(t, 2)
    assert np.isnan(new[0]) and new[1] == 0.5
    assert metrics.run_totals(t, 2)["new_user_ctr"] == 0.5
    # More than COLD_DAYS after arrival the user is no longer new.
    late = tables()
    late["users"]["arrival_day"] = np.array([0.0, 0.0, 1.5 - metrics.COLD_DAYS - 0.1])
    assert np.isnan(metrics.run_totals(late, 2)["new_user_ctr"])


def test_sampled_log_keeps_exact_counts_and_the_same_run(tmp_path):
    """A 10% impression log: the same run, the same count metrics, a tenth of the rows."""
    from conftest import small_config

    from simrec import Simulation
    from simrec.config import replace_path

    base = small_config(days=6, n_users=300, n_items=250)
    base = replace_path(base, "world.items.initial_fraction", 0.5)
    base = replace_path(base, "world.items.release_over_days", 4.0)
    full = Simulation(base).run("popularity", seed=3)
    cfg = replace_path(base, "simulation.log_impressions", 0.1)
    part = Simulation(cfg).run("popularity", seed=3, log_dir=str(tmp_path / "spill"))
    exact = [
        "clicks",
        "impressions",
        "ctr",
        "conversion_rate",
        "revenue",
        "engagement",
        "coverage",
        "gini_exposure",
        "long_tail_share",
        "novelty",
        "cold_item_ctr",
        "warm_item_ctr",
        "satisfaction_alive",
        "satisfaction_cohort",
        "provider_gini",
        "provider_zero_share",
        "retention",
        "dau",
    ]
    for m in exact:
        a, b = full.daily[m].to_numpy(), part.daily[m].to_numpy()
        assert np.allclose(a, b, equal_nan=True, rtol=1e-9), m
    for m in ("clicks", "revenue", "items_shown", "cold_item_clicks", "retention"):
        assert part.totals[m] == pytest.approx(full.totals[m], rel=1e-9), m
    # The sampled run's exact counts agree with the full run's rows; a full log keeps none.
    counts = part.log.counts.table()
    assert np.array_equal(counts["dau"][:6], full.daily["dau"].to_numpy())
    assert np.array_equal(counts["clicks"][:6], full.daily["clicks"].to_numpy())
    assert np.array_equal(counts["impressions"][:6], full.daily["impressions"].to_numpy())
    assert len(full.log.counts.table()["day"]) == 0
    # The per-user table of the sampled run is exact too (kept by the counts).
    for col in ("impressions", "clicks", "revenue", "engagement", "lifetime_days"):
        assert np.allclose(part.users[col], full.users[col], rtol=1e-6), col
    share = len(part.log.impressions) / len(full.log.impressions)
    assert 0.07 < share < 0.13
    rows = part.log.impressions.columns()
    assert (rows["position"].reshape(-1, 5) == np.arange(5)).all()  # whole slates kept


def test_spilled_table_reads_back_the_same_rows(tmp_path):
    from simrec.log import SPILL_ROWS, Table

    assert Table({"a": np.int32}, spill_dir=tmp_path / "x").chunk_rows == SPILL_ROWS
    # Chunks of 4, then 8 (the cap, so its buffers are reused for every further chunk).
    t = Table({"a": np.int32, "b": np.float32}, chunk_rows=4, spill_dir=tmp_path, max_chunk_rows=8)
    t.append(a=np.arange(10), b=np.arange(10) / 2)
    t.flush()  # full chunks are written on a background thread
    assert len(t) == 10 and len(list(tmp_path.glob("a.*.npy"))) == 1  # one full chunk
    for lo in range(10, 38, 7):  # batches that straddle chunk ends
        t.append(a=np.arange(lo, lo + 7), b=np.arange(lo, lo + 7) / 2)
    t.flush()
    assert len(t) == 38 and len(list(tmp_path.glob("a.*.npy"))) == 5  # 4 + 4 x 8 rows
    cols = t.columns()
    assert cols["a"].tolist() == list(range(38)) and cols["b"][-1] == 18.5
    assert [len(np.load(f)) for f in sorted(tmp_path.glob("a.*.npy"))] == [4, 8, 8, 8, 8]


def test_in_memory_table_chunks_double_up_to_the_cap():
    from simrec.log import Table

    t = Table({"a": np.int64}, chunk_rows=3, max_chunk_rows=12)
    t.append(a=np.arange(50))
    assert [len(c["a"]) for c in t._full] == [3, 6, 12, 12, 12] and t.chunk_rows == 12
    assert len(t) == 50 and t.columns()["a"].tolist() == list(range(50))
    t.append(a=7)  # a scalar is one row
    assert len(t) == 51 and t.columns()["a"][-1] == 7
    with pytest.raises(ValueError, match="chunk_rows"):
        Table({"a": np.int64}, chunk_rows=0)


@pytest.mark.parametrize("spill", [False, True])
def test_prefaulted_table_holds_the_same_rows(tmp_path, spill):
    import pickle

    from simrec.log import Table

    schema = {"a": np.int64, "b": np.float32}
    kw = {"chunk_rows": 5, "max_chunk_rows": 20}
    plain = Table(schema, spill_dir=tmp_path / "p" if spill else None, **kw)
    ahead = Table(schema, spill_dir=tmp_path / "a" if spill else None, prefault=True, **kw)
    rng = np.random.default_rng(0)
    lo = 0
    for n in rng.integers(1, 45, size=30):  # batches above and below the chunk sizes
        for t in (plain, ahead):
            t.append(a=np.arange(lo, lo + n), b=np.full(n, lo, dtype=np.float32))
        lo += n
    assert len(ahead) == len(plain) == lo
    assert ahead._ahead_rows > 0 or spill  # chunks were prepared ahead (not when reusing)
    for k in schema:
        assert np.array_equal(ahead.columns()[k], plain.columns()[k])
    assert ahead.columns()["a"].tolist() == list(range(lo))
    copy = pickle.loads(pickle.dumps(ahead))
    assert np.array_equal(copy.columns()["a"], plain.columns()["a"])


def test_a_failed_spill_write_is_raised_not_lost(tmp_path):
    import shutil

    from simrec.log import Table

    t = Table({"a": np.int64}, chunk_rows=4, spill_dir=tmp_path / "gone", max_chunk_rows=4)
    shutil.rmtree(tmp_path / "gone")  # the disk goes away under a running simulation
    with pytest.raises(FileNotFoundError):  # at the next append that reuses a buffer, or flush
        t.append(a=np.arange(9))  # two full chunks: written on the background thread
        t.flush()
