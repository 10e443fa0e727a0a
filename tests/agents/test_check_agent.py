"""simrec.checks.check_agent: every registered agent passes it; broken agents are caught."""

import gc

import numpy as np
import pytest
from conftest import fake_distribution
from simrec_agents.base import item_pool, sample_distinct, scores_top_k

from simrec import Agent, Simulation, make_agent
from simrec.agent import agent_class, available_agents
from simrec.checks import agent_check_config, check_agent, shuffled_hidden_state
from simrec.errors import DependencyNotInstalled

#: Every agent registered under the entry-point group, built-in or a plug-in's.
REGISTERED = available_agents()
ALL_CHECKS = ["params", "valid slates", "determinism", "observable-only"]
#: The framework an extra brings that its agents import lazily, at their first run.
FRAMEWORKS = {"dp": "opacus", "rl": "stable_baselines3"}


@pytest.fixture(scope="session")
def frameworks():
    """The lazily imported frameworks (seconds each), imported once per process: shared
    setup rather than the time of whichever agent's check comes first."""
    for module in FRAMEWORKS.values():
        try:
            __import__(module)
        except ImportError:  # that agent's check skips itself
            pass


@pytest.fixture(scope="session")
def check_world_encoded(sentence_model):
    """The texts of the default check world (items and user profiles) through the sentence
    model once per process: the embedding cache that the LM agents' checks then hit, as any
    second run of a world does (about 3 s, otherwise paid by whichever LM agent comes first)."""
    from simrec_agents.lm.content import item_text, profile_text
    from simrec_agents.lm.encoder import MiniLMEncoder

    world = Simulation(agent_check_config()).build_world(0).observable
    texts = [item_text(world, i) for i in range(world.n_items)]
    MiniLMEncoder().encode(texts + [profile_text(world, u) for u in range(world.n_users)])


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_every_registered_agent_passes_check_agent(name, request, frameworks):
    if "lm" in REGISTERED[name].extras:  # the sentence model and the check world's texts
        request.getfixturevalue("check_world_encoded")
    try:
        report = check_agent(name)
    except DependencyNotInstalled as err:
        pytest.skip(str(err))
    assert report.requests > 0 and report.clicks > 0 and report.retrains >= 1, report
    if "observable-only" in report.skipped:  # only an agent that declares it reads truth
        cls = agent_class(name)
        assert make_agent(name, **cls.check_agent_params).reads_hidden_state, report
        assert list(report.passed) == ALL_CHECKS[:3]
    else:
        assert list(report.passed) == ALL_CHECKS


class Peeker(Agent):
    """Claims to see observable data only, but finds the hidden item table beside the
    observable one (the world that holds both) and ranks by the true quality."""

    name = "peeker"

    def setup(self, context):
        super().setup(context)
        for ref in gc.get_referrers(context.world.items):
            truth = ref.get("item_truth") if isinstance(ref, dict) else None
            truth = truth or getattr(ref, "item_truth", None)
            if truth is not None:
                self.quality = np.asarray(truth.quality)
        assert hasattr(self, "quality"), "the back door found no hidden table"

    def recommend(self, batch):
        pool = item_pool(batch)
        return scores_top_k(pool, self.quality[pool], batch.slate_size)


def test_an_agent_reading_hidden_state_through_a_back_door_is_caught():
    with pytest.raises(
        AssertionError,
        match=r"^agent 'peeker' failed the check 'observable-only': with every hidden array "
        r"shuffled .* recommend call 0 \(day 0\) served other slates: request 0 \(user \d+\) "
        r"got \[.*\] with the hidden state shuffled, \[.*\] in the run",
    ):
        check_agent(Peeker)


def test_an_agent_declaring_hidden_state_is_exempt_from_the_observable_check():
    """The exemption follows the agent's declared property, not its name."""

    class DeclaredPeeker(Peeker):
        reads_hidden_state = True

    report = check_agent(DeclaredPeeker, days=2)
    assert report.agent == "peeker" and list(report.passed) == ["valid slates", "determinism"]
    assert "reads_hidden_state" in report.skipped["observable-only"]
    assert "factory" in report.skipped["params"]


class Repeats(Agent):
    """Serves the pool's first item K times."""

    name = "repeats"

    def recommend(self, batch):
        return np.repeat(item_pool(batch)[:, :1], batch.slate_size, axis=1)


class Unseeded(Agent):
    """Draws from a generator of its own seeded by the OS, not from the agent's stream."""

    name = "unseeded"

    def recommend(self, batch):
        return sample_distinct(np.random.default_rng(), item_pool(batch), batch.slate_size)


class Crashes(Agent):
    """Fails on its first retrain."""

    name = "crashes"

    def recommend(self, batch):
        return sample_distinct(self.rng, item_pool(batch), batch.slate_size)

    def retrain(self, now):
        raise RuntimeError("the model diverged")


def test_duplicates_nondeterminism_and_crashes_are_caught_naming_agent_and_check():
    with pytest.raises(
        AssertionError,
        match=r"^agent 'repeats' failed the check 'valid slates': recommend call 0 \(day 0, "
        r"\d+ requests\) answered slates\[0\] \(user \d+\): duplicate items in \[(\d+), \1",
    ):
        check_agent(Repeats, days=1)
    with pytest.raises(
        AssertionError,
        match=r"^agent 'unseeded' failed the check 'determinism': two runs with seed 0, "
        r"recommend call 0 \(day 0\) served other slates: .* in the first, .* in the second",
    ):
        check_agent(Unseeded, days=1)
    with pytest.raises(
        AssertionError,
        match=r"^agent 'crashes' failed the check 'runs': .*\(seed 0, day 1, retrain\): "
        r"RuntimeError: the model diverged",
    ):
        check_agent(Crashes, days=2)


def test_a_plugin_agent_is_found_by_name_and_its_unchecked_parameter_is_caught(
    tmp_path, monkeypatch
):
    """An agent registered by another package is enumerated and checked like a built-in;
    a parameter its constructor takes without validation fails the 'params' check."""
    fake_distribution(
        tmp_path,
        "sloppy_plugin",
        """
        from simrec import Agent
        from simrec_agents.base import item_pool, sample_distinct

        class Sloppy(Agent):
            name = "sloppy"

            def __init__(self, alpha: float = 1.0, greedy: bool = False):
                if not isinstance(greedy, bool):
                    raise ValueError(f"greedy: expected true or false, got {greedy!r}")
                self.alpha = alpha  # never checked

            def recommend(self, batch):
                return sample_distinct(self.rng, item_pool(batch), batch.slate_size)
        """,
        "[simrec.agents]\nsloppy = sloppy_plugin:Sloppy\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "sloppy" in available_agents()
    with pytest.raises(
        AssertionError,
        match=r"^agent 'sloppy' failed the check 'params': make_agent\('sloppy', "
        r"alpha='lots'\) was accepted; expected a ConfigError naming the field",
    ):
        check_agent("sloppy")


def test_shuffled_hidden_state_permutes_every_hidden_array_and_keeps_the_observable():
    world = Simulation(agent_check_config(days=1)).build_world(0)
    other = shuffled_hidden_state(world, np.random.default_rng(0))
    assert other.items is world.items and other.users is world.users
    for table in ("item_truth", "user_truth"):
        a, b = getattr(world, table), getattr(other, table)
        for field in a.__dataclass_fields__:
            x, y = getattr(a, field), getattr(b, field)
            assert sorted(x.reshape(len(x), -1).tolist()) == sorted(
                y.reshape(len(y), -1).tolist()
            ), field  # the same rows ...
            if len(np.unique(x, axis=0)) > 1:
                assert not np.array_equal(x, y), field  # ... in another order
