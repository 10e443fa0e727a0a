"""One preflight for every command: all that can be checked, before any folder exists.

``simrec run``, ``ab``, ``ope``, ``sensitivity``, ``calibrate`` and ``report`` call
:func:`preflight` before they create, write or run anything (and so do
:func:`~simrec.experiments.run_ab`, :func:`~simrec.experiments.ope.run_ope` and
:func:`~simrec.sensitivity.run_sensitivity` when called from Python). A command it refuses
leaves no trace: no ``--out`` folder, no marker, no run. Every refusal is a
:class:`~simrec.errors.SimrecError` naming the field or option, the value and what was
expected. In order, cheapest first:

1. **Options.** ``--workers``, ``--backend`` (and Ray installed), ``--format``/``--dpi``,
   ``--events``; the design options of ``simrec sensitivity`` (:func:`design_options`); the
   share and seed of ``simrec calibrate``.
2. **The command's block.** ``ab`` and ``ope`` need their block, ``sensitivity`` its
   ``uncertain`` ranges and at least two seeds (a CI over seeds at every design point);
   ``ope`` and ``sensitivity`` refuse a ``grid`` (they run one design; ``simrec ab`` and
   ``simrec run`` run each variant); an A/B needs every impression logged; obp and SALib
   must be installed for ``ope`` and ``sensitivity``.
3. **Sizes** (:mod:`simrec.config.limits`): the scenario's seeds, agents and grid variants
   were capped when it was loaded; here the design points of a sensitivity analysis and
   the runs of the command.
4. **Names.** The report options that name metrics (``report.metrics``, ``report.pareto``,
   ``report.curve``; ``--metrics`` of ``simrec sensitivity``) against the metric registry
   (``simrec metrics``) and the totals the scenario's agents declare
   (:data:`AGENT_TOTALS`), and the agent or world a metric needs (the ideal recommender
   for ``*_vs_ideal`` and regret, the creator economy for its totals); the policies of an
   OPE study (the target gives slate probabilities, the logging policy its propensities).
   Agent labels, user-model components and world names were resolved when the scenario
   was loaded.
5. **The sweep,** for every variant: memory, every seed's catalog, every agent constructed
   and checked (:func:`simrec.runner.planning.preflight`; for ``ab`` and ``ope`` only the
   agents they run), then the command's own checks (``also``: the arms of an A/B test,
   :func:`simrec.experiments.split.check_arms`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from simrec.agent import Agent, agent_class, make_agent
from simrec.config import (
    LIMITS,
    ABConfig,
    OPEConfig,
    ReportConfig,
    ScenarioConfig,
    load_yaml,
)
from simrec.config.limits import product
from simrec.errors import ConfigError, DependencyNotInstalled, SimrecError, in_context, suggest
from simrec.guard import AGENT_TOTALS_PREFIX
from simrec.metrics import REGISTRY
from simrec.metrics.elsewhere import IDEAL, SUPPLY
from simrec.report.figures import check_figure_options
from simrec.report.tables import HORIZON_METRICS
from simrec.rng import SEED_MAX
from simrec.runner.planning import PYTHON_AGENT
from simrec.runner.planning import preflight as sweep_preflight
from simrec.types import SlateProbabilities, StochasticSlates

__all__ = [
    "AGENT_TOTALS",
    "COMMANDS",
    "FRACTION_RANGE",
    "SENSITIVITY_METHODS",
    "design_options",
    "design_points",
    "preflight",
    "run_count",
]

#: The commands :func:`preflight` knows.
COMMANDS = ("run", "ab", "ope", "sensitivity", "calibrate", "report")
#: Designs of ``simrec sensitivity --method``.
SENSITIVITY_METHODS = ("morris", "sobol")
#: The share of the ratings ``simrec calibrate --fraction`` fits on: both periods need
#: ratings (below 1% the training period of MovieLens-100K holds under 1,000 of them; at
#: 0.001% the held-out ranking had nothing to rank).
FRACTION_RANGE = (0.01, 0.99)
#: The class attribute in which an agent declares the whole-run totals it adds to a run's
#: results (``Cost.extra["totals"]``), so that report options may name them.
AGENT_TOTALS = "run_totals"
#: Runs of one seed per command besides one per agent: an A/B test runs the A/B population
#: and the two global rollouts, an OPE study the logging and the target run.
_RUNS_PER_SEED = {"ab": 3, "ope": 2}

#: A command's own check of one variant (after the sweep's): raises a SimrecError.
Check = Callable[[ScenarioConfig], None]


def preflight(
    scenario: ScenarioConfig | None,
    command: str,
    *,
    workers: int = 1,
    backend: str = "local",
    formats: Sequence[str] | None = None,
    dpi: int = 110,
    events: float = 0.0,
    method: str = "morris",
    samples: int | None = None,
    levels: int = 4,
    design_seed: int = 0,
    metrics: Sequence[str] | None = None,
    folders: Sequence[Path] = (),
    fraction: float = 0.8,
    seed: int = 0,
    factories: Mapping[str, Callable[[], Agent]] | None = None,
    also: Sequence[Check] = (),
    sweep: bool = True,
) -> None:
    """Check everything ``command`` can check before it creates, writes or runs anything.

    Args:
        scenario: The resolved scenario (``None`` for ``calibrate`` and ``report``).
        command: One of :data:`COMMANDS`.
        workers: Parallel processes.
        backend: ``"local"`` or ``"ray"``.
        formats: Figure formats (``run``, ``sensitivity``, ``report``); ``None``: not given.
        dpi: Resolution of raster figures.
        events: Share of impressions saved per run (``run``).
        method: Sensitivity design: ``"morris"`` or ``"sobol"``.
        samples: Morris trajectories or Sobol base samples (``None``: the default).
        levels: Morris grid levels.
        design_seed: Seed of the sensitivity design's sampler.
        metrics: ``--metrics`` of ``simrec sensitivity`` (``None``: not given).
        folders: The results folders ``simrec report`` writes the report of.
        fraction: ``simrec calibrate --fraction``.
        seed: ``simrec calibrate --seed``.
        factories: Agents given as Python objects (label -> factory), as the runner takes them.
        also: The command's own checks of each variant, run after the sweep's.
        sweep: Check each variant's memory, catalog and agents here; ``False`` where the
            caller does it itself before any folder exists (``run_grid`` and
            ``run_scenario`` for ``simrec run``, :func:`run_sensitivity` for every point).

    Raises:
        SimrecError: A :class:`ConfigError`, :class:`DependencyNotInstalled` or another
            simrec error naming what was refused.
    """
    if command not in COMMANDS:
        raise ConfigError(f"command: expected one of {', '.join(COMMANDS)}, got {command!r}")
    if command == "calibrate":
        _calibrate(fraction, seed)
        return
    if formats is not None:
        _figures(formats, dpi)
    if command == "report":
        for folder in folders:
            _report_folder(Path(folder))
        return
    if scenario is None:
        raise ConfigError(f"simrec {command}: expected a scenario, got none")
    _options(command, workers, backend, events)
    _block(scenario, command)
    points = 0
    if command == "sensitivity":
        samples = design_options(method, samples, levels, design_seed)
        points = design_points(method, samples, len(scenario.uncertain))
        kind = "Morris trajectories" if method == "morris" else "Sobol base samples"
        extra = 1 if method == "morris" else 2
        LIMITS["design_points"].check(
            "--samples",
            points,
            f"({samples:,} {kind} x ({len(scenario.uncertain)} uncertain parameters + {extra}))",
        )
    runs, detail = run_count(scenario, command, points)
    LIMITS["runs"].check(
        "seeds, agents and grid" if command != "sensitivity" else "--samples", runs, detail
    )
    if command in ("run", "sensitivity"):
        _report_names(scenario, _agent_totals(scenario, factories))
    if command == "sensitivity" and metrics:
        _headline_names(scenario, metrics, _agent_totals(scenario, factories))
    if command == "ope":
        _ope_policies(scenario)
    if not sweep:
        return
    for _, variant in scenario.variants():
        checked = _agents_run(variant, command)
        sweep_preflight(checked, dict(factories or {}))
        for check in also:
            check(variant)


def design_options(method: str, samples: int | None, levels: int, seed: int = 0) -> int:
    """Check a sensitivity design's options; the number of samples (its default applied).

    Args:
        method: ``"morris"`` or ``"sobol"``.
        samples: Morris trajectories (default 10) or Sobol base samples (a power of 2,
            default 64).
        levels: Morris grid levels (even, at least 2).
        seed: Seed of the sampler (``[0, 2**32 - 1]``, as SALib's samplers take it).

    Raises:
        ConfigError: Naming the option (``--method``, ``--samples``, ``--levels``,
            ``--design-seed``) and the value.
    """
    if method not in SENSITIVITY_METHODS:
        raise ConfigError(
            f"--method: expected one of {', '.join(SENSITIVITY_METHODS)}, got {method!r}"
        )
    if samples is None:
        samples = 10 if method == "morris" else 64
    if not _is_int(samples) or samples < 2:
        raise ConfigError(f"--samples: expected an integer >= 2, got {samples!r}")
    if method == "sobol" and samples & (samples - 1):
        raise ConfigError(
            f"--samples: Sobol sequences need a power of 2 (balance properties), got {samples}"
        )
    if method == "morris" and (not _is_int(levels) or levels < 2 or levels % 2):
        raise ConfigError(f"--levels: expected an even integer >= 2, got {levels!r}")
    if not _is_int(seed) or not 0 <= seed <= 2**32 - 1:
        raise ConfigError(f"--design-seed: expected an integer in [0, 2**32 - 1], got {seed!r}")
    return samples


def design_points(method: str, samples: int, parameters: int) -> int:
    """Points of a design: Morris ``samples * (k + 1)``, Sobol ``samples * (k + 2)``.

    (Saltelli's scheme for first-order and total indices; SALib draws exactly these.)

    >>> design_points("morris", 10, 6), design_points("sobol", 64, 6)
    (70, 512)
    """
    return samples * (parameters + (1 if method == "morris" else 2))


def run_count(scenario: ScenarioConfig, command: str, points: int = 0) -> tuple[int, str]:
    """The runs ``command`` does for ``scenario``, and how they are counted.

    ``run``: agents x seeds x grid variants; ``ab``: 3 x seeds x grid variants (the A/B
    population and the two global rollouts); ``ope``: 2 x seeds; ``sensitivity``: agents x
    seeds x (design points + the nominal point).
    """
    seeds = len(scenario.seeds)
    variants = product(len(v) if isinstance(v, list | tuple) else 1 for v in scenario.grid.values())
    agents = len(scenario.agents)
    if command in _RUNS_PER_SEED:
        per = _RUNS_PER_SEED[command]
        n = per * seeds * (variants if command == "ab" else 1)
        return n, f"({per} per seed x {seeds} seeds x {variants} grid variants)"
    if command == "sensitivity":
        n = agents * seeds * (points + 1)
        return n, f"({agents} agents x {seeds} seeds x ({points} design points + 1))"
    n = agents * seeds * variants
    return n, f"({agents} agents x {seeds} seeds x {variants} grid variants)"


# ----------------------------------------------------------------------------- options


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _options(command: str, workers: int, backend: str, events: float) -> None:
    if not _is_int(workers) or workers < 1:
        raise ConfigError(f"--workers: expected a positive integer, got {workers!r}")
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: expected 'local' or 'ray', got {backend!r}")
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise DependencyNotInstalled(
            "--backend ray: needs ray; install it with pip install 'simrec[ray]'"
        )
    if command == "run":
        ok = isinstance(events, int | float) and not isinstance(events, bool)
        if not ok or not 0.0 <= events <= 1.0:
            raise ConfigError(f"--events: expected a share in [0, 1], got {events!r}")


def _figures(formats: Sequence[str], dpi: int) -> None:
    if not _is_int(dpi):
        raise ConfigError(f"--dpi: expected an integer in [30, 1200], got {dpi!r}")
    if isinstance(formats, str) or not all(isinstance(f, str) for f in formats):
        raise ConfigError(f"--format: expected a list of png, svg, pdf, got {formats!r}")
    check_figure_options(tuple(formats), dpi)


def _calibrate(fraction: float, seed: int) -> None:
    lo, hi = FRACTION_RANGE
    number = isinstance(fraction, int | float) and not isinstance(fraction, bool)
    if not number or not lo <= fraction <= hi:
        raise ConfigError(
            f"--fraction: expected a share in [{lo}, {hi}] (both the training and the held-out "
            f"period need ratings), got {fraction!r}"
        )
    if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"--seed: expected an integer in [0, 2**63 - 1], got {seed!r}")


# ----------------------------------------------------------------------------- blocks


def _block(scenario: ScenarioConfig, command: str) -> None:
    if command == "ab":
        if not scenario.ab.enabled:
            raise ConfigError(
                f"scenario {scenario.name!r}: ab: expected an A/B block naming control and "
                "treatment agent labels, got none"
            )
        if scenario.simulation.log_impressions < 1.0:
            raise ConfigError(
                "simulation.log_impressions: an A/B test's per-user metrics need every "
                f"impression logged; expected 1.0, got {scenario.simulation.log_impressions}"
            )
    if command == "ope":
        if not scenario.ope.enabled:
            raise ConfigError(
                f"scenario {scenario.name!r}: ope: expected a block naming the logging and "
                "target agent labels, got none"
            )
        if scenario.grid:
            raise ConfigError(
                f"grid: `simrec ope` runs one study and does not run a grid's variants (grid "
                f"keys: {', '.join(scenario.grid)}); remove the grid and run one study per "
                "value with --set KEY=VALUE and its own --out"
            )
        _needs("obp", "off-policy evaluation needs obp; install it with pip install 'simrec[ope]'")
    if command == "sensitivity":
        if not scenario.uncertain:
            raise ConfigError(
                f"uncertain: scenario {scenario.name!r} declares no uncertain parameters; add "
                "`uncertain: {retention.churn_max: [0.02, 0.25], ...}` (dotted settings with a "
                "range [low, high])"
            )
        if scenario.grid:
            raise ConfigError(
                "grid: a sensitivity analysis varies the `uncertain` ranges; remove the `grid` "
                "(or analyse each variant's scenario on its own)"
            )
        if len(scenario.seeds) < 2:
            raise ConfigError(
                f"seeds: a sensitivity analysis needs a 95% CI over seeds at every design "
                f"point; expected at least 2 seeds, got {list(scenario.seeds)} (set "
                "`seeds: [0, 1]` in the scenario or pass --seeds 0,1)"
            )
        _needs(
            "SALib",
            "simrec sensitivity needs SALib; install it with pip install 'simrec[sensitivity]'",
        )


def _needs(module: str, message: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise DependencyNotInstalled(message)


def _agents_run(scenario: ScenarioConfig, command: str) -> ScenarioConfig:
    """The scenario with only the agents ``command`` runs (an A/B's arms, an OPE's policies)."""
    if command == "ab":
        used = {scenario.ab.control, scenario.ab.treatment}
        blocks: dict[str, Any] = {"ope": OPEConfig()}
    elif command == "ope":
        used = {scenario.ope.logging, scenario.ope.target}
        blocks = {"ab": ABConfig()}
    else:
        return scenario
    return dataclasses.replace(
        scenario,
        agents=tuple(a for a in scenario.agents if a.key in used),
        baseline="",
        report=ReportConfig(),
        smoke={},
        uncertain={},
        **blocks,
    )


# ----------------------------------------------------------------------------- names


def _agent_totals(
    scenario: ScenarioConfig, factories: Mapping[str, Callable[[], Agent]] | None = None
) -> Callable[[], set[str]]:
    """The whole-run totals the scenario's agents declare (:data:`AGENT_TOTALS`), lazily.

    Loading an agent's class imports its module (torch, for many), so it is done only when
    a name is not in the metric registry.
    """
    found: list[set[str]] = []

    def load() -> set[str]:
        if found:
            return found[0]
        names: set[str] = set()
        for i, spec in enumerate(scenario.agents):
            cls: type | None = None
            if factories and spec.key in factories:
                made = factories[spec.key]()
                cls = type(made)
            elif not spec.name.startswith(PYTHON_AGENT):
                try:
                    cls = agent_class(spec.name)
                except SimrecError as err:
                    raise in_context(err, f"agents[{i}] {spec.key!r}") from err
            names |= _agent_names(getattr(cls, AGENT_TOTALS, ()))
            inner = spec.params.get("agent")  # a wrapper's (epsilon-greedy, softmax) agent
            if isinstance(inner, str):
                try:
                    names |= _agent_names(getattr(agent_class(inner), AGENT_TOTALS, ()))
                except SimrecError:
                    pass  # not an agent name: the sweep names the parameter
        found.append(names)
        return names

    return load


def _problem(name: str, scenario: ScenarioConfig, declared: Callable[[], set[str] | None]) -> str:
    """Why ``name`` cannot be a whole-run metric of ``scenario``'s results ('' if it can)."""
    metric = REGISTRY.all().get(name)
    if metric is None:
        extra = declared()
        if extra is None or name in extra:  # None: what the agents add is not known here
            return ""
        known = [n for n, m in REGISTRY.all().items() if m.total.kind != "none"] + sorted(extra)
        return (
            f"{name!r} is not a whole-run metric{suggest(name, known)}; `simrec metrics` "
            f"lists them (an agent's own totals, named agent.<name>, count when its class "
            f"declares them in `{AGENT_TOTALS}`)"
        )
    if metric.total.kind == "none":
        return (
            f"{name!r} has daily values only ({metric.total.rule}); expected a whole-run "
            "metric (a column of summary.csv: `simrec metrics`)"
        )
    if metric.total.source == IDEAL and not any(a.key == scenario.ideal for a in scenario.agents):
        labels = ", ".join(a.key for a in scenario.agents)
        return (
            f"{name!r} compares each agent with the ideal recommender on the same seed, but "
            f"no ideal recommender runs (agents: {labels}); add the agent named 'oracle' (with "
            "--agents, name it too) or set report.ideal to the ideal agent's label"
        )
    if metric.total.source == SUPPLY and not scenario.world.supply.enabled:
        return (
            f"{name!r} is a total of the creator economy, which this world does not run; "
            "expected world.supply.enabled: true"
        )
    return ""


def _report_names(scenario: ScenarioConfig, declared: Callable[[], set[str] | None]) -> None:
    """The report options that name metrics, checked against what the results will hold."""
    report = scenario.report
    named: list[tuple[str, str]] = [
        (f"report.metrics[{i}]", m) for i, m in enumerate(report.metrics)
    ]
    named += [(f"report.pareto[{i}]", o.rpartition(":")[0]) for i, o in enumerate(report.pareto)]
    named += [(f"report.curve[{i}]", m) for i, m in enumerate(report.curve)]
    for field, name in named:
        problem = _problem(name, scenario, declared)
        if problem:
            raise ConfigError(f"{field}: {problem}")


def _headline_names(
    scenario: ScenarioConfig, metrics: Iterable[str], declared: Callable[[], set[str]]
) -> None:
    """``simrec sensitivity --metrics``: whole-run metrics, or ``<metric>@<days>``."""
    days = scenario.simulation.days
    for name in metrics:
        if not isinstance(name, str):
            raise ConfigError(f"--metrics: expected metric names, got {name!r}")
        base, at, h = name.partition("@")
        if at:
            if base not in HORIZON_METRICS or not h.isdigit() or not 1 <= int(h) <= days:
                raise ConfigError(
                    f"--metrics: {name!r}: expected <metric>@<days> with a metric of "
                    f"{', '.join(HORIZON_METRICS)} and days in [1, {days}]"
                )
            continue
        problem = _problem(name, scenario, declared)
        if problem:
            raise ConfigError(f"--metrics: {problem}")


def _report_folder(folder: Path) -> None:
    """``simrec report``: the report options of a results folder's scenario.

    Checked against the registry, the folder's own ``summary.csv`` (an agent's totals are
    there, whatever it declares) and the totals its agents declare (an interrupted sweep has
    no summary; an agent this machine cannot load leaves the names it may add unchecked); a
    folder that is not a results folder is left to the report, which refuses it naming what
    is missing.
    """
    try:
        scenario: ScenarioConfig = load_yaml(folder / "config.yaml")
    except (SimrecError, OSError):
        return
    seen: set[str] = set()
    summary = folder / "summary.csv"
    if summary.is_file():
        import pandas as pd

        try:
            seen = {str(m) for m in pd.read_csv(summary, usecols=["metric"])["metric"]}
        except (ValueError, OSError):
            seen = set()
    agents = _agent_totals(scenario)

    def declared() -> set[str] | None:
        try:
            return seen | agents()
        except SimrecError:  # an agent this machine cannot load: its totals are unknown
            return None

    _report_names(scenario, declared)


# ----------------------------------------------------------------------------- OPE


def _ope_policies(scenario: ScenarioConfig) -> None:
    """The target must give any slate's probability, the logging policy its propensities."""
    specs = {a.key: a for a in scenario.agents}
    for role in ("target", "logging"):
        label = getattr(scenario.ope, role)
        spec = specs[label]
        if spec.name.startswith(PYTHON_AGENT):
            continue
        try:
            agent = make_agent(spec.name, **dict(spec.params))
        except SimrecError as err:
            raise in_context(err, f"ope.{role} {label!r}") from err
        if isinstance(agent, SlateProbabilities):
            continue
        if role == "target":
            raise ConfigError(
                f"ope.target: expected a stochastic agent that gives the probability of any "
                f"slate (probabilities(batch, slates): epsilon-greedy, softmax), got {label!r} "
                f"({type(agent).__name__})"
            )
        returns = _recommend_returns(agent)
        if returns is not None and StochasticSlates not in returns:
            raise ConfigError(
                f"ope.logging: expected a stochastic agent that returns its propensities "
                f"(StochasticSlates: epsilon-greedy, softmax), got {label!r} "
                f"({type(agent).__name__}, whose recommend returns "
                f"{' | '.join(getattr(t, '__name__', str(t)) for t in returns)})"
            )


def _recommend_returns(agent: Agent) -> tuple[Any, ...] | None:
    """The types ``agent.recommend`` is annotated to return (``None``: not annotated)."""
    try:
        hints = typing.get_type_hints(type(agent).recommend)
    except Exception:  # an annotation that does not resolve: the run checks every slate
        return None
    if "return" not in hints:
        return None
    ret = hints["return"]
    return typing.get_args(ret) or (ret,)


def _agent_names(totals: Any) -> set[str]:
    """The names an agent's declared totals have in a run's results: ``agent.<name>``."""
    return {f"{AGENT_TOTALS_PREFIX}{name}" for name in totals or ()}
