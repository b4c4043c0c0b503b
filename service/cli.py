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


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def _write(path: str | None, data: str | bytes) -> None:
    if path is None or path == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as fh:
        fh.write(data)


def cmd_plan(args: argparse.Namespace) -> int:
    import json

    from ingest.availability import build_availability
    from ingest.document import load_program
    from solver.planner import plan

    from .documents import plan_dict

    doc = load_program(args.program)
    if args.match and args.match not in {m.id for m in doc.matches}:
        print(f'slotwise: --match: unknown match "{args.match}"', file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    print(f"reading availability of {len(doc.members)} members", file=sys.stderr)
    avail = build_availability(doc)
    result = plan(doc, avail, match_ids=[args.match] if args.match else None,
                  time_limit=args.time_limit, progress=_progress)
    print(f"{result.status}: {result.objective.held} occurrences hold, attendance "
          f"{result.objective.attendance}, {len(result.unscheduled)} unscheduled, "
          f"{result.solve_seconds:.2f} s", file=sys.stderr)
    _write(args.output, json.dumps(plan_dict(result), indent=2) + "\n")
    return EXIT_OK


def cmd_heatmap(args: argparse.Namespace) -> int:
    import json
    from zoneinfo import ZoneInfo

    from ingest.availability import build_availability
    from ingest.document import _check_zone, load_program
    from solver.heatmap import heatmap

    from .documents import heatmap_csv, heatmap_dict

    doc = load_program(args.program)
    known = {m.id for m in doc.members}
    if args.match:
        if args.match not in {m.id for m in doc.matches}:
            print(f'slotwise: --match: unknown match "{args.match}"', file=sys.stderr)
            return EXIT_BAD_DOCUMENT
        match = doc.match(args.match)
        members, duration = list(match.members), match.duration_minutes
    else:
        members = [m.strip() for m in args.members.split(",") if m.strip()]
        unknown = [m for m in members if m not in known]
        if unknown or not members:
            print(f'slotwise: --members: unknown member "{(unknown or [""])[0]}"',
                  file=sys.stderr)
            return EXIT_BAD_DOCUMENT
        duration = doc.program.granularity_minutes
    duration = args.duration or duration
    try:
        zone = ZoneInfo(_check_zone(args.tz or doc.program.timezone))
    except ValueError as exc:
        print(f"slotwise: --tz: {exc}", file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    avail = build_availability(doc, members=members)
    try:
        hm = heatmap(avail, members, duration)
    except ValueError as exc:
        print(f"slotwise: --duration: {exc}", file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    if args.format == "json":
        _write(args.output, json.dumps(heatmap_dict(hm)) + "\n")
    elif args.format == "csv":
        _write(args.output, heatmap_csv(hm, zone))
    elif args.format == "png":
        from .render import heatmap_png

        _write(args.output, heatmap_png(hm, zone))
    else:
        from .render import heatmap_html

        _write(args.output, heatmap_html(hm, zone))
    return EXIT_OK


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
    plan.set_defaults(func=cmd_plan)

    heat = sub.add_parser("heatmap", help="write a heat map")
    heat.add_argument("program", help="PROGRAM.json")
    who = heat.add_mutually_exclusive_group(required=True)
    who.add_argument("--match")
    who.add_argument("--members", help="comma-separated member ids")
    heat.add_argument("--duration", type=int, help="minutes (default: the match's, or the grid)")
    heat.add_argument("--tz", help="viewer's time zone (default: the program's)")
    heat.add_argument("--format", choices=["json", "csv", "png", "html"], default="json")
    heat.add_argument("-o", "--output")
    heat.set_defaults(func=cmd_heatmap)

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
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as exc:  # the CLI's last word: a message, not a stack trace
        print(f"slotwise: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
