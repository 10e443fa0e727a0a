"""A/B tests inside one population (simrec.experiments): the split, the channels, the truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from simrec import Agent, Simulation
from simrec.config import Config, ScenarioConfig, from_dict, load_yaml, replace_path
from simrec.errors import ConfigError, InvalidActionError, ResultsError
from simrec.experiments import SplitAgent, assign_arms, run_ab
from simrec.experiments.ab import _execute, _Task, analyse_seed, window_metrics
from simrec.runner.results import t_quantile_975

REPO = Path(__file__).resolve().parents[1]


def scenario(**over) -> ScenarioConfig:
    data = {
        "name": "ab_test",
        "seeds": [0, 1, 2],
        "agents": [{"name": "oracle"}, {"name": "myopic-oracle"}, {"name": "random"}],
        "ab": {"control": "oracle", "treatment": "myopic-oracle", "days": 6},
        "world": {"items": {"n_items": 400}, "users": {"n_users": 600}},
        "simulation": {"days": 12, "tick_minutes": 30.0},
    }
    for key, value in over.items():
        data[key] = data.get(key, {}) | value if isinstance(value, dict) else value
    return from_dict(ScenarioConfig, data)


# ----------------------------------------------------------------------------- the split


class Recorder(Agent):
    """Recommends the first K items of the catalog; records whom it served and observed."""

    def __init__(self) -> None:
        self.served: set[int] = set()
        self.observed: set[int] = set()

    def recommend(self, batch):
        self.served |= set(batch.users.tolist())
        return np.tile(batch.available[: batch.slate_size], (len(batch), 1))

    def observe(self, feedback):
        self.observed |= set(feedback.users.tolist())


def small_config() -> Config:
    return from_dict(
        Config,
        {"world": {"items": {"n_items": 200}, "users": {"n_users": 300}},
         "simulation": {"days": 3}},
    )  # fmt: skip


@pytest.mark.parametrize("shared", [False, True])
def test_each_arm_serves_only_its_users_and_learns_from_its_arm_unless_shared(shared):
    cfg = small_config()
    treated = assign_arms(0, 300, 0.3)
    control, treatment = Recorder(), Recorder()
    Simulation(cfg).run(SplitAgent(control, treatment, treated, shared_training=shared), seed=0)
    arm = {u: bool(treated[u]) for u in range(300)}
    assert control.served and treatment.served
    assert not any(arm[u] for u in control.served)
    assert all(arm[u] for u in treatment.served)
    if shared:  # one platform-wide log: both agents see every served user
        assert control.observed == treatment.observed == control.served | treatment.served
    else:
        assert control.observed == control.served and treatment.observed == treatment.served


def test_assignment_is_keyed_by_seed_and_user():
    a = assign_arms(3, 5000, 0.2)
    assert a.dtype == bool and abs(a.mean() - 0.2) < 0.02
    assert np.array_equal(a, assign_arms(3, 5000, 0.2))
    assert np.array_equal(a[:1000], assign_arms(3, 1000, 0.2))  # a user's arm is its own
    assert not np.array_equal(a, assign_arms(4, 5000, 0.2))


def test_an_arm_returning_bad_slates_is_named():
    class Short(Recorder):
        def recommend(self, batch):
            return np.zeros((len(batch), 1), dtype=np.int64)

    split = SplitAgent(Recorder(), Short(), assign_arms(0, 300, 0.5), labels=("a", "b"))
    with pytest.raises(Exception, match=r"treatment arm 'b'.*expected integer slates of shape"):
        Simulation(small_config()).run(split, seed=0)


def test_without_a_channel_every_users_life_is_the_one_of_the_global_rollout():
    """Without a shared signal and with agents that serve each user by that user alone, the
    arms do not interfere at all: under common random numbers each user's metrics in the A/B
    population equal, exactly, the user's metrics when the arm's agent serves everyone."""
    sc = scenario()
    ab, control, treatment = (_execute(_Task(sc, r, 0)) for r in ("ab", "control", "treatment"))
    t = ab["treated"].to_numpy()
    assert 0.4 < t.mean() < 0.6
    cols = [c for c in ab.columns if c.startswith(("test.", "end."))]
    for c in cols:
        assert np.array_equal(ab[c].to_numpy()[t], treatment[c].to_numpy()[t]), c
        assert np.array_equal(ab[c].to_numpy()[~t], control[c].to_numpy()[~t]), c


def ci(x):
    return t_quantile_975(len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x))


@pytest.mark.slow
def test_the_ab_estimate_is_unbiased_without_a_channel_and_biased_with_the_trending_one(tmp_path):
    """Random against the myopic oracle (random serves nobody the same way twice, so the
    arms' users are not copies of the global runs): without a channel the estimate's error
    against the truth at the test's horizon is zero within its 95% CI over 5 seeds.

    With the trending signal on, the oracle (control) against the myopic oracle (treatment):
    in each global rollout the trend is made by clicks on the very items its agent shows; in
    the A/B population it is made by both arms, and only the myopic oracle, which ranks by
    utility and so follows the trend, picks up what the other arm's users made trend. The
    control loses its own trend and gains nothing; the estimate of the treatment's click
    gain is too high (expected sign: estimate - truth > 0), beyond the CI."""
    base = scenario(seeds=[0, 1, 2, 3, 4], ab={"control": "random"})
    res = run_ab(base, tmp_path / "none", workers=1, progress=False)
    for m in ("clicks", "minutes", "active_days"):
        err = res.per_seed[res.per_seed.metric == m]["bias_interference"].to_numpy()
        assert abs(err.mean()) <= ci(err), (m, err)
    assert res.summary.set_index("metric").loc["clicks", "truth_test"] > 0
    trend = scenario(seeds=[0, 1, 2, 3, 4], dynamics={"trend_weight": 1.0})
    res = run_ab(trend, tmp_path / "trend", workers=1, progress=False)
    err = res.per_seed[res.per_seed.metric == "clicks"]["bias_interference"].to_numpy()
    assert err.mean() - ci(err) > 0, err
    assert (tmp_path / "trend" / "ab_report.md").is_file()


# ----------------------------------------------------------------------------- measurement


def test_window_metrics_count_only_the_window_and_the_cohort():
    cfg = replace_path(small_config(), "world.users.arrivals_per_day", 20.0)
    result = Simulation(cfg).run("random", seed=1)
    t = result.log.tables()
    full = window_metrics(t, 0, 3)
    a, b = window_metrics(t, 0, 1), window_metrics(t, 1, 3)
    cohort = np.flatnonzero(t["users"]["arrival_day"] == 0.0)
    assert np.array_equal(full["user"], cohort) and len(cohort) < len(t["users"]["arrival_day"])
    # per-day rates: the whole is the day-weighted mean of its parts
    assert np.allclose(3 * full["clicks"], a["clicks"] + 2 * b["clicks"])
    imp = t["impressions"]
    in_cohort = np.isin(imp["user"], cohort)
    assert np.isclose(full["clicks"].sum() * 3, imp["click"][in_cohort].sum())
    assert ((full["active_days"] >= 0) & (full["active_days"] <= 1)).all()
    assert set(np.unique(full["retained"])) <= {0.0, 1.0}


def test_analysis_splits_the_bias_into_interference_and_horizon():
    import pandas as pd

    n = 400
    treated = np.arange(n) % 2 == 0
    cols = {f"{w}.{m}": np.zeros(n) for w in ("test", "end") for m in
            ("clicks", "minutes", "revenue", "active_days", "retained")}  # fmt: skip
    ab = pd.DataFrame(cols | {"treated": treated})
    ab.loc[treated, "test.clicks"] = 1.0  # the test says +1
    ab.loc[np.arange(n) % 4 == 0, "test.clicks"] += 0.5  # some spread for the CI
    control, treatment = pd.DataFrame(cols), pd.DataFrame(cols)
    treatment["test.clicks"] = 0.75  # truth at T: +0.75
    treatment["end.clicks"] = -0.25  # truth at the end: -0.25
    row = analyse_seed(ab, control, treatment).set_index("metric").loc["clicks"]
    assert row["estimate"] == pytest.approx(1.25)
    assert row["truth_test"] == pytest.approx(0.75) and row["truth_end"] == pytest.approx(-0.25)
    assert row["bias_interference"] == pytest.approx(0.5)
    assert row["bias_horizon"] == pytest.approx(1.0)
    assert row["bias"] == pytest.approx(row["bias_interference"] + row["bias_horizon"])
    assert not row["sign_agrees_end"] and row["significant"]


# ----------------------------------------------------------------------------- the channel


def test_a_click_raises_the_trending_items_utility_for_every_other_user():
    cfg = replace_path(small_config(), "dynamics.trend_weight", 1.0)
    from simrec.engine import Engine
    from simrec.rng import make_streams

    s = make_streams(0)
    sim = Simulation(cfg)
    world = sim.build_world(0)
    engine = Engine(world, cfg, s.behaviour, None)
    engine.set_day(0)
    truth = engine.ground_truth()
    users, ids = np.arange(5), np.tile(engine.available[:3], (5, 1))
    before = truth.utility(users, ids)
    engine.trending.add(ids[:1, :1], np.ones((1, 1), dtype=bool), 0.0)  # someone clicked item 0
    after = truth.utility(users, ids)
    assert np.all(after[:, 0] > before[:, 0]) and np.array_equal(after[:, 1:], before[:, 1:])
    off = Engine(world, small_config(), s.behaviour, None)
    off.trending.add(ids[:1, :1], np.ones((1, 1), dtype=bool), 0.0)
    assert np.array_equal(off.ground_truth().utility(users, ids), before)  # weight 0: none


# ----------------------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("ab", "match"),
    [
        ({"control": "oracel"}, r"ab\.control: expected one of the agent labels .*'oracle'"),
        ({"treatment": "oracle"}, r"ab\.treatment: expected an agent other than the control"),
        ({"days": 30}, r"ab\.days: expected at most simulation\.days = 12"),
        ({"share": 1.0}, r"ab\.share"),
        ({"unit": "house"}, r"ab\.unit"),
    ],
)
def test_a_bad_ab_block_is_refused_naming_the_field(ab, match):
    with pytest.raises(ConfigError, match=match):
        scenario(ab=ab)


def test_the_results_folder_is_guarded(tmp_path):
    sc = scenario(
        seeds=[0],
        ab={"days": 2},
        world={"items": {"n_items": 150}, "users": {"n_users": 100}},
        simulation={"days": 3, "tick_minutes": 60.0},
    )
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for force in (False, True):  # a folder simrec did not make is never written, nor emptied
        with pytest.raises(ResultsError, match="holds files simrec did not write"):
            run_ab(sc, foreign, force=force, progress=False)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    out = tmp_path / "ab"
    first = run_ab(sc, out, progress=False)
    with pytest.raises(ResultsError, match="pass --resume to keep"):
        run_ab(sc, out, progress=False)
    again = run_ab(sc, out, resume=True, progress=False)  # nothing to run: same numbers
    assert first.per_seed.equals(again.per_seed)
    other = dataclasses.replace(sc, ab=dataclasses.replace(sc.ab, share=0.3))
    with pytest.raises(ResultsError, match="another scenario or design"):
        run_ab(other, out, resume=True, progress=False)
    (out / "runs" / "thesis.tex").write_text("mine")  # a file of the user's inside the folder
    with pytest.raises(ResultsError, match=r"runs/thesis.tex\); move them out first"):
        run_ab(other, out, force=True, progress=False)
    assert (out / "runs" / "thesis.tex").read_text() == "mine"
    assert (out / "ab_summary.csv").is_file()  # and nothing of the study was removed
    (out / "runs" / "thesis.tex").unlink()
    replaced = run_ab(other, out, force=True, progress=False)
    assert not replaced.per_seed.equals(first.per_seed)
    with pytest.raises(ConfigError, match="ab: expected an A/B block"):
        run_ab(dataclasses.replace(sc, ab=dataclasses.replace(sc.ab, control="", treatment="")),
               tmp_path / "x", progress=False)  # fmt: skip


@pytest.mark.slow
def test_the_ab_interference_scenario_runs_from_the_command_line(tmp_path, capsys):
    from simrec.cli import main

    out = tmp_path / "abi"
    assert main(["ab", str(REPO / "scenarios" / "ab_interference.yaml"), "--smoke",
                 "--out", str(out), "--workers", "1", "--no-progress"]) == 0  # fmt: skip
    shown = capsys.readouterr().out
    assert "A/B test: myopic-oracle (treatment) vs oracle (control)" in shown
    for variant in ("trend_weight-0.0", "trend_weight-1.0"):
        assert (out / variant / "ab_report.md").is_file()
        assert (out / variant / "ab_summary.csv").is_file()
    sc = load_yaml(REPO / "scenarios" / "ab_interference.yaml")
    assert sc.ab.days == 14 and sc.simulation.days == 180


def test_the_ab_command_runs_each_variant_of_a_small_grid(tmp_path, capsys):
    """`simrec ab` as above on a smaller world and horizon (the plumbing: both variants of the
    grid, their reports, the global rollouts in the shared truth folder)."""
    from simrec.cli import main

    out = tmp_path / "abi"
    small = ["--set", "world.users.n_users=80", "--set", "world.items.n_items=150",
             "--set", "ab.days=2", "--days", "3", "--seeds", "0,1"]  # fmt: skip
    assert main(["ab", str(REPO / "scenarios" / "ab_interference.yaml"), "--smoke", *small,
                 "--out", str(out), "--workers", "1", "--no-progress"]) == 0  # fmt: skip
    shown = capsys.readouterr().out
    assert "A/B test: myopic-oracle (treatment) vs oracle (control)" in shown
    for variant in ("trend_weight-0.0", "trend_weight-1.0"):
        assert (out / variant / "ab_report.md").is_file()
        summary = (out / variant / "ab_summary.csv").read_text()
        assert "bias_interference" in summary and "clicks" in summary
    # the global rollouts: control and treatment x seeds x variants (keyed by their settings)
    assert len(list((out / "truth").rglob("*.parquet"))) == 2 * 2 * 2


# ----------------------------------------------------------------------------- the social world


def social_config(**social) -> Config:
    return from_dict(
        Config,
        {"world": {"kind": "social", "items": {"n_items": 300}, "users": {"n_users": 400},
                   "social": social},
         "simulation": {"days": 4, "candidates": 40}},
    )  # fmt: skip


def test_the_social_world_is_the_synthetic_one_plus_a_follow_graph():
    cfg = social_config()
    world = Simulation(cfg).build_world(0)
    plain = Simulation(replace_path(cfg, "world.kind", "synthetic")).build_world(0)
    assert np.array_equal(world.item_truth.topic, plain.item_truth.topic)
    assert np.array_equal(world.user_truth.interest, plain.user_truth.interest)
    g = world.social
    assert world.observable.social is g and plain.social is None
    assert len(g.follower) == 400 * cfg.world.social.follows
    assert (g.follower != g.followee).all()
    edges = g.follower * 400 + g.followee
    assert len(np.unique(edges)) == len(edges)  # nobody follows anyone twice
    assert (np.bincount(g.follower, minlength=400) == cfg.world.social.follows).all()
    indegree = np.diff(g.offsets)
    assert indegree.max() > 4 * indegree.mean()  # preferential attachment: hubs
    # homophily: followed users are closer in taste than random pairs
    u = world.user_truth.interest
    linked = (u[g.follower] * u[g.followee]).sum(axis=1).mean()
    rng = np.random.default_rng(0)
    a, b = rng.integers(400, size=(2, 4000))
    assert linked > (u[a] * u[b]).sum(axis=1).mean() + 0.1
    assert g.n_clusters >= 2 and np.bincount(g.cluster).min() > 0


def test_a_shared_click_reaches_the_followers_feeds_utility_and_candidates():
    from simrec.engine import Engine
    from simrec.rng import make_streams

    cfg = social_config(share_probability=1.0, share_days=2.0, feed_candidates=2)
    world = Simulation(cfg).build_world(0)
    engine = Engine(world, cfg, make_streams(0).behaviour, None)
    engine.set_day(0)
    social, g = engine.social, world.social
    sharer = int(np.argmax(np.diff(g.offsets)))  # the most followed user
    followers = g.follower[g.offsets[sharer] : g.offsets[sharer + 1]]
    item = int(engine.available[0])
    truth = engine.ground_truth()
    ids = np.full((len(followers), 1), item)
    before = truth.utility(followers, ids)
    slate = np.array([[item, int(engine.available[1])]])
    social.share(np.array([sharer]), slate, np.array([[True, False]]),
                 engine.pop.keys[[sharer]], np.zeros(1, dtype=np.int64), 0.0)  # fmt: skip
    assert social.deliveries == len(followers)
    assert (social.active(followers) == item).any(axis=1).all()
    after = truth.utility(followers, ids)
    assert np.allclose(after - before, cfg.world.social.share_boost)
    others = np.setdiff1d(np.arange(400), np.append(followers, sharer))[:20]
    assert not (social.active(others) == item).any()
    # the item enters a follower's candidates (once), in the last columns
    cands = np.tile(engine.available[2:42], (3, 1))
    got = social.into_candidates(followers[:3], cands, engine.available_mask)
    assert (got[:, -1] == item).all() and np.array_equal(got[:, :-2], cands[:, :-2])
    assert all(len(set(row)) == len(row) for row in got.tolist())
    social.now = 2.5  # past share_days: the feed has expired
    assert not (social.active(followers) == item).any()
    assert np.array_equal(truth.utility(followers, ids), before)


def test_sharing_draws_are_common_random_numbers():
    """The same click is shared (or not) under every agent: the draw is keyed by the user,
    the request and the position."""
    from simrec.engine.social import SocialChannel

    world = Simulation(social_config()).build_world(0)
    cfg = social_config().world.social
    keys = np.arange(5, dtype=np.uint64) * 7919
    shared = []
    for _ in range(2):
        ch = SocialChannel(world.social, cfg, 300)
        ch.share(np.arange(5), np.tile(np.arange(4), (5, 1)), np.ones((5, 4), dtype=bool),
                 keys, np.arange(5), 0.0)  # fmt: skip
        shared.append(ch.feed.copy())
    assert np.array_equal(shared[0], shared[1]) and 0 < (shared[0] >= 0).sum()


def test_clustered_standard_error_is_that_of_the_cluster_means_when_clusters_are_uniform():
    from simrec.experiments.ab import clustered_se

    rng = np.random.default_rng(0)
    k, m = 12, 30
    cx, cy = np.repeat(np.arange(k), m), np.repeat(np.arange(k), m)
    mx, my = rng.normal(size=k), rng.normal(size=k)
    x, y = mx[cx], my[cy]  # every user of a cluster alike
    expected = np.sqrt(mx.var(ddof=1) / k + my.var(ddof=1) / k)
    assert clustered_se(x, cx, y, cy) == pytest.approx(expected)
    naive = np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    assert clustered_se(x, cx, y, cy) > 4 * naive


def test_cluster_assignment_keeps_clusters_whole_and_needs_the_social_world():
    cluster = np.random.default_rng(0).integers(0, 9, size=500)
    t = assign_arms(0, 500, 0.5, cluster)
    for c in range(9):
        assert len(set(t[cluster == c])) == 1
    assert 0 < t.sum() < 500
    with pytest.raises(ConfigError, match=r"ab\.unit: 'cluster' randomises .* world\.kind: social"):
        scenario(ab={"unit": "cluster"})


def test_the_envs_refuse_the_social_world():
    import gymnasium as gym

    import simrec.envs  # noqa: F401 - registers the envs

    with pytest.raises(ConfigError, match=r"world\.kind: the gymnasium envs .* got 'social'"):
        gym.make("simrec/UserLifetime-v0", config=social_config())


@pytest.mark.slow
def test_spillover_along_the_graph_biases_user_randomisation_and_clusters_reduce_it(tmp_path):
    """Random (control) against the myopic oracle (treatment) in the social world: the
    treatment's users click more and so share more. Randomised by user, half of every
    user's followees are in the other arm: control users receive treatment shares they would
    not get in a global control rollout, treatment users lose the shares of their control
    followees -- the estimate of the click gain is too low (expected sign: estimate - truth
    < 0, beyond the CI). Randomised by Louvain cluster, fewer follow edges cross the arms
    and the bias shrinks."""
    res = {}
    for unit in ("user", "cluster"):
        sc = scenario(
            seeds=[0, 1, 2],
            agents=[{"name": "random"}, {"name": "myopic-oracle"}],
            ab={"control": "random", "unit": unit, "days": 7},
            world={"kind": "social", "items": {"n_items": 500}, "users": {"n_users": 1000},
                   "social": {"homophily": 12.0, "cluster_resolution": 2.0}},
            simulation={"days": 7, "candidates": 50, "tick_minutes": 30.0},
        )  # fmt: skip
        out = run_ab(sc, tmp_path / unit, truth=tmp_path / "truth", progress=False)
        res[unit] = out.per_seed[out.per_seed.metric == "clicks"]
    err = res["user"]["bias_interference"].to_numpy()
    assert err.mean() + ci(err) < 0, err
    assert res["cluster"]["cross_edges"].mean() < res["user"]["cross_edges"].mean() - 0.15
    assert abs(res["cluster"]["bias_interference"].mean()) < abs(err.mean())
    assert len(list((tmp_path / "truth").glob("*.parquet"))) == 6  # shared by the designs


# ------------------------------------------------------------------- off-policy evaluation


def ope_scenario(**over) -> ScenarioConfig:
    data = {
        "name": "ope_test",
        "seeds": [0, 1, 2],
        "agents": [
            {"name": "epsilon-greedy", "label": "log",
             "params": {"agent": "popularity", "epsilon": 0.5}},
            {"name": "softmax", "label": "tgt",
             "params": {"agent": "myopic-oracle", "temperature": 1.0}},
        ],
        "ope": {"logging": "log", "target": "tgt"},
        "world": {"items": {"n_items": 400}, "users": {"n_users": 4000}},
        "dynamics": {"max_session_requests": 1},
        "simulation": {"days": 1, "candidates": 10, "slate_size": 1, "tick_minutes": 60.0},
    }  # fmt: skip
    for key, value in over.items():
        data[key] = data.get(key, {}) | value if isinstance(value, dict) else value
    return from_dict(ScenarioConfig, data)


@pytest.mark.slow
def test_on_a_one_step_problem_the_estimators_match_the_truth(tmp_path):
    """One request per user (a day, one-request sessions, no return within the day): the
    target policy meets exactly the logged requests (same users, same candidates, common
    random numbers), so IPS, SNIPS and DR are unbiased for its click rate. Their errors
    against the truth are zero within the 95% CI over seeds, and obp's bootstrap CI covers
    the truth in most seeds; the logging policy's own click rate is far from it."""
    pytest.importorskip("obp")
    from simrec.experiments.ope import run_ope

    res = run_ope(ope_scenario(), tmp_path / "ope", progress=False)
    ps = res.per_seed[res.per_seed.metric == "ctr"]
    assert (ps["requests"] > 500).all()
    for name in ("IPS", "SNIPS", "DR"):
        g = ps[ps.estimator == name]
        err = g["error"].to_numpy()
        assert abs(err.mean()) <= ci(err), (name, err)
        assert g["covers"].mean() >= 2 / 3, name
    s = res.summary.set_index("estimator")
    assert abs(s.loc["IPS", "logging_value"] - s.loc["IPS", "truth"]) > 3 * s.loc["IPS", "rmse"]
    text = (tmp_path / "ope" / "ope_report.md").read_text()
    assert "| ctr | IPS |" in text


def test_the_ope_command_writes_every_estimator_per_seed(tmp_path, capsys):
    """`simrec ope` on the one-step problem above with fewer users and seeds (the plumbing:
    both runs of every seed, each estimator's row, the report; the statistics are the slow
    test's)."""
    pytest.importorskip("obp")
    import pandas as pd
    import yaml

    from simrec.cli import main
    from simrec.config import to_dict

    sc = ope_scenario(seeds=[0, 1], world={"items": {"n_items": 200}, "users": {"n_users": 400}})
    path = tmp_path / "ope.yaml"
    path.write_text(yaml.safe_dump(to_dict(sc)))
    out = tmp_path / "ope"
    assert main(["ope", str(path), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert "| ctr | IPS |" in capsys.readouterr().out
    per_seed = pd.read_csv(out / "ope_seeds.csv")
    ctr = per_seed[per_seed.metric == "ctr"]
    assert set(ctr["seed"]) == {0, 1} and {"IPS", "SNIPS", "DR"} <= set(ctr["estimator"])
    assert {"error", "covers", "requests"} <= set(per_seed.columns)
    assert (ctr["requests"] > 50).all() and ctr["error"].notna().all()


def test_user_outcomes_read_the_first_session_the_return_and_the_churn():
    from simrec.experiments.ope import user_outcomes
    from simrec.metrics.users import user_table

    none = np.zeros(0)
    tables = {
        "users": {"arrival_day": np.array([0.0, 0.0, 0.0, 5.0])},
        "impressions": {
            "user": none.astype(int),
            "click": none,
            "revenue": none,
            "engagement": none,
        },
        "sessions": {
            "user": np.array([0, 0, 1, 1, 2, 3]),
            "start": np.array([0.1, 6.0, 0.2, 9.5, 0.3, 5.0]),
            "end": np.array([0.5, 6.2, 0.4, 9.6, 0.6, 5.1]),
            "churned": np.array([False, False, False, True, True, False]),
        },
    }
    out = user_outcomes(user_table(tables, 40), days=40).set_index("user")
    assert list(out.index) == [0, 1, 2]  # the day-0 cohort
    assert out.loc[0, "returned_7d"] == 1.0 and out.loc[1, "returned_7d"] == 0.0
    assert out.loc[0, "first_end"] == 0.5
    assert out["retained_30"].tolist() == [1.0, 0.0, 0.0]
    short = user_outcomes(user_table(tables, 5), days=5)
    assert short["retained_30"].isna().all() and short["returned_7d"].isna().all()


def test_the_ope_study_needs_stochastic_policies():
    from simrec.experiments.ope import Shadow

    with pytest.raises(ConfigError, match=r"ope\.target: expected a stochastic agent"):
        Shadow(Recorder(), Recorder())
    with pytest.raises(ConfigError, match=r"ope\.logging: expected one of the agent labels"):
        ope_scenario(ope={"logging": "nobody"})
    sc = ope_scenario(
        agents=[{"name": "popularity", "label": "log"},
                {"name": "softmax", "label": "tgt", "params": {"agent": "random"}}],
        world={"users": {"n_users": 300}},
    )  # fmt: skip
    from simrec.experiments.ope import _execute, _Task

    with pytest.raises(InvalidActionError, match="the logging policy must be stochastic"):
        _execute(_Task(sc, "logging", 0))


@pytest.mark.parametrize(
    ("n_sim", "bootstrap"),
    [
        pytest.param(2_000, 10, id="small"),  # the plumbing and the samples' own rates
        pytest.param(20_000, 100, id="full", marks=pytest.mark.slow),  # and IPS covers
    ],
)
def test_the_open_bandit_dataset_check_runs_on_the_shipped_sample(n_sim, bootstrap):
    """BTS from the random policy's logs, and random from BTS's: obp's estimators against
    each policy's on-policy click rate, on the real sample obp ships."""
    pytest.importorskip("obp")
    from simrec.experiments.obd import open_bandit_check

    t = open_bandit_check(n_sim=n_sim, bootstrap=bootstrap)
    assert set(t["evaluated"]) == {"bts", "random"} and (t["rounds"] == 10_000).all()
    assert set(t["estimator"]) == {"IPS", "SNIPS", "DM", "DR"}
    on = t.groupby("evaluated")["on_policy"].first()
    assert on["bts"] == pytest.approx(0.0042, abs=1e-4)  # the samples' own click rates
    assert on["random"] == pytest.approx(0.0038, abs=1e-4)
    ips = t[(t.estimator == "IPS") & (t.evaluated == "bts")].iloc[0]
    if n_sim >= 20_000:
        assert ips["covers"] and ips["relative_error"] < 0.5
