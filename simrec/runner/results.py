"""The results folder: owned, locked, atomic, verified.

Layout of ``DIR``::

    .simrec-results              marks the folder as simrec's: the command and the identity
    .simrec-files.json           every file simrec wrote here, with its size and sha256
    .simrec.lock                 held (flock) by the one `simrec run` or `report` using DIR
    config.yaml                  the fully resolved scenario (round-trips)
    runs/<agent>/<seed>/         one folder per finished run, created by an atomic rename:
        daily.parquet            per-day metrics (wide)
        users.parquet            one row per user: lifetime, churn, returns, value
        events.parquet           optional: a sample of the impressions (--events FRACTION)
        creators.parquet         with world.supply.enabled: one row per creator slot (genre,
                                 join and exit day, items produced, impressions, income)
        totals.json              whole-run aggregates
        cost.json                the agent's cost report
        manifest.json            written last: the run's identity (agent spec, seed, scenario
                                 fingerprint) and every file's size and sha256
    metrics.parquet              long format: scenario, agent, seed, day, metric, value
    summary.csv                  agent x metric: mean, 95% CI over seeds, paired difference
                                 against the baseline agent
    survival.csv                 per agent: pooled Kaplan-Meier median lifetime and RMST,
                                 Cox hazard ratio of churn against the baseline (95% CI)
    figures/, report.md          written by `simrec report` (and at the end of `simrec run`)
    agent-files/<agent>/<seed>/  what a run's agent writes (its ``AgentContext.output_dir``:
                                 e.g. the policy an sb3 agent trains with ``train.out``);
                                 emptied when the run starts, removed by --force

A run folder either exists complete or not at all: it is written under a temporary name and
renamed into place. A run counts as finished only if its manifest is there and every file
matches it (:func:`verify_run`), so a run corrupted later is found, never read as data.
Files and folders get the permissions the umask gives (0644 and 0755 under the usual 022).
The atomic writes and the lock are :mod:`simrec.runner.atomic`'s (re-exported here).
Agent labels are plain names (:func:`simrec.config.check_plain_name`), and :func:`run_dir`
refuses any other, so no run can be written outside ``DIR``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simrec.config import Config, ScenarioConfig, check_plain_name, to_dict
from simrec.errors import ResultsError
from simrec.runner.atomic import (
    LOCK,
    atomic_write_bytes,
    atomic_write_text,
    lock_folder,
    umask,
    writing,
)
from simrec.runner.identity import code_fingerprint
from simrec.runner.store import AGENT_FILES, file_sha256

__all__ = [
    "AGENT_FILES",
    "LOCK",
    "MANIFEST",
    "MARKER",
    "agent_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "comparable",
    "finished_runs",
    "foreign_entries",
    "lock_folder",
    "long_metrics",
    "mean_ci",
    "parquet_bytes",
    "read_run",
    "remove_owned",
    "run_dir",
    "run_identity",
    "scenario_fingerprint",
    "summarize",
    "t_quantile_975",
    "verify_run",
    "write_run",
    "writing",
]

#: The file that marks a folder as written by simrec (``--force`` empties only these).
MARKER = ".simrec-results"
#: The manifest of a run folder, written last.
MANIFEST = "manifest.json"
#: What simrec writes at the top of a results folder.
TOP_FILES = frozenset(
    {MARKER, LOCK, "config.yaml", "metrics.parquet", "summary.csv", "survival.csv", "report.md"}
)
#: What simrec writes in a run folder.
RUN_FILES = frozenset(
    {
        "daily.parquet",
        "users.parquet",
        "totals.json",
        "cost.json",
        "events.parquet",
        "creators.parquet",
        MANIFEST,
    }
)
#: Files every finished run has (``events.parquet`` and ``creators.parquet`` are optional).
REQUIRED_RUN_FILES = ("daily.parquet", "users.parquet", "totals.json", "cost.json")

# Two-sided 95% Student t quantiles t_{0.975, df} for df = 1..30 (standard table values).
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (normal beyond 30).

    >>> t_quantile_975(1), t_quantile_975(1000)
    (12.706, 1.96)
    """
    if df < 1:
        return math.nan
    return _T975[df - 1] if df <= len(_T975) else 1.96


def parquet_bytes(frame: pd.DataFrame, index: bool = True) -> bytes:
    """The Parquet file of ``frame``, as bytes (to be written atomically)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=index)
    return buf.getvalue()


def agent_dir(out: Path, agent: str, seed: int) -> Path:
    """The folder one run's agent may write into (``AgentContext.output_dir``).

    Raises:
        ConfigError: ``agent`` is not a plain name (it would leave ``out``).
    """
    check_plain_name("agent label", agent)
    return Path(out) / AGENT_FILES / agent / str(int(seed))


def run_dir(out: Path, agent: str, seed: int) -> Path:
    """Folder of one finished run.

    Raises:
        ConfigError: ``agent`` is not a plain name (it would leave ``out``).
    """
    check_plain_name("agent label", agent)
    return Path(out) / "runs" / agent / str(int(seed))


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr).encode()


#: Config blocks added after results folders were first written: left out of a folder's and a
#: run's identity while they hold their defaults (off), so that the folders written before
#: they existed still verify and resume.
LATER_BLOCKS: tuple[tuple[str, str], ...] = (("world", "supply"),)


def _without_default_later_blocks(data: dict[str, Any], cls: type = Config) -> dict[str, Any]:
    """``data`` without the :data:`LATER_BLOCKS` that equal their defaults."""
    defaults = to_dict(cls())
    for section, block in LATER_BLOCKS:
        part = data.get(section)
        if isinstance(part, dict) and part.get(block) == defaults[section][block]:
            data[section] = {k: v for k, v in part.items() if k != block}
    return data


def comparable(scenario: ScenarioConfig) -> dict[str, Any]:
    """The part of a scenario that shapes its runs' results, as plain data.

    That is the name, world, dynamics, retention, economy, simulation and the agents
    (names, labels, parameters).

    Seeds, the baseline, the question, the report section, the smoke block, the A/B and
    OPE blocks and the time limit are left out: they choose which runs exist and how they
    are summarised, not what a run produces.
    """
    data = to_dict(scenario)
    for key in ("seeds", "baseline", "question", "report", "smoke", "ab", "ope", "time_limit"):
        data.pop(key, None)
    return _without_default_later_blocks(data)


def scenario_fingerprint(scenario: ScenarioConfig) -> str:
    """sha256 of :func:`comparable`: two scenarios whose runs can share a results folder."""
    return hashlib.sha256(_canonical(comparable(scenario))).hexdigest()


def run_identity(
    scenario: ScenarioConfig, agent: Any, seed: int, obj: Any = None
) -> dict[str, Any]:
    """What a run folder is the result of: the agent's spec, the seed and the configuration.

    With an agent or a user-model component whose code is not simrec's own (an agent given
    as a Python object ``obj`` or class, a plugin, an import target ``module:Class``), the
    identity also holds the sha256 of that code's source file and, for an agent object, of
    its pickled state (:func:`code_fingerprint`): a resumed study whose agent or component
    changed runs again instead of mixing old and new runs under one label.
    """
    config = _without_default_later_blocks(to_dict(scenario.config))
    spec = {k: v for k, v in to_dict(agent).items() if k != "grid"}  # expanded: never a grid
    identity: dict[str, Any] = {
        "agent": spec,
        "seed": int(seed),
        "config_sha256": hashlib.sha256(_canonical(config)).hexdigest(),
    }
    code = code_fingerprint(scenario, agent.name, obj)
    if code:  # absent for simrec's own code: folders written before still verify
        identity["code"] = code
    return json.loads(_canonical(identity))  # as it reads back from the manifest


def write_run(
    out: Path,
    agent: str,
    seed: int,
    daily: pd.DataFrame,
    totals: dict[str, float],
    cost: dict[str, Any],
    events: pd.DataFrame | None = None,
    identity: dict[str, Any] | None = None,
    users: pd.DataFrame | None = None,
    creators: pd.DataFrame | None = None,
) -> Path:
    """Write one finished run as a folder that appears atomically, manifest last.

    Args:
        out: Results folder.
        agent: Agent label (a plain name).
        seed: Run seed.
        daily: Daily metrics.
        totals: Whole-run aggregates.
        cost: The agent's cost report.
        events: Optional (sampled) impressions of the event log, written as
            ``events.parquet``.
        identity: :func:`run_identity` of the run, recorded in the manifest.
        users: The per-user table (:mod:`simrec.metrics.users`), written as
            ``users.parquet``.
        creators: The creator table of a run with the creator economy
            (:meth:`simrec.supply.CreatorEconomy.table`), written as ``creators.parquet``.

    Returns:
        The run folder.

    Raises:
        ResultsError: A write failed (disk full, permissions, ...); nothing of this run is
            left behind and no other run is touched.
    """
    final = run_dir(out, agent, seed)
    with writing(f"run {agent} seed {seed} in {out}", "the other finished runs are kept"):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{seed}.", suffix=".tmp", dir=final.parent))
        try:
            os.chmod(tmp, 0o777 & ~umask())
            files = {
                "daily.parquet": parquet_bytes(daily),
                "users.parquet": parquet_bytes(
                    users if users is not None else pd.DataFrame(), index=False
                ),
                "totals.json": json.dumps(totals, indent=1, sort_keys=True).encode(),
                "cost.json": json.dumps(cost, indent=1, sort_keys=True, default=str).encode(),
            }
            if events is not None:
                files["events.parquet"] = parquet_bytes(events, index=False)
            if creators is not None:
                files["creators.parquet"] = parquet_bytes(creators, index=False)
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            manifest = {
                "run": identity or {"agent": {"label": agent}, "seed": int(seed)},
                "files": {
                    name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                    for name, data in files.items()
                },
                "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def verify_run(out: Path, agent: str, seed: int, identity: dict[str, Any] | None = None) -> str:
    """Why the run folder is not a valid finished run, or ``""`` if it is.

    Valid means: the manifest is there and readable, every file it lists has its size and
    sha256, no other file is there, and (if ``identity`` is given) the manifest's run
    identity equals it.
    """
    d = run_dir(out, agent, seed)
    if not d.is_dir():
        return "missing"
    try:
        manifest = json.loads((d / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return "no readable manifest.json (an interrupted or damaged run)"
    for name, meta in files.items():
        path = d / name
        try:
            size = path.stat().st_size
        except OSError:
            return f"{name} is missing"
        if size != meta.get("bytes"):
            return f"{name} has {size:,} bytes, the manifest says {meta.get('bytes'):,}"
        if file_sha256(path) != meta.get("sha256"):
            return f"{name} does not match its sha256 in the manifest (changed or damaged)"
    absent = [name for name in REQUIRED_RUN_FILES if name not in files]
    if absent:
        return f"has no {', '.join(absent)} (written by an older simrec)"
    extra = sorted(p.name for p in d.iterdir() if p.name not in files and p.name != MANIFEST)
    if extra:
        return f"holds files the manifest does not list: {', '.join(extra)}"
    found = manifest.get("run")
    if identity is not None and isinstance(found, dict) and "code" not in identity:
        if str(identity.get("agent", {}).get("name", "")).startswith("python:"):
            # a reader without the agent object (`simrec report`) cannot fingerprint it
            found = {k: v for k, v in found.items() if k != "code"}
    if identity is not None and found != identity:
        return _identity_difference(found, identity)
    return ""


def _identity_difference(found: Any, expected: dict[str, Any]) -> str:
    found = found if isinstance(found, dict) else {}
    if found.get("config_sha256") != expected["config_sha256"]:
        return "was run with another configuration (world, dynamics or simulation)"
    if found.get("agent") != expected["agent"]:
        return (
            f"was run with another agent spec ({found.get('agent')!r}, now {expected['agent']!r})"
        )
    if found.get("code") != expected.get("code"):
        changed = sorted(
            k
            for k in {*(found.get("code") or {}), *(expected.get("code") or {})}
            if (found.get("code") or {}).get(k) != (expected.get("code") or {}).get(k)
        )
        return f"was run with other code or state of {', '.join(changed)} (changed since)"
    return f"is the run of seed {found.get('seed')!r}, not {expected['seed']!r}"


def _run_folders(out: Path) -> Iterator[tuple[str, str, Path]]:
    root = Path(out) / "runs"
    if not root.is_dir():
        return
    for agent in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for seed in sorted(agent.iterdir()):
            if seed.is_dir() and not seed.name.startswith("."):
                yield agent.name, seed.name, seed


def finished_runs(out: Path) -> list[tuple[str, int]]:
    """The (agent, seed) pairs whose run folder is valid (:func:`verify_run`)."""
    found = []
    for agent, seed, _ in _run_folders(out):
        if seed.isdigit() and not verify_run(out, agent, int(seed)):
            found.append((agent, int(seed)))
    return sorted(found)


def read_users(out: Path, agent: str, seed: int) -> pd.DataFrame:
    """Read one run's per-user table (``users.parquet``).

    Raises:
        ResultsError: The file is missing or unreadable.
    """
    path = run_dir(out, agent, seed) / "users.parquet"
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise ResultsError(f"{path}: cannot read the user table ({err})") from err


def read_run(out: Path, agent: str, seed: int) -> tuple[pd.DataFrame, dict, dict]:
    """Read one run's daily metrics, totals and cost.

    Raises:
        ResultsError: The run folder is missing or unreadable.
    """
    d = run_dir(out, agent, seed)
    try:
        daily = pd.read_parquet(d / "daily.parquet")
        totals = json.loads((d / "totals.json").read_text())
        cost = json.loads((d / "cost.json").read_text())
    except (OSError, ValueError) as err:
        raise ResultsError(f"{d}: cannot read the run ({err})") from err
    return daily, totals, cost


def foreign_entries(out: Path) -> list[str]:
    """Paths under ``out`` (relative) that simrec did not write; empty for a folder it owns.

    Simrec writes the files of :data:`TOP_FILES`, ``figures/*.{png,svg,pdf}``, run folders
    ``runs/<label>/<seed>/`` holding :data:`RUN_FILES`, the agents' ``agent-files/`` and
    temporary ``.*.tmp`` entries.
    """
    out = Path(out)
    foreign: list[str] = []
    for entry in sorted(out.iterdir()):
        name = entry.name
        if name in TOP_FILES or (name.startswith(".") and name.endswith(".tmp")):
            continue
        if name == AGENT_FILES and entry.is_dir() and not entry.is_symlink():
            continue  # the agents' own files, whatever they are
        if name == "figures" and entry.is_dir():
            foreign += [f"figures/{p.name}" for p in entry.iterdir() if not _figure(p.name)]
        elif name == "runs" and entry.is_dir():
            foreign += _foreign_in_runs(entry)
        else:
            foreign.append(name + ("/" if entry.is_dir() else ""))
    return foreign


#: Figure formats ``simrec report --format`` writes.
FIGURE_FORMATS = ("png", "svg", "pdf")


def _figure(name: str) -> bool:
    """A figure, or the temporary file of one being written."""
    return name.endswith(tuple(f".{f}" for f in FIGURE_FORMATS)) or (
        name.startswith(".") and name.endswith(".tmp")
    )


def _foreign_in_runs(runs: Path) -> list[str]:
    foreign = []
    for agent in sorted(runs.iterdir()):
        if not agent.is_dir():
            foreign.append(f"runs/{agent.name}")
            continue
        for seed in sorted(agent.iterdir()):
            rel = f"runs/{agent.name}/{seed.name}"
            if seed.name.startswith(".") and seed.name.endswith(".tmp"):
                continue
            if not (seed.is_dir() and seed.name.isdigit()):
                foreign.append(rel)
                continue
            foreign += [f"{rel}/{p.name}" for p in seed.iterdir() if p.name not in RUN_FILES]
    return foreign


def remove_owned(out: Path) -> None:
    """Delete what simrec wrote in ``out`` (the caller checked :func:`foreign_entries`).

    The marker and the lock stay: the folder is still simrec's, and still locked.
    """
    out = Path(out)
    shutil.rmtree(out / "runs", ignore_errors=True)
    shutil.rmtree(out / "figures", ignore_errors=True)
    shutil.rmtree(out / AGENT_FILES, ignore_errors=True)
    for name in TOP_FILES - {MARKER, LOCK}:
        (out / name).unlink(missing_ok=True)


def long_metrics(scenario: str, runs: Iterable[tuple[str, int, pd.DataFrame]]) -> pd.DataFrame:
    """Stack per-run daily frames into the long format.

    Columns: scenario, agent, seed, day, metric, value; rows sorted so that the same runs
    always give identical bytes.
    """
    parts = []
    for agent, seed, daily in runs:
        frame = daily.reset_index().melt(id_vars="day", var_name="metric", value_name="value")
        frame.insert(0, "seed", seed)
        frame.insert(0, "agent", agent)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["scenario", "agent", "seed", "day", "metric", "value"])
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "scenario", scenario)
    frame = frame.astype({"seed": "int64", "day": "int64", "value": "float64"})
    return frame.sort_values(["agent", "seed", "metric", "day"], ignore_index=True)


def summarize(totals: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """Agent x metric summary over seeds, with paired differences against ``baseline``.

    Args:
        totals: One row per run: columns ``agent``, ``seed`` and one column per metric.
        baseline: Agent label to pair against (common random numbers: same seeds), or
            ``None``.

    Returns:
        Rows (agent, metric) with ``n``, ``mean``, ``ci95`` (half-width, Student t over
        seeds), and, when a baseline is given, ``diff_mean``, ``diff_ci95`` of the per-seed
        difference agent - baseline.
    """
    metrics = [c for c in totals.columns if c not in ("agent", "seed")]
    rows = []
    base = None
    if baseline is not None and baseline in set(totals["agent"]):
        base = totals[totals["agent"] == baseline].set_index("seed")
    for agent, grp in totals.groupby("agent", sort=True):
        g = grp.set_index("seed")
        for m in metrics:
            x = g[m].to_numpy(dtype=float)
            row = {"agent": agent, "metric": m, "n": len(x), **mean_ci(x)}
            if base is not None:
                common = g.index.intersection(base.index)
                diff = (g.loc[common, m] - base.loc[common, m]).to_numpy(dtype=float)
                d = mean_ci(diff)
                row.update(diff_mean=d["mean"], diff_ci95=d["ci95"])
            rows.append(row)
    return pd.DataFrame(rows)


def mean_ci(x: np.ndarray) -> dict[str, float]:
    """Mean and 95% CI half-width of the values that are not NaN.

    An infinite value (a median lifetime beyond the horizon) makes the mean infinite and
    the CI NaN: it is never dropped as if it were missing.
    """
    x = x[~np.isnan(x)]
    if np.isinf(x).any():
        return {"mean": float(x.mean()), "ci95": math.nan}
    if len(x) == 0:
        return {"mean": math.nan, "ci95": math.nan}
    half = (
        t_quantile_975(len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else (math.nan)
    )
    return {"mean": float(x.mean()), "ci95": float(half)}
