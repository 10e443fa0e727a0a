"""simrec: a simulation environment for the long-term effects of recommender systems.

The public surface: configuration (:mod:`simrec.config`), worlds (:func:`make_world`), the
population :class:`Simulation`, the agent protocol (:class:`Agent`, :func:`make_agent`) and
the metrics (:mod:`simrec.metrics`). See ``docs/model.md`` for the model.
"""

from simrec import envs  # registers the gymnasium ids
from simrec.agent import Agent, AgentContext, available_agents, make_agent
from simrec.config import Config, ScenarioConfig, from_dict, load_yaml, to_yaml
from simrec.errors import (
    AgentError,
    ConfigError,
    DependencyNotInstalled,
    InvalidActionError,
    SimrecError,
    UnknownNameError,
)
from simrec.rng import make_streams
from simrec.simulation import Simulation, SimulationResult
from simrec.types import Cost, Feedback, RequestBatch
from simrec.worlds import World, make_world

__version__ = "0.2.0"

__all__ = [
    "Agent",
    "AgentContext",
    "AgentError",
    "Config",
    "ConfigError",
    "Cost",
    "DependencyNotInstalled",
    "Feedback",
    "InvalidActionError",
    "RequestBatch",
    "ScenarioConfig",
    "SimrecError",
    "Simulation",
    "SimulationResult",
    "UnknownNameError",
    "World",
    "available_agents",
    "envs",
    "from_dict",
    "load_yaml",
    "make_agent",
    "make_streams",
    "make_world",
    "to_yaml",
]
