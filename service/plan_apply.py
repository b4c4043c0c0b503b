"""Applying a finished batch plan: books every series of it, all or nothing."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from ingest.document import Match, ProgramDocument
from ingest.grid import from_epoch

from . import booking, failpoints, notify, process
from .config import Settings
from .errors import Conflict, NotFound
from .programs import document_now, find_match, solving_document
from .store import (
    PENDING,
    jobs,
    locked,
    now_epoch,
    roll_back_apply,
    roll_back_orphaned_applies,
    series,
)

log = logging.getLogger("slotwise.jobs")

# SQLite lets one writer in at a time and does not queue the others: each polls, sleeping
# these many milliseconds between tries, then 100 ms for good (its default busy handler,
# sqliteDefaultBusyCallback). A writer that has waited t ms sleeps at most the step it is
# in before it tries again.
SQLITE_BUSY_SLEEPS_MS = (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100)
SQLITE_YIELD_MARGIN_MS = 15  # sleeps overshoot on a busy machine


def sqlite_yield(held: float) -> float:
    """The pause between two chunks after one held SQLite's write lock for ``held``
    seconds: a little longer than any writer that waited meanwhile (any program's) can
    sleep before it tries again, so it gets in instead of the apply taking the lock back
    at once, chunk after chunk. 35 ms after a chunk of 50 ms, never above 115 ms (it was
    a fixed 150 ms: 2.2 s of a 752-series apply)."""
    waited = 0
    for sleep in SQLITE_BUSY_SLEEPS_MS:
        if waited + sleep > held * 1000:
            break
        waited += sleep
    return (sleep + SQLITE_YIELD_MARGIN_MS) / 1000


@dataclass(frozen=True)
class Planned:
    """One series of a plan, checked and ready to book."""

    match: Match
    req: booking.SeriesRequest
    wanted: list[tuple[int, int]]


def apply(engine: Engine, settings: Settings, program_id: str, jid: str) -> dict[str, Any]:
    """Book every series of a finished plan: all of them or none.

    Nothing is written while anything is wrong: a match planned twice, a match booked
    since the plan was made (409 naming them), a series that now collides with sessions
    booked since (409 with the clashes). The series are then written
    ``settings.apply_chunk`` at a time, each chunk in its own short transaction (so no
    other request waits long for the database), hidden. One small last transaction shows
    them all and writes what they owe their members, one invite job each; the background
    sender builds the invites (nothing is built here, and nobody is invited to a plan that
    may still be rolled back). An apply that fails on the way is rolled back at once; one
    whose process died is rolled back when a server starts or the plan is applied again,
    which then books it whole (``store.roll_back_orphaned_applies``).
    """
    document = _claim(engine, program_id, jid)
    try:
        doc, planned = _check(engine, program_id, jid, document)
        written: list[str] = []
        held = 0.0
        for k in range(0, len(planned), settings.apply_chunk):
            if k:
                failpoints.reached("apply-chunk")
                if engine.dialect.name == "sqlite":
                    time.sleep(sqlite_yield(held))
            began = time.perf_counter()
            written += _write_chunk(
                engine,
                doc,
                program_id,
                jid,
                planned[k : k + settings.apply_chunk],
                len(written),
            )
            held = time.perf_counter() - began
        _finish(engine, program_id, jid)
    except BaseException:
        _release(engine, program_id, jid)
        raise
    return {"job": jid, "booked": len(written), "series": written}


def _claim(engine: Engine, program_id: str, jid: str) -> dict[str, Any]:
    """Mark the plan as being applied by this process; returns the plan document."""
    with locked(engine, program_id) as conn:
        row = conn.execute(
            select(jobs).where((jobs.c.id == jid) & (jobs.c.program_id == program_id))
        ).first()
        if row is None:
            raise NotFound(f'unknown plan job "{jid}"')
        if row.status != "done":
            raise Conflict(f"the plan is {row.status}; only a finished plan can be applied")
        if row.applied:
            raise Conflict("this plan was already applied")
        # An apply whose process died leaves hidden series that hold time: undo them
        # (this plan's, to apply it afresh, and any other plan's of the program).
        roll_back_orphaned_applies(conn, program_id)
        busy = conn.execute(
            select(jobs.c.apply_owner, jobs.c.apply_done).where(jobs.c.id == jid)
        ).one()
        if busy.apply_owner is not None:
            raise Conflict(
                f"this plan is being applied now ({busy.apply_done or 0} series "
                "written); wait for it to finish"
            )
        conn.execute(
            update(jobs)
            .where(jobs.c.id == jid)
            .values(apply_owner=process.identity(), apply_done=0, apply_at=now_epoch())
        )
        document: dict[str, Any] = json.loads(row.result)
        return document


def _check(
    engine: Engine, program_id: str, jid: str, document: dict[str, Any]
) -> tuple[ProgramDocument, list[Planned]]:
    """Everything the plan would book, checked against what is booked now; raises Conflict
    naming every problem. Reads only: no other request waits for it."""
    ids = [s["match"] for s in document["series"]]
    repeated = sorted(x for x, n in Counter(ids).items() if n > 1)
    if repeated:
        raise Conflict(
            f"the plan books {_names(repeated)} more than once; plan again",
            details={"repeated": repeated},
        )
    with engine.connect() as conn:
        # Sessions booked here are read by _clashes, once for the whole plan.
        doc = solving_document(conn, program_id, sessions=False)
        now = document_now(doc)
        planned = [_planned(doc, s, now) for s in document["series"]]
        _refuse_problems(
            _booked(conn, program_id, jid, set(ids)),
            [*_clashes(conn, doc, program_id, planned), *_within(planned)],
        )
    return doc, planned


def _planned(doc: ProgramDocument, s: dict[str, Any], now: datetime) -> Planned:
    match = find_match(doc, s["match"])
    req = booking.request_for(
        doc,
        match,
        {
            "first_start": datetime.fromisoformat(s["first_start"]),
            "duration_minutes": s["duration_minutes"],
            "frequency": s["frequency"],
            "sessions": len(s["occurrences"]),
        },
    )
    return Planned(match, req, booking.occurrences(doc, match, req, now))


def _booked(
    conn: Connection, program_id: str, jid: str, match_ids: set[str]
) -> list[dict[str, str]]:
    """Matches among ``match_ids`` that already have a live series: booked by hand since
    the plan was made, or by another plan (applied, or being applied)."""
    rows = conn.execute(
        select(series.c.id, series.c.match_id).where(
            (series.c.program_id == program_id)
            & series.c.status.in_(("scheduled", PENDING))
            & (series.c.plan_job.is_(None) | (series.c.plan_job != jid))
        )
    ).all()
    return sorted(
        ({"match": r.match_id, "series": r.id} for r in rows if r.match_id in match_ids),
        key=lambda b: (b["match"], b["series"]),
    )


def _clashes(
    conn: Connection, doc: ProgramDocument, program_id: str, planned: list[Planned]
) -> list[dict[str, Any]]:
    """Occurrences of the plan that collide with sessions booked here (or the document's
    bookings). One query for every member of ``planned``, not one per series."""
    busy = booking.busy_of(conn, doc, program_id, {m for p in planned for m in p.match.members})
    return [
        {**c, "match": p.match.id}
        for p in planned
        for c in booking.clashes_with(busy, list(p.match.members), p.wanted)
    ]


def _within(planned: list[Planned]) -> list[dict[str, Any]]:
    """Occurrences of the plan that collide with each other (a plan made by hand, or
    against an older program). One sweep per member over the plan's occurrences sorted by
    start, not every pair of series: a 3,000-series plan is checked in well under a
    second."""
    by_member: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for p in planned:
        for m in p.match.members:
            by_member[m] += [(a, b, p.match.id) for a, b in p.wanted]
    out = []
    for member, spans in sorted(by_member.items()):
        spans.sort()
        for i, (a, b, first) in enumerate(spans):
            j = i + 1
            while j < len(spans) and spans[j][0] < b:
                c, later = spans[j][0], spans[j][2]
                j += 1
                if later != first:
                    out.append(
                        {
                            "member": member,
                            "start": from_epoch(c).isoformat(),
                            "busy_start": from_epoch(a).isoformat(),
                            "busy_end": from_epoch(b).isoformat(),
                            "session": f"plan:{first}",
                            "match": later,
                        }
                    )
    return out


def _refuse_problems(booked: list[dict[str, str]], clashes: list[dict[str, Any]]) -> None:
    if not booked and not clashes:
        return
    parts = []
    if booked:
        parts.append(
            f"{_names(sorted({b['match'] for b in booked}))} already booked since the plan was made"
        )
    if clashes:
        parts.append(
            f"{len(clashes)} occurrence(s) of the plan now collide with sessions "
            "booked since it was made"
        )
    raise Conflict(
        "; ".join(parts) + "; plan again", details={"booked": booked, "clashes": clashes[:100]}
    )


def _names(match_ids: list[str]) -> str:
    shown = ", ".join(f'"{x}"' for x in match_ids[:10])
    more = f" and {len(match_ids) - 10} more" if len(match_ids) > 10 else ""
    return f"match{'es' if len(match_ids) > 1 else ''} {shown}{more}"


def _write_chunk(
    engine: Engine,
    doc: ProgramDocument,
    program_id: str,
    jid: str,
    chunk: list[Planned],
    done: int,
) -> list[str]:
    """Book one chunk of the plan, hidden, in one transaction (checked again first: others
    may have booked since): a few statements, whatever the chunk's size."""
    with locked(engine, program_id) as conn:
        _still_ours(conn, jid)
        _refuse_problems(
            _booked(conn, program_id, jid, {p.match.id for p in chunk}),
            _clashes(conn, doc, program_id, chunk),
        )
        sids = booking.insert_all(
            conn,
            [
                booking.new_series(
                    doc, program_id, p.match, p.req, p.wanted, plan_job=jid, pending=True
                )
                for p in chunk
            ],
        )
        conn.execute(
            update(jobs)
            .where(jobs.c.id == jid)
            .values(apply_done=done + len(sids), apply_at=now_epoch())
        )
    return sids


def _still_ours(conn: Connection, jid: str) -> None:
    """This process still applies the plan (nobody took it for dead and rolled it back)."""
    owner = conn.execute(select(jobs.c.apply_owner).where(jobs.c.id == jid)).scalar()
    if owner != process.identity():
        raise Conflict("this plan's application was interrupted; apply it again")


def _finish(engine: Engine, program_id: str, jid: str) -> None:
    """Show every series of the plan and record the invitations they owe (one invite job
    each, built by the background sender), at once."""
    with locked(engine, program_id) as conn:
        _still_ours(conn, jid)
        notify.enqueue_plan(conn, jid)
        conn.execute(
            update(series)
            .where((series.c.plan_job == jid) & (series.c.status == PENDING))
            .values(status="scheduled")
        )
        conn.execute(
            update(jobs)
            .where(jobs.c.id == jid)
            .values(applied=1, apply_owner=None, apply_at=now_epoch(), updated_at=now_epoch())
        )


def _release(engine: Engine, program_id: str, jid: str) -> None:
    """Undo an apply that failed on the way; if even that fails, the next start of a
    server or the next apply of the plan undoes it (its owner then looks gone)."""
    try:
        with locked(engine, program_id) as conn:
            owner = conn.execute(select(jobs.c.apply_owner).where(jobs.c.id == jid)).scalar()
            if owner == process.identity():
                roll_back_apply(conn, jid)
    except Exception:
        log.exception("could not roll back the unfinished apply of plan %s", jid)
