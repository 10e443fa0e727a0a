import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from simrec.config import (
    Config,
    DynamicsConfig,
    ScenarioConfig,
    from_dict,
    load_yaml,
    replace_path,
    to_dict,
    to_yaml,
)
from simrec.errors import ConfigError


def test_defaults_are_valid_and_round_trip_yaml():
    cfg = Config()
    assert from_dict(Config, yaml.safe_load(to_yaml(cfg))) == cfg
    sc = ScenarioConfig()
    assert load_yaml(to_yaml(sc)) == sc


def test_infinite_shelf_life_round_trips():
    cfg = Config()
    assert math.isinf(cfg.world.items.shelf_life_days)
    assert load_yaml(to_yaml(cfg), Config).world.items.shelf_life_days == math.inf


@settings(max_examples=40, deadline=None)
@given(
    days=st.integers(1, 3650),  # MAX_DAYS, the documented cap
    rate=st.floats(0.0, 1.0),
    tau=st.floats(1e-3, 1e3),
    v0=st.floats(-50, 50),
    seeds=st.lists(st.integers(0, 2**31), min_size=1, max_size=5, unique=True),
)
def test_round_trip_property(days, rate, tau, v0, seeds):
    sc = from_dict(
        ScenarioConfig,
        {
            "seeds": seeds,
            "simulation": {"days": days},
            "dynamics": {"drift_rate": rate, "satisfaction_tau_days": tau, "no_click_utility": v0},
        },
    )
    assert load_yaml(to_yaml(sc)) == sc
    assert from_dict(ScenarioConfig, to_dict(sc)) == sc


def test_unknown_key_names_path_and_suggests():
    with pytest.raises(
        ConfigError,
        match=r"dynamics\.apeal_weight: unknown key \(did you mean "
        r"'appeal_weight'\?\)",
    ):
        from_dict(Config, {"dynamics": {"apeal_weight": 1.0}})


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"simulation": {"days": "30"}}, r"simulation\.days: expected an integer, got '30'"),
        ({"simulation": {"days": 2.5}}, r"simulation\.days: expected an integer, got 2\.5"),
        ({"simulation": {"days": True}}, r"simulation\.days: expected an integer, got True"),
        ({"dynamics": {"drift_rate": "fast"}}, r"dynamics\.drift_rate: expected a number"),
        ({"world": {"items": 3}}, r"world\.items: expected a mapping"),
        ({"simulation": {"interventions": {"day": 1}}}, r"interventions: expected a list"),
    ],
)
def test_wrong_types_are_named(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        from_dict(Config, data)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (
            {"dynamics": {"satisfaction_tau_days": -1.0}},
            r"dynamics\.satisfaction_tau_days: expected a value >= 0\.001 and <= 100000\.0 days, "
            r"got -1\.0",
        ),
        ({"dynamics": {"fatigue_tau_days": 0}}, r"fatigue_tau_days: expected a value >= 0\.001"),
        ({"users": {"arrivals_per_day": -2}}, r"unknown key"),
        (
            {"world": {"users": {"arrivals_per_day": -2}}},
            r"world\.users\.arrivals_per_day: expected a value >= 0\.0 and <= 10000000\.0 "
            r"users/day, got -2\.0",
        ),
        ({"dynamics": {"drift_rate": 1.5}}, r"drift_rate: expected a value >= 0\.0 and <= 1\.0"),
        ({"dynamics": {"drift_rate": float("nan")}}, r"drift_rate"),
        (
            {"retention": {"gap_min_days": 5.0, "gap_max_days": 1.0}},
            r"retention\.gap_max_days: expected >= gap_min_days",
        ),
    ],
)
def test_out_of_range_values_are_named(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        from_dict(Config, data)


def test_direct_construction_is_validated_too():
    with pytest.raises(ConfigError, match="satisfaction_tau_days"):
        DynamicsConfig(satisfaction_tau_days=-3.0)


def test_malformed_yaml_reports_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nseeds: [0, 1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: malformed YAML at line 3"):
        load_yaml(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_yaml(tmp_path / "nope.yaml")


def test_scenario_consistency_checks():
    with pytest.raises(ConfigError, match=r"agents: labels must be unique; repeated: \['random'\]"):
        from_dict(ScenarioConfig, {"agents": [{"name": "random"}, {"name": "random"}]})
    with pytest.raises(ConfigError, match=r"baseline: expected one of .* \(did you mean 'random'"):
        from_dict(ScenarioConfig, {"agents": [{"name": "random"}], "baseline": "randm"})
    with pytest.raises(ConfigError, match="seeds: expected distinct"):
        from_dict(ScenarioConfig, {"seeds": [1, 1]})
    with pytest.raises(ConfigError, match=r"agents\[0\]\.nam: unknown key"):
        from_dict(ScenarioConfig, {"agents": [{"nam": "random"}]})


def test_interventions_are_validated_at_load():
    ok = from_dict(
        Config,
        {"simulation": {"interventions": [{"day": 3, "set": {"dynamics.appeal_weight": 0}}]}},
    )
    assert ok.simulation.interventions[0].day == 3
    with pytest.raises(ConfigError, match=r"interventions\[0\]\.set: .*apeal_weight: unknown key"):
        from_dict(
            Config,
            {"simulation": {"interventions": [{"day": 3, "set": {"dynamics.apeal_weight": 0}}]}},
        )
    with pytest.raises(ConfigError, match="only dynamics, retention, economy"):
        from_dict(Config, {"simulation": {"interventions": [{"set": {"world.dim": 3}}]}})
    with pytest.raises(ConfigError, match=r"satisfaction_tau_days: expected a value >= 0\.001"):
        from_dict(
            Config,
            {"simulation": {"interventions": [{"set": {"dynamics.satisfaction_tau_days": -1}}]}},
        )


def test_replace_path_and_smoke_variant():
    cfg = replace_path(Config(), "simulation.days", 7)
    assert cfg.simulation.days == 7
    sc = from_dict(
        ScenarioConfig, {"simulation": {"days": 30}, "smoke": {"simulation": {"days": 2}}}
    )
    assert sc.smoke_variant().simulation.days == 2
    assert sc.smoke_variant().smoke == {}
    with pytest.raises(ConfigError, match=r"smoke\.simulation\.dayz: unknown key"):
        from_dict(ScenarioConfig, {"smoke": {"simulation": {"dayz": 2}}})  # checked at load
