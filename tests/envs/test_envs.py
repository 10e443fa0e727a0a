import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import simrec
from simrec.checks import check_env, check_invariants, check_pickle
from simrec.envs import ENV_IDS, UserLifetimeEnv
from simrec.errors import ConfigError, InvalidActionError, UnknownNameError

IDS = sorted(ENV_IDS)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("env_id", IDS)
def test_registered_and_conformant(env_id):
    assert env_id in gym.registry
    # 400 random steps of invariants here; the next test checks them over 1,000 steps
    check_env(env_id, steps=400, seed=1)


@pytest.mark.parametrize("env_id", IDS)
def test_invariants_over_episodes_and_pickle(env_id):
    ended = check_invariants(env_id, steps=1000, seed=2)
    assert ended >= 3  # the 1,000 steps cross several episodes (churn or horizon)
    check_pickle(env_id, steps=80, seed=3)
    env = gym.make(env_id)
    env.reset(seed=0)
    assert pickle.loads(pickle.dumps(env)).unwrapped.core.catalog.world.n_items == 2000


def _actions(space, n, rng):
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, space.n, size=n)
    C, K = int(space.nvec[0]), len(space.nvec)
    return np.argsort(rng.random((n, C)), axis=1)[:, :K]


@pytest.mark.parametrize("env_id", IDS)
def test_native_vector_env_equals_sync(env_id):
    n = 6
    native = gym.make_vec(env_id, num_envs=n)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync")
    assert type(native.unwrapped).__name__ == "UserLifetimeVectorEnv"
    oa, _ = native.reset(seed=11)
    ob, _ = sync.reset(seed=11)
    for k in oa:
        assert np.array_equal(oa[k], ob[k]), k
    rng = np.random.default_rng(0)
    ends = 0
    for t in range(250):
        act = _actions(native.single_action_space, n, rng)
        ra, rb = native.step(act), sync.step(act)
        for k in oa:
            assert np.array_equal(ra[0][k], rb[0][k]), (t, k)
        for i in (1, 2, 3):
            assert np.array_equal(ra[i], rb[i]), (t, i)
        assert np.allclose(ra[4]["satisfaction"], rb[4]["satisfaction"])
        ends += int((ra[2] | ra[3]).sum())
    assert ends > 5  # autoresets happened and stayed in lockstep


def test_vector_env_reset_seeds_and_errors():
    env = gym.make_vec("simrec/UserLifetime-v0", num_envs=3)
    with pytest.raises(ResetNeeded):
        env.step(np.zeros(3, dtype=np.int64))
    a, _ = env.reset(seed=[5, 6, 7])
    b, _ = gym.make_vec("simrec/UserLifetime-v0", num_envs=3).reset(seed=5)
    assert np.array_equal(a["profile"], b["profile"])
    with pytest.raises(ConfigError, match="expected 3 seeds"):
        env.reset(seed=[1, 2])
    with pytest.raises(InvalidActionError, match=r"out of range \[0, 20\)"):
        env.step(np.array([0, 1, 20]))


def test_bad_actions_are_named():
    env = UserLifetimeEnv()
    with pytest.raises(ResetNeeded, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"candidate index 20 out of range \[0, 20\)"):
        env.step(20)
    with pytest.raises(InvalidActionError, match=r"candidate index -1 out of range"):
        env.step(-1)
    with pytest.raises(
        InvalidActionError, match="expected integer candidate indices, got dtype float64"
    ):
        env.step(1.5)
    slate = UserLifetimeEnv(slate_size=3)
    slate.reset(seed=0)
    with pytest.raises(
        InvalidActionError,
        match=r"duplicate candidate indices in the slate "
        r"\[2, 2, 5\]",
    ):
        slate.step(np.array([2, 2, 5]))
    with pytest.raises(InvalidActionError, match=r"expected shape \(3,\)"):
        slate.step(np.array([1, 2]))
    # The state is untouched by a rejected action.
    obs_before = slate.core.observe(np.zeros(1, dtype=np.int64))
    with pytest.raises(InvalidActionError):
        slate.step(np.array([4, 4, 4]))
    after = slate.core.observe(np.zeros(1, dtype=np.int64))
    assert all(np.array_equal(obs_before[k], after[k]) for k in after)
    assert slate.action_space.contains(slate.action_space.sample())
    assert not slate.action_space.contains(np.array([1, 1, 2]))


def test_fill_mode_replaces_duplicates():
    env = UserLifetimeEnv(slate_size=3, slate_duplicates="fill")
    _, info = env.reset(seed=0)
    _, _, _, _, step = env.step(np.array([4, 4, 0]))
    assert step["slate"].tolist() == info["candidates"][[4, 1, 0]].tolist()


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (
            {"slate_sise": 3},
            ConfigError,
            r"slate_sise: unknown argument .*did you mean "
            r"'slate_size'",
        ),
        (
            {"preset": "retension"},
            UnknownNameError,
            r"unknown preset 'retension' \(did you "
            r"mean 'retention'",
        ),
        (
            {"reward": "clicks"},
            ConfigError,
            r"reward: unknown reward 'clicks' \(did you mean "
            r"'click'",
        ),
        ({"reward": {"clik": 1.0}}, ConfigError, r"reward\.clik: unknown key"),
        ({"candidates": 0}, ConfigError, r"candidates: expected a value > 0"),
        ({"slate_size": 30}, ConfigError, r"slate_size: expected at most candidates=20"),
        ({"config": {"dynamics": {"drift_rate": 2.0}}}, ConfigError, r"dynamics\.drift_rate"),
        (
            {"item_vectors": np.zeros((5, 3))},
            ConfigError,
            r"item_vectors: expected an array "
            r"of shape \(n_items=2000, E\)",
        ),
    ],
)
def test_bad_construction_is_named(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        gym.make("simrec/UserLifetime-v0", **kwargs)


def test_item_vectors_enter_the_observation():
    vecs = np.random.default_rng(0).standard_normal((2000, 4)).astype(np.float32)
    env = UserLifetimeEnv(item_vectors=vecs, history_length=3)
    obs, info = env.reset(seed=1)
    assert obs["candidates"].shape == (20, 8 + 3 + 4)
    assert np.allclose(obs["candidates"][:, -4:], vecs[info["candidates"]])
    assert env.observation_space.contains(obs)
    for _ in range(30):
        obs, _, term, trunc, info = env.step(int(np.argmax(obs["candidates"][:, 9])))
        if term or trunc:
            break
    valid = obs["history"][:, -1] > 0
    consumed = env.core.engine.recent[0]
    if valid.any():
        newest = consumed[(env.core.engine.recent_next[0] - 1) % consumed.size]
        assert np.allclose(obs["history"][0, 9:13], vecs[newest])


def test_time_jumps_between_sessions_and_episode_ends():
    env = UserLifetimeEnv(horizon_days=40.0)
    obs, _ = env.reset(seed=4)
    saw_jump = False
    for _ in range(5000):
        day = np.expm1(obs["context"][0])  # the context is on a log1p scale
        obs, _, term, trunc, info = env.step(0)
        if info["session_ended"] and not (term or trunc):
            saw_jump = True
            assert np.expm1(obs["context"][0]) == pytest.approx(day + info["return_gap"], rel=1e-4)
            assert obs["context"][2] == 0  # first request of the new session
        if term:
            assert env.core.engine.churned[0] and np.isinf(info["return_gap"])
            break
        if trunc:
            assert env.core.engine.next_visit[0] > 40.0
            break
    assert saw_jump and (term or trunc)


def test_rewards_follow_the_configured_weights():
    env = UserLifetimeEnv(reward={"click": 0.0, "engagement": 1.0})
    env.reset(seed=0)
    for _ in range(200):
        _, r, term, trunc, info = env.step(0)
        assert r == pytest.approx(info["engagement"])
        if term or trunc:
            env.reset()
    ret = UserLifetimeEnv(
        preset="retention", reward={"click": 0.0, "return_bonus": 1.0, "churn_penalty": 5.0}
    )
    ret.reset(seed=0)
    ret.action_space.seed(0)
    for _ in range(500):
        _, r, term, trunc, info = ret.step(ret.action_space.sample())
        if not info["session_ended"]:
            assert r == 0.0
        elif term:
            assert r == -5.0
        else:
            assert r == pytest.approx(np.exp(-info["return_gap"]))
        if term or trunc:
            ret.reset()


def test_info_holds_hidden_diagnostics_not_in_reward():
    env = UserLifetimeEnv()
    _, info = env.reset(seed=0)
    _, r, _, _, info = env.step(0)
    assert {"satisfaction", "churn_hazard", "clicked", "revenue", "slate"} <= set(info)
    assert r == float(info["clicked"])


def test_presets_differ_as_documented():
    ie = UserLifetimeEnv(preset="interest_evolution")
    lts = UserLifetimeEnv(preset="long_term_satisfaction")
    assert ie.config.dynamics.session_budget_minutes == 60.0
    assert ie.action_space.nvec.tolist() == [10, 10]
    assert lts.config.world.items.clickbait_fraction == 0.5
    assert isinstance(lts.action_space, gym.spaces.Discrete) and lts.action_space.n == 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert simrec.envs.ENV_IDS["simrec/Retention-v0"] == "retention"


def test_long_term_satisfaction_clickbait_engages_now_and_lets_down_later():
    """The preset's documented semantics (RecSim's chocolate and kale): clickbait holds more
    attention per click than the rest, and leaves less value (satisfaction) behind."""
    from simrec.dynamics.engagement import engagement
    from simrec.dynamics.satisfaction import experienced_value
    from simrec.rng import make_streams
    from simrec.worlds import make_world

    cfg = UserLifetimeEnv(preset="long_term_satisfaction").config
    s = make_streams(0)
    truth = make_world(cfg.world, s.world, s.arrivals, 10.0).item_truth
    cb = truth.clickbait
    match = np.full(len(cb), 0.5)
    minutes = engagement(
        truth.quality,
        match,
        np.zeros(len(cb)),
        minutes=10.0,
        noise=0.0,
        appeal=truth.appeal,
        appeal_weight=cfg.dynamics.engagement_appeal_weight,
    )
    value = experienced_value(
        truth.quality, match, truth.appeal, clickbait_penalty=cfg.dynamics.clickbait_penalty
    )
    assert cb.mean() == pytest.approx(0.5, abs=0.05)
    assert minutes[cb].mean() > 1.1 * minutes[~cb].mean()
    assert value[cb].mean() < 0.5 * value[~cb].mean()
