import numpy as np
import pytest
from conftest import small_config

from simrec.engine import Engine, row_membership, validate_slates
from simrec.errors import InvalidActionError
from simrec.log import EventLog
from simrec.rng import make_streams
from simrec.worlds import make_world


def make_engine(cfg=None, seed=0):
    cfg = cfg or small_config()
    s = make_streams(seed)
    world = make_world(cfg.world, s.world, s.arrivals, cfg.simulation.days)
    eng = Engine(world, cfg, s.behaviour, EventLog(world.users.arrival_day))
    eng.set_day(0)
    return eng


def first_batch(eng):
    for t in np.arange(0, 1, 1 / 48):
        b = eng.open_requests(float(t))
        if b is not None:
            return b
    raise AssertionError("no request on day 0")


@pytest.mark.parametrize(
    ("slates", "pattern"),
    [
        (np.array([[0, 1, 2.0]]), "expected integer item ids, got dtype float64"),
        (np.array([[0, 1]]), r"expected shape \(B, K\) = \(1, 3\), got \(1, 2\)"),
        (np.array([[0, 1, 2, 3]]), r"expected shape \(B, K\) = \(1, 3\)"),
        (np.array([[0, 1, 10]]), r"slates\[0, 2\] \(user 7\): item 10 is out of range \[0, 10\)"),
        (np.array([[0, -1, 2]]), r"item -1 is out of range"),
        (np.array([[0, 1, 9]]), r"item 9 is not in the catalog now"),
        (np.array([[0, 1, 1]]), r"slates\[0\] \(user 7\): duplicate items in \[0, 1, 1\]"),
    ],
)
def test_validate_slates_errors(slates, pattern):
    avail = np.ones(10, dtype=bool)
    avail[9] = False
    with pytest.raises(InvalidActionError, match=pattern):
        validate_slates(slates, np.array([7]), 3, 10, avail, None)


def test_validate_slates_in_blocks_reports_the_first_check_over_the_batch(monkeypatch):
    from simrec.engine import slates

    monkeypatch.setattr(slates, "LOG_BLOCK", 2)
    users = np.arange(5) + 100
    avail = np.ones(10, dtype=bool)
    avail[9] = False
    good = np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 0]])
    assert np.array_equal(validate_slates(good, users, 2, 10, avail, None), good)
    bad = good.copy()
    bad[1, 0], bad[4, 1], bad[3, 1] = 9, 10, 12  # unavailable in block 0, out of range later
    with pytest.raises(
        InvalidActionError,
        match=r"slates\[3, 1\] \(user 103\): item 12 is out "
        r"of range \[0, 10\) \(2 bad entries in total\)",
    ):
        validate_slates(bad, users, 2, 10, avail, None)
    dup = good.copy()
    dup[4] = [3, 3]
    with pytest.raises(InvalidActionError, match=r"slates\[4\] \(user 104\): duplicate"):
        validate_slates(dup, users, 2, 10, avail, None)
    # Per-row availability (a callable over the whole batch).
    per_row = lambda a: a != np.arange(5)[:, None]  # noqa: E731 - row r cannot show item r
    assert validate_slates(good + 5, users, 2, 15, per_row, None).shape == (5, 2)
    shown = np.array([[9, 8], [7, 6], [2, 5], [4, 3], [1, 0]])  # row 2 shows item 2
    with pytest.raises(InvalidActionError, match=r"slates\[2, 0\] \(user 102\): item 2 is not"):
        validate_slates(shown, users, 2, 10, per_row, None)


def test_validate_slates_candidates():
    cands = np.array([[1, 2, 3, 4]])
    ok = validate_slates(np.array([[4, 1]]), np.array([0]), 2, 10, np.ones(10, bool), cands)
    assert ok.dtype == np.int64
    with pytest.raises(InvalidActionError, match="item 5 is not among the request's candidates"):
        validate_slates(np.array([[4, 5]]), np.array([0]), 2, 10, np.ones(10, bool), cands)


def test_invalid_slate_leaves_state_untouched():
    eng = make_engine()
    b = first_batch(eng)
    before = (eng.satisfaction.copy(), eng.requests.copy(), len(eng.log.impressions))
    bad = np.zeros((len(b), b.slate_size), dtype=np.int64)
    with pytest.raises(InvalidActionError):
        eng.serve(b, bad)
    assert np.array_equal(before[0], eng.satisfaction)
    assert np.array_equal(before[1], eng.requests)
    assert before[2] == len(eng.log.impressions)


def test_serve_logs_one_row_per_impression_and_updates_state():
    eng = make_engine()
    b = first_batch(eng)
    K = b.slate_size
    slates = np.tile(np.arange(K), (len(b), 1))
    fb = eng.serve(b, slates)
    assert len(eng.log.impressions) == len(b) * K
    assert (fb.clicked.sum(1) <= 1).all()
    assert (fb.purchased <= fb.clicked).all()
    assert (fb.revenue[~fb.purchased] == 0).all() and (fb.revenue >= 0).all()
    assert (fb.engagement[~fb.clicked] == 0).all()
    assert (eng.requests[b.users] == 1).all()
    assert (eng.fatigue[b.users].sum(1) > 0).all()
    clicked_users = b.users[fb.clicked.any(1)]
    assert (eng.recent[clicked_users, 0] >= 0).all()
    cols = eng.log.impressions.columns()
    assert cols["click"].sum() == fb.clicked.sum()
    assert np.array_equal(cols["position"][:K], np.arange(K))


def test_candidates_are_distinct_available_and_keyed_by_user():
    eng = make_engine(small_config(candidates=20))
    b = first_batch(eng)
    assert b.candidates.shape == (len(b), 20)
    assert all(len(set(r)) == 20 for r in b.candidates.tolist())
    assert eng.available_mask[b.candidates].all()


def test_churned_users_stay_churned_and_get_no_requests():
    cfg = small_config(days=10)
    eng = make_engine(cfg)
    rng = np.random.default_rng(0)
    churned_at = {}
    for t in np.arange(0, 10, 1 / 48):
        if float(t).is_integer():
            eng.set_day(int(t))
        b = eng.open_requests(float(t))
        if b is None:
            continue
        assert not eng.churned[b.users].any()
        pool = eng.available
        slates = np.stack([rng.choice(pool, b.slate_size, replace=False) for _ in range(len(b))])
        eng.serve(b, slates)
        for u in np.flatnonzero(eng.churned):
            churned_at.setdefault(int(u), float(t))
    assert churned_at, "some users should churn under random slates in 10 days"
    assert all(eng.churned[u] for u in churned_at)
    assert np.isinf(eng.next_visit[eng.churned]).all()


def test_row_membership_dense_and_sparse_paths_agree():
    rng = np.random.default_rng(0)
    items = rng.integers(0, 50, size=(30, 40))
    sets = rng.integers(-1, 50, size=(30, 7))
    dense = row_membership(items, sets, 50)  # X * L = 280 > 4 * 50: scatter path
    direct = ((items[:, :, None] == sets[:, None, :]) & (sets[:, None, :] >= 0)).any(2)
    assert np.array_equal(dense, direct)
    assert np.array_equal(row_membership(items[:, :3], sets, 50), direct[:, :3])
    padded = np.where(rng.random(items.shape) < 0.2, -1, items)[:, :3]  # empty slots never hit
    direct = ((padded[:, :, None] == sets[:, None, :]) & (sets[:, None, :] >= 0)).any(2)
    assert np.array_equal(row_membership(padded, sets, 50), direct)
    big = items[:, :3] + 40_000  # ids past int16: compared in int32
    assert not row_membership(big, sets, 50_000).any()
    assert np.array_equal(row_membership(big, sets + 40_000, 50_000), direct_of(big, sets + 40_000))


def direct_of(items, sets):
    return ((items[:, :, None] == sets[:, None, :]) & (sets[:, None, :] >= 0)).any(2)


def test_chunked_and_threaded_step_gives_the_same_run(monkeypatch):
    """Rows are independent: chunk size and threads do not change a single draw or update."""
    from conftest import small_config

    from simrec import Simulation, engine

    cfg = small_config(days=3, n_users=400, n_items=300)
    whole = Simulation(cfg).run("popularity", seed=1).log
    _, rows_per_tick = np.unique(whole.impressions.columns()["time"], return_counts=True)
    assert rows_per_tick.max() > 7 * cfg.simulation.slate_size  # ticks of several chunks
    monkeypatch.setattr(engine, "MATCH_CHUNK", 7)
    monkeypatch.setattr(engine, "THREADS", 2)
    parts = Simulation(cfg).run("popularity", seed=1).log
    for table in ("impressions", "sessions"):
        a, b = getattr(whole, table).columns(), getattr(parts, table).columns()
        for key in a:
            assert np.array_equal(a[key], b[key], equal_nan=a[key].dtype.kind == "f"), (table, key)
