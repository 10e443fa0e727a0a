"""A sweep's results folder: owned, resumed or replaced, verified.

:func:`open_folder` makes a folder opened by :class:`~simrec.runner.store.ResultsFolder`
(owned, locked, no links; ``--force`` already emptied what simrec wrote) this scenario's:
``--resume`` keeps the valid runs of the very same scenario, or of the same scenario with
agents or seeds added (the seeds are joined), and removes partial or corrupt runs and the
temporaries of a killed sweep, to be run again.
:func:`verify_runs` checks every planned run before a summary reads it. The folder's layout
and the run-level primitives are in :mod:`simrec.runner.results`.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simrec.agent import Agent
from simrec.config import ScenarioConfig, load_yaml, to_yaml
from simrec.errors import ResultsError, SimrecError
from simrec.runner.atomic import atomic_write_text, writing
from simrec.runner.planning import RunSpec, plan
from simrec.runner.results import (
    comparable,
    finished_runs,
    run_dir,
    run_identity,
    scenario_fingerprint,
    verify_run,
)
from simrec.runner.store import ResultsFolder

log = logging.getLogger("simrec.runner")

__all__ = ["open_folder", "verify_runs"]


def open_folder(
    scenario: ScenarioConfig,
    folder: ResultsFolder,
    resume: bool,
    force: bool,
    events: float = 0.0,
    show_days: bool = False,
    factories: dict[str, Callable[[], Agent]] | None = None,
) -> tuple[ScenarioConfig, list[RunSpec]]:
    """Make the open, locked ``folder`` this scenario's results folder: the runs to do.

    ``force`` emptied it already (:meth:`ResultsFolder.open`); ``resume`` keeps the valid
    runs of the very same scenario, or of the same scenario with fewer agents (agents added
    to a finished study) or other seeds: the seeds of the folder and of ``scenario`` are
    joined, so resuming never drops a finished run and the summaries cover every one.
    Partial or corrupt runs are removed to be run again.

    Returns:
        The scenario the folder now holds (``config.yaml``) and the runs still to do.
    """
    out = folder.out
    scenario = _prepare_folder(scenario, out, resume, force)
    _remove_stale_temporaries(out)
    for spec, problem in _invalid_runs(scenario, out, factories):
        log.warning("runs/%s/%d %s: it will be run again", spec.agent.key, spec.seed, problem)
        shutil.rmtree(run_dir(out, spec.agent.key, spec.seed))
    kept = f"the finished runs in {out} are kept (--resume runs the rest)"
    with writing(str(out / "config.yaml"), kept):
        text = to_yaml(scenario)
        if not (out / "config.yaml").exists() or (out / "config.yaml").read_text() != text:
            atomic_write_text(out / "config.yaml", text)
    done = set(finished_runs(out))
    runs = plan(scenario, out, events, show_days, factories)
    return scenario, [s for s in runs if (s.agent.key, s.seed) not in done]


def _prepare_folder(
    scenario: ScenarioConfig, out: Path, resume: bool, force: bool
) -> ScenarioConfig:
    """Apply the --resume rules to an owned, locked folder; the scenario it will hold.

    See :func:`simrec.runner.local.run_scenario`.
    """
    cfg_path = out / "config.yaml"
    if cfg_path.exists() and not force:
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
        if resume:
            seeds = tuple(sorted({*existing.seeds, *scenario.seeds}))
            if seeds != tuple(scenario.seeds):
                log.warning(
                    "--resume: the folder holds seeds %s; the study now has seeds %s",
                    list(existing.seeds),
                    list(seeds),
                )
                scenario = dataclasses.replace(scenario, seeds=seeds)
    elif not force and any((out / "runs").glob("*/*")):
        raise ResultsError(
            f"--out {out}: holds runs but no config.yaml; choose another folder or --force"
        )
    return scenario


def _adds_agents(existing: ScenarioConfig, scenario: ScenarioConfig) -> bool:
    """Whether ``scenario`` is ``existing`` with agents added (every other field the same).

    Then every finished run keeps its identity, and ``--resume`` runs only the new agents.
    """
    old, new = comparable(existing), comparable(scenario)
    old_agents, new_agents = old.pop("agents", []), new.pop("agents", [])
    return old == new and all(agent in new_agents for agent in old_agents)


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


def _dot(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files and run folders left by a killed sweep (never read as data)."""
    for tmp in [*out.glob(".*.tmp"), *out.glob("runs/*/.*.tmp")]:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def _invalid_runs(
    scenario: ScenarioConfig, out: Path, factories: dict[str, Callable[[], Agent]] | None = None
) -> list[tuple[RunSpec, str]]:
    """Planned runs whose folder exists but is not a valid run of this scenario."""
    bad = []
    for spec in plan(scenario, out, factories=factories):
        if run_dir(out, spec.agent.key, spec.seed).exists():
            problem = verify_run(out, spec.agent.key, spec.seed, _identity(scenario, spec))
            if problem:
                bad.append((spec, problem))
    return bad


def _identity(scenario: ScenarioConfig, spec: RunSpec) -> dict[str, Any]:
    return run_identity(scenario, spec.agent, spec.seed, spec.agent_object())


def verify_runs(
    scenario: ScenarioConfig,
    out: Path,
    allow_missing: bool = False,
    factories: dict[str, Callable[[], Agent]] | None = None,
) -> tuple[list[RunSpec], list[str]]:
    """The planned runs that verify, and ``agent/seed`` of those never written.

    Raises:
        ResultsError: Naming every missing (unless ``allow_missing``), partial or corrupt run.
    """
    verified, problems, missing = [], [], []
    for spec in plan(scenario, out, factories=factories):
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
