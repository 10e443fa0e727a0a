"""Components as plug-ins: parameters in the config tree, added components, utility terms.

The boredom rule of docs/model.md (``examples/boredom.py``) is added from a file outside the
package, beside a scenario, and its parameters are set through all four routes: the YAML,
``--set``, a scenario ``grid`` and ``uncertain`` ranges.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_figure

from simrec import Simulation
from simrec.cli import main
from simrec.config import Config, Params, from_dict, load_yaml, param, replace_path, to_yaml
from simrec.errors import ConfigError
from simrec.rng import Purpose, derived_purpose
from simrec.usermodel import Component, UserModel, UtilityTerm, available_components
from simrec.usermodel import register_component as register

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "boredom.py"
WORLD = (
    "world: {users: {n_users: 120}, items: {n_items: 200}}\n"
    "simulation: {days: 2, tick_minutes: 60.0}\n"
)


@pytest.fixture
def beside(tmp_path):
    """A folder holding the boredom file (outside the package) and a scenario writer."""
    shutil.copy(EXAMPLE, tmp_path / "boredom.py")

    def scenario(text: str, name: str = "s.yaml") -> Path:
        path = tmp_path / name
        path.write_text(f"name: s\nseeds: [0]\n{WORLD}{text}")
        return path

    yield scenario
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))
    sys.modules.pop("boredom", None)


ADD = 'user_model:\n  add: ["boredom:Boredom"]\n'


def impressions(config: Config, agent: str = "myopic-oracle") -> pd.DataFrame:
    """Every logged impression of a run, as a frame."""
    return pd.DataFrame(Simulation(config).run(agent, seed=0).log.tables()["impressions"])


# ----------------------------------------------------------------------------- the four routes


def test_yaml_sets_the_parameters_and_the_term_changes_behaviour(beside) -> None:
    cfg = load_yaml(beside(ADD + "  params: {boredom: {weight: 4.0}}\n"))
    params = cfg.user_model.params["boredom"]
    assert (params.weight, params.rate) == (4.0, 0.2)  # the unset one takes its default
    assert load_yaml(beside(ADD, "d.yaml")).user_model.params["boredom"].weight == 2.0
    model = UserModel(cfg.config, {"N": 1, "M": 1, "d": 2, "G": 1, "L": 1})
    (term,) = model.choice.added_terms
    assert term.key == "boredom" and term.params is params
    # A weight of 0 adds nothing: the logs are those of the model without it, row for row.
    zero = load_yaml(beside(ADD + "  params: {boredom: {weight: 0.0}}\n", "z.yaml"))
    plain = replace_path(zero.config, "user_model", {})
    assert plain.user_model.add == ()
    pd.testing.assert_frame_equal(impressions(zero.config), impressions(plain))
    # Boredom moves clicks away from the topics just consumed: fewer clicks per user for
    # the click maximiser, whose slates repeat the same topics.
    bored, base = impressions(cfg.config), impressions(plain)
    assert not bored.equals(base)
    assert bored["click"].sum() < base["click"].sum()


def test_set_overrides_a_parameter_on_the_command_line(beside, monkeypatch) -> None:
    path = beside(ADD + "agents: [{name: random}]\n")
    out = path.parent / "out"
    one_line_figure(monkeypatch)
    args = ["run", str(path), "--out", str(out), "--workers", "1", "--no-progress"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--set", "user_model.params.boredom.rate=0.5"]) == 0
    saved = load_yaml(out / "config.yaml")
    assert saved.user_model.params["boredom"].rate == 0.5
    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = main([*args, "--force", "--set", "user_model.params.boredom.rate=2"])
    assert code == 2
    assert "user_model.params.boredom.rate: expected a value >= 0.0 and <= 1.0" in err.getvalue()


def test_a_grid_varies_a_parameter(beside) -> None:
    from simrec.runner.local import run_grid

    path = beside(
        ADD + "agents: [{name: myopic-oracle}]\n"
        "grid: {user_model.params.boredom.weight: [0.0, 8.0]}\n"
    )
    variants = load_yaml(path).variants()
    weights = [v.user_model.params["boredom"].weight for _, v in variants]
    assert weights == [0.0, 8.0]
    assert [label for label, _ in variants] == ["weight-0.0", "weight-8.0"]
    out = path.parent / "grid"
    run_grid(load_yaml(path), out, workers=1, progress=False)
    grid = pd.read_csv(out / "grid.csv")
    clicks = grid[grid["metric"] == "clicks"].set_index("user_model.params.boredom.weight")
    assert clicks.loc[8.0, "mean"] < clicks.loc[0.0, "mean"]


def test_uncertain_ranges_reach_a_parameter(beside) -> None:
    from simrec.sensitivity import run_sensitivity

    path = beside(
        ADD + "agents: [{name: random}, {name: myopic-oracle}]\nbaseline: random\n"
        "uncertain: {user_model.params.boredom.weight: [0.0, 8.0]}\n"
    )
    out = path.parent / "sens"
    scenario = dataclasses.replace(load_yaml(path), seeds=(0, 1))  # a CI at every point
    res = run_sensitivity(scenario, out, samples=2, progress=False, metrics=("clicks",))
    design = pd.read_csv(out / "design.csv")
    assert "user_model.params.boredom.weight" in design.columns
    values = design["user_model.params.boredom.weight"]
    assert values.min() >= 0.0 and values.max() <= 8.0 and values.nunique() > 1
    for label, weight in zip(design["point"], values, strict=True):
        saved = load_yaml(out / "points" / label / "config.yaml")
        assert saved.user_model.params["boredom"].weight == pytest.approx(weight)
    assert "user_model.params.boredom.weight" in set(res.indices["parameter"])


# ----------------------------------------------------------------------------- refusals


B = "boredom:Boredom"


@pytest.mark.parametrize(
    ("user_model", "message"),
    [
        ({"add": [B], "params": {"boredom": {"wieght": 1}}}, "params.boredom.wieght: unknown key"),
        ({"add": [B], "params": {"boredom": {"weight": -1.0}}}, "params.boredom.weight: expected"),
        ({"add": [B], "params": {"boredom": {"rate": "x"}}}, "params.boredom.rate: expected a num"),
        ({"add": [B], "params": {"boredom": 3}}, "params.boredom: expected a mapping, got 3"),
        ({"add": [B], "params": {"boredum": {}}}, "params.boredum: no role or added component"),
        ({"params": {"fatigue": {"x": 1}}}, "params.fatigue: the component of 'fatigue' declares"),
        ({"add": [B, B]}, "user_model.add: expected distinct components, got 'boredom:Boredom'"),
        ({"add": ["no_such_module:Thing"]}, "'no_such_module:Thing' (no_such_module:Thing) cannot"),
        ({"add": [B, "../x"]}, "user_model.add[1]: expected a component name"),
        ({"add": ["nope"]}, "user_model.add[0]: unknown component 'nope'"),
        ({"choice": "mnll"}, "user_model.choice: unknown component 'mnll' (did you mean 'mnl'?)"),
    ],
)
def test_bad_component_settings_are_refused_naming_the_field(beside, user_model, message) -> None:
    import yaml

    with pytest.raises(ConfigError) as err:
        load_yaml(beside(yaml.safe_dump({"user_model": user_model})))
    assert message in str(err.value)


def test_a_role_component_cannot_be_added_and_an_added_one_cannot_fill_a_role(beside) -> None:
    with pytest.raises(ConfigError, match=r"fills the role 'fatigue'; set user_model\.fatigue"):
        from_dict(Config, {"user_model": {"add": ["simrec.usermodel.components:Fatigue"]}})
    with pytest.raises(ConfigError, match=r"user_model\.fatigue: component .* fills the role"):
        load_yaml(beside('user_model: {fatigue: "boredom:Boredom"}\n'))


def test_parameters_round_trip_through_yaml_and_stay_hashable(beside) -> None:
    cfg = load_yaml(beside(ADD + "  params: {boredom: {weight: 1.5, rate: 0.1}}\n"))
    again = load_yaml(to_yaml(cfg))
    assert again == cfg and hash(again.config) == hash(cfg.config)


# ----------------------------------------------------------------------------- from Python


@pytest.fixture
def registered():
    """A component registered from Python, removed afterwards."""
    from simrec.usermodel import _REGISTERED

    @register
    class Streak(Component):
        """Counts each user's clicks (state of its own, a parameter, a derived purpose)."""

        name = "streak"
        Params = StreakParams
        state = ()
        reads = ("clicks",)

        def state_vars(self, dims):
            from simrec.usermodel import StateVar

            return (StateVar("streak", np.int64, doc="clicks so far"),)

        def respond(self, r):
            np.add.at(r.pop.streak, r.u[r.clicks.rows], self.params.step)
            r.draws.uniform(self.purpose())  # a draw of its own purpose
            type(self).population = r.pop

    yield Streak
    _REGISTERED.pop("streak", None)


from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class StreakParams(Params):
    step: int = param(1, "added per click", ge=0)


def test_a_registered_component_counts_with_its_own_state_and_purpose(registered) -> None:
    cfg = from_dict(
        Config,
        {
            "world": {"users": {"n_users": 60}, "items": {"n_items": 100}},
            "simulation": {"days": 1},
            "user_model": {"add": ["streak"], "params": {"streak": {"step": 2}}},
        },
    )
    assert "streak" in available_components()["added"]
    sim = Simulation(cfg)
    res = sim.run("random", seed=0)
    rows = res.log.tables()["impressions"]
    clicks = np.bincount(rows["user"][rows["click"]], minlength=60)
    assert clicks.sum() > 0
    assert np.array_equal(registered.population.streak, 2 * clicks)
    plain = Simulation(replace_path(cfg, "user_model", {})).run("random", seed=0)
    # An added component that draws from its own purpose changes nobody else's draws.
    pd.testing.assert_frame_equal(
        pd.DataFrame(rows), pd.DataFrame(plain.log.tables()["impressions"])
    )


def test_derived_purposes_are_stable_and_apart_from_the_built_ins() -> None:
    p = derived_purpose("boredom")
    assert p == derived_purpose("boredom") and p != derived_purpose("boredom:x")
    assert p > max(Purpose) and p < 2**31


def test_a_utility_term_is_seen_by_the_myopic_oracle(beside) -> None:
    cfg = load_yaml(beside(ADD + "  params: {boredom: {weight: 50.0}}\n")).config
    plain = replace_path(cfg, "user_model", {})
    a = impressions(cfg, "myopic-oracle")
    b = impressions(plain, "myopic-oracle")
    assert not a["item"].equals(b["item"])  # the oracle ranks by the utility with the term
    assert issubclass(sys.modules["boredom"].Boredom, UtilityTerm)


def test_the_docs_show_the_example_file_whole() -> None:
    doc = (EXAMPLE.parents[1] / "docs" / "model.md").read_text()
    assert EXAMPLE.read_text() in doc
