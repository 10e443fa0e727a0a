"""The ``simrec`` command line: ``simrec run``, ``sensitivity``, ``report`` and ``list``.

Errors in the user's input (a scenario key, an agent name, a results folder) are printed as
one line naming what was wrong and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from simrec.errors import AgentError, DependencyNotInstalled, SimrecError

__all__ = ["main"]


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _formats(text: str) -> tuple[str, ...]:
    return tuple(f.strip().lower() for f in text.split(",") if f.strip())


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
    _run_options(r)
    r.add_argument(
        "--events",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="save this share of each run's impressions to runs/<agent>/<seed>/events.parquet",
    )
    sens = sub.add_parser(
        "sensitivity",
        help="do a scenario's conclusions hold over its uncertain parameters? (Morris, Sobol)",
    )
    sens.add_argument("scenario", type=Path, help="scenario YAML file with `uncertain` ranges")
    sens.add_argument("--out", type=Path, required=True, help="results folder of the analysis")
    sens.add_argument(
        "--method", choices=["morris", "sobol"], default="morris", help="design (default: morris)"
    )
    sens.add_argument(
        "--samples",
        type=int,
        default=None,
        help="Morris trajectories (default 10; k + 1 points each) or Sobol base samples "
        "(a power of 2, default 64; k + 2 points each)",
    )
    sens.add_argument("--levels", type=int, default=4, help="Morris grid levels (default: 4)")
    sens.add_argument(
        "--design-seed", type=int, default=0, help="seed of the design's sampler (default: 0)"
    )
    sens.add_argument(
        "--metrics",
        help="headline whole-run metrics, comma-separated (default: the scenario's "
        "report.metrics, else clicks, ctr_early, engagement, retention, satisfaction_cohort, "
        "rmst_days, revenue)",
    )
    _run_options(sens)
    _experiment_parser(
        sub, "ab",
        "run a scenario's A/B test (its `ab` block) beside the global rollouts: estimate vs "
        "truth, interference and short-horizon bias",
    )  # fmt: skip
    _experiment_parser(
        sub, "ope",
        "run a scenario's off-policy evaluation study (its `ope` block): obp's estimators on "
        "the logging policy's logs against the target policy's true value",
    )  # fmt: skip
    sub.add_parser("list", help="list worlds, agents and scenarios")
    sub.add_parser(
        "metrics",
        help="the metrics' definitions table (markdown; docs/metrics.md), custom ones included",
    )
    cal = sub.add_parser(
        "calibrate",
        help="compare a MovieLens world with the real data (held-out period or in sample)",
    )
    cal.add_argument(
        "--world", choices=["movielens-100k", "movielens-1m"], default="movielens-100k"
    )
    cal.add_argument(
        "--split",
        choices=["temporal", "in-sample"],
        default="temporal",
        help="temporal: fit on the first --fraction of the ratings in time order, judge on the "
        "rest (default); in-sample: fit and compare on all ratings (movielens-100k only)",
    )
    cal.add_argument(
        "--fraction",
        type=float,
        default=0.8,
        help="share of the ratings (time order) to fit on (default: 0.8)",
    )
    cal.add_argument(
        "--refit",
        action="store_true",
        help="choose the activity settings (simrec.calibration.SESSION_CANDIDATES) and the "
        "exposure power on the training period again (one simulation each: minutes)",
    )
    cal.add_argument(
        "--activity",
        choices=["refitted", "defaults"],
        default="refitted",
        help="session, return and exposure settings: those refitted on the training period "
        "(simrec.calibration.REFITTED; default) or the model defaults with exposure power 0.5",
    )
    cal.add_argument(
        "--targets",
        action="store_true",
        help="instead: the long-run targets (hazard shape, early engagers, 180-day retention, "
        "new-user D1/D7/D30, user Gini, DAU/MAU) in a 180-day synthetic world under random "
        "and popularity, simulated vs the published range (simrec.calibration_targets)",
    )
    cal.add_argument(
        "--model",
        choices=["evidence", "default"],
        default="evidence",
        help="with --targets: the user model's satisfaction and retention components "
        "(evidence: evidence + frailty; default: the defaults)",
    )
    cal.add_argument(
        "--seeds",
        type=_int_list,
        default=[0, 1],
        help="with --targets: run seeds, comma-separated (default: 0,1)",
    )
    cal.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", type=_setting,
        help="with --targets: override one setting of the targets' world (repeatable)",
    )  # fmt: skip
    cal.add_argument("--seed", type=int, default=0, help="run seed (default: 0)")
    cal.add_argument("--no-progress", action="store_true", help="no progress bar")
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
    for command in (r, sens, rep):
        command.add_argument(
            "--format",
            type=_formats,
            default=("png",),
            metavar="FORMATS",
            help="figure formats, comma-separated: png, svg, pdf (default: png)",
        )
        command.add_argument(
            "--dpi", type=int, default=110, help="resolution of png figures (default: 110)"
        )
        command.add_argument(
            "--traceback",
            action="store_true",
            help="on an error, print the full traceback instead of one line",
        )
    return p


def _experiment_parser(sub, name: str, text: str) -> None:  # noqa: ANN001 - argparse's
    """The parser of ``simrec ab`` / ``simrec ope`` (a scenario with that block)."""
    cmd = sub.add_parser(name, help=text)
    cmd.add_argument("scenario", type=Path, help=f"scenario YAML file with an `{name}` block")
    cmd.add_argument("--out", type=Path, required=True, help="results folder")
    cmd.add_argument("--seeds", type=_int_list, help="override seeds, e.g. 0,1,2")
    cmd.add_argument("--days", type=int, help="override the horizon (days)")
    cmd.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", type=_setting,
        help="override one scenario field, e.g. --set ab.share=0.1 (repeatable; YAML value)",
    )  # fmt: skip
    cmd.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1,
        help="parallel processes (default: CPU count)",
    )  # fmt: skip
    cmd.add_argument("--smoke", action="store_true", help="run the scenario's tiny variant")
    cmd.add_argument("--resume", action="store_true", help="keep finished runs in --out")
    cmd.add_argument("--force", action="store_true", help="replace previous results in --out")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_options(cmd: argparse.ArgumentParser) -> None:
    """The options of commands that run a scenario (run, sensitivity)."""
    cmd.add_argument("--seeds", type=_int_list, help="override seeds, e.g. 0,1,2")
    cmd.add_argument("--agents", help="run only these agent labels, comma-separated")
    cmd.add_argument("--days", type=int, help="override the horizon (days)")
    cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=_setting,
        help="override one scenario field, e.g. --set user_model.choice=cascade "
        "(repeatable; the value is read as YAML)",
    )
    cmd.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel processes (default: CPU count)",
    )
    cmd.add_argument("--smoke", action="store_true", help="run the scenario's tiny variant")
    cmd.add_argument(
        "--resume",
        action="store_true",
        help="keep finished runs in --out and run only the missing ones",
    )
    cmd.add_argument("--force", action="store_true", help="replace previous results in --out")
    cmd.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local process pool (default) or Ray tasks",
    )
    cmd.add_argument(
        "--ray-address", default=None, help="Ray cluster to join (default: start a local one)"
    )
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmd.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="stop with an error any run taking longer (agent code included; finished runs "
        "are kept); sets the scenario's time_limit",
    )


def _time_limit(args: argparse.Namespace) -> list[tuple[str, float]]:
    """``--time-limit`` as a setting of the scenario (none where not given)."""
    limit = getattr(args, "time_limit", None)
    return [] if limit is None else [("time_limit", limit)]


def _resolved(args: argparse.Namespace):  # noqa: ANN202 - ScenarioConfig
    from simrec.config import load_yaml
    from simrec.runner import resolve

    if args.workers < 1:
        raise SimrecError(f"--workers: expected a positive integer, got {args.workers}")
    return resolve(
        load_yaml(args.scenario),
        seeds=args.seeds,
        agents=[a.strip() for a in args.agents.split(",")] if args.agents else None,
        days=args.days,
        smoke=args.smoke,
        settings=[*args.set, *_time_limit(args)],
    )


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from simrec.preflight import preflight
    from simrec.sensitivity import make_design, run_sensitivity
    from simrec.sensitivity.analysis import HOLDS_SHARE

    scenario = _resolved(args)
    metrics = tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else None
    preflight(scenario, "sensitivity", workers=args.workers, backend=args.backend,
              formats=args.format, dpi=args.dpi, method=args.method, samples=args.samples,
              levels=args.levels, design_seed=args.design_seed, metrics=metrics,
              sweep=False)  # fmt: skip
    design = make_design(scenario, args.method, args.samples, args.levels, args.design_seed)
    per_point = len(scenario.agents) * len(scenario.seeds)
    print(
        f"scenario {scenario.name!r}: {args.method} design over {len(design.names)} uncertain "
        f"parameters, {len(design.points)} points + the scenario's own settings, each "
        f"{len(scenario.agents)} agents x {len(scenario.seeds)} seeds = "
        f"{per_point * (len(design.points) + 1)} runs, {scenario.simulation.days} days -> "
        f"{args.out}",
        file=sys.stderr,
    )
    result = run_sensitivity(
        scenario,
        args.out,
        method=args.method,
        samples=args.samples,
        levels=args.levels,
        design_seed=args.design_seed,
        metrics=metrics,
        workers=args.workers,
        backend=args.backend,
        ray_address=args.ray_address,
        resume=args.resume,
        force=args.force,
        progress=not args.no_progress,
    )
    table = result.robustness
    print(
        f"\n{scenario.name}: {len(table)} conclusions (agent pair x metric) over the design "
        f"(holds: the nominal sign with a 95% CI excluding zero at >= {HOLDS_SHARE:.0%} of "
        "the points)"
    )
    for verdict in ("holds", "weakens", "flips", "no conclusion"):
        rows = table[table["verdict"] == verdict]
        print(f"  {verdict:14s} {len(rows)}")
    for _, row in table[table["verdict"] == "flips"].iterrows():
        rule = f" (flips when {row['flips_when']})" if row["flips_when"] else ""
        print(
            f"  flips: {row['conclusion']} on {row['metric']}: nominal sign at "
            f"{row['share_holds']:.0%} of points ({row['share_significant']:.0%} with a CI "
            f"excluding zero), reversed at {row['share_reversed']:.0%}{rule}"
        )
    try:
        from simrec.sensitivity.report import write_sensitivity_report

        report = write_sensitivity_report(args.out, args.format, args.dpi, result)
        print(f"\nreport: {report}")
    except DependencyNotInstalled as err:
        print(f"\nno figures: {err}", file=sys.stderr)
    print(f"results: {args.out}/ (robustness.csv, indices.csv, differences.csv, design.csv)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from simrec.preflight import preflight
    from simrec.runner import run_grid

    scenario = _resolved(args)
    # run_grid checks each variant's memory, catalog and agents, before any folder exists
    preflight(scenario, "run", workers=args.workers, backend=args.backend, formats=args.format,
              dpi=args.dpi, events=args.events, sweep=False)  # fmt: skip
    variants = scenario.variants()
    n = len(scenario.agents) * len(scenario.seeds) * len(variants)
    grid = f" x {len(variants)} grid variants" if scenario.grid else ""
    print(
        f"scenario {scenario.name!r}: {len(scenario.agents)} agents x "
        f"{len(scenario.seeds)} seeds{grid} = {n} runs, {scenario.simulation.days} days "
        f"-> {args.out}",
        file=sys.stderr,
    )
    results = run_grid(
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
    for (label, variant), result in zip(variants, results.values(), strict=True):
        out = args.out / label if label else args.out
        _print_result(variant, result, out, args)
    if scenario.grid:
        print(f"grid: {args.out / 'grid.csv'} (every variant's summary)")
    return 0


def _print_result(scenario, result, out: Path, args: argparse.Namespace) -> None:  # noqa: ANN001
    from simrec.report.tables import DEFAULT_METRICS, check_metrics, console_table

    days = scenario.simulation.days
    paired = f"; Δ: paired difference against {scenario.baseline}" if scenario.baseline else ""
    print(
        f"\n{scenario.name}: means ± 95% CI over seeds {list(scenario.seeds)}{paired}; "
        f"retention and satisfaction (day-0 cohort) at day {days - 1}, totals over {days} days"
    )
    check_metrics(scenario.report.metrics, result.summary)
    shown = scenario.report.metrics or DEFAULT_METRICS
    print(console_table(result.summary, [a.key for a in scenario.agents], scenario.baseline, shown))
    from simrec.report import horizon_table

    for h, table in horizon_table(scenario, result, console=True):
        print(f"\nthe first {h} days (retention and satisfaction on day {h - 1}):")
        print(table)
    try:
        from simrec.report import write_report

        report = write_report(out, formats=args.format, dpi=args.dpi, result=result)
        print(f"\nreport: {report} (figures in {out / 'figures'})")
    except DependencyNotInstalled as err:
        print(f"\nno figures: {err}", file=sys.stderr)
    print(f"results: {result.out}/ (metrics.parquet, summary.csv, survival.csv, runs/)")


def _cmd_report(args: argparse.Namespace) -> int:
    from simrec.preflight import preflight
    from simrec.report import write_report
    from simrec.runner.store import ResultsFolder

    marker = ResultsFolder(args.out, "report").marker() if args.out.is_dir() else None
    command = marker["command"] if marker else "run"
    if command in ("ab", "ope", "ab-grid"):
        raise SimrecError(
            f"{args.out}: holds the results of `simrec {command.split('-')[0]}`, whose report "
            f"({command.split('-')[0]}_report.md) that command writes; `simrec report` reads "
            f"the folders of `simrec run` and `simrec sensitivity`"
        )
    if command == "sensitivity":
        from simrec.sensitivity.report import write_sensitivity_report

        preflight(None, "report", formats=args.format, dpi=args.dpi)
        print(write_sensitivity_report(args.out, formats=args.format, dpi=args.dpi))
        return 0
    folders = [args.out]
    if command == "grid":  # a grid: one report per variant
        folders = sorted(p for p in args.out.iterdir() if p.is_dir())
    preflight(None, "report", formats=args.format, dpi=args.dpi, folders=folders)
    for folder in folders:
        print(write_report(folder, partial=args.partial, formats=args.format, dpi=args.dpi))
    return 0


def _cmd_ab(args: argparse.Namespace) -> int:
    from simrec.experiments.split import check_arms
    from simrec.preflight import preflight
    from simrec.runner.store import ResultsFolder

    args.agents = None
    scenario = _resolved(args)
    # every variant of a grid, before the first one's folder (run_ab checks its own again)
    preflight(scenario, "ab", workers=args.workers, also=(check_arms,))
    variants = scenario.variants()
    with contextlib.ExitStack() as stack:
        if scenario.grid:  # the variants' folders and their shared truth runs in one folder
            root = ResultsFolder(args.out, "ab-grid", "A/B grid")
            root.check()
            stack.enter_context(root.open(None, exists_ok=True, purpose="simrec ab (grid)"))
        _ab_variants(args, variants)
    return 0


def _ab_variants(args: argparse.Namespace, variants: list) -> None:
    from simrec.experiments import run_ab

    for label, variant in variants:
        out = args.out / label if label else args.out
        ab = variant.ab
        print(
            f"scenario {variant.name!r}: A/B {ab.treatment} vs {ab.control}, {ab.days} days, "
            f"share {ab.share}; {len(variant.seeds)} seeds x 3 runs of "
            f"{variant.simulation.days} days -> {out}",
            file=sys.stderr,
        )
        result = run_ab(
            variant, out, workers=args.workers, resume=args.resume, force=args.force,
            progress=not args.no_progress, truth=args.out / "truth" if label else None,
        )  # fmt: skip
        print((out / "ab_report.md").read_text())
        print(f"results: {result.out}/ (ab_summary.csv, ab_seeds.csv, runs/)")


def _cmd_ope(args: argparse.Namespace) -> int:
    from simrec.experiments.ope import run_ope

    args.agents = None
    scenario = _resolved(args)
    o = scenario.ope
    print(
        f"scenario {scenario.name!r}: OPE of {o.target} from the logs of {o.logging}; "
        f"{len(scenario.seeds)} seeds x 2 runs of {scenario.simulation.days} days -> {args.out}",
        file=sys.stderr,
    )
    result = run_ope(
        scenario, args.out, workers=args.workers, resume=args.resume, force=args.force,
        progress=not args.no_progress,
    )  # fmt: skip
    print((args.out / "ope_report.md").read_text())
    print(f"results: {result.out}/ (ope_summary.csv, ope_seeds.csv, runs/)")
    return 0


def _cmd_list() -> int:
    from simrec.inventory import inventory

    print("\n".join(inventory()))
    return 0


def _cmd_metrics() -> int:
    from simrec.metrics import REGISTRY
    from simrec.metrics.listing import markdown_table

    print(markdown_table(REGISTRY.all().values()), end="")
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
        if args.command == "sensitivity":
            return _cmd_sensitivity(args)
        if args.command == "calibrate":
            from simrec.calibration_cli import calibrate_command

            return calibrate_command(args)
        if args.command == "ab":
            return _cmd_ab(args)
        if args.command == "ope":
            return _cmd_ope(args)
        if args.command == "metrics":
            return _cmd_metrics()
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
