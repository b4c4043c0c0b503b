"""The ``slotwise`` command line (SPEC 7). Exit 0 ok, 2 bad document, 1 anything else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from ingest.errors import IngestError

from .errors import ServiceError

if TYPE_CHECKING:  # imported inside the commands, so `slotwise --help` stays quick
    from sqlalchemy import Engine

    from .config import Settings

EXIT_OK, EXIT_ERROR, EXIT_BAD_DOCUMENT = 0, 1, 2


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
    from solver.executors import SchedulerUnreachable, executor_for
    from solver.planner import SolveParams, plan

    from .serialize import plan_dict

    doc = load_program(args.program)
    if args.match and args.match not in {m.id for m in doc.matches}:
        print(f'slotwise: --match: unknown match "{args.match}"', file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    print(f"reading availability of {len(doc.members)} members", file=sys.stderr)
    avail = build_availability(doc)
    try:
        with executor_for(
            args.scheduler, args.processes, matches=1 if args.match else len(doc.matches)
        ) as executor:
            _say_where(args.scheduler, executor)
            result = plan(
                doc,
                avail,
                match_ids=[args.match] if args.match else None,
                params=SolveParams(time_limit=args.time_limit),
                progress=_progress,
                executor=executor,
            )
    except SchedulerUnreachable as exc:
        print(f"slotwise: error: {exc}", file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    print(
        f"{result.status}: {result.objective.held} occurrences hold, attendance "
        f"{result.objective.attendance}, {len(result.unscheduled)} unscheduled, "
        f"{result.solve_seconds:.2f} s",
        file=sys.stderr,
    )
    _write(args.output, json.dumps(plan_dict(result), indent=2) + "\n")
    return EXIT_OK


def _say_where(scheduler: str | None, executor: Executor | None) -> None:
    from solver.executors import capacity

    if executor is None:
        return
    where = f"the Dask cluster at {scheduler}" if scheduler else "local processes"
    print(f"solving on {where} ({capacity(executor)} at once)", file=sys.stderr)


def _processes(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def cmd_heatmap(args: argparse.Namespace) -> int:
    import json
    from zoneinfo import ZoneInfo

    from ingest.availability import build_availability
    from ingest.document import check_zone, load_program
    from solver.heatmap import heatmap

    from .serialize import heatmap_csv

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
            print(f'slotwise: --members: unknown member "{(unknown or [""])[0]}"', file=sys.stderr)
            return EXIT_BAD_DOCUMENT
        duration = doc.program.granularity_minutes
    duration = args.duration or duration
    try:
        zone = ZoneInfo(check_zone(args.tz or doc.program.timezone))
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
        _write(args.output, json.dumps(hm.to_dict()) + "\n")
    elif args.format == "csv":
        _write(args.output, heatmap_csv(hm, zone))
    elif args.format == "png":
        from .render import heatmap_png

        _write(args.output, heatmap_png(hm, zone))
    else:
        from .render import heatmap_html

        _write(args.output, heatmap_html(hm, zone))
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Settings:
    from .config import Settings

    return Settings.from_env(db_url=getattr(args, "db", None))


def startup_line(settings: Settings) -> str:
    """Where the database and the invites are, without any password (redact.redact_url)."""
    from .redact import redact_url

    invites = (
        f"via {redact_url(settings.smtp_url)}" if settings.smtp_url else f"to {settings.outbox}"
    )
    return f"database {redact_url(settings.db_url)}; invites {invites}"


def cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    import uvicorn

    from .config import Settings

    settings = _settings(args)
    settings.check_mail()
    if settings.scheduler:  # refused now, not at the first plan
        from ingest.extras import import_extra

        import_extra("distributed", "distributed", "SLOTWISE_SCHEDULER (a Dask cluster)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(
        f"slotwise: {startup_line(settings)}; http://{args.host}:{args.port}/ (API docs at /docs)",
        file=sys.stderr,
    )
    # Workers import the app themselves (several of them): they read the environment.
    os.environ["SLOTWISE_DB"] = settings.db_url
    # The sender runs as a process of its own (or elsewhere): no worker runs one; with
    # --sender threads every worker does, whatever the environment said.
    threads = args.sender == "threads"
    os.environ["SLOTWISE_SENDER_THREADS"] = "1" if threads else "0"
    settings = settings.model_copy(update={"sender_threads": threads})
    sender = None
    if args.sender == "process":
        from .sender import SenderProcess

        sender = SenderProcess()
    if sender is not None:
        import signal

        # uvicorn raises a SIGTERM it caught again after shutting down, with this handler
        # back in place: without one, that killed the process before ``finally`` below.
        def _terminated(signum: int, _frame: object) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _terminated)
    try:
        if args.workers > 1:
            uvicorn.run(
                "service.main:app",
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level="info",
            )
            return EXIT_OK
        from .app import create_app

        assert isinstance(settings, Settings)
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
        return EXIT_OK
    finally:
        if sender is not None:
            sender.stop()


def cmd_send(args: argparse.Namespace) -> int:
    import logging

    from .sender import run

    settings = _settings(args)
    settings.check_mail()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(f"slotwise send: {startup_line(settings)}", file=sys.stderr)
    run(settings, parent=args.parent)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from .auth import create_token
    from .demo import DEMO_ID, demo_program
    from .programs import validated
    from .store import init_db, insert_program, make_engine, programs
    from .uploads import busy_on_upload

    settings = _settings(args)
    engine = make_engine(settings.db_url)
    init_db(engine)
    with engine.begin() as conn:
        exists = conn.execute(select(programs.c.id).where(programs.c.id == DEMO_ID)).first()
        if exists is None:
            doc = validated(demo_program(datetime.now(UTC).date()))
            ids = [m.id for m in doc.members]
            busy = busy_on_upload(doc, ids, {}, dict.fromkeys(ids, ""))
            insert_program(conn, doc.model_dump(mode="json", exclude_none=True), busy)
            print(
                f'slotwise demo: loaded program "{DEMO_ID}" ({len(doc.members)} members, '
                f"{len(doc.matches)} matches, from {doc.program.start})",
                file=sys.stderr,
            )
        else:
            print(f'slotwise demo: program "{DEMO_ID}" is already loaded', file=sys.stderr)
    token = create_token(engine, "admin", DEMO_ID, label="demo")
    print(f'slotwise demo: admin token for "{DEMO_ID}" (shown once):\n{token}', file=sys.stderr)
    _demo_links(engine, settings)
    print(token)
    return EXIT_OK


def _demo_links(engine: Engine, settings: Settings) -> None:
    """Make the demo's admin by email and print a sign-in link (24 hours) for the admin, a
    group's facilitator and a mentee."""
    from .demo import DEMO_ADMIN, DEMO_ID, demo_people
    from .people import add_admin
    from .signin import new_link

    add_admin(engine, DEMO_ADMIN, DEMO_ID)
    print("slotwise demo: sign-in links (each works once, for 24 hours):", file=sys.stderr)
    for role, name, email in demo_people():
        link = new_link(engine, settings, email, minutes=24 * 60)
        print(f"  {role}, {name} <{email}>:\n    {link}", file=sys.stderr)


def _token_engine(args: argparse.Namespace) -> Engine:
    from .store import init_db, make_engine

    engine = make_engine(_settings(args).db_url)
    init_db(engine)
    return engine


def cmd_token(args: argparse.Namespace) -> int:
    from .auth import create_token
    from .store import now_epoch

    expires = None if args.expires_days is None else now_epoch() + round(args.expires_days * 86400)
    print(
        create_token(
            _token_engine(args),
            args.role,
            args.program,
            args.member,
            args.label,
            expires_at=expires,
        )
    )
    return EXIT_OK


TOKEN_COLUMNS = ("id", "role", "program", "member", "label", "created", "expires")


def cmd_token_list(args: argparse.Namespace) -> int:
    """One line per token (tab-separated, with a header), or JSON; never a secret."""
    import json

    from .auth import list_tokens

    found = list_tokens(_token_engine(args))
    if args.json:
        print(json.dumps(found, indent=2))
        return EXIT_OK
    print("\t".join(TOKEN_COLUMNS))
    for t in found:
        print("\t".join("-" if t[c] is None else str(t[c]) for c in TOKEN_COLUMNS))
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from .auth import revoke_token

    if not revoke_token(_token_engine(args), args.token):
        print(f"slotwise: no token {args.token!r} (see slotwise token list)", file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    print("revoked", file=sys.stderr)
    return EXIT_OK


def cmd_admin_add(args: argparse.Namespace) -> int:
    from .people import add_admin

    row, created = add_admin(_token_engine(args), args.email, args.program)
    where = f'program "{args.program}"' if args.program else "every program (site admin)"
    print(f"{row['email']}: admin of {where}{'' if created else ' (already)'}", file=sys.stderr)
    return EXIT_OK


ADMIN_COLUMNS = ("email", "program", "created")


def cmd_admin_list(args: argparse.Namespace) -> int:
    """One line per admin (tab-separated, with a header; program "-": a site admin)."""
    from datetime import UTC, datetime

    from .people import list_admins

    print("\t".join(ADMIN_COLUMNS))
    for a in list_admins(_token_engine(args), every=True):
        created = datetime.fromtimestamp(a["created_at"], UTC).isoformat()
        print(f"{a['email']}\t{a['program'] or '-'}\t{created}")
    return EXIT_OK


def cmd_admin_remove(args: argparse.Namespace) -> int:
    from .people import remove_admin

    if not remove_admin(_token_engine(args), args.email, args.program):
        where = f'program "{args.program}"' if args.program else "the site"
        print(f"slotwise: {args.email} is not an admin of {where}", file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    print("removed", file=sys.stderr)
    return EXIT_OK


def cmd_signin_link(args: argparse.Namespace) -> int:
    """A working sign-in link for an address, printed and not mailed."""
    from .signin import new_link

    settings = _settings(args)
    print(new_link(_token_engine(args), settings, args.email, minutes=args.minutes))
    return EXIT_OK


def _minutes(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 0 < n <= 60 * 24 * 30:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of minutes from 1 to 43200 (30 days), got {text!r}"
        )
    return n


def _days(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        n = 0.0
    if not 0 < n <= 36500:
        raise argparse.ArgumentTypeError(f"expected a number of days above 0, got {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slotwise", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--db", help="database URL (default: a SQLite file here)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument(
        "--sender",
        choices=["process", "threads", "none"],
        default="process",
        help="where invites are built and sent: a process of its own (default), threads of "
        "each worker, or none (a `slotwise send` runs elsewhere)",
    )
    serve.set_defaults(func=cmd_serve)

    send = sub.add_parser("send", help="run the background sender (invites, calendar writes)")
    send.add_argument("--db", help="database URL (default: a SQLite file here)")
    send.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # stop when it is gone
    send.set_defaults(func=cmd_send)

    plan = sub.add_parser("plan", help="plan a program document")
    plan.add_argument("program", help="PROGRAM.json")
    plan.add_argument("-o", "--output", help="write the plan here (default: stdout)")
    plan.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    plan.add_argument("--match", help="plan only this match")
    where = plan.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:8786",
        help="solve on the Dask cluster of this scheduler (its workers need slotwise installed)",
    )
    where.add_argument(
        "--processes",
        type=_processes,
        metavar="N",
        help="solve in N local processes (1: in this one; default: one per "
        "core for large programs, see docs/rules.md)",
    )
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
    demo.set_defaults(func=cmd_demo)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="create a token (printed once)")
    create.add_argument("--role", required=True, choices=["admin", "facilitator", "member"])
    create.add_argument("--program", help="the program (omit for a site admin)")
    create.add_argument("--member", help="the member a facilitator or member token acts for")
    create.add_argument("--label")
    create.add_argument(
        "--expires-days",
        type=_days,
        metavar="N",
        help="the token stops working N days from now (default: never)",
    )
    create.add_argument("--db")
    create.set_defaults(func=cmd_token)
    listing = token_sub.add_parser("list", help="list tokens (never their secret)")
    listing.add_argument("--json", action="store_true", help="as a JSON list")
    listing.add_argument("--db")
    listing.set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token (API or calendar feed)")
    revoke.add_argument("token", help="its id (slotwise token list), or the token itself")
    revoke.add_argument("--db")
    revoke.set_defaults(func=cmd_token_revoke)

    admin = sub.add_parser("admin", help="admins by email (they sign in with a mailed link)")
    admin_sub = admin.add_subparsers(dest="action", required=True)
    add = admin_sub.add_parser("add", help="make an address an admin (idempotent)")
    add.add_argument("email")
    add.add_argument("--program", help="the program (omit for a site admin)")
    add.add_argument("--db")
    add.set_defaults(func=cmd_admin_add)
    alist = admin_sub.add_parser("list", help="list every admin (program - : site admin)")
    alist.add_argument("--db")
    alist.set_defaults(func=cmd_admin_list)
    remove = admin_sub.add_parser("remove", help="an address is no longer an admin")
    remove.add_argument("email")
    remove.add_argument("--program", help="the program (omit for a site admin)")
    remove.add_argument("--db")
    remove.set_defaults(func=cmd_admin_remove)

    link = sub.add_parser(
        "signin-link", help="print a sign-in link for an address (not mailed; works once)"
    )
    link.add_argument("email")
    link.add_argument(
        "--minutes",
        type=_minutes,
        help="how long it works (default SLOTWISE_SIGNIN_LINK_MINUTES)",
    )
    link.add_argument("--db")
    link.set_defaults(func=cmd_signin_link)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (IngestError, ServiceError) as exc:
        print(f"slotwise: {exc}", file=sys.stderr)
        return EXIT_BAD_DOCUMENT
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as exc:  # the CLI's last word: a message, not a stack trace
        print(f"slotwise: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
