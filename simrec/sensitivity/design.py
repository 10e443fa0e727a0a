"""Sampling designs over a scenario's uncertain parameters (Morris screening, Sobol).

A scenario declares the settings whose true value is not known and a plausible range for
each (``uncertain: {retention.churn_max: [0.02, 0.25], ...}``). A :class:`Design` is a set
of points in that box drawn by SALib: Morris trajectories (Morris 1991, with the optimised
trajectories of Campolongo et al. 2007 when asked) or Saltelli's extension of a scrambled
Sobol sequence for first-order and total indices (Saltelli et al. 2010). Each point is the
scenario with those settings replaced; integer settings are rounded at the point (the
analysis uses the design's unrounded values, so a step is never zero).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simrec.config import ScenarioConfig, get_path, with_settings
from simrec.errors import ConfigError, DependencyNotInstalled
from simrec.preflight import SENSITIVITY_METHODS, design_options

__all__ = ["METHODS", "Design", "make_design", "salib"]

#: Designs ``simrec sensitivity --method`` accepts.
METHODS = SENSITIVITY_METHODS


def salib() -> Any:
    """SALib's sample and analyze modules, imported on first use (the ``sensitivity`` extra)."""
    try:
        import SALib.analyze.morris
        import SALib.analyze.sobol
        import SALib.sample.morris
        import SALib.sample.sobol
    except ImportError as err:
        raise DependencyNotInstalled(
            "simrec sensitivity needs SALib; install it with pip install 'simrec[sensitivity]'"
        ) from err
    return SALib


@dataclass(frozen=True)
class Design:
    """Points in the box of a scenario's uncertain parameters.

    Attributes:
        method: ``"morris"`` or ``"sobol"``.
        names: The dotted settings varied, in the scenario's order.
        bounds: ``(low, high)`` of each.
        integer: Whether each setting is an integer (rounded at the points).
        samples: Morris: trajectories; Sobol: base samples (a power of 2).
        levels: Morris grid levels (``p``); unused by Sobol.
        seed: Seed of the design's sampler.
        points: ``(n_points, n_parameters)`` values, unrounded.
    """

    method: str
    names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    integer: tuple[bool, ...]
    samples: int
    levels: int
    seed: int
    points: np.ndarray

    @property
    def problem(self) -> dict[str, Any]:
        """The design as SALib's ``problem`` dictionary."""
        return {
            "num_vars": len(self.names),
            "names": list(self.names),
            "bounds": [list(b) for b in self.bounds],
        }

    @property
    def labels(self) -> list[str]:
        """One folder name per point: ``p0000``, ``p0001``, ..."""
        return [f"p{i:04d}" for i in range(len(self.points))]

    def values(self, i: int) -> dict[str, float | int]:
        """The settings of point ``i`` as they are run (integers rounded)."""
        out: dict[str, float | int] = {}
        for name, is_int, value in zip(self.names, self.integer, self.points[i], strict=True):
            out[name] = round(float(value)) if is_int else float(value)
        return out

    def scenario_at(self, scenario: ScenarioConfig, i: int) -> ScenarioConfig:
        """``scenario`` with point ``i``'s settings, named ``<name>-p0000``, without ranges."""
        variant = with_settings(dataclasses.replace(scenario, uncertain={}), self.values(i))
        return dataclasses.replace(variant, name=f"{scenario.name}-{self.labels[i]}")

    def frame(self) -> pd.DataFrame:
        """One row per point: its label and the settings as run."""
        rows = [{"point": label, **self.values(i)} for i, label in enumerate(self.labels)]
        return pd.DataFrame(rows, columns=["point", *self.names])

    def settings(self) -> dict[str, Any]:
        """What identifies the design (recorded in the folder; a resume must match it)."""
        return {
            "method": self.method,
            "samples": self.samples,
            "levels": self.levels,
            "design_seed": self.seed,
            "uncertain": {n: list(b) for n, b in zip(self.names, self.bounds, strict=True)},
            "points": len(self.points),
        }


def make_design(
    scenario: ScenarioConfig,
    method: str = "morris",
    samples: int | None = None,
    levels: int = 4,
    seed: int = 0,
) -> Design:
    """The design of ``method`` over ``scenario.uncertain``.

    Args:
        scenario: A scenario with ``uncertain`` ranges.
        method: ``"morris"`` (``samples`` trajectories of ``k + 1`` points each, on a
            ``levels``-level grid; default 10 trajectories) or ``"sobol"`` (Saltelli's
            ``samples * (k + 2)`` points, first-order and total indices; ``samples`` a power
            of 2, default 64).
        samples: Trajectories (Morris) or base samples (Sobol).
        levels: Morris grid levels (even, at least 2).
        seed: Seed of the sampler (same seed, same design).

    Raises:
        ConfigError: No ``uncertain`` ranges, an unknown method, a sample size the method
            cannot use or a seed SALib cannot take (each naming the option and the value:
            :func:`simrec.preflight.design_options`).
    """
    if not scenario.uncertain:
        raise ConfigError(
            f"uncertain: scenario {scenario.name!r} declares no uncertain parameters; add "
            "`uncertain: {retention.churn_max: [0.02, 0.25], ...}` (dotted settings with a "
            "range [low, high])"
        )
    samples = design_options(method, samples, levels, seed)
    names = tuple(scenario.uncertain)
    bounds = tuple((float(lo), float(hi)) for lo, hi in scenario.uncertain.values())
    integer = tuple(isinstance(get_path(scenario, n), int) for n in names)
    problem = {"num_vars": len(names), "names": list(names), "bounds": [list(b) for b in bounds]}
    lib = salib()
    if method == "morris":
        points = lib.sample.morris.sample(problem, samples, num_levels=levels, seed=seed)
    else:
        points = lib.sample.sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    return Design(method, names, bounds, integer, samples, levels, seed, np.asarray(points))
