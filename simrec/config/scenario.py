"""A scenario's settings: its agents, seeds, grid, uncertain ranges, report, A/B and OPE."""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from simrec.config.base import MAX_DAYS, Base, FieldError, check_plain_name, param
from simrec.config.convert import from_dict, get_path, merge_dicts, replace_path, to_dict
from simrec.config.limits import LIMITS, product
from simrec.config.run import Config
from simrec.errors import ConfigError, suggest
from simrec.rng import SEED_MAX

__all__ = ["ABConfig", "AgentSpec", "OPEConfig", "ReportConfig", "ScenarioConfig"]


@dataclass(frozen=True)
class AgentSpec(Base):
    """One agent of a scenario: a registered name and its constructor parameters."""

    name: str = param("random", "registered agent name (see `simrec list`)")
    label: str = param("", "name in results (default: the agent name)")
    params: dict[str, Any] = param({}, "keyword arguments of the agent")
    grid: dict[str, Any] = param(
        {},
        "parameter lists: one agent per combination, labelled <label>-<param>-<value> "
        "(expanded when the scenario is loaded)",
    )

    def __post_init__(self) -> None:
        """Validate fields, then that the results label is a plain name (it becomes a folder)."""
        super().__post_init__()
        field_name = "label" if self.label else "name"
        check_plain_name(field_name, self.key)
        for key, values in self.grid.items():
            if not isinstance(values, list | tuple) or not values:
                raise FieldError(
                    f"grid.{key}", f"expected a non-empty list of values, got {values!r}"
                )
            if key in self.params:
                raise FieldError(f"grid.{key}", "is also in params; give it in one place")

    def expand(self) -> tuple[AgentSpec, ...]:
        """One spec per combination of the grid's values (itself without a grid)."""
        if not self.grid:
            return (self,)
        keys = list(self.grid)
        out = []
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            label = "-".join(
                [self.key, *(f"{k}-{_grid_value(v)}" for k, v in zip(keys, combo, strict=True))]
            )
            check_plain_name("label (from grid)", label)
            params = dict(self.params) | dict(zip(keys, combo, strict=True))
            out.append(AgentSpec(name=self.name, label=label, params=params))
        return tuple(out)

    @property
    def key(self) -> str:
        """Label used in results: ``label`` if given, else ``name``."""
        return self.label or self.name


def _grid_value(value: Any) -> str:
    """A grid value as it appears in a label: ``0.1``, ``32``, ``true``, ``cosine``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


#: Sections a scenario grid may vary.
_GRID_SECTIONS = ("world", "user_model", "dynamics", "retention", "economy", "simulation")


def _check_run_setting(field: str, key: str, hint: str = "") -> None:
    """Refuse a key of ``grid`` or ``uncertain`` outside the sections a run's settings live in."""
    if key.split(".")[0] not in _GRID_SECTIONS:
        raise FieldError(
            f"{field}.{key}",
            f"expected a setting of {', '.join(_GRID_SECTIONS)} (a dotted key), got {key!r}{hint}",
        )


@dataclass(frozen=True)
class ReportConfig(Base):
    """What ``simrec report`` shows for a scenario (it does not change any run)."""

    metrics: tuple[str, ...] = param(
        (),
        "whole-run metrics of the report's table, in order (empty: the standard table; "
        "any metric of summary.csv, custom ones included: `simrec list` names them)",
    )
    ideal: str = param(
        "",
        "agent label of the ideal recommender homogenization and regret are measured "
        "against (empty: the agent named 'oracle', if the scenario has one)",
    )
    horizons: tuple[int, ...] = param(
        (),
        "days H of the short-term vs long-term table: clicks, engagement and revenue over "
        "the first H days, retention and cohort satisfaction on day H - 1 (e.g. [14, 30, "
        "180]: a two-week A/B test, a month, half a year); horizons beyond the run are left out",
    )

    pareto: tuple[str, ...] = param(
        (),
        "objectives of the report's Pareto figure, each 'metric:max' or 'metric:min' (e.g. "
        "[provider_gini:min, retention:max, revenue:max]); the first is the x axis of every "
        "panel, and an agent is on the front when no other is as good on all and better on "
        "one (mean over seeds); empty: no figure",
    )

    curve: tuple[str, ...] = param(
        (),
        "a sweep's curves: [x metric, y metric, ...] -- one panel per y metric, one line per "
        "registered agent name through its labelled variants at their mean x (e.g. "
        "[agent.dp_epsilon_target, retention, revenue]: the privacy-utility curve; an infinite x "
        "is drawn at the right end); empty: no figure",
    )

    pairs: tuple[str, ...] = param(
        (),
        "more paired comparisons than the baseline's, each 'agent vs against' (agent labels; "
        "e.g. [dp-seq-dp_epsilon-1.0 vs dp-seq-dp_epsilon-inf]): a table of the per-seed "
        "differences agent - against (mean ± 95% CI) of the report's metrics",
    )

    def __post_init__(self) -> None:
        """Horizons are positive and increasing; Pareto objectives say their direction."""
        super().__post_init__()
        h = list(self.horizons)
        if any(x < 1 for x in h) or h != sorted(set(h)):
            raise FieldError("horizons", f"expected increasing positive days, got {h!r}")
        if self.pareto:
            bad = [o for o in self.pareto if not re.fullmatch(r"[A-Za-z0-9_.-]+:(max|min)", o)]
            if bad or len(self.pareto) < 2:
                raise FieldError(
                    "pareto",
                    "expected two or more objectives written 'metric:max' or 'metric:min', "
                    f"got {list(self.pareto)!r}",
                )
        if self.curve and len(self.curve) < 2:
            raise FieldError(
                "curve", f"expected an x metric and one or more y metrics, got {list(self.curve)!r}"
            )


@dataclass(frozen=True)
class ABConfig(Base):
    """An A/B test inside one population (``simrec ab``; docs/experiments.md).

    Both arms serve in one run and share the world; the same seeds also run each agent on
    every user (the global rollout: the truth the test's estimate is scored against).
    """

    control: str = param("", "agent label serving the control arm (empty: no A/B test)")
    treatment: str = param("", "agent label serving the treatment arm")
    share: float = param(0.5, "share of randomisation units in the treatment arm", "share",
                         gt=0.0, lt=1.0)  # fmt: skip
    unit: Literal["user", "cluster"] = param(
        "user",
        "randomisation unit: users, or the communities of the social world's follow graph "
        "(whole clusters in one arm; the CI is then cluster-robust)",
    )
    days: int = param(14, "duration of the test", "days", gt=0, le=MAX_DAYS)
    shared_training: bool = param(
        False,
        "both arms' agents learn from the logs of every arm (one platform-wide log, as when "
        "one model table serves the whole site); false: each agent sees only its own arm",
    )

    @property
    def enabled(self) -> bool:
        """Whether the scenario declares an A/B test."""
        return bool(self.control or self.treatment)


@dataclass(frozen=True)
class OPEConfig(Base):
    """An off-policy evaluation study (``simrec ope``; docs/experiments.md)."""

    logging: str = param(
        "",
        "agent label of the logging policy, a stochastic agent (epsilon-greedy, softmax) "
        "(empty: no OPE study)",
    )
    target: str = param(
        "", "agent label of the policy evaluated from the logs (epsilon-greedy, softmax)"
    )

    @property
    def enabled(self) -> bool:
        """Whether the scenario declares an OPE study."""
        return bool(self.logging or self.target)


@dataclass(frozen=True)
class ScenarioConfig(Config):
    """A scenario: one question, the agents and seeds, and the :class:`Config` of its runs.

    It *is* a :class:`Config` (world, user model, dynamics, retention, economy, simulation:
    one tree, declared once) with the scenario's own fields added. ``smoke`` holds overrides
    (same structure as the scenario) for a tiny variant.
    """

    #: Fields written first in YAML (the scenario's own, before the Config sections).
    LEADING: ClassVar[tuple[str, ...]] = (
        "name",
        "question",
        "seeds",
        "baseline",
        "agents",
        "report",
    )

    name: str = param("scenario", "scenario name, used in results")
    question: str = param("", "the question the scenario answers")
    seeds: tuple[int, ...] = param((0,), "run seeds; every agent runs on every seed")
    baseline: str = param("", "agent label paired differences are taken against")
    agents: tuple[AgentSpec, ...] = param((AgentSpec(),), "the agents compared")
    report: ReportConfig = param(ReportConfig, "what the report shows")
    grid: dict[str, Any] = param(
        {},
        "value lists of run settings (dotted keys such as dynamics.drift_rate): one variant "
        "of the scenario per combination, each run into its own results folder",
    )
    uncertain: dict[str, Any] = param(
        {},
        "plausible ranges [low, high] of numeric run settings whose true value is not known "
        "(dotted keys such as retention.churn_max): `simrec sensitivity` varies them over "
        "these ranges to test whether the scenario's conclusions hold",
    )
    smoke: dict[str, Any] = param({}, "overrides giving the scenario's tiny variant")
    time_limit: float = param(
        0.0,
        "wall-clock limit of each run, agent code included (`simrec run --time-limit`): a "
        "run past it stops the sweep with an error naming the run and the limit; finished "
        "runs are kept (0: no limit)",
        "seconds",
        ge=0.0,
        le=1e9,
    )
    ab: ABConfig = param(ABConfig, "an A/B test of two of the agents (`simrec ab`)")
    ope: OPEConfig = param(OPEConfig, "an off-policy evaluation study (`simrec ope`)")

    def __post_init__(self) -> None:
        """Validate fields, expand agent grids, check seeds, labels and the baseline."""
        super().__post_init__()
        self._check_sizes()
        if any(a.grid for a in self.agents):
            expanded = tuple(x for a in self.agents for x in a.expand())
            object.__setattr__(self, "agents", expanded)
        for key, values in self.grid.items():
            if not isinstance(values, list | tuple) or not values:
                raise FieldError(
                    f"grid.{key}", f"expected a non-empty list of values, got {values!r}"
                )
            if not key.startswith("ab."):  # A/B designs: `simrec ab` runs one per variant
                _check_run_setting(
                    "grid", key, "; agent parameters have their own grid (agents[i].grid)"
                )
        for key, bounds in self.uncertain.items():
            self._check_uncertain(key, bounds)
        if not self.seeds:
            raise FieldError("seeds", "expected at least one seed, got []")
        if any(not 0 <= s <= SEED_MAX for s in self.seeds) or len(set(self.seeds)) != len(
            self.seeds
        ):
            raise FieldError(
                "seeds",
                f"expected distinct integers in [0, 2**63 - 1], got {list(self.seeds)!r}",
            )
        labels = [a.key for a in self.agents]
        if not labels:
            raise FieldError("agents", "expected at least one agent, got []")
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise FieldError("agents", f"labels must be unique; repeated: {dup} (set `label`)")
        if self.baseline and self.baseline not in labels:
            raise FieldError(
                "baseline",
                f"expected one of the agent labels {labels}, got "
                f"{self.baseline!r}{suggest(self.baseline, labels)}",
            )
        if self.report.ideal and self.report.ideal not in labels:
            raise FieldError(
                "report.ideal",
                f"expected one of the agent labels {labels}, got "
                f"{self.report.ideal!r}{suggest(self.report.ideal, labels)}",
            )
        for i, pair in enumerate(self.report.pairs):
            agent, vs, against = str(pair).partition(" vs ")
            if not vs or agent == against:
                raise FieldError(
                    f"report.pairs[{i}]",
                    f"expected 'agent vs against' with two different agent labels, got {pair!r}",
                )
            for side in (agent, against):
                if side not in labels:
                    raise FieldError(
                        f"report.pairs[{i}]",
                        f"{side!r} is not an agent label{suggest(side, labels)}; labels: {labels}",
                    )
        if self.ab.enabled:
            self._check_ab(labels)
        if self.ope.enabled:
            for role in ("logging", "target"):
                value = getattr(self.ope, role)
                if value not in labels:
                    raise FieldError(
                        f"ope.{role}",
                        f"expected one of the agent labels {labels}, got {value!r}"
                        f"{suggest(value, labels)}",
                    )
        if self.smoke:
            self.smoke_variant()  # a broken smoke block fails now, not when it is first used

    def _check_sizes(self) -> None:
        """Refuse more seeds, agents or grid variants than their limits, before expanding them.

        (:mod:`simrec.config.limits`: a grid of a million agents took minutes to load.)
        """
        LIMITS["seeds"].check("seeds", len(self.seeds))
        total = 0
        for i, spec in enumerate(self.agents):
            lengths = [len(v) for v in spec.grid.values()]
            count = product(lengths)
            if spec.grid:
                LIMITS["agents"].check(
                    f"agents[{i}].grid", count, f"({' x '.join(map(str, lengths))} values)"
                )
            total += count
        LIMITS["agents"].check("agents", total)
        lengths = [len(v) if isinstance(v, list | tuple) else 1 for v in self.grid.values()]
        LIMITS["grid_variants"].check(
            "grid", product(lengths), f"({' x '.join(map(str, lengths))} values)"
        )

    def _check_ab(self, labels: list[str]) -> None:
        for arm in ("control", "treatment"):
            value = getattr(self.ab, arm)
            if value not in labels:
                raise FieldError(
                    f"ab.{arm}",
                    f"expected one of the agent labels {labels}, got {value!r}"
                    f"{suggest(value, labels)}",
                )
        if self.ab.control == self.ab.treatment:
            raise FieldError(
                "ab.treatment", f"expected an agent other than the control, got {self.ab.control!r}"
            )
        if self.ab.unit == "cluster" and self.world.kind != "social":
            raise FieldError(
                "ab.unit",
                "'cluster' randomises the communities of a follow graph; expected world.kind: "
                f"social, got {self.world.kind!r} (or use unit: user)",
            )
        if self.ab.days > self.simulation.days:
            raise FieldError(
                "ab.days",
                f"expected at most simulation.days = {self.simulation.days} (the truth runs "
                f"that long), got {self.ab.days}",
            )

    def _check_uncertain(self, key: str, bounds: Any) -> None:
        where = f"uncertain.{key}"
        _check_run_setting("uncertain", key)
        try:
            current = get_path(self, key)
        except AttributeError:
            try:  # raises naming the unknown key, with a suggestion
                replace_path(self.config, key, 0)
            except ConfigError as err:
                raise FieldError(where, str(err)) from None
            raise
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise FieldError(
                where, f"expected a numeric setting, but {key} is {type(current).__name__}"
            )
        numeric = isinstance(bounds, list | tuple) and all(
            isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
        )
        if not numeric or len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise FieldError(where, f"expected a range [low, high] with low < high, got {bounds!r}")
        if isinstance(current, int) and not all(float(b).is_integer() for b in bounds):
            raise FieldError(
                where, f"{key} is an integer setting; expected integer bounds, got {bounds!r}"
            )
        for b in bounds:
            try:
                replace_path(self.config, key, type(current)(b))
            except ConfigError as err:
                raise FieldError(where, str(err)) from None

    @property
    def ideal(self) -> str:
        """Label of the ideal recommender: ``report.ideal``, else the agent named ``oracle``."""
        if self.report.ideal:
            return self.report.ideal
        return next((a.key for a in self.agents if a.name == "oracle"), "")

    def variants(self) -> list[tuple[str, ScenarioConfig]]:
        """The scenario once per combination of ``grid`` values, labelled, without a grid.

        Labels join ``<last key part>-<value>``: ``grid: {dynamics.drift_rate: [0.05,
        0.2]}`` gives ``drift_rate-0.05`` and ``drift_rate-0.2``. Every value is validated
        as the field it sets. Without a grid: ``[("", self)]``.

        Raises:
            ConfigError: A value the field refuses (naming ``grid.<key>``).
        """
        if not self.grid:
            return [("", self)]
        keys = list(self.grid)
        base = dataclasses.replace(self, grid={})
        out = []
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            parts = [
                f"{k.split('.')[-1]}-{_grid_value(v)}" for k, v in zip(keys, combo, strict=True)
            ]
            label = "-".join(parts)
            check_plain_name("grid variant label", label)
            variant = base
            for key, value in zip(keys, combo, strict=True):
                try:
                    variant = replace_path(variant, key, value)
                except ConfigError as err:
                    raise FieldError(f"grid.{key}", str(err)) from None
            out.append((label, dataclasses.replace(variant, name=f"{self.name}-{label}")))
        return out

    @property
    def config(self) -> Config:
        """The :class:`Config` of one run of this scenario (its Config part, as a Config)."""
        return Config(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Config)})

    def smoke_variant(self) -> ScenarioConfig:
        """The scenario with its ``smoke`` overrides applied (and no further smoke)."""
        data = to_dict(self)
        data["smoke"] = {}
        return from_dict(ScenarioConfig, merge_dicts(data, dict(self.smoke)), path="smoke")
