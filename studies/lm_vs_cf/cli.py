"""``python -m simrec_studies.lm_vs_cf run|report|all``: the study's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simrec_studies.lm_vs_cf.document import write_findings
from simrec_studies.lm_vs_cf.run import PARTS, run_study

from simrec.errors import SimrecError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``run`` the study's parts, ``report`` the findings, or both (``all``)."""
    parser = argparse.ArgumentParser(
        prog="python -m simrec_studies.lm_vs_cf",
        description="The language-model vs CF study: run it, or write its findings document.",
    )
    parser.add_argument("command", choices=("run", "report", "all"))
    parser.add_argument("--results", default="results/lm_vs_cf", help="study folder")
    parser.add_argument("--doc", default="docs/findings/lm_vs_cf.md", help="document to write")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"parts to run (default: {','.join(PARTS)})"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        if args.command in ("run", "all"):
            run_study(args.results, [p for p in args.parts.split(",") if p], args.workers)
        if args.command in ("report", "all"):
            path = write_findings(args.results, args.doc)
            print(f"wrote {path}")
    except SimrecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
