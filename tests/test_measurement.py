"""The corrected and added measures, each on hand-built logs with known answers.

Where a definition changed, a test builds the case in which the old definition ranks two
agents the wrong way round and checks that the new one ranks them the right way.
"""

import math

import numpy as np
import pandas as pd
import pytest

from simrec import metrics
from simrec.metrics.paired import regret, versus_ideal
from simrec.metrics.reference import chaney_pairs, reference_popularity
from simrec.metrics.survival import hazard_ratio, kaplan_meier, lifetime_summary
from simrec.metrics.users import user_table, user_totals


def log(users, items, days, clicks=None, n_users=None, reference=None, pairs=None, churn=()):
    """A one-request-per-row log: ``users[r]`` was shown ``items[r]`` on ``days[r]``."""
    users, items, days = (np.asarray(x) for x in (users, items, days))
    clicks = np.ones(len(users), bool) if clicks is None else np.asarray(clicks, bool)
    n_users = int(users.max()) + 1 if n_users is None else n_users
    m = int(items.max()) + 1
    churned = np.isin(np.arange(n_users), list(churn))
    return {
        "impressions": {
            "day": days,
            "time": days + 0.5 + np.arange(len(days)) * 1e-4,
            "user": users,
            "item": items,
            "click": clicks,
            "position": np.zeros(len(users), np.int16),
        },
        "sessions": {
            "user": np.arange(n_users),
            "start": np.zeros(n_users),
            "end": np.where(churned, 0.1, days.max() + 1.0),
            "churned": churned,
        },
        "users": {"user": np.arange(n_users), "arrival_day": np.zeros(n_users)},
        "items": {
            "reference": np.full(m, 1.0 / m) if reference is None else np.asarray(reference),
            "genre": np.zeros(m, np.int16),
        },
        "pairs": pairs or {"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64)},
    }


# ---------------------------------------------------------------- long tail and novelty


def old_long_tail_share(t):
    """The definition before issue 16: the head is the top 20% of the agent's own clicks."""
    imp = t["impressions"]
    m = int(imp["item"].max()) + 1
    clicks = np.bincount(imp["item"], weights=imp["click"], minlength=m)
    head = np.zeros(m, bool)
    head[np.argsort(-clicks, kind="stable")[: max(int(np.ceil(0.2 * m)), 1)]] = True
    return float((~head[imp["item"]]).mean())


def test_long_tail_share_against_a_shared_reference_reverses_the_old_ordering():
    # Ten items; the reference makes items 0 and 1 the head (20% of 10).
    reference = np.r_[0.3, 0.3, np.full(8, 0.05)]
    rng = np.random.default_rng(0)
    # Agent "niche" shows only two tail items (8 and 9); agent "spread" shows all ten evenly.
    niche = log(
        rng.integers(0, 50, 400),
        np.r_[np.full(200, 8), np.full(200, 9)],
        np.zeros(400, int),
        reference=reference,
    )
    spread = log(
        rng.integers(0, 50, 400),
        np.tile(np.arange(10), 40),
        np.zeros(400, int),
        reference=reference,
    )
    # Old: each agent's head is its own most-clicked items, so the niche agent's two items
    # *are* its head (tail share 0) and uniform exposure scores 0.8: niche < spread.
    assert old_long_tail_share(niche) == 0.0
    assert old_long_tail_share(spread) == pytest.approx(0.8)
    # New: one reference for both -- the niche agent shows nothing but tail items.
    new_niche = metrics.long_tail_share(niche, 1)[0]
    new_spread = metrics.long_tail_share(spread, 1)[0]
    assert new_niche == 1.0 and new_spread == pytest.approx(0.8)
    assert new_niche > new_spread
    # Novelty is the reference's self-information: tail items 1/0.05 -> log2(20) bits.
    assert metrics.novelty(niche, 1)[0] == pytest.approx(math.log2(20))
    assert metrics.novelty(spread, 1)[0] == pytest.approx(
        (2 * -math.log2(0.3) + 8 * math.log2(20)) / 10
    )


def test_reference_popularity_is_the_mean_softmax_over_the_catalog():
    v = np.array([[0.0, math.log(3.0)], [math.log(3.0), math.log(3.0)]])

    def utility(users, ids):
        return v[users][:, : ids.shape[1]]

    r = reference_popularity(utility, np.array([0, 1]), 2, np.random.default_rng(0))
    # User 0 picks item 1 with 3/4, user 1 either with 1/2.
    assert r.tolist() == pytest.approx([(0.25 + 0.5) / 2, (0.75 + 0.5) / 2])


# ----------------------------------------------------------------------- homogenization


def old_homogenization(t, pairs):
    """Before issue 16: raw Jaccard over pairs, users without consumption included."""
    imp = t["impressions"]
    sets = {}
    for u, i, c in zip(imp["user"], imp["item"], imp["click"], strict=True):
        if c:
            sets.setdefault(int(u), set()).add(int(i))
    out = []
    for a, b in pairs:
        x, y = sets.get(a, set()), sets.get(b, set())
        out.append(len(x & y) / len(x | y) if x | y else 0.0)
    return float(np.mean(out))


def test_homogenization_leaves_out_users_without_consumption_and_reverses_the_old_ordering():
    pairs = {"a": np.array([0, 2]), "b": np.array([1, 3])}
    both = [(0, 1), (2, 3)]
    # Agent X: users 0 ({5}) and 1 ({5, 6}) overlap by half; users 2 and 3 never click.
    x = log([0, 1, 1, 2, 3], [5, 5, 6, 1, 2], np.zeros(5, int), clicks=[1, 1, 1, 0, 0], pairs=pairs)
    # Agent Y: every pair shares one of three items (J = 1/3 each).
    y = log([0, 0, 1, 1, 2, 2, 3, 3], [1, 2, 1, 3, 4, 5, 4, 6], np.zeros(8, int), pairs=pairs)
    # Old: the pair that consumed nothing counts as J = 0, so X = (1/2 + 0) / 2 = 1/4 and
    # looks less homogenized than Y = 1/3.
    assert old_homogenization(x, both) == pytest.approx(0.25)
    assert old_homogenization(y, both) == pytest.approx(1 / 3)
    # New: only pairs who both consumed count: X = 1/2 > Y = 1/3.
    assert metrics.homogenization(x, 1)[0] == pytest.approx(0.5)
    assert metrics.homogenization(y, 1)[0] == pytest.approx(1 / 3)


def test_homogenization_leaves_out_churned_users():
    pairs = {"a": np.array([0, 2]), "b": np.array([1, 3])}
    t = log([0, 1, 2, 3], [5, 5, 1, 2], [0, 0, 0, 0], pairs=pairs, churn=[3])
    # User 3 churned at 0.1: the pair (2, 3) is not counted; (0, 1) has J = 1.
    assert metrics.homogenization(t, 1)[0] == 1.0
    t = log([0, 1, 2, 3], [5, 5, 1, 2], [0, 0, 0, 0], pairs=pairs)
    assert metrics.homogenization(t, 1)[0] == 0.5


def test_volume_matched_homogenization_uses_each_users_last_ten_items():
    V = metrics.HOMOGENIZATION_VOLUME
    # User 0 consumes items 0..14 on day 0, user 1 items 5..19 on day 0 and 30 on day 1.
    u = np.r_[np.zeros(15, int), np.ones(16, int)]
    i = np.r_[np.arange(15), np.arange(5, 20), 30]
    d = np.r_[np.zeros(30, int), 1]
    t = log(u, i, d, pairs={"a": np.array([0]), "b": np.array([1])})
    hm = metrics.homogenization_matched(t, 2)
    # Day 0: last ten of user 0 = 5..14, of user 1 = 10..19: 5 shared of 15 -> 1/3.
    assert hm[0] == pytest.approx(5 / (2 * V - 5))
    # Day 1: user 1's last ten = 11..19, 30: 4 shared -> 4/16.
    assert hm[1] == pytest.approx(4 / (2 * V - 4))
    # The plain measure grows with volume instead: 10 shared of 20 on day 0.
    assert metrics.homogenization(t, 2)[0] == pytest.approx(10 / 20)


def test_chaney_pairs_pair_each_anchor_with_its_most_similar_user():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(50, 4))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    a, b = chaney_pairs(z, np.arange(50), 20, np.random.default_rng(0))
    assert len(a) == 20 and len(set(a.tolist())) == 20 and (a != b).all()
    sim = z @ z.T
    np.fill_diagonal(sim, -np.inf)
    assert (b == sim[a].argmax(axis=1)).all()


def test_versus_ideal_and_regret_pair_runs_of_the_same_seed():
    rows = []
    for agent, seed, values in (
        ("cf", 0, [0.1, 0.3]),
        ("oracle", 0, [0.2, 0.2]),
        ("cf", 1, [0.5, 0.5]),
        ("oracle", 1, [0.1, 0.4]),
    ):
        for day, v in enumerate(values):
            rows.append(("s", agent, seed, day, "homogenization", v))
    m = pd.DataFrame(rows, columns=["scenario", "agent", "seed", "day", "metric", "value"])
    rel = versus_ideal(m, "oracle").set_index(["agent", "seed", "day"])["value"]
    assert rel.loc[("cf", 0, 0)] == pytest.approx(-0.1) and rel.loc[("cf", 0, 1)] == pytest.approx(
        0.1
    )
    assert rel.loc[("cf", 1, 1)] == pytest.approx(0.1) and rel.loc[("oracle", 1, 0)] == 0.0
    users = pd.DataFrame({"user": [0, 1, 2], "cohort": [True, True, False]})
    agent = users.assign(engagement=[5.0, 10.0, 0.0], revenue=[1.0, 0.0, 0.0])
    ideal = users.assign(engagement=[8.0, 9.0, 50.0], revenue=[2.0, 1.0, 0.0])
    r = regret(agent, ideal)  # user 2 arrived later: not in the day-0 cohort
    assert r["regret_engagement_mean"] == pytest.approx((3.0 - 1.0) / 2)
    assert r["worse_off_share"] == 0.5 and r["regret_revenue_mean"] == 1.0


# -------------------------------------------------------- calibration, providers, cohort


def test_steck_calibration_by_hand():
    t = log([0, 0, 0, 0, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 1], clicks=[1, 1, 1, 0, 0])
    t["items"]["genre"] = np.array([0, 1], np.int16)
    c = metrics.calibration(t, 2)
    assert np.isnan(c[0])  # no history before day 0
    p = np.array([2 / 3, 1 / 3])  # clicks before day 1: genres 0, 0, 1
    q = np.array([0.5, 0.5])  # shown on day 1: genres 0, 1
    mix = 0.99 * q + 0.01 * p
    assert c[1] == pytest.approx(float((p * np.log(p / mix)).sum()))


def test_provider_exposure_by_hand():
    t = log([0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 0, 2, 0, 1, 3, 0], [0, 0, 0, 0, 1, 1, 1, 1])
    t["items"].update(creator=np.array([0, 0, 1, 2]), release_day=np.array([0.0, 0.0, 0.0, 1.0]))
    g, z = metrics.provider_gini(t, 2), metrics.provider_zero_share(t, 2)
    # Day 0: creators 0 and 1 are in the catalog (3 and 1 impressions); day 1: creators
    # 0, 1, 2 with 3, 0 and 1.
    assert g.tolist() == pytest.approx(
        [metrics.gini(np.array([3.0, 1.0])), metrics.gini(np.array([3.0, 0.0, 1.0]))]
    )
    assert z.tolist() == pytest.approx([0.0, 1 / 3])


def test_interest_drift_per_click_by_hand():
    t = log([0, 0, 1], [0, 1, 0], [0, 1, 1])
    t["days"] = {
        "day": np.arange(2),
        "alive": np.array([2, 2]),
        "interest_drift": np.array([0.1, 0.3]),
    }
    # Cumulative clicks per alive user: day 0 1/2, day 1 3/2.
    assert metrics.interest_drift_per_click(t, 2).tolist() == pytest.approx([0.2, 0.2])


# ------------------------------------------------------------------ users and survival


def test_user_table_by_hand():
    t = {
        "impressions": {
            "day": np.array([0, 1, 1]),
            "user": np.array([0, 0, 2]),
            "item": np.array([0, 1, 0]),
            "click": np.array([True, True, False]),
            "revenue": np.array([2.0, 0.0, 0.0]),
            "engagement": np.array([3.0, 1.0, 0.0]),
        },
        "sessions": {
            "user": np.array([0, 1, 0, 2]),
            "start": np.array([0.1, 0.2, 1.1, 1.5]),
            "end": np.array([0.3, 0.4, 1.2, 1.6]),
            "churned": np.array([False, True, False, False]),
        },
        "users": {"user": np.arange(3), "arrival_day": np.array([0.0, 0.0, 1.2])},
    }
    u = user_table(t, 2)
    assert u["lifetime_days"].tolist() == pytest.approx([2.0, 0.4, 0.8])
    assert u["churned"].tolist() == [False, True, False]
    assert u["clicks"].tolist() == [2, 0, 0] and u["revenue"].tolist() == [2.0, 0, 0]
    # D1: user 0 is back on day 1, user 1 is not, user 2's day 1 after arrival is past
    # the horizon (not observable).
    assert u["return_d1"][:2].tolist() == [1.0, 0.0] and np.isnan(u["return_d1"][2])
    # First gap: user 0 observed 1.1 - 0.3; user 1 (churned) and 2 censored at the horizon.
    assert u["gap_days"].tolist() == pytest.approx([0.8, 1.6, 0.4])
    assert u["gap_observed"].tolist() == [True, False, False]
    tot = user_totals(u)
    assert tot["return_d1"] == 0.5 and tot["ltv_revenue_mean"] == 1.0  # cohort: users 0, 1
    assert tot["ltv_engagement_median"] == 2.0


def toy_users(T, E):
    return pd.DataFrame(
        {"user": np.arange(len(T)), "cohort": True, "lifetime_days": T, "churned": E}
    )


def test_kaplan_meier_matches_the_product_limit_by_hand():
    u = toy_users([1.0, 2.0, 2.0, 3.0, 4.0], [True, True, False, True, False])
    km = kaplan_meier(u, 4).set_index("day")["survival"]
    # S(1) = 4/5; at 2: 4 at risk, 1 event -> 0.6; at 3: 2 at risk, 1 event -> 0.3.
    assert km.tolist() == pytest.approx([1.0, 0.8, 0.6, 0.3, 0.3])
    s = lifetime_summary(u, 4)
    assert s["median_lifetime_days"] == 3.0
    assert s["rmst_days"] == pytest.approx(1.0 + 0.8 + 0.6 + 0.3)
    band = kaplan_meier(u, 4)
    assert ((band["lower"] <= band["survival"]) & (band["survival"] <= band["upper"])).all()
    # And what lifelines itself gives on the same table, point for point.
    from lifelines import KaplanMeierFitter

    km_ll = KaplanMeierFitter().fit(u["lifetime_days"], u["churned"])
    assert km.tolist() == pytest.approx(km_ll.survival_function_at_times(range(5)).tolist())
    assert band["lower"].tolist()[1:] == pytest.approx(
        km_ll.confidence_interval_survival_function_.iloc[1:, 0].tolist()
    )


def test_median_lifetime_is_infinite_when_most_users_stay():
    u = toy_users([4.0, 4.0, 4.0, 1.0], [False, False, False, True])
    assert lifetime_summary(u, 4)["median_lifetime_days"] == math.inf


def test_hazard_ratio_recovers_a_known_ratio():
    rng = np.random.default_rng(1)
    agent, base = {}, {}
    for seed in range(3):
        t0 = rng.exponential(20.0, 3000)  # baseline hazard 1/20
        t1 = rng.exponential(10.0, 3000)  # twice the hazard
        base[seed] = toy_users(np.minimum(t0, 30.0), t0 < 30.0)
        agent[seed] = toy_users(np.minimum(t1, 30.0), t1 < 30.0)
    hr = hazard_ratio(agent, base)
    assert hr["hr_lower"] < 2.0 < hr["hr_upper"] and hr["hr_upper"] - hr["hr_lower"] < 0.3
    assert hr["p"] < 1e-10 and hr["users"] == 9000


def test_survival_table_pools_seeds_and_censors_users_not_back():
    from simrec.metrics.survival import survival_table

    def run(T, E, gaps, back):
        return toy_users(T, E).assign(
            gap_days=gaps, gap_observed=back, session_minutes=[10.0, 20.0, 30.0, 40.0]
        )

    users = {
        ("a", 0): run(
            [1.0, 4.0, 4.0, 4.0],
            [True, False, False, False],
            [1.0, 2.0, 3.0, 4.0],
            [True, True, True, False],
        ),
        ("a", 1): run(
            [2.0, 4.0, 4.0, 4.0],
            [True, False, False, False],
            [1.0, 2.0, 3.0, 4.0],
            [True, True, True, False],
        ),
    }
    row = survival_table(users, ["a"], "", 4).iloc[0]
    assert row["users"] == 8 and row["churned"] == 0.25 and row["seeds"] == 2
    # Time to return, pooled: S(1) = 6/8, S(2) = 4/8, S(3) = 4/8 x 2/4 = 2/8; lifelines'
    # median is the first time S falls below one half: 3 (the censored 4s stay at risk; had
    # they been dropped, S(3) would be 0 and the median 2).
    assert row["median_days_to_return"] == 3.0
    assert row["median_session_minutes"] == 25.0
    assert math.isnan(row["hr"])  # no baseline
