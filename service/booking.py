"""Booking series and sessions: clash checks in one transaction, never a double booking.

Every write here runs inside ``store.locked`` (the program's write lock), re-reads what is
booked, and either writes everything or raises before writing anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, select, update

from ingest.availability import program_grid
from ingest.document import (
    Match,
    Program,
    ProgramDocument,
    duration_problem,
    sessions_problem,
)
from ingest.grid import as_instant, from_epoch, to_epoch
from solver.recurrence import occurrence_starts, rrule_text

from .errors import Conflict, Invalid, NotFound
from .programs import document_now
from .store import (
    PENDING,
    active_busy,
    dump_json,
    now_epoch,
    program_row,
    replies,
    series,
    session_members,
    sessions,
)

# What undo answers once the window is over or any invite went out (docs/rules.md).
TOO_LATE_TO_UNDO = "the invites have gone out; cancel the series instead"


@dataclass(frozen=True)
class SeriesRequest:
    """What a facilitator (or an applied plan) asks to book."""

    first_start: datetime
    duration_minutes: int
    frequency: str
    sessions: int
    video_url: str | None = None
    location: str | None = None
    agenda: str | None = None
    summary: str | None = None

    def digest(self) -> str:
        return hashlib.sha256(dump_json(self.__dict__).encode()).hexdigest()


def request_for(doc: ProgramDocument, match: Match, body: dict[str, Any]) -> SeriesRequest:
    """Fill what the body leaves out from the match; checks the combination."""
    zone = doc.organizer_zone(match)
    conf = body.get("conferencing") or (
        match.conferencing.model_dump() if match.conferencing else {}
    )
    frequency = body.get("frequency") or match.frequency
    n = body.get("sessions") or (1 if frequency == "once" else match.sessions)
    problem = sessions_problem(frequency, n)
    if problem:
        raise Invalid(problem, field="sessions")
    duration = body.get("duration_minutes") or match.duration_minutes
    problem = duration_problem(duration, doc.program.granularity_minutes)
    if problem:
        raise Invalid(problem, field="duration_minutes")
    return SeriesRequest(
        first_start=_instant(body["first_start"], zone, "first_start"),
        duration_minutes=duration,
        frequency=frequency,
        sessions=n,
        video_url=conf.get("video_url"),
        location=conf.get("location"),
        agenda=body.get("agenda", match.agenda),
        summary=body.get("summary"),
    )


def _instant(value: datetime, zone: ZoneInfo, field: str) -> datetime:
    """``value`` as a UTC instant; one that no calendar holds (year 1 east of UTC, year 9999
    west of it) is refused, naming the field, instead of overflowing."""
    try:
        return as_instant(value, zone)
    except OverflowError:
        raise Invalid(f"{value.isoformat()} is out of range", field=field) from None


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    try:
        return instant.astimezone(zone)
    except OverflowError:  # year 1 or 9999: shown in UTC
        return instant


def occurrences(
    doc: ProgramDocument, match: Match, req: SeriesRequest, now: datetime
) -> list[tuple[int, int]]:
    """(start, end) epoch seconds of every occurrence; each on the grid, inside the horizon,
    not in the past."""
    grid = program_grid(doc)
    zone = doc.organizer_zone(match)
    length = timedelta(minutes=req.duration_minutes)

    def check(what: str, start: datetime) -> None:
        if start < now:
            raise Invalid(f"{what} ({start.isoformat()}) is in the past", field="first_start")
        if grid.index_of(start) is None or start + length > grid.t_end:
            raise Invalid(
                f"{what} ({_local(start, zone).isoformat()}) is not a "
                f"{grid.granularity_minutes}-minute slot inside the program "
                f"({doc.program.start} to {doc.program.end})",
                field="first_start",
            )

    # Before expanding: a first start far outside the program would overflow the calendar.
    check("first_start", req.first_start)
    first = _local(req.first_start, zone)
    if first.fold:
        # The invite's DTSTART;TZID can only name the first pass of a fall-back hour, and
        # the RRULE repeats that wall-clock time (the planner never offers this start).
        raise Invalid(
            f"{first.isoformat()} is the second pass of a fall-back hour in "
            f"{zone.key}; a series cannot start there (the first pass, "
            f"{first.replace(fold=0).isoformat()}, can)",
            field="first_start",
        )
    out = []
    for j, start in enumerate(
        occurrence_starts(req.first_start.astimezone(zone), req.frequency, req.sessions)
    ):
        check("first_start" if j == 0 else f"occurrence {j + 1}", start)
        out.append((to_epoch(start), to_epoch(start + length)))
    return out


# Per member: (start, end, what) of each span they are booked for.
Busy = dict[str, list[tuple[int, int, str]]]

# Above this many members one query reads the program's booked sessions whole and keeps
# theirs, instead of naming every member in it (SQLite caps a statement's parameters).
MEMBERS_PER_QUERY = 500


def busy_of(
    conn: Connection, doc: ProgramDocument, program_id: str, member_ids: Iterable[str]
) -> Busy:
    """What ``member_ids`` are booked for, in one query: every scheduled or completed
    session here (a plan's hidden series included) and the document's bookings."""
    wanted = set(member_ids)
    out: Busy = {m: [] for m in wanted}
    named = sorted(wanted) if len(wanted) <= MEMBERS_PER_QUERY else None
    for m, s, e, sid, _ in active_busy(conn, program_id, named):
        if m in wanted:
            out[m].append((s, e, sid))
    zone = doc.program.zone
    for b in doc.bookings:
        for m in b.members or doc.match(b.match).members:
            if m in wanted:
                out[m].append(
                    (
                        to_epoch(as_instant(b.start, zone)),
                        to_epoch(as_instant(b.end, zone)),
                        f"booking of {b.match}",
                    )
                )
    for spans in out.values():
        spans.sort()
    return out


def clashes(
    conn: Connection,
    doc: ProgramDocument,
    program_id: str,
    member_ids: list[str],
    wanted: list[tuple[int, int]],
    ignore: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Every (member, occurrence) that overlaps a session booked here or a document booking."""
    return clashes_with(busy_of(conn, doc, program_id, member_ids), member_ids, wanted, ignore)


def clashes_with(
    busy: Busy,
    member_ids: list[str],
    wanted: list[tuple[int, int]],
    ignore: set[str] | None = None,
) -> list[dict[str, Any]]:
    """:func:`clashes` against what :func:`busy_of` read (for these members or more): a
    plan's apply reads it once for many series."""
    out = []
    for m in dict.fromkeys(member_ids):
        for s, e, sid in busy.get(m, ()):
            if ignore and sid in ignore:
                continue
            for start, end in wanted:
                if s < end and start < e:
                    out.append(
                        {
                            "member": m,
                            "start": from_epoch(start).isoformat(),
                            "busy_start": from_epoch(s).isoformat(),
                            "busy_end": from_epoch(e).isoformat(),
                            "session": sid,
                        }
                    )
    return sorted(out, key=lambda c: (c["start"], c["member"]))


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key as stored: scoped to the caller (``scoped_key``), with what it
    was first sent for, the route, the match and the body (``request_hash``)."""

    scoped_key: str
    request_hash: str

    @classmethod
    def of(cls, caller: str | None, key: str, match: Match, req: SeriesRequest) -> Idempotency:
        def digest(*parts: str) -> str:
            return hashlib.sha256("\0".join(parts).encode()).hexdigest()

        return cls(digest(caller or "", key), digest("book-series", match.id, req.digest()))


def find_idempotent(conn: Connection, program_id: str, key: Idempotency) -> str | None:
    """The series an earlier request with this caller's key booked, if any; the key sent
    again for another match or another body is refused (422)."""
    row = conn.execute(
        select(series.c.id, series.c.request_hash).where(
            (series.c.program_id == program_id) & (series.c.idempotency_key == key.scoped_key)
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != key.request_hash:
        raise Invalid(
            "this Idempotency-Key was already used for another request (another "
            "match or another body); use a new key for a new booking",
            field="Idempotency-Key",
        )
    return str(row.id)


def book(
    conn: Connection,
    doc: ProgramDocument,
    program_id: str,
    match: Match,
    req: SeriesRequest,
    idempotency: Idempotency | None = None,
    undo_seconds: int = 0,
) -> str:
    """Book ``req`` for ``match`` unless a member is booked at one of its occurrences
    (``Conflict`` listing every clash); inside the program's lock, like every booking.
    With ``undo_seconds``, the booking can be undone (:func:`withdraw_series`) for at
    least that long, and its invites wait until then."""
    wanted = occurrences(doc, match, req, document_now(doc))
    found = clashes(conn, doc, program_id, list(match.members), wanted)
    if found:
        raise Conflict(
            f"{len(found)} occurrence(s) collide with sessions already booked",
            details={"clashes": found},
        )
    # Whole seconds, rounded up: the window is never shorter than promised.
    undo_until = math.ceil(time.time()) + undo_seconds if undo_seconds > 0 else None
    made = new_series(
        doc, program_id, match, req, wanted, idempotency=idempotency, undo_until=undo_until
    )
    return insert_all(conn, [made])[0]


@dataclass(frozen=True)
class NewSeries:
    """The rows of one series to write: the series, its sessions and who is booked."""

    id: str
    series: dict[str, Any]
    sessions: list[dict[str, Any]]
    members: list[dict[str, Any]]


def new_series(
    doc: ProgramDocument,
    program_id: str,
    match: Match,
    req: SeriesRequest,
    wanted: list[tuple[int, int]],
    *,
    idempotency: Idempotency | None = None,
    plan_job: str | None = None,
    pending: bool = False,
    undo_until: int | None = None,
) -> NewSeries:
    """The rows of a series booked for ``req`` at ``wanted``; nothing is written. A
    ``pending`` series (of a plan being applied) holds its time but is shown nowhere."""
    sid = "s" + secrets.token_hex(6)
    who = list(match.members)
    row = {
        "id": sid,
        "program_id": program_id,
        "match_id": match.id,
        "uid": f"{sid}-{secrets.token_hex(4)}@slotwise",
        "first_start": wanted[0][0],
        "timezone": doc.organizer_zone(match).key,
        "duration_minutes": req.duration_minutes,
        "frequency": req.frequency,
        "sessions": req.sessions,
        "members": json.dumps(who),
        "video_url": req.video_url,
        "location": req.location,
        "agenda": req.agenda,
        "summary": req.summary or default_summary(doc, match),
        "status": PENDING if pending else "scheduled",
        "sequence": 0,
        "created_at": now_epoch(),
        "idempotency_key": idempotency.scoped_key if idempotency else None,
        "request_hash": idempotency.request_hash if idempotency else None,
        "plan_job": plan_job,
        "undo_until": undo_until,
    }
    rows, member_rows = [], []
    for j, (s, e) in enumerate(wanted):
        oid = f"{sid}.{j + 1}"
        rows.append(
            {
                "id": oid,
                "series_id": sid,
                "program_id": program_id,
                "match_id": match.id,
                "position": j,
                "original_start": s,
                "start": s,
                "end": e,
                "status": "scheduled",
                "sequence": 0,
            }
        )
        member_rows += [
            {
                "session_id": oid,
                "member_id": m,
                "program_id": program_id,
                "start": s,
                "end": e,
                "active": 1,
            }
            for m in who
        ]
    return NewSeries(sid, row, rows, member_rows)


def insert_all(conn: Connection, many: list[NewSeries]) -> list[str]:
    """Write series (:func:`new_series`) in three statements, however many; the caller
    checked clashes. Their ids."""
    if many:
        conn.execute(series.insert(), [n.series for n in many])
        conn.execute(sessions.insert(), [r for n in many for r in n.sessions])
        conn.execute(session_members.insert(), [r for n in many for r in n.members])
    return [n.id for n in many]


def default_summary(doc: ProgramDocument, match: Match) -> str:
    """The invite's title when the booking gives none."""
    names = [doc.member(m).name or m for m in match.members]
    if len(names) == 2:
        return f"Mentoring: {names[0]} & {names[1]}"
    return f"Group session: {match.id} ({len(names)} members)"


def series_row(conn: Connection, program_id: str, series_id: str) -> Any:
    # A series of a plan still being applied does not exist yet for anyone.
    row = conn.execute(
        select(series).where(
            (series.c.id == series_id)
            & (series.c.program_id == program_id)
            & (series.c.status != PENDING)
        )
    ).first()
    if row is None:
        raise NotFound(f'unknown series "{series_id}"')
    return row


def series_members(conn: Connection, program_id: str, series_id: str) -> tuple[Any, list[str]]:
    """A series' row and the members of its match, to check who may see or act on it."""
    row = series_row(conn, program_id, series_id)
    return row, json.loads(row.members)


def session_row(conn: Connection, program_id: str, session_id: str) -> Any:
    row = conn.execute(
        select(sessions).where(
            (sessions.c.id == session_id) & (sessions.c.program_id == program_id)
        )
    ).first()
    if row is None:
        raise NotFound(f'unknown session "{session_id}"')
    return row


def match_series(conn: Connection, program_id: str, match_id: str) -> list[dict[str, Any]]:
    """The match's series as ``series_public`` shows them, newest first; not those of a
    plan still being applied (PENDING)."""
    ids = conn.execute(
        select(series.c.id)
        .where(
            (series.c.program_id == program_id)
            & (series.c.match_id == match_id)
            & (series.c.status != PENDING)
        )
        .order_by(series.c.created_at.desc())
    ).scalars()
    return [series_public(conn, program_id, s) for s in ids.all()]


def series_public(conn: Connection, program_id: str, series_id: str) -> dict[str, Any]:
    """A booked series as the API shows it, with its sessions and progress."""
    row = series_row(conn, program_id, series_id)
    zone = ZoneInfo(row.timezone)
    first = from_epoch(row.first_start).astimezone(zone)
    occ = conn.execute(
        select(sessions).where(sessions.c.series_id == series_id).order_by(sessions.c.position)
    ).all()
    return {
        "id": row.id,
        "match": row.match_id,
        "uid": row.uid,
        "status": row.status,
        "sequence": row.sequence,
        "timezone": row.timezone,
        "frequency": row.frequency,
        "rrule": rrule_text(first, row.frequency, row.sessions),
        "first_start": first.isoformat(),
        "duration_minutes": row.duration_minutes,
        "members": json.loads(row.members),
        "conferencing": {"video_url": row.video_url, "location": row.location},
        "agenda": row.agenda,
        "summary": row.summary,
        "sessions": [
            {
                "id": o.id,
                "start": from_epoch(o.start).astimezone(zone).isoformat(),
                "end": from_epoch(o.end).astimezone(zone).isoformat(),
                "original_start": from_epoch(o.original_start).astimezone(zone).isoformat(),
                "status": o.status,
            }
            for o in occ
        ],
        "progress": {
            "completed": sum(o.status == "completed" for o in occ),
            "planned": sum(o.status != "cancelled" for o in occ),
        },
        "undo_until": (
            from_epoch(row.undo_until).isoformat()
            if row.undo_until is not None and time.time() < row.undo_until
            else None
        ),
    }


def withdraw_series(conn: Connection, program_id: str, series_id: str) -> None:
    """Undo a booking inside its window: delete the series, its sessions, who is booked
    and what they answered, as if it had never been made (docs/rules.md, "Undoing a
    booking"); 409 once its window is over, before writing anything. The caller takes its
    invites back (``notify.recall``) in the same transaction."""
    row = series_row(conn, program_id, series_id)
    if row.undo_until is None or time.time() >= row.undo_until:
        raise Conflict(TOO_LATE_TO_UNDO)
    theirs = select(sessions.c.id).where(sessions.c.series_id == series_id)
    conn.execute(delete(session_members).where(session_members.c.session_id.in_(theirs)))
    conn.execute(delete(sessions).where(sessions.c.series_id == series_id))
    # Replies name the series by id: left behind, they would outlive it and be read as
    # another's should the id come again.
    conn.execute(delete(replies).where(replies.c.series_id == series_id))
    conn.execute(delete(series).where(series.c.id == series_id))


def cancel_series(
    conn: Connection, program_id: str, series_id: str, now: datetime | None = None
) -> None:
    """Cancel every open session: scheduled and not yet started at ``now`` (by default the
    program's ``now``). Completed and past sessions were held and stay; the series'
    sequence goes up."""
    row = series_row(conn, program_id, series_id)
    if row.status == "cancelled":
        raise Conflict(f'series "{series_id}" is already cancelled')
    now = now or program_now(conn, program_id)
    conn.execute(
        update(series)
        .where(series.c.id == series_id)
        .values(status="cancelled", sequence=row.sequence + 1)
    )
    open_ids = [
        r.id
        for r in conn.execute(
            select(sessions.c.id).where(
                (sessions.c.series_id == series_id)
                & (sessions.c.status == "scheduled")
                & (sessions.c.start >= to_epoch(now))
            )
        )
    ]
    _set_session_status(conn, open_ids, "cancelled")


def program_now(conn: Connection, program_id: str) -> datetime:
    """The program's ``now`` (``Program.now_instant``), reading only its header, as stored:
    names an older version let in are not judged again (``parse_program(stored=True)``)."""
    header = json.loads(program_row(conn, program_id).header)
    return Program.model_validate(header, context={"stored": True}).now_instant()


def _set_session_status(conn: Connection, ids: list[str], status: str) -> None:
    if not ids:
        return
    conn.execute(update(sessions).where(sessions.c.id.in_(ids)).values(status=status))
    conn.execute(
        update(session_members)
        .where(session_members.c.session_id.in_(ids))
        .values(active=0 if status == "cancelled" else 1)
    )


def complete_session(
    conn: Connection, program_id: str, session_id: str, now: datetime | None = None
) -> None:
    """Mark a session held; only once it has started at ``now`` (by default the program's
    ``now``)."""
    row = session_row(conn, program_id, session_id)
    if row.status == "cancelled":
        raise Conflict(f'session "{session_id}" was cancelled; it cannot be completed')
    now = now or program_now(conn, program_id)
    if row.start > to_epoch(now):
        zone = conn.execute(
            select(series.c.timezone).where(series.c.id == row.series_id)
        ).scalar_one()
        start = from_epoch(row.start).astimezone(ZoneInfo(zone))
        raise Conflict(
            f'session "{session_id}" starts on {start:%Y-%m-%d at %H:%M} ({zone}); '
            "it can be marked complete once it has started"
        )
    _set_session_status(conn, [session_id], "completed")


def cancel_session(conn: Connection, program_id: str, session_id: str) -> Any:
    row = session_row(conn, program_id, session_id)
    if row.status != "scheduled":
        raise Conflict(
            f'session "{session_id}" is {row.status}; only a scheduled one can be cancelled'
        )
    _set_session_status(conn, [session_id], "cancelled")
    _bump(conn, row)
    return row


def move_session(
    conn: Connection,
    doc: ProgramDocument,
    program_id: str,
    session_id: str,
    start: datetime,
    now: datetime,
) -> Any:
    """Move one occurrence (e.g. to the plan's alternative); clash-checked like a booking."""
    row = session_row(conn, program_id, session_id)
    if row.status != "scheduled":
        raise Conflict(f'session "{session_id}" is {row.status}; only a scheduled one can move')
    srow = series_row(conn, program_id, row.series_id)
    grid = program_grid(doc)
    start = _instant(start, doc.program.zone, "start")
    length = row.end - row.start
    if start.astimezone(UTC) < now:
        raise Invalid(f"{start.isoformat()} is in the past", field="start")
    if grid.index_of(start) is None or to_epoch(start) + length > to_epoch(grid.t_end):
        raise Invalid(
            f"{start.isoformat()} is not a {grid.granularity_minutes}-minute slot "
            "inside the program",
            field="start",
        )
    s = to_epoch(start)
    found = clashes(
        conn, doc, program_id, json.loads(srow.members), [(s, s + length)], ignore={session_id}
    )
    if found:
        raise Conflict(
            "the new time collides with other sessions", field="start", details={"clashes": found}
        )
    conn.execute(
        update(sessions).where(sessions.c.id == session_id).values(start=s, end=s + length)
    )
    conn.execute(
        update(session_members)
        .where(session_members.c.session_id == session_id)
        .values(start=s, end=s + length)
    )
    _bump(conn, row)
    return row


def _bump(conn: Connection, session: Any) -> None:
    """Raise SEQUENCE on the series and on the changed occurrence (RFC 5546)."""
    srow = conn.execute(
        select(series.c.sequence).where(series.c.id == session.series_id)
    ).scalar_one()
    conn.execute(update(series).where(series.c.id == session.series_id).values(sequence=srow + 1))
    conn.execute(update(sessions).where(sessions.c.id == session.id).values(sequence=srow + 1))
