"""Run the study: its three parts, each a ``simrec`` command into ``DIR/<part>``, timed.

``python -m simrec_studies.lm_vs_cf run --results DIR`` runs (or resumes) ``synthetic``,
``movielens`` and ``sensitivity`` (:data:`PARTS`) in this process and appends the wall time
of every invocation to ``DIR/timings.json``, which the document quotes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from simrec.errors import ResultsError, SimrecError
from simrec.runner.results import atomic_write_text, writing

__all__ = ["MOVIELENS", "PARTS", "SENSITIVITY_AGENTS", "SYNTHETIC", "read_timings", "run_study"]

SYNTHETIC = "scenarios/lm_vs_cf_long_term.yaml"
MOVIELENS = "scenarios/lm_vs_cf_movielens.yaml"
#: Agents of the sensitivity analysis: the baseline and the three LM agents that decide the
#: headline answer (two seeds, the fewest that give a CI at each point: see :data:`PARTS`).
SENSITIVITY_AGENTS = ("mf", "lm-content", "lm-cf", "lm-hybrid")

#: Part -> the ``simrec`` command line that produces ``DIR/<part>`` (``{out}``, ``{workers}``).
PARTS: dict[str, tuple[str, ...]] = {
    "synthetic": ("run", SYNTHETIC, "--out", "{out}", "--resume", "--workers", "{workers}"),
    "movielens": ("run", MOVIELENS, "--out", "{out}", "--resume", "--workers", "{workers}"),
    "sensitivity": (
        "sensitivity",
        SYNTHETIC,
        "--out",
        "{out}",
        "--resume",
        "--workers",
        "{workers}",
        "--agents",
        ",".join(SENSITIVITY_AGENTS),
        "--seeds",
        "0,1",
        "--samples",
        "2",
        "--metrics",
        "retention,rmst_days,revenue,clicks,satisfaction_cohort",
    ),
}


def _timings_path(results: Path) -> Path:
    return results / "timings.json"


def read_timings(results: Path) -> dict[str, list[dict]]:
    """``DIR/timings.json``: part -> the invocations that ran it (empty if none)."""
    path = _timings_path(results)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ResultsError(f"{path}: not valid JSON ({err})") from None


def run_study(
    results: Path | str, parts: Sequence[str] = tuple(PARTS), workers: int = 2
) -> dict[str, list[dict]]:
    """Run (or resume) the parts of the study into ``results/<part>``, timing each.

    Each part is the ``simrec`` command of :data:`PARTS`, run in this process; its wall time,
    start and whether the folder was fresh are appended to ``results/timings.json``
    (atomically) whether it succeeds or fails.
    """
    from simrec.cli import main as simrec_main

    results = Path(results)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SimrecError(f"--parts: unknown part(s) {unknown}; known: {', '.join(PARTS)}")
    with writing(f"--results {results}"):
        results.mkdir(parents=True, exist_ok=True)
    timings = read_timings(results)
    for part in parts:
        out = results / part
        argv = [a.format(out=out, workers=workers) for a in PARTS[part]]
        fresh = not out.exists()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        code = simrec_main(argv)
        entry = {
            "started": started,
            "seconds": round(time.perf_counter() - t0, 1),
            "fresh": fresh,
            "exit_code": code,
            "command": "simrec " + " ".join(argv),
        }
        timings.setdefault(part, []).append(entry)
        atomic_write_text(_timings_path(results), json.dumps(timings, indent=1) + "\n")
        if code != 0:
            raise SimrecError(f"{part}: `simrec {' '.join(argv)}` failed (exit code {code})")
    return timings
