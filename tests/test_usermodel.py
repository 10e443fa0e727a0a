"""The user model as components: choice models against their closed forms, a researcher's
own component (an instance and an entry point), declarations checked at composition."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import fake_distribution, small_config

from simrec import Simulation
from simrec.cli import main
from simrec.config import replace_path
from simrec.dynamics import choice
from simrec.errors import ConfigError
from simrec.usermodel import (
    ROLES,
    Component,
    RetentionComponent,
    UserModel,
    available_components,
)

# ----------------------------------------------------------------------------- closed forms


def test_cascade_and_position_based_draws_match_their_closed_forms():
    rng = np.random.default_rng(0)
    r = np.array([[0.3, 0.6, 0.2, 0.9]])
    n = 200_000
    rr = np.repeat(r, n, axis=0)
    k = choice.choose_cascade(rr, rng.random(n))
    freq = np.bincount(k, minlength=5) / n
    exact = np.array([0.3, 0.7 * 0.6, 0.28 * 0.2, 0.28 * 0.8 * 0.9, 0.28 * 0.8 * 0.1])
    assert np.allclose(cascade := choice.cascade_probabilities(r)[0], exact)
    assert cascade.sum() == pytest.approx(1.0)
    assert np.abs(freq - exact).max() < 4 * np.sqrt(0.25 / n)
    theta = choice.examination(4, 0.5)
    clicks = choice.click_position_based(rr, theta, rng.random((n, 4)))
    assert np.abs(clicks.mean(axis=0) - theta * r[0]).max() < 4 * np.sqrt(0.25 / n)
    # Degenerate limits: attractiveness 1 clicks the top item (cascade), all examined (PBM).
    assert choice.choose_cascade(np.ones((3, 4)), rng.random(3)).tolist() == [0, 0, 0]
    assert choice.click_position_based(np.ones((1, 3)), np.ones(3), rng.random((1, 3))).all()


def _flat_world(model: str, K: int = 4):
    """Every item has utility 0 and v0 = 0: attractiveness 1/2 everywhere."""
    cfg = small_config(days=6, n_users=400, n_items=300, slate_size=K)
    for path, value in [
        ("user_model.choice", model),
        ("dynamics.interest_weight", 0.0),
        ("dynamics.appeal_weight", 0.0),
        ("dynamics.fatigue_weight", 0.0),
        ("dynamics.repeat_penalty", 0.0),
        ("dynamics.no_click_utility", 0.0),
        ("dynamics.position_weight", 0.7),
    ]:
        cfg = replace_path(cfg, path, value)
    return cfg


@pytest.mark.parametrize("model", ["cascade", "pbm", "mnl"])
def test_choice_models_in_the_engine_click_as_their_closed_form(model):
    """Position click rates of a whole simulation equal the model's closed form."""
    K = 4
    imp = Simulation(_flat_world(model, K)).run("random", seed=0).log.impressions.columns()
    clicks = imp["click"].reshape(-1, K)
    n = len(clicks)
    if model == "cascade":
        exact = 0.5 ** np.arange(1, K + 1)
        assert clicks.sum(axis=1).max() == 1
    elif model == "pbm":
        exact = choice.examination(K, 0.7) * 0.5
        assert clicks.sum(axis=1).max() > 1  # several clicks in one slate happen
    else:
        w = np.exp(choice.position_bias(K, 0.7).astype(np.float64))
        exact = w / (1.0 + w.sum())
        assert clicks.sum(axis=1).max() == 1
    assert n > 3000
    assert np.abs(clicks.mean(axis=0) - exact).max() < 4 * np.sqrt(0.25 / n), (
        clicks.mean(axis=0),
        exact,
    )


def test_position_based_multi_click_updates_every_clicked_item():
    r = Simulation(_flat_world("pbm")).run("random", seed=1)
    imp = r.log.impressions.columns()
    clicked = imp["click"].reshape(-1, 4)
    engaged = imp["engagement"].reshape(-1, 4)
    assert (engaged[clicked] > 0).all() and (engaged[~clicked] == 0).all()
    sessions = r.log.sessions.columns()
    assert sessions["clicks"].sum() == clicked.sum()  # sessions count clicks, not requests


@pytest.mark.parametrize("model", ["cascade", "pbm"])
def test_a_choice_model_set_on_the_command_line_reaches_the_runs_and_their_config(tmp_path, model):
    """``--set user_model.choice=...`` as `simrec run` reads it, one short run in this process
    (no pool, no figures): the runs use the model and config.yaml records it."""
    from simrec.cli import _parser, _resolved
    from simrec.config import load_yaml
    from simrec.runner import run_scenario

    out = tmp_path / model
    args = ["run", "scenarios/quickstart.yaml", "--smoke", "--seeds", "0", "--out", str(out)]
    args += ["--agents", "random", "--days", "1", "--set", f"user_model.choice={model}"]
    sc = _resolved(_parser().parse_args(args))
    assert sc.user_model.choice == model
    res = run_scenario(sc, out, workers=1, progress=False)
    assert res.ran == 1 and load_yaml(out / "config.yaml").user_model.choice == model
    default = replace_path(sc, "user_model.choice", "mnl")
    other = run_scenario(default, tmp_path / "mnl", workers=1, progress=False)
    assert not res.totals["clicks"].equals(other.totals["clicks"])  # the model reached the run


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cascade", "pbm"])
def test_quickstart_runs_with_each_choice_model(tmp_path, model):
    out = tmp_path / model
    args = ["run", "scenarios/quickstart.yaml", "--smoke", "--seeds", "0", "--out", str(out)]
    assert main([*args, "--set", f"user_model.choice={model}", "--no-progress"]) == 0
    from simrec.config import load_yaml

    assert load_yaml(out / "config.yaml").user_model.choice == model


# ----------------------------------------------------------------------------- own components


class NeverChurn(RetentionComponent):
    """A researcher's retention rule: nobody churns; every user is back a day later."""

    uses = ()

    def first_visit(self, pop, users):
        return np.full(len(users), 0.5)

    def end_session(self, pop, users, visit):
        return np.zeros(len(users), dtype=bool), np.ones(len(users))

    def hazard(self, pop, users):
        return np.zeros(len(users))


def test_own_component_instance_replaces_the_retention_rule():
    cfg = small_config(days=6, n_users=200, n_items=200)
    cfg = replace_path(cfg, "retention.churn_max", 0.9)
    cfg = replace_path(cfg, "retention.churn_min", 0.5)
    default = Simulation(cfg).run("random", seed=0)
    own = Simulation(cfg, components={"retention": NeverChurn()}).run("random", seed=0)
    assert default.totals["retention"] < 0.7
    assert own.totals["retention"] == 1.0
    gaps = own.log.sessions.columns()["gap"]
    assert set(gaps[np.isfinite(gaps)].tolist()) == {1.0}


def test_own_component_registered_under_the_entry_point_group(tmp_path):
    """A package installed beside simrec registers a component; a scenario names it."""
    fake_distribution(
        tmp_path,
        "myrules",
        """
            import numpy as np
            from simrec.usermodel import RetentionComponent

            class NeverChurn(RetentionComponent):
                def first_visit(self, pop, users):
                    return np.full(len(users), 0.5)
                def end_session(self, pop, users, visit):
                    return np.zeros(len(users), dtype=bool), np.ones(len(users))
                def hazard(self, pop, users):
                    return np.zeros(len(users))
            """,
        "[simrec.components]\nnever-churn = myrules:NeverChurn\n",
    )
    program = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from conftest import small_config
        from simrec import Simulation
        from simrec.config import replace_path
        from simrec.usermodel import available_components
        assert "never-churn" in available_components()["retention"]
        cfg = replace_path(small_config(days=4), "user_model.retention", "never-churn")
        cfg = replace_path(cfg, "retention.churn_max", 0.9)
        cfg = replace_path(cfg, "retention.churn_min", 0.9)
        print(Simulation(cfg).run("random", seed=0).totals["retention"])
        """
    )
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1.0"


def test_declarations_are_checked_when_the_model_is_composed():
    cfg = small_config()
    dims = {"M": 200, "d": 32, "G": 8, "L": 20}

    class NeedsMood(Component):
        role = "engagement"
        reads = ("mood",)

    with pytest.raises(ConfigError, match=r"user_model\.engagement: NeedsMood reads \['mood'\]"):
        UserModel(cfg, dims, {"engagement": NeedsMood()})

    class UsesBoredom(Component):
        role = "drift"
        uses = ("boredom",)

    with pytest.raises(ConfigError, match=r"uses state \['boredom'\] that no component declares"):
        UserModel(cfg, dims, {"drift": UsesBoredom()})
    with pytest.raises(ConfigError, match=r"components\.fatigue: expected a Component instance"):
        UserModel(cfg, dims, {"fatigue": NeedsMood()})
    with pytest.raises(ConfigError, match=r"user_model\.choice: unknown component 'logit'"):
        UserModel(replace_path(cfg, "user_model.choice", "logit"), dims)


def test_a_new_state_variable_is_declared_in_one_place():
    """A component's own state is allocated, reset and sized by its declaration alone."""
    from simrec.usermodel import StateVar

    class Boredom(Component):
        role = "engagement"
        state = (StateVar("boredom", np.float32, ("G",), fill=0.25),)
        reads = ("clicks",)

        def respond(self, r):
            r.pop.boredom[r.u] += 0.01

    seen = {}

    class Spy(Boredom):
        def respond(self, r):
            super().respond(r)
            seen["shape"] = r.pop.boredom.shape

    Simulation(small_config(days=1, n_users=50), components={"engagement": Spy()}).run("random")
    assert seen["shape"] == (50, 8)


def test_every_role_has_a_default_and_the_list_is_complete():
    comps = available_components()
    assert list(comps) == list(ROLES)
    assert comps["choice"].keys() >= {"mnl", "cascade", "pbm"}
