"""The ``slotwise`` command line (SPEC 7). Exit 0 ok, 2 bad document, 1 anything else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ingest.errors import IngestError

EXIT_OK, EXIT_ERROR, EXIT_BAD_DOCUMENT = 0, 1, 2


def _not_yet(args: argparse.Namespace) -> int:
    print(f"slotwise {args.command}: not yet available in this version", file=sys.stderr)
    return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slotwise", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--db", help="database URL (default: a SQLite file here)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_not_yet)

    plan = sub.add_parser("plan", help="plan a program document")
    plan.add_argument("program", help="PROGRAM.json")
    plan.add_argument("-o", "--output", help="write the plan here (default: stdout)")
    plan.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    plan.add_argument("--match", help="plan only this match")
    plan.set_defaults(func=_not_yet)

    heat = sub.add_parser("heatmap", help="write a heat map")
    heat.add_argument("program", help="PROGRAM.json")
    who = heat.add_mutually_exclusive_group(required=True)
    who.add_argument("--match")
    who.add_argument("--members", help="comma-separated member ids")
    heat.add_argument("--duration", type=int, help="minutes (default: the match's, or the grid)")
    heat.add_argument("--tz", help="viewer's time zone (default: the program's)")
    heat.add_argument("--format", choices=["json", "csv", "png", "html"], default="json")
    heat.add_argument("-o", "--output")
    heat.set_defaults(func=_not_yet)

    demo = sub.add_parser("demo", help="load a demo program into the database")
    demo.add_argument("--db")
    demo.set_defaults(func=_not_yet)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except IngestError as exc:
        print(f"slotwise: {exc}", file=sys.stderr)
        return EXIT_BAD_DOCUMENT


if __name__ == "__main__":
    sys.exit(main())
