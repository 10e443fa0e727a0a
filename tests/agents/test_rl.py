"""RL agents: SlateQ's next-state targets, REINFORCE's correction, SB3 policies as agents."""

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs the torch extra: pip install 'simrec[torch]'")

import gymnasium as gym
import torch
from conftest import small_config

from simrec import Simulation, make_agent
from simrec.config import DEFAULTS_0_1, Config, from_dict, replace_path, to_dict, with_settings
from simrec.envs.presets import long_term_satisfaction
from simrec.errors import ConfigError


def test_slateq_target_uses_the_next_state():
    from simrec_agents.rl.slateq import slate_probabilities, slateq_targets

    r, done, gamma = torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), 0.5
    next_q = torch.tensor([[2.0, 4.0, 0.0], [2.0, 4.0, 0.0]])
    next_v = torch.tensor([[0.0, 0.0, 5.0], [0.0, 0.0, 5.0]])
    v0 = torch.tensor(0.0)
    # By hand, slate of 1 in the next state: scores e^v * Q = (2, 4, 0) -> item 1;
    # P(item 1 | {1}) = e^0 / (e^0 + e^0) = 0.5 -> target 1 + 0.5 * 0.5 * 4 = 2.
    y = slateq_targets(r, done, gamma, next_q, next_v, v0, slate_size=1)
    assert y.tolist() == [2.0, 1.0]  # the terminal transition stops at r
    # The current state's values must not enter: other "current" values, same target.
    cur_q, cur_v = torch.tensor([[9.0, 0.0, 0.0]] * 2), torch.tensor([[3.0, 0.0, 0.0]] * 2)
    assert slateq_targets(r, done, gamma, next_q, next_v, v0, 1).tolist() == y.tolist()
    assert slateq_targets(r, done, gamma, cur_q, cur_v, v0, 1).tolist() != y.tolist()
    # With the null item's value: P(no click) = 0.5 at value 2 -> 1 + 0.5 * (2 + 0.5 * 2) * ...
    q0 = torch.tensor([2.0, 2.0])
    y0 = slateq_targets(r, done, gamma, next_q, next_v, v0, 1, next_q0=q0)
    # Slate by e^v (Q - Q0) = (0, 2, -2e^5) -> item 1; expected = 0.5 * 4 + 0.5 * 2 = 3.
    assert y0.tolist() == [1.0 + 0.5 * 3.0, 1.0]
    p = slate_probabilities(next_v[:1], v0, torch.tensor([[True, True, False]]))
    assert p.tolist()[0] == pytest.approx([1 / 3, 1 / 3, 0.0])


def test_topk_correction_by_hand():
    from simrec_agents.rl.reinforce import discounted_returns, topk_correction

    pi = torch.tensor([0.2, 0.5, 0.5, 0.1])
    beta = torch.tensor([0.1, 0.01, 0.5, 0.1])
    w = topk_correction(pi, beta, 3, cap=10.0)
    # min(pi/beta, 10) * 3 (1 - pi)^2
    expected = [2 * 3 * 0.64, 10 * 3 * 0.25, 1 * 3 * 0.25, 1 * 3 * 0.81]
    assert w.tolist() == pytest.approx(expected)
    assert topk_correction(pi, beta, 1, 10.0).tolist() == pytest.approx([2, 10, 1, 1])
    g = discounted_returns(
        np.array([1, 0, 0, 0]), np.array([0.0, 2.0, 0.0, 1.0]), np.array([7.0, 1, 1, 1]), 0.5
    )
    assert g.tolist() == [7.0, 1.0, 1.75, 1.5]


def lts_population(days=3, n=150):
    cfg, _ = long_term_satisfaction()
    d = to_dict(cfg)
    d["world"]["items"]["n_items"] = 300
    d["world"]["users"]["n_users"] = n
    d["simulation"].update({"days": days, "candidates": 10, "tick_minutes": 60.0})
    return from_dict(Config, d)


def test_population_observation_matches_the_env_spaces():
    from simrec_agents.rl.obs import PopulationObservation

    from simrec.types import RequestBatch

    cfg = lts_population()
    world = Simulation(cfg).build_world(0)
    env = gym.make("simrec/LongTermSatisfaction-v0")
    obs_space = env.observation_space
    builder = PopulationObservation(world.observable, 10, 10)
    rng = np.random.default_rng(0)
    B = 6
    batch = RequestBatch(
        users=np.arange(B),
        time=0.5,
        step=np.zeros(B, np.int32),
        available=np.arange(world.n_items),
        candidates=np.stack([rng.choice(world.n_items, 10, replace=False) for _ in range(B)]),
        slate_size=1,
    )
    obs = builder(batch)
    for key, space in obs_space.spaces.items():
        for row in obs[key]:
            assert space.contains(row), key
    narrow = RequestBatch(batch.users, 0.5, batch.step, batch.available, None, 1)
    with pytest.raises(ConfigError, match=r"simulation\.candidates: this policy scores C=10"):
        builder(narrow)


def test_slateq_and_reinforce_serve_a_population():
    cfg = lts_population()
    for name, params in [
        ("slateq", {"steps": 2000, "n_envs": 16}),
        ("reinforce-topk", {"behaviour_days": 1.0, "samples_per_fit": 2000}),
    ]:
        r = Simulation(cfg).run(name, seed=0, agent_params=params)
        assert r.totals["clicks"] > 0 and r.cost.params > 0, name
    with pytest.raises(ConfigError, match=r"reward: unknown reward 'clicks' \(did you mean"):
        make_agent("slateq", reward="clicks")
    with pytest.raises(ConfigError, match="reward: expected one of click, engagement"):
        make_agent("reinforce-topk", reward="ctr")
    wrong = lts_population()
    d = to_dict(wrong)
    d["simulation"]["slate_size"] = 2
    with pytest.raises(ConfigError, match=r"slate_size: this slateq policy builds slates"):
        Simulation(from_dict(Config, d)).run("slateq", seed=0, agent_params={"steps": 500})


@pytest.mark.slow
def test_slateq_learns_to_beat_random_on_the_learnable_env():
    from simrec_agents.rl.evaluate import evaluate_policy
    from simrec_agents.rl.slateq import features, train_slateq

    net, _spec, _ = train_slateq("learnable", "click", steps=20_000, gamma=0.5, seed=0)

    def greedy(obs):
        s, c = features(obs)
        with torch.no_grad():
            return net.slates(torch.from_numpy(s), torch.from_numpy(c), 1).numpy()[:, 0]

    rng = np.random.default_rng(0)
    learned = evaluate_policy(greedy, "learnable", "click", episodes=300)
    rand = evaluate_policy(
        lambda o: rng.integers(0, 5, len(o["profile"])), "learnable", "click", 300
    )
    (m1, c1), (m0, c0) = learned.summary()["reward"], rand.summary()["reward"]
    assert m1 > m0 + c1 + c0, (m1, m0)  # same 300 users; CIs apart


@pytest.mark.slow
def test_reinforce_learns_to_beat_random():
    # simrec 0.1's world, where this learner was checked: on the recalibrated defaults it
    # beats random by less than 20% late CTR (issue 18 revisits the RL learners).
    cfg = small_config(days=10, n_users=400, n_items=300, retrain_every_days=1.0)
    cfg = with_settings(cfg, DEFAULTS_0_1)
    for seed in (0, 1):
        rf = Simulation(cfg).run("reinforce-topk", seed=seed, agent_params={"behaviour_days": 2.0})
        rnd = Simulation(cfg).run("random", seed=seed)
        assert rf.totals["ctr_late"] > 1.2 * rnd.totals["ctr_late"], (seed, rf.totals, rnd.totals)


def test_sb3_policy_trains_saves_loads_and_serves(tmp_path):
    pytest.importorskip("stable_baselines3", reason="needs the rl extra")
    from simrec_agents.rl.sb3 import train_policy

    model = train_policy(
        "ppo",
        "long_term_satisfaction",
        "long-term",
        256,
        0,
        out=tmp_path,
        checkpoint_every=128,
        n_steps=64,
        batch_size=64,
    )
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["reward"] == "long-term" and (tmp_path / "policy.zip").is_file()
    assert list((tmp_path / "checkpoints").glob("ppo_*_steps.zip"))
    pinned = {"path": str(tmp_path / "policy.zip"), "sha256": meta["sha256"]}
    cfg = lts_population()
    loaded = make_agent("sb3-ppo", **pinned)
    r = Simulation(cfg).run(loaded, seed=0)
    assert r.totals["impressions"] > 0 and r.cost.params > 0
    # Served slates are the policy's greedy choices among the request's candidates.
    from simrec.agent import AgentContext
    from simrec.types import RequestBatch

    world = Simulation(cfg).build_world(0)
    agent = make_agent("sb3-ppo", **pinned)
    agent.setup(AgentContext(world.observable, np.random.default_rng(0), 1, 10, 1.0))
    cands = np.arange(40).reshape(4, 10)
    batch = RequestBatch(np.arange(4), 0.0, np.zeros(4, np.int32), np.arange(300), cands, 1)
    expected, _ = model.predict(agent.observer(batch), deterministic=True)
    agent2 = make_agent("sb3-ppo", **pinned)
    agent2.setup(AgentContext(world.observable, np.random.default_rng(0), 1, 10, 1.0))
    assert agent2.recommend(batch)[:, 0].tolist() == cands[np.arange(4), expected].tolist()
    with pytest.raises(ConfigError, match="path: cannot read the policy file"):
        make_agent("sb3-ppo", path=str(tmp_path / "missing.zip"), sha256="0" * 64)


def test_sb3_policy_file_must_be_pinned_by_its_sha256(tmp_path):
    """Loading an SB3 zip unpickles objects (runs code): no load without the file's hash."""
    pytest.importorskip("stable_baselines3", reason="needs the rl extra")
    from simrec_agents.rl.sb3 import train_policy

    train_policy(
        "ppo",
        timesteps=64,
        out=tmp_path,
        n_steps=32,
        batch_size=32,
        env_kwargs={"env": {"warmup_users": 0}},
    )
    path = tmp_path / "policy.zip"
    digest = json.loads((tmp_path / "meta.json").read_text())["sha256"]
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ConfigError, match=f"sha256: .*this file's is {digest}"):
        make_agent("sb3-ppo", path=str(path))
    with pytest.raises(ConfigError, match="sha256: expected 64 hexadecimal digits"):
        make_agent("sb3-ppo", path=str(path), sha256="abc")
    agent = make_agent("sb3-ppo", path=str(path), sha256=digest.upper())  # case-insensitive
    path.write_bytes(path.read_bytes() + b"\0")  # the file changes after it was pinned
    with pytest.raises(ConfigError, match="the file changed since it was pinned"):
        agent._load()
    with pytest.raises(ConfigError, match="the file changed since it was pinned"):
        make_agent("sb3-ppo", path=str(path), sha256=digest)


def test_population_observation_equals_the_env_observation_value_for_value():
    """An agent that saw what the env saw builds the env's observation, exactly.

    One user's episode on the env; the population builder observes the same impressions
    (the user's clicks) and is asked for the observation of the same request. Every value is
    equal, except the candidates' popularity, which by design comes from the env's warm-up
    log on one side and the agent's own log on the other (with the same smoothing).
    """
    import dataclasses

    from simrec_agents.rl.obs import PopulationObservation

    from simrec.types import Feedback, RequestBatch

    env = gym.make("simrec/UserLifetime-v0", candidates=8, env={"warmup_users": 0})
    core = env.unwrapped.core
    world = core.catalog.world.observable
    G = world.n_genres
    rng = np.random.default_rng(0)
    compared, clicked_history = 0, 0
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        users = dataclasses.replace(
            world.users,
            age=np.zeros(1, np.int16),
            stated_genre=np.zeros(1, np.int16),
            arrival_day=np.zeros(1),
            profile=core.profile[:1].copy(),
            description=(),
        )
        builder = PopulationObservation(dataclasses.replace(world, users=users), 8, core.L)
        for _ in range(200):
            batch = RequestBatch(
                users=np.zeros(1, np.int64),
                time=float(core.now[0]),
                step=core.engine.session_requests[:1].copy(),
                available=np.arange(world.n_items),
                candidates=info["candidates"][None, :],
                slate_size=1,
            )
            mine = builder(batch)
            for key in ("profile", "history", "context"):
                np.testing.assert_array_equal(mine[key][0], obs[key], err_msg=key)
            cols = [c for c in range(obs["candidates"].shape[1]) if c != G + 2]
            np.testing.assert_array_equal(
                mine["candidates"][0][:, cols], obs["candidates"][:, cols]
            )
            compared += 1
            clicked_history += int(obs["history"][:, -1].sum() > 0)
            action = int(rng.integers(8))
            item = int(info["candidates"][action])
            obs, _, terminated, truncated, info = env.step(action)
            builder.observe(
                Feedback(
                    users=np.zeros(1, np.int64),
                    time=batch.time,
                    slates=np.array([[item]]),
                    clicked=np.array([[info["clicked"]]]),
                    purchased=np.zeros((1, 1), bool),
                    engagement=np.zeros((1, 1), np.float32),
                    revenue=np.zeros((1, 1), np.float32),
                    session_ended=np.array([info["session_ended"]]),
                )
            )
            if terminated or truncated:
                break
    assert compared > 60 and clicked_history > 10  # clicks reached the histories


def test_rl_agents_train_on_the_scenarios_own_world():
    """`preset: scenario`: the training env is built from the run's own configuration."""
    from simrec_agents.rl.obs import training_env

    from simrec.agent import AgentContext

    cfg = small_config(days=2, n_users=80, n_items=150, candidates=6, slate_size=2)
    cfg = replace_path(cfg, "dynamics.appeal_weight", 1.5)
    cfg = replace_path(cfg, "user_model.choice", "cascade")
    agent = make_agent("slateq", preset="scenario", steps=300, n_envs=8)
    result = Simulation(cfg).run(agent, seed=0)
    assert result.totals["impressions"] > 0
    assert (agent.spec["slate_size"], agent.spec["candidates"]) == (2, 6)
    world = Simulation(cfg).build_world(0).observable
    ctx = AgentContext(world, np.random.default_rng(0), 2, 6, 1.0, config=cfg)
    preset, kwargs = training_env("scenario", ctx)
    # the context's own read-only copy of the run's configuration, equal to it
    assert kwargs["config"] is ctx.config == cfg and kwargs["env"] == {"candidates": 6}
    env = gym.make("simrec/UserLifetime-v0", preset=preset, **kwargs)
    assert env.unwrapped.config == cfg  # the very rules of the scenario, user model included
    whole_catalog = replace_path(cfg, "simulation.candidates", 0)
    with pytest.raises(ConfigError, match=r"simulation\.candidates: preset 'scenario'"):
        Simulation(whole_catalog).run("slateq", agent_params={"preset": "scenario", "steps": 10})


def test_a_saved_slateq_policy_is_refused_in_a_world_of_other_genres(tmp_path):
    """The spec records G: a policy loaded into a world with another number of genres is
    refused by check(), naming the field; a spec saved without it is accepted, as before."""
    from simrec.agent import AgentContext

    cfg = small_config(days=1, n_users=60, n_items=120, candidates=6, slate_size=2)
    agent = make_agent("slateq", preset="scenario", steps=100, n_envs=8)
    Simulation(cfg).run(agent, seed=0)
    assert agent.spec.get("n_genres") == cfg.world.n_genres == 8
    path = tmp_path / "slateq.pt"
    agent.save(str(path))

    def context(n_genres):
        c = replace_path(cfg, "world.n_genres", n_genres)
        world = Simulation(c).build_world(0).observable
        return AgentContext(world, np.random.default_rng(0), 2, 6, 1.0, config=c)

    make_agent("slateq", path=str(path)).check(context(8))
    with pytest.raises(
        ConfigError,
        match=r"world\.n_genres: this slateq policy was trained on 8 genres, the scenario's "
        r"world has 5",
    ):
        make_agent("slateq", path=str(path)).check(context(5))
    blob = torch.load(path, weights_only=True)
    del blob["spec"]["n_genres"]  # a policy saved before the spec recorded G
    torch.save(blob, path)
    make_agent("slateq", path=str(path)).check(context(5))


def test_env_reinforce_topk_learns_on_the_learnable_env():
    from simrec_agents.rl.evaluate import evaluate_policy, random_policy
    from simrec_agents.rl.reinforce_env import greedy_scores_policy, train_reinforce

    curve = []
    scorer, k, stats = train_reinforce("learnable", "click", steps=3000, seed=0, curve=curve)
    assert k == 1 and stats.env_steps >= 3000 and len(curve) == 8 * stats.iterations
    learned = evaluate_policy(greedy_scores_policy(scorer, k), "learnable", "click", 300)
    rand = evaluate_policy(random_policy(0), "learnable", "click", 300)
    (m1, c1), (m0, c0) = learned.summary()["reward"], rand.summary()["reward"]
    assert m1 > m0 + c1 + c0, (m1, m0)  # same 300 users; CIs apart


def test_env_reinforce_draws_distinct_slates_and_is_seeded():
    from simrec_agents.rl.reinforce_env import greedy_scores_policy, train_reinforce

    a, k, _ = train_reinforce("retention", "return", steps=300, seed=3)
    b, _, _ = train_reinforce("retention", "return", steps=300, seed=3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    env = gym.make_vec("simrec/Retention-v0", num_envs=16)
    obs, _ = env.reset(seed=0)
    slates = greedy_scores_policy(a, k)(obs)
    assert slates.shape == (16, 3) and all(len(set(r)) == 3 for r in slates.tolist())
