"""Typed, validated configuration.

Every parameter of the world, the dynamics and the run lives in a frozen dataclass, with its
default, its unit and its meaning in the field metadata (``docs/model.md`` is generated from
it: ``python -m simrec.config``): the world's in :mod:`~simrec.config.world`, the user
model's in :mod:`~simrec.config.model`, a run's in :mod:`~simrec.config.run`, a scenario's
in :mod:`~simrec.config.scenario`, on the field machinery of :mod:`~simrec.config.base`.
YAML is only the surface: :func:`from_dict` rejects unknown keys (suggesting the closest
valid one), mistyped values and out-of-range values with an error naming the dotted field
path, the value and the expectation; a resolved config round-trips exactly through
:func:`to_dict` / :func:`to_yaml` / :func:`load_yaml`.

>>> cfg = from_dict(Config, {"simulation": {"days": 10}})
>>> cfg.simulation.days
10
>>> from_dict(Config, to_dict(cfg)) == cfg
True
>>> from_dict(Config, {"simulation": {"dayz": 10}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
simrec.errors.ConfigError: simulation.dayz: unknown key (did you mean 'days'?); valid keys: ...
"""

from __future__ import annotations

from simrec.config.base import (
    INF,
    INT_MAX,
    MAX_DAYS,
    PLAIN_NAME,
    check_plain_name,
    param,
)
from simrec.config.convert import from_dict, get_path, replace_path, to_dict, to_yaml
from simrec.config.limits import LIMITS, Limit
from simrec.config.model import (
    COMPONENT_TARGET,
    DynamicsConfig,
    EconomyConfig,
    FrozenMap,
    Params,
    RetentionConfig,
    UserModelConfig,
    read_only_copy,
    set_params_resolver,
)
from simrec.config.run import (
    DEFAULTS_0_1,
    REWARDS,
    Config,
    EnvConfig,
    Intervention,
    RewardConfig,
    SimulationConfig,
    with_settings,
)
from simrec.config.scenario import ABConfig, AgentSpec, OPEConfig, ReportConfig, ScenarioConfig
from simrec.config.tables import markdown_tables, params_markdown
from simrec.config.world import (
    ItemsConfig,
    MovieLensConfig,
    SocialConfig,
    SupplyConfig,
    UsersConfig,
    WorldConfig,
)
from simrec.config.yamlio import (
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    load_yaml,
    parse_yaml,
    read_text_file,
)

__all__ = [
    "COMPONENT_TARGET",
    "DEFAULTS_0_1",
    "INF",
    "INT_MAX",
    "LIMITS",
    "MAX_DAYS",
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "PLAIN_NAME",
    "REWARDS",
    "ABConfig",
    "AgentSpec",
    "Config",
    "DynamicsConfig",
    "EconomyConfig",
    "EnvConfig",
    "FrozenMap",
    "Intervention",
    "ItemsConfig",
    "Limit",
    "MovieLensConfig",
    "OPEConfig",
    "Params",
    "ReportConfig",
    "RetentionConfig",
    "RewardConfig",
    "ScenarioConfig",
    "SimulationConfig",
    "SocialConfig",
    "SupplyConfig",
    "UserModelConfig",
    "UsersConfig",
    "WorldConfig",
    "check_plain_name",
    "from_dict",
    "get_path",
    "load_yaml",
    "markdown_tables",
    "param",
    "params_markdown",
    "parse_yaml",
    "read_only_copy",
    "read_text_file",
    "replace_path",
    "set_params_resolver",
    "to_dict",
    "to_yaml",
    "with_settings",
]
