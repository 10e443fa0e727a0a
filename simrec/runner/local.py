"""Run a scenario: agents x seeds, each run written to the results folder as it finishes.

Runs execute in a local process pool (``workers > 1``) or in this process. Each run is
independent and fully determined by (scenario config, agent spec, seed), so the order and
the process a run lands in do not change its result. With ``resume`` the finished runs in
the folder are kept and only the others run, so an interrupted sweep picks up where it
stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simrec.agent import Agent, AgentContext, make_agent
from simrec.config import (
    AgentSpec,
    ScenarioConfig,
    get_path,
    load_yaml,
    replace_path,
    to_yaml,
)
from simrec.errors import ConfigError, ResultsError, SimrecError, in_context, suggest
from simrec.metrics import Metric
from simrec.metrics.custom import ensure_registered, registered_from_python
from simrec.metrics.paired import VERSUS_IDEAL, regret, versus_ideal
from simrec.metrics.survival import lifetime_summary, survival_table
from simrec.resources import check_memory
from simrec.rng import make_streams
from simrec.runner.results import (
    LOCK,
    MARKER,
    atomic_write_bytes,
    atomic_write_text,
    comparable,
    finished_runs,
    foreign_entries,
    lock_folder,
    long_metrics,
    parquet_bytes,
    read_run,
    read_users,
    remove_owned,
    run_dir,
    run_identity,
    scenario_fingerprint,
    summarize,
    verify_run,
    write_run,
    writing,
)
from simrec.simulation import Simulation, not_shareable
from simrec.worlds import build_items, check_catalog, make_world

log = logging.getLogger("simrec.runner")

__all__ = [
    "RunOutput",
    "RunSpec",
    "ScenarioResult",
    "collect",
    "execute",
    "execute_pass",
    "group_runs",
    "plan",
    "preflight",
    "python_agents",
    "resolve",
    "run_grid",
    "run_scenario",
    "spawn_pool",
    "verify_runs",
]


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: what to simulate and where to write it."""

    scenario: ScenarioConfig
    agent: AgentSpec
    seed: int
    out: str
    events: float = 0.0  # share of impressions saved to events.parquet
    show_days: bool = False  # a progress bar over simulated days (in-process runs)
    #: For an agent given as a Python object: makes a fresh instance for this run (the run
    #: then executes in the calling process).
    factory: Callable[[], Agent] | None = field(default=None, compare=False, repr=False)
    #: Custom metrics registered from Python in the calling process (registered again in a
    #: worker process before the run).
    metrics: tuple[Metric, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class ScenarioResult:
    """What :func:`run_scenario` returns.

    Attributes:
        out: The results folder.
        totals: One row per run (agent, seed, whole-run metrics).
        summary: Agent x metric means, 95% CIs and paired differences.
        metrics: Long-format daily metrics.
        ran: Runs executed now (the others were already in the folder).
        missing: ``agent/seed`` of planned runs not in the folder (only when
            :func:`collect` was asked to allow them).
        survival: Per agent: pooled median lifetime, RMST and the hazard ratio of churn
            against the baseline (:func:`simrec.metrics.survival.survival_table`).
        users: ``(agent, seed)`` -> the run's per-user table.
    """

    out: Path
    totals: pd.DataFrame
    summary: pd.DataFrame
    metrics: pd.DataFrame
    ran: int
    missing: tuple[str, ...] = ()
    survival: pd.DataFrame | None = None
    users: dict[tuple[str, int], pd.DataFrame] | None = None


def resolve(
    scenario: ScenarioConfig,
    *,
    seeds: Sequence[int] | None = None,
    agents: Sequence[str] | None = None,
    days: int | None = None,
    smoke: bool = False,
    settings: Sequence[tuple[str, Any]] = (),
) -> ScenarioConfig:
    """Apply command-line overrides to a scenario (validated like the YAML).

    ``settings`` are ``(dotted key, value)`` pairs (``--set KEY=VALUE``), applied after the
    smoke variant and before ``days``/``seeds``.

    Raises:
        ConfigError: An unknown agent label (with suggestion) or an invalid override.
    """
    if smoke:
        scenario = scenario.smoke_variant()
    for key, value in settings:
        scenario = replace_path(scenario, key, value)
    if days is not None:
        scenario = replace_path(scenario, "simulation.days", days)
    if seeds is not None:
        scenario = replace_path(scenario, "seeds", list(seeds))
    if agents is not None:
        labels = [a.key for a in scenario.agents]
        chosen = []
        for name in agents:
            if name not in labels:
                raise ConfigError(
                    f"--agents: {name!r} is not an agent of scenario {scenario.name!r}"
                    f"{suggest(name, labels)}; its agents: {', '.join(labels)}"
                )
            chosen.append(scenario.agents[labels.index(name)])
        baseline = scenario.baseline if scenario.baseline in agents else ""
        scenario = dataclasses.replace(scenario, agents=tuple(chosen), baseline=baseline)
    return scenario


@contextlib.contextmanager
def _one_thread_env() -> Iterator[None]:
    """Set the thread variables to 1 while worker processes start, then restore them.

    Spawned workers read them before importing numpy, so parallel runs do not oversubscribe
    the cores with BLAS threads.
    """
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def plan(
    scenario: ScenarioConfig,
    out: Path,
    events: float = 0.0,
    show_days: bool = False,
    factories: dict[str, Callable[[], Agent]] | None = None,
) -> list[RunSpec]:
    """All (agent, seed) runs of the scenario, agent-major."""
    factories = factories or {}
    custom = registered_from_python()
    return [
        RunSpec(
            scenario, agent, seed, str(out), events, show_days, factories.get(agent.key), custom
        )
        for agent in scenario.agents
        for seed in scenario.seeds
    ]


#: Prefix of the ``name`` recorded for an agent given as a Python object.
PYTHON_AGENT = "python:"


def python_agents(
    scenario: ScenarioConfig, agents: dict[str, Any]
) -> tuple[ScenarioConfig, dict[str, Callable[[], Agent]]]:
    """Add agents given as Python classes or instances to a scenario.

    Each becomes an agent of the scenario under its label (a plain name), recorded in
    ``config.yaml`` as ``name: "python:<module>.<class>"``; every run gets a fresh object:
    a class is instantiated without arguments, an instance is deep-copied, so no state
    passes from one seed to the next.

    Raises:
        ConfigError: A label that is not a plain name or repeats one of the scenario, or a
            value that is neither an :class:`~simrec.agent.Agent` subclass nor an instance.
    """
    import copy

    from simrec.config import AgentSpec, check_plain_name

    labels = {a.key for a in scenario.agents}
    specs, factories = [], {}
    for label, obj in agents.items():
        check_plain_name(f"agents[{label!r}]", label)
        if label in labels:
            raise ConfigError(
                f"agents[{label!r}]: the scenario already has an agent labelled {label!r}; "
                "choose another label"
            )
        if isinstance(obj, type) and issubclass(obj, Agent):
            cls, factory = obj, obj
        elif isinstance(obj, Agent):
            cls, factory = type(obj), (lambda o=obj: copy.deepcopy(o))
        else:
            raise ConfigError(
                f"agents[{label!r}]: expected an Agent subclass or instance, got "
                f"{type(obj).__name__}"
            )
        name = f"{PYTHON_AGENT}{cls.__module__}.{cls.__qualname__}"
        specs.append(AgentSpec(name=name, label=label))
        factories[label] = factory
        labels.add(label)
    return dataclasses.replace(scenario, agents=(*scenario.agents, *specs)), factories


#: Thread pools each worker process is limited to one thread of (set before numpy loads).
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class RunOutput:
    """What one run sends back to the driver, which writes it to the results folder."""

    agent: str
    seed: int
    daily: pd.DataFrame
    totals: dict[str, float]
    cost: dict[str, Any]
    events: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    out: str = ""  # the results folder the run belongs to
    creators: pd.DataFrame | None = None


def execute(spec: RunSpec) -> RunOutput:
    """Simulate one run (in any process or on any Ray node; nothing is written here)."""
    return execute_pass((spec,))[0]


def execute_pass(specs: Sequence[RunSpec]) -> list[RunOutput]:
    """Simulate runs of one scenario and seed in one pass (:meth:`Simulation.run_many`).

    One spec is one run alone. Several must share the scenario, the seed and the folder,
    and their agents must keep their state to themselves (:func:`group_runs` makes such
    groups); each output is the one :func:`execute` gives for its spec alone.
    """
    first = specs[0]
    for spec in specs:
        ensure_registered(spec.metrics)
    results = Simulation(first.scenario.config).run_many(
        [s.factory() if s.factory is not None else s.agent.name for s in specs],
        seed=first.seed,
        agent_params=[None if s.factory is not None else dict(s.agent.params) for s in specs],
        labels=[s.agent.key for s in specs],
        progress=first.show_days,
    )
    return [_output(spec, result) for spec, result in zip(specs, results, strict=True)]


def _output(spec: RunSpec, result: Any) -> RunOutput:
    """What one run sends back to the driver."""
    cost = dataclasses.asdict(result.cost) | {
        "wall_seconds": result.wall_seconds,
        "hidden_state_read": result.hidden_state_read,
        "runs_in_pass": result.shared_pass,
    }
    totals = result.totals | {
        "ms_per_request": result.cost.ms_per_request,
        "fit_seconds": result.cost.fit_seconds,
        "params": float(result.cost.params),
        "flops_per_request": result.cost.flops_per_request,
    }
    events = None
    if spec.events > 0:
        frame = result.log.impressions.to_frame()
        # A seeded, per-run sample: the same rows for the same run, whatever the backend.
        keep = np.random.default_rng(spec.seed).random(len(frame)) < spec.events
        events = frame[keep].reset_index(drop=True)
    return RunOutput(
        spec.agent.key,
        spec.seed,
        result.daily,
        totals,
        cost,
        events,
        result.users,
        spec.out,
        result.creators,
    )


def preflight(
    scenario: ScenarioConfig, factories: dict[str, Callable[[], Agent]] | None = None
) -> None:
    """Check a whole sweep before any run starts (and before any folder is made).

    Checked: the memory a run needs (:func:`simrec.resources.check_memory`); every seed's
    catalog holds enough items for a request on every day
    (:func:`simrec.worlds.check_catalog`); every agent is constructed with its parameters
    and checked against the first seed's world (:meth:`simrec.agent.Agent.check`: slate
    size, candidates, policy files, ...).

    Raises:
        ConfigError: Or another :class:`SimrecError`; an agent's error names the agent.
    """
    cfg = scenario.config
    check_memory(cfg)
    for seed in scenario.seeds:
        check_catalog(
            build_items(cfg.world, make_streams(seed).world, cfg.simulation.days), cfg, seed
        )
    first = make_streams(scenario.seeds[0])
    world = make_world(cfg.world, first.world, first.arrivals, cfg.simulation.days)
    for i, spec in enumerate(scenario.agents):
        context = AgentContext(
            world=world.observable,
            rng=make_streams(scenario.seeds[0]).agent,
            slate_size=cfg.simulation.slate_size,
            n_candidates=cfg.simulation.candidates,
            retrain_every_days=cfg.simulation.retrain_every_days,
            config=cfg,
        )
        try:
            factory = (factories or {}).get(spec.key)
            agent = factory() if factory else make_agent(spec.name, **dict(spec.params))
            agent.check(context)
        except Exception as err:
            raise in_context(err, f"agents[{i}] {spec.key!r} (preflight)") from err


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where the plain data ``a`` and ``b`` differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in [*a, *(k for k in b if k not in a)]:
            out += _differences(a.get(key, "(absent)"), b.get(key, "(absent)"), _dot(path, key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path or 'scenario'} is {a!r} there, {b!r} now"]


def _adds_agents(existing: ScenarioConfig, scenario: ScenarioConfig) -> bool:
    """Whether ``scenario`` is ``existing`` with agents added (every other field the same).

    Then every finished run keeps its identity, and ``--resume`` runs only the new agents.
    """
    old, new = comparable(existing), comparable(scenario)
    old_agents, new_agents = old.pop("agents", []), new.pop("agents", [])
    return old == new and all(agent in new_agents for agent in old_agents)


def _dot(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _check_owner(out: Path, locked: bool) -> None:
    """Refuse a folder that holds anything simrec did not write.

    Before the lock (``locked=False``) only a folder without simrec's marker is checked (so
    that nothing is written into it, not even the lock); the whole contents are checked once
    the lock is held, when no other simrec process is writing there.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise ResultsError(f"--out {out}: is a file, not a folder")
    entries = sorted(p.name for p in out.iterdir() if p.name != LOCK)
    if entries and MARKER not in entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ResultsError(
            f"--out {out}: holds files simrec did not write ({shown}); choose an empty or new "
            f"folder (simrec writes only into folders it created)"
        )
    if not locked:
        return
    foreign = foreign_entries(out)
    if foreign:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        shown = ", ".join(foreign[:5]) + more
        raise ResultsError(
            f"--out {out}: holds files simrec did not write ({shown}); move them out first "
            f"(neither --force nor --resume touches a folder holding foreign files)"
        )


def _prepare_folder(scenario: ScenarioConfig, out: Path, resume: bool, force: bool) -> None:
    """Apply the --force / --resume rules to an owned, locked folder (see run_scenario)."""
    if force:
        remove_owned(out)
        return
    cfg_path = out / "config.yaml"
    if cfg_path.exists():
        try:
            existing = load_yaml(cfg_path)
        except SimrecError as err:
            raise ResultsError(f"{cfg_path}: unreadable results folder ({err})") from None
        if scenario_fingerprint(existing) != scenario_fingerprint(scenario) and not (
            resume and _adds_agents(existing, scenario)
        ):
            diffs = _differences(comparable(existing), comparable(scenario))
            more = f" (and {len(diffs) - 3} more differences)" if len(diffs) > 3 else ""
            raise ResultsError(
                f"--out {out}: holds results of a different scenario or configuration: "
                f"{'; '.join(diffs[:3])}{more}; choose another folder or pass --force to "
                f"replace them"
            )
        finished = finished_runs(out)
        if finished and not resume:
            raise ResultsError(
                f"--out {out}: already holds {len(finished)} finished runs of this "
                f"scenario; pass --resume to keep them and run the rest, or --force to replace"
            )
    elif any((out / "runs").glob("*/*")):
        raise ResultsError(
            f"--out {out}: holds runs but no config.yaml; choose another folder or --force"
        )


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files and run folders left by a killed sweep (never read as data)."""
    for tmp in [*out.glob(".*.tmp"), *out.glob("runs/*/.*.tmp")]:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def _invalid_runs(scenario: ScenarioConfig, out: Path) -> list[tuple[RunSpec, str]]:
    """Planned runs whose folder exists but is not a valid run of this scenario."""
    bad = []
    for spec in plan(scenario, out):
        if run_dir(out, spec.agent.key, spec.seed).exists():
            problem = verify_run(out, spec.agent.key, spec.seed, _identity(scenario, spec))
            if problem:
                bad.append((spec, problem))
    return bad


def _identity(scenario: ScenarioConfig, spec: RunSpec) -> dict[str, Any]:
    return run_identity(scenario, spec.agent, spec.seed)


@contextlib.contextmanager
def spawn_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A spawn pool whose workers start with one BLAS thread.

    Pending runs are cancelled when the block raises (a failed write stops the sweep
    without waiting for them).
    """
    with _one_thread_env():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def run_scenario(
    scenario: ScenarioConfig,
    out: Path | str,
    *,
    workers: int = 1,
    resume: bool = False,
    force: bool = False,
    backend: str = "local",
    ray_address: str | None = None,
    events: float = 0.0,
    progress: bool = True,
    on_run: Callable[[str, int, dict[str, float]], Any] | None = None,
    agents: dict[str, Any] | None = None,
) -> ScenarioResult:
    """Run every agent x seed of a scenario into ``out``.

    Order: :func:`preflight` (no folder is made if it fails); the folder is created (or
    must be one simrec owns: holding only what simrec writes) and locked for the whole
    sweep; ``--force`` empties what simrec wrote, ``--resume`` keeps the valid runs of the
    very same scenario (all but the seeds, baseline and question must match) and re-runs
    missing, partial or corrupt ones; each run is written as it finishes; at the end every
    planned run must verify.

    Args:
        scenario: The (resolved) scenario.
        out: Results folder; created if missing.
        workers: Processes to run in parallel (1: in this process).
        resume: Keep the runs already finished in ``out`` and run only the others.
        force: Delete previous results in ``out`` first (only what simrec wrote).
        backend: ``"local"`` (process pool) or ``"ray"`` (Ray tasks; same results).
        ray_address: Ray cluster to join (``None``: start a local one with ``workers`` CPUs).
        events: Share of impressions to save per run in ``events.parquet`` (0: none).
        progress: Show a progress bar over runs.
        on_run: Called with (agent, seed, totals) as each run finishes.
        agents: More agents, given as Python objects: label -> an
            :class:`~simrec.agent.Agent` subclass (instantiated without arguments for
            each run) or instance (deep-copied for each run); see :func:`python_agents`.
            Their runs execute in this process (the local backend only), so an agent
            written in a notebook gets seeds, CIs and a report like a registered one.

    Raises:
        ConfigError: Preflight failed (a parameter, an agent, the catalog, memory).
        ResultsError: ``out`` cannot be written, holds files simrec did not write, another
            process is using it, it holds another scenario's results (without ``force``)
            or finished runs of this one (without ``resume`` or ``force``), or a write failed
            (finished runs are kept).
        AgentError: An agent raised during a run (runs finished before are kept).
    """
    out = Path(out)
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: expected 'local' or 'ray', got {backend!r}")
    if not 0.0 <= events <= 1.0:
        raise ConfigError(f"--events: expected a share in [0, 1], got {events!r}")
    factories: dict[str, Callable[[], Agent]] = {}
    if agents:
        if backend != "local":
            raise ConfigError(
                "agents: agents given as Python objects run in this process; use "
                "backend='local' (or register them to run them on Ray)"
            )
        scenario, factories = python_agents(scenario, dict(agents))
    preflight(scenario, factories)
    _check_owner(out, locked=False)
    with writing(f"--out {out}"):
        out.mkdir(parents=True, exist_ok=True)
    with lock_folder(out, f"simrec run {scenario.name}"):
        todo = open_folder(
            scenario,
            out,
            resume,
            force,
            events,
            progress and in_process(workers, backend),
            factories,
        )
        run_all(todo, workers, backend, ray_address, progress, on_run, desc=scenario.name)
        return collect(scenario, out, ran=len(todo))


def in_process(workers: int, backend: str) -> bool:
    """Whether runs execute in this process (then each can show a bar over days)."""
    return backend == "local" and workers == 1


def open_folder(
    scenario: ScenarioConfig,
    out: Path,
    resume: bool,
    force: bool,
    events: float = 0.0,
    show_days: bool = False,
    factories: dict[str, Callable[[], Agent]] | None = None,
) -> list[RunSpec]:
    """Make ``out`` this scenario's results folder (locked by the caller); the runs to do.

    The folder must be one simrec owns; ``force`` empties it, ``resume`` keeps the valid runs
    of the very same scenario, or of the same scenario with fewer agents (agents added to a
    finished study); partial or corrupt runs are removed to be run again.
    """
    _check_owner(out, locked=True)
    _prepare_folder(scenario, out, resume, force)
    _remove_stale_temporaries(out)
    for spec, problem in _invalid_runs(scenario, out):
        log.warning("runs/%s/%d %s: it will be run again", spec.agent.key, spec.seed, problem)
        shutil.rmtree(run_dir(out, spec.agent.key, spec.seed))
    kept = f"the finished runs in {out} are kept (--resume runs the rest)"
    with writing(str(out / "config.yaml"), kept):
        if not (out / MARKER).exists():
            atomic_write_text(out / MARKER, "This folder was written by simrec.\n")
        text = to_yaml(scenario)
        if not (out / "config.yaml").exists() or (out / "config.yaml").read_text() != text:
            atomic_write_text(out / "config.yaml", text)
    done = set(finished_runs(out))
    runs = plan(scenario, out, events, show_days, factories)
    return [s for s in runs if (s.agent.key, s.seed) not in done]


#: Most runs one pass serves (each adds a copy of the population to the engine).
MAX_PASS = 8


def group_runs(todo: Sequence[RunSpec], workers: int = 1) -> list[tuple[RunSpec, ...]]:
    """The runs of ``todo`` as tasks: groups that may share one pass, others alone.

    Runs share a pass when they belong to the same folder and seed, their world keeps users
    apart (:func:`~simrec.simulation.not_shareable`) and their agents keep their state to
    themselves (:attr:`~simrec.agent.Agent.isolated_state`; agents given as Python objects
    run alone). A folder-and-seed's group is split so that there are at least ``workers``
    tasks when it can be, and into passes of at most :data:`MAX_PASS` runs.
    """
    isolated: dict[tuple[str, str], bool] = {}

    def may_share(spec: RunSpec) -> bool:
        if spec.factory is not None or not_shareable(spec.scenario.config):
            return False
        key = (spec.agent.name, repr(sorted(spec.agent.params.items())))
        if key not in isolated:
            try:
                agent = make_agent(spec.agent.name, **dict(spec.agent.params))
                isolated[key] = bool(agent.isolated_state)
            except SimrecError:  # the run alone raises it, naming the agent
                isolated[key] = False
        return isolated[key]

    alone: list[tuple[RunSpec, ...]] = []
    groups: dict[tuple[str, int], list[RunSpec]] = {}
    for spec in todo:
        if may_share(spec):
            groups.setdefault((spec.out, spec.seed), []).append(spec)
        else:
            alone.append((spec,))
    splits = max(1, -(-workers // max(len(groups), 1)))  # ceil(workers / groups)
    tasks = []
    for specs in groups.values():
        k = max(min(splits, len(specs)), -(-len(specs) // MAX_PASS))
        tasks += [tuple(specs[i::k]) for i in range(k)]  # balanced, each in plan order
    return [*tasks, *alone]


def run_all(
    todo: Sequence[RunSpec],
    workers: int,
    backend: str,
    ray_address: str | None,
    progress: bool,
    on_run: Callable[[str, int, dict[str, float]], Any] | None = None,
    desc: str = "runs",
) -> None:
    """Execute ``todo`` on the backend, writing each run into its own folder as it arrives.

    The runs may belong to several scenarios and folders (each :class:`RunSpec` names its
    scenario and folder, which the caller has opened and locked).
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=desc, unit="run")
    scenarios = {s.out: s.scenario for s in todo}

    def finished(run: RunOutput) -> None:
        # The driver writes each run as it arrives (atomically), whatever the backend.
        scenario = scenarios[run.out]
        agent = next(a for a in scenario.agents if a.key == run.agent)
        write_run(
            Path(run.out),
            run.agent,
            run.seed,
            run.daily,
            run.totals,
            run.cost,
            run.events,
            run_identity(scenario, agent, run.seed),
            users=run.users,
            creators=run.creators,
        )
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{run.agent} seed {run.seed}")
        if on_run is not None:
            on_run(run.agent, run.seed, run.totals)

    parallel = backend == "ray" or (workers > 1 and len(todo) > 1)
    tasks = group_runs(todo, workers if parallel else 1)

    def finished_all(outputs: list[RunOutput]) -> None:
        for output in outputs:
            finished(output)

    try:
        if backend == "ray":
            from simrec.runner.ray_backend import run_on_ray

            run_on_ray(execute_pass, tasks, finished_all, address=ray_address, num_cpus=workers)
        elif parallel:
            # Fresh ("spawn") workers read the one-thread settings before importing numpy, so
            # parallel runs do not oversubscribe the cores with BLAS threads. Agents given as
            # Python objects (perhaps defined in a notebook) run here, between the results.
            pooled = [t for t in tasks if t[0].factory is None]
            with spawn_pool(min(workers, max(len(pooled), 1))) as pool:
                futures: list[Future] = [pool.submit(execute_pass, t) for t in pooled]
                for task in tasks:
                    if task[0].factory is not None:
                        finished_all(execute_pass(task))
                for fut in as_completed(futures):
                    finished_all(fut.result())
        else:
            for task in tasks:
                finished_all(execute_pass(task))
    finally:
        if bar is not None:
            bar.close()


def verify_runs(
    scenario: ScenarioConfig, out: Path, allow_missing: bool = False
) -> tuple[list[RunSpec], list[str]]:
    """The planned runs that verify, and ``agent/seed`` of those never written.

    Raises:
        ResultsError: Naming every missing (unless ``allow_missing``), partial or corrupt run.
    """
    verified, problems, missing = [], [], []
    for spec in plan(scenario, out):
        key = spec.agent.key
        problem = verify_run(out, key, spec.seed, _identity(scenario, spec))
        if problem == "missing" and allow_missing:
            missing.append(f"{key}/{spec.seed}")
        elif problem:
            problems.append(f"runs/{key}/{spec.seed} {problem}")
        else:
            verified.append(spec)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ResultsError(
            f"{out}: {len(problems)} run(s) of scenario {scenario.name!r} are missing or "
            f"invalid: {'; '.join(problems[:5])}{more}; `simrec run <scenario> --out {out} "
            f"--resume` runs them again"
        )
    return verified, missing


def collect(
    scenario: ScenarioConfig, out: Path, ran: int = 0, allow_missing: bool = False
) -> ScenarioResult:
    """Verify the scenario's runs and write ``metrics.parquet`` and ``summary.csv``.

    Every planned run (agent x seed) must be a valid run of this scenario
    (:func:`simrec.runner.results.verify_run`); none is ever dropped silently.

    Args:
        scenario: The scenario of the folder.
        out: The results folder.
        ran: Runs executed now (reported back).
        allow_missing: Summarise without the runs that were never written (an interrupted
            sweep); corrupt runs are an error all the same.

    Raises:
        ResultsError: Naming every missing (unless allowed), partial or corrupt run.
    """
    runs, rows = [], []
    verified, missing = verify_runs(scenario, out, allow_missing)
    for spec in verified:
        key = spec.agent.key
        daily, totals, _cost = read_run(out, key, spec.seed)
        runs.append((key, spec.seed, daily))
        rows.append({"agent": key, "seed": spec.seed, **totals})
    users = {(r["agent"], r["seed"]): read_users(out, r["agent"], r["seed"]) for r in rows}
    metrics = long_metrics(scenario.name, runs)
    metrics = _compare_runs(scenario, rows, users, metrics)
    totals = pd.DataFrame(rows)
    summary = summarize(totals, scenario.baseline or None) if rows else pd.DataFrame()
    order = [a.key for a in scenario.agents]
    survival = survival_table(users, order, scenario.baseline, scenario.simulation.days)
    with writing(f"the summaries in {out}", "the finished runs are kept"):
        atomic_write_bytes(out / "metrics.parquet", parquet_bytes(metrics, index=False))
        atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
        atomic_write_text(out / "survival.csv", survival.to_csv(index=False))
    return ScenarioResult(
        out=out,
        totals=totals,
        summary=summary,
        metrics=metrics,
        ran=ran,
        missing=tuple(missing),
        survival=survival,
        users=users,
    )


def _compare_runs(
    scenario: ScenarioConfig,
    rows: list[dict[str, Any]],
    users: dict[tuple[str, int], pd.DataFrame],
    metrics: pd.DataFrame,
) -> pd.DataFrame:
    """Add what needs more than one run to each run's totals, and to the daily metrics.

    Each run gains its Kaplan--Meier median lifetime and RMST (its own day-0 cohort); with an
    ideal recommender in the scenario (:attr:`ScenarioConfig.ideal`), the per-user regret
    against it and the homogenization relative to it on the same seed
    (:mod:`simrec.metrics.paired`), as daily metrics ``*_vs_ideal`` and last-day totals.
    """
    days = scenario.simulation.days
    for row in rows:
        row.update(lifetime_summary(users[(row["agent"], row["seed"])], days))
    ideal = scenario.ideal
    if not ideal or not any(r["agent"] == ideal for r in rows):
        return metrics
    relative = versus_ideal(metrics, ideal)
    last = relative[relative["day"] == days - 1].set_index(["agent", "seed", "metric"])["value"]
    for row in rows:
        base = users.get((ideal, row["seed"]))
        if base is not None:
            row.update(regret(users[(row["agent"], row["seed"])], base))
            for name in VERSUS_IDEAL:
                key = (row["agent"], row["seed"], f"{name}_vs_ideal")
                row[f"{name}_vs_ideal"] = float(last.get(key, float("nan")))
    return pd.concat([metrics, relative], ignore_index=True).sort_values(
        ["agent", "seed", "metric", "day"], ignore_index=True
    )


#: Marks a folder holding the variants of a scenario grid (one results folder each).
GRID_MARKER = ".simrec-grid"


def run_grid(
    scenario: ScenarioConfig, out: Path | str, **options: Any
) -> dict[str, ScenarioResult]:
    """Run every variant of a scenario's ``grid`` into ``out/<variant>/``.

    Each variant (:meth:`ScenarioConfig.variants`) is a complete scenario with its own
    results folder, report and paired differences against the baseline under the same
    settings; ``out/grid.csv`` gathers their summaries with one column per grid key. A
    scenario without a grid runs into ``out`` itself. ``options`` are those of
    :func:`run_scenario`.

    Raises:
        ResultsError: ``out`` holds files that are not this grid's.
        ConfigError: A grid value the field refuses, before anything runs.
    """
    out = Path(out)
    if not scenario.grid:
        return {"": run_scenario(scenario, out, **options)}
    variants = scenario.variants()  # every value checked before any run
    labels = {label for label, _ in variants}
    for _, variant in variants:
        preflight(variant)
    if out.exists():
        allowed = labels | {GRID_MARKER, "grid.csv"}
        stray = sorted(p.name for p in out.iterdir() if p.name not in allowed)
        if stray:
            raise ResultsError(
                f"--out {out}: holds entries that are not variants of this grid "
                f"({', '.join(stray[:5])}); choose an empty or new folder"
            )
    with writing(f"--out {out}"):
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / GRID_MARKER, "This folder holds the variants of a simrec grid.\n")
    results = {}
    for label, variant in variants:
        results[label] = run_scenario(variant, out / label, **options)
    write_grid_summary(scenario, out, {k: r.summary for k, r in results.items()})
    return results


def write_grid_summary(
    scenario: ScenarioConfig, out: Path, summaries: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Write ``out/grid.csv``: every variant's summary, with its label and grid values."""
    parts = []
    for (label, variant), summary in zip(scenario.variants(), summaries.values(), strict=True):
        values = {key: get_path(variant, key) for key in scenario.grid}
        parts.append(summary.assign(variant=label, **values))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    front = ["variant", *scenario.grid]
    frame = frame[front + [c for c in frame.columns if c not in front]]
    with writing(f"{out / 'grid.csv'}", "the variants' results are kept"):
        atomic_write_text(out / "grid.csv", frame.to_csv(index=False))
    return frame
