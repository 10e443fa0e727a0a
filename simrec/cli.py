"""The ``simrec`` command line: ``simrec run``, ``simrec report`` and ``simrec list``.

Errors in the user's input (a scenario key, an agent name, a results folder) are printed as
one line naming what was wrong and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from simrec.errors import AgentError, DependencyNotInstalled, SimrecError

__all__ = ["main"]

#: Columns of the per-agent table printed after a run: (totals key, header, format).
TABLE = (
    ("clicks", "clicks", "{:,.0f}"),
    ("ctr_early", "CTR d0-2", "{:.4f}"),
    ("ctr", "CTR", "{:.4f}"),
    ("retention", "retention", "{:.3f}"),
    ("satisfaction", "satisfaction", "{:.3f}"),
    ("revenue", "revenue", "{:,.0f}"),
)


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _setting(text: str) -> tuple[str, object]:
    from simrec.config import parse_yaml

    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), parse_yaml(value, f"--set {key.strip()}")
    except SimrecError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="simrec", description="Simulate the long-term effects of recommender systems."
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a scenario (agents x seeds) into a results folder")
    r.add_argument("scenario", type=Path, help="scenario YAML file")
    r.add_argument("--out", type=Path, required=True, help="results folder")
    r.add_argument("--seeds", type=_int_list, help="override seeds, e.g. 0,1,2")
    r.add_argument("--agents", help="run only these agent labels, comma-separated")
    r.add_argument("--days", type=int, help="override the horizon (days)")
    r.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=_setting,
        help="override one scenario field, e.g. --set user_model.choice=cascade "
        "(repeatable; the value is read as YAML)",
    )
    r.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel processes (default: CPU count)",
    )
    r.add_argument("--smoke", action="store_true", help="run the scenario's tiny variant")
    r.add_argument(
        "--resume",
        action="store_true",
        help="keep finished runs in --out and run only the missing ones",
    )
    r.add_argument("--force", action="store_true", help="replace previous results in --out")
    r.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local process pool (default) or Ray tasks",
    )
    r.add_argument(
        "--ray-address", default=None, help="Ray cluster to join (default: start a local one)"
    )
    r.add_argument(
        "--events",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="save this share of each run's impressions to runs/<agent>/<seed>/events.parquet",
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("list", help="list worlds, agents and scenarios")
    sub.add_parser(
        "bench",
        help="throughput benchmarks with a table of medians (simrec bench --help for options)",
        add_help=False,
    )
    rep = sub.add_parser("report", help="(re)write figures and report.md of a results folder")
    rep.add_argument("out", type=Path, help="results folder written by `simrec run`")
    rep.add_argument(
        "--partial",
        action="store_true",
        help="report an interrupted sweep: the runs that are there (missing ones are listed)",
    )
    for command in (r, rep):
        command.add_argument(
            "--traceback",
            action="store_true",
            help="on an error, print the full traceback instead of one line",
        )
    return p


def _format_table(result, order: Sequence[str]) -> str:  # noqa: ANN001 - ScenarioResult
    s = result.summary
    if s.empty:
        return "(no finished runs)"
    header = ["agent", *(h for _, h, _ in TABLE)]
    rows = []
    for agent in [a for a in order if a in set(s["agent"])]:
        cells = [agent]
        for key, _, fmt in TABLE:
            hit = s[(s["agent"] == agent) & (s["metric"] == key)]
            if hit.empty:
                cells.append("-")
                continue
            mean, ci = float(hit["mean"].iloc[0]), float(hit["ci95"].iloc[0])
            cell = fmt.format(mean)
            if ci == ci:  # not NaN
                cell += " ± " + fmt.format(ci)
            cells.append(cell)
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from simrec.config import load_yaml
    from simrec.runner import resolve, run_scenario

    scenario = resolve(
        load_yaml(args.scenario),
        seeds=args.seeds,
        agents=[a.strip() for a in args.agents.split(",")] if args.agents else None,
        days=args.days,
        smoke=args.smoke,
        settings=args.set,
    )
    if args.workers < 1:
        raise SimrecError(f"--workers: expected a positive integer, got {args.workers}")
    n = len(scenario.agents) * len(scenario.seeds)
    print(
        f"scenario {scenario.name!r}: {len(scenario.agents)} agents x "
        f"{len(scenario.seeds)} seeds = {n} runs, {scenario.simulation.days} days "
        f"-> {args.out}",
        file=sys.stderr,
    )
    result = run_scenario(
        scenario,
        args.out,
        workers=args.workers,
        resume=args.resume,
        force=args.force,
        backend=args.backend,
        ray_address=args.ray_address,
        events=args.events,
        progress=not args.no_progress,
    )
    days = scenario.simulation.days
    print(
        f"\n{scenario.name}: means ± 95% CI over seeds {list(scenario.seeds)}; "
        f"retention and satisfaction at day {days - 1}, totals over {days} days"
    )
    print(_format_table(result, [a.key for a in scenario.agents]))
    try:
        from simrec.report import write_report

        report = write_report(args.out)
        print(f"\nreport: {report} (figures in {args.out / 'figures'})")
    except DependencyNotInstalled as err:
        print(f"\nno figures: {err}", file=sys.stderr)
    print(f"results: {result.out}/ (metrics.parquet, summary.csv, runs/)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from simrec.report import write_report

    print(write_report(args.out, partial=args.partial))
    return 0


def _cmd_list() -> int:
    from simrec.agent import agent_summary, available_agents
    from simrec.worlds import WORLDS

    print("worlds:")
    for name, (_, _, summary) in sorted(WORLDS.items()):
        print(f"  {name:16s} {summary}")
    from simrec.usermodel import available_components

    print("user-model components (user_model.<role>: <name>):")
    for role, named in available_components().items():
        print(f"  {role:16s} {', '.join(named)}")
    print("agents:")
    for name, info in sorted(available_agents().items()):
        extras = f" [needs simrec[{','.join(info.extras)}]]" if info.extras else ""
        print(f"  {name:16s} {agent_summary(info)}{extras}")
    scen = Path(__file__).resolve().parent.parent / "scenarios"
    if scen.is_dir():
        from simrec.config import load_yaml

        print(f"scenarios ({scen}):")
        for path in sorted(scen.glob("*.yaml")):
            try:
                question = load_yaml(path).question
            except SimrecError as err:
                question = f"(invalid: {err})"
            print(f"  {path.stem:20s} {question}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simrec`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # its own options: simrec bench --help
        from simrec import bench

        bench.main(argv[1:])
        return 0
    args = _parser().parse_args(argv)
    logging.basicConfig(format="simrec: %(message)s", level=logging.INFO, stream=sys.stderr)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "report":
            return _cmd_report(args)
        return _cmd_list()
    except SimrecError as err:
        if getattr(args, "traceback", False):
            raise
        hint = ""
        if isinstance(err, AgentError):
            hint = " (--traceback shows where)"
        print(f"simrec: error: {err}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
