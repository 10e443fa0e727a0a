"""The code a run depends on, fingerprinted: agents and components that are not simrec's own.

A run's identity (:func:`simrec.runner.results.run_identity`) holds the sha256 of the source
file of every agent and user-model component the run uses whose code is not simrec's (an
agent given as a Python object or class, a plugin, a component named by import target) and,
for an agent object, of its pickled state, so that a resumed study whose code changed runs
again instead of mixing old and new runs under one label.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
from pathlib import Path
from typing import Any

from simrec.config import ScenarioConfig

__all__ = ["OWN_PACKAGES", "code_fingerprint"]


#: Packages whose code is simrec's own (their version is the installed simrec's).
OWN_PACKAGES = ("simrec", "simrec_agents", "simrec_studies")


def code_fingerprint(scenario: ScenarioConfig, agent: str, obj: Any = None) -> dict[str, str]:
    """sha256 of the code a run depends on that is not simrec's own (module docstring).

    Args:
        scenario: The scenario (its user-model components are looked up).
        agent: The agent's registered name (``python:<module>.<class>`` for an object).
        obj: The agent object or class given to the runner, if any.
    """
    from simrec.agent import agent_class
    from simrec.usermodel import component_classes

    out: dict[str, str] = {}
    if obj is not None:
        cls = obj if isinstance(obj, type) else type(obj)
        out["agent"] = _source_sha(cls)
        if not isinstance(obj, type):
            out["agent_state"] = _state_sha(obj)
    elif not agent.startswith("python:"):
        cls = agent_class(agent)
        if not _own(cls):
            out["agent"] = _source_sha(cls)
    for key, comp in component_classes(scenario.config.user_model).items():
        if not _own(comp):
            out[f"user_model.{key}"] = _source_sha(comp)
    return out


def _own(cls: type) -> bool:
    return cls.__module__.split(".")[0] in OWN_PACKAGES


def _source_sha(cls: type) -> str:
    try:
        path = inspect.getsourcefile(cls)
        data = Path(path).read_bytes() if path else repr(cls).encode()
    except (OSError, TypeError):
        data = repr(cls).encode()
    return hashlib.sha256(data).hexdigest()


def _state_sha(obj: Any) -> str:
    try:
        data = pickle.dumps(obj, protocol=4)
    except Exception:  # an agent holding something unpicklable: its attributes' reprs
        data = repr(sorted(vars(obj).items(), key=lambda kv: kv[0])).encode()
    return hashlib.sha256(data).hexdigest()
