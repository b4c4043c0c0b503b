"""Routes for booked series and their sessions: reviewing a booking, booking, undoing
it, invites, moving, cancelling, marking held."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from sqlalchemy import Connection, Engine

from ingest.grid import from_epoch
from solver.proposals import requested_series

from ... import booking, notify
from ...attendance import series_attendance
from ...cache import cached
from ...errors import Invalid
from ...programs import document_now, find_match
from ...replies import with_replies
from ...schemas import (
    AttendancePublic,
    CancelCreate,
    SeriesCreate,
    SeriesPreview,
    SeriesPublic,
    SessionUpdate,
)
from ...serialize import series_dict
from ...store import locked
from ..deps import ICS, READ, WRITE, Config, Db, Who, computes, match_context

router = APIRouter(tags=["series"])


@router.post(
    "/programs/{pid}/matches/{xid}/series/preview", response_model=SeriesPreview, responses=READ
)
@computes
def preview_series(pid: str, xid: str, body: SeriesCreate, who: Who, db: Db) -> dict[str, Any]:
    """What booking this body would make, with nothing written or sent: the occurrences
    (who can come to each, and where one does not hold, its best ``alternative`` that
    week), the invite's details as the match fills them in, each member's zone, and the
    ``clashes`` a booking would be refused for (``bookable`` false). Refused with 422
    exactly as booking refuses it (a past or off-grid first_start, a duration...)."""
    who.program(pid)
    now = datetime.now(UTC)
    with db.connect() as conn:
        # Without sessions in the document (see book_series); who can come is read as
        # proposals read it, booked sessions being busy time (``seen``).
        doc, seen = cached(conn).availability(
            conn, pid, xid, now, check=lambda m: who.sees_match(pid, list(m.members))
        )
        match = find_match(doc, xid)
        req = booking.request_for(doc, match, body.model_dump(exclude_none=True))
        wanted = booking.occurrences(doc, match, req, document_now(doc))
        found = booking.clashes(conn, doc, pid, list(match.members), wanted)
    planned = requested_series(  # SolverError: 422 naming the field (app.py)
        doc,
        xid,
        [from_epoch(start) for start, _ in wanted],
        seen,
        duration_minutes=req.duration_minutes,
        frequency=req.frequency,  # type: ignore[arg-type]  # checked by request_for
    )
    return {
        **series_dict(planned),
        "sessions": req.sessions,
        "members": [
            {"id": m, "name": doc.member(m).name or m, "timezone": doc.member_zone(m).key}
            for m in match.members
        ],
        "conferencing": {"video_url": req.video_url, "location": req.location},
        "agenda": req.agenda,
        "summary": req.summary or booking.default_summary(doc, match),
        "clashes": found,
        "bookable": not found,
    }


@router.post(
    "/programs/{pid}/matches/{xid}/series",
    status_code=201,
    response_model=SeriesPublic,
    responses=WRITE,
)
@computes
def book_series(
    pid: str,
    xid: str,
    body: SeriesCreate,
    who: Who,
    db: Db,
    cfg: Config,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> dict[str, Any]:
    """Book a series; every member gets an invite, once ``undo_until`` has passed (until
    then ``POST …/series/{sid}/undo`` takes the booking back). 409 with the clashes if any
    member is already booked at any occurrence. A retried request with the same
    Idempotency-Key (same caller, match and body) returns the first result and books
    nothing twice; the key sent again for another match or body is 422."""
    who.program(pid)
    now = datetime.now(UTC)
    with db.connect() as conn:  # warm the cache outside the lock: inside, a stamp check
        cached(conn).document(conn, pid, xid, now)
    with locked(db, pid) as conn:
        # Without this service's sessions as document bookings: booking.clashes reads them
        # itself (a session being moved must not clash with its own old time). From the
        # availability cache: its stamp is read in this transaction, under the lock.
        doc = cached(conn).document(conn, pid, xid, now)
        match = find_match(doc, xid)
        who.in_match(pid, list(match.members))
        req = booking.request_for(doc, match, body.model_dump(exclude_none=True))
        key = (
            booking.Idempotency.of(who.token_id, idempotency_key, match, req)
            if idempotency_key
            else None
        )
        if key is not None:
            sid = booking.find_idempotent(conn, pid, key)
            if sid is not None:
                return _series(conn, pid, sid)
        sid = booking.book(
            conn, doc, pid, match, req, idempotency=key, undo_seconds=cfg.undo_seconds
        )
        notify.enqueue_series(conn, pid, sid, "REQUEST")  # built after the lock
    # The lock is held for the clash check and the writes only (docs/rules.md, "Invite
    # jobs"): the answer is read after the commit; the background sender builds the
    # invites and delivers them (a request never waits for either).
    notify.queued(db, cfg, sid)
    return _answer(db, pid, sid)


def _answer(db: Engine, pid: str, sid: str) -> dict[str, Any]:
    """The series as committed, read after the program's lock is released."""
    with db.connect() as conn:
        return _series(conn, pid, sid)


@router.get(
    "/programs/{pid}/matches/{xid}/series", response_model=list[SeriesPublic], responses=READ
)
def list_series(pid: str, xid: str, who: Who, db: Db) -> list[dict[str, Any]]:
    """Series booked for a match, newest first, with sessions and progress, and on each
    session what each member answered to its invite (``replies``) and, where members
    declined an occurrence still ahead, a ``declined`` flag with the best alternative that
    week (docs/rules.md, "Replies")."""
    match_context(db, who, pid, xid)
    with db.connect() as conn:
        listed = booking.match_series(conn, pid, xid)
        return with_replies(conn, pid, listed, booking.program_now(conn, pid))


@router.get("/programs/{pid}/series/{sid}", response_model=SeriesPublic, responses=READ)
def get_series(pid: str, sid: str, who: Who, db: Db) -> dict[str, Any]:
    who.program(pid)
    with db.connect() as conn:
        _, members = booking.series_members(conn, pid, sid)
        who.sees_match(pid, members)
        return _series(conn, pid, sid)


def _series(conn: Connection, pid: str, sid: str) -> dict[str, Any]:
    """A series as every route answers it: with each session's replies (``with_replies``),
    so a booking's answer has the shape a later ``GET`` of it has."""
    listed = [booking.series_public(conn, pid, sid)]
    return with_replies(conn, pid, listed, booking.program_now(conn, pid))[0]


@router.get(
    "/programs/{pid}/series/{sid}/attendance", response_model=AttendancePublic, responses=READ
)
def get_attendance(pid: str, sid: str, who: Who, db: Db) -> dict[str, Any]:
    """Who can come to each scheduled session still ahead, read from everyone's
    availability as it is now, with the start that week where everyone could."""
    who.program(pid)
    with db.connect() as conn:
        _, members = booking.series_members(conn, pid, sid)
        who.sees_match(pid, members)
        return series_attendance(conn, pid, sid, booking.program_now(conn, pid))


@router.get(
    "/programs/{pid}/series/{sid}/invite.ics", responses={**ICS, **READ}, response_class=Response
)
def invite(pid: str, sid: str, who: Who, db: Db, cfg: Config) -> Response:
    """The series' invite (``METHOD:REQUEST``, or ``CANCEL`` once cancelled)."""
    who.program(pid)
    with db.connect() as conn:
        row, members = booking.series_members(conn, pid, sid)
        who.sees_match(pid, members)
        data = notify.series_ics(
            conn, cfg, pid, sid, "CANCEL" if row.status == "cancelled" else "REQUEST"
        )
    return Response(data, media_type="text/calendar; charset=utf-8")


@router.post("/programs/{pid}/series/{sid}/undo", response_model=SeriesPublic, responses=WRITE)
def undo(pid: str, sid: str, who: Who, db: Db) -> dict[str, Any]:
    """Take a new booking back before its ``undo_until``: its invites are deleted unsent
    and the series is removed, so its time is free again. Answers the series as it was,
    with status ``withdrawn``. 409 once the window is over or any invite went out
    (cancel the series instead)."""
    who.program(pid)
    with locked(db, pid) as conn:
        _, members = booking.series_members(conn, pid, sid)
        who.in_match(pid, members)
        out = _series(conn, pid, sid)
        booking.withdraw_series(conn, pid, sid)  # 409 past the window, before any write
        notify.recall(conn, sid)  # 409 if any invite went: the transaction rolls back
    return {**out, "status": "withdrawn", "undo_until": None}


def _cancel(pid: str, sid: str, who: Who, db: Db, cfg: Config, note: str | None) -> dict[str, Any]:
    who.program(pid)
    with locked(db, pid) as conn:
        _, members = booking.series_members(conn, pid, sid)
        who.in_match(pid, members)
        booking.cancel_series(conn, pid, sid)
        notify.enqueue_series(conn, pid, sid, "CANCEL", note=note)
    notify.queued(db, cfg, sid)  # the background sender builds and delivers
    return _answer(db, pid, sid)


@router.delete("/programs/{pid}/series/{sid}", response_model=SeriesPublic, responses=WRITE)
def cancel(pid: str, sid: str, who: Who, db: Db, cfg: Config) -> dict[str, Any]:
    """Cancel a series: sessions not yet held are cancelled, members get METHOD:CANCEL.
    The series stays listed, with its sessions' history."""
    return _cancel(pid, sid, who, db, cfg, None)


@router.post("/programs/{pid}/series/{sid}/cancel", response_model=SeriesPublic, responses=WRITE)
def cancel_with_note(
    pid: str, sid: str, who: Who, db: Db, cfg: Config, body: CancelCreate | None = None
) -> dict[str, Any]:
    """Cancel a series as ``DELETE`` does, with an optional ``note`` to the attendees: it
    goes into the cancellation mail's text and the iCalendar COMMENT."""
    return _cancel(pid, sid, who, db, cfg, body.note if body else None)


@router.post(
    "/programs/{pid}/sessions/{oid}/complete", response_model=SeriesPublic, responses=WRITE
)
def complete(pid: str, oid: str, who: Who, db: Db) -> dict[str, Any]:
    """Mark one occurrence as held (also for sessions held outside slotwise); 409 before
    it has started (by the program's ``now``)."""
    who.program(pid)
    with locked(db, pid) as conn:
        row = booking.session_row(conn, pid, oid)
        _, members = booking.series_members(conn, pid, row.series_id)
        who.in_match(pid, members)
        booking.complete_session(conn, pid, oid)
        return _series(conn, pid, row.series_id)


@router.patch("/programs/{pid}/sessions/{oid}", response_model=SeriesPublic, responses=WRITE)
def patch_session(
    pid: str, oid: str, body: SessionUpdate, who: Who, db: Db, cfg: Config
) -> dict[str, Any]:
    """Move one occurrence (``{"start": ...}``) or cancel it alone
    (``{"status": "cancelled"}``, with an optional ``note`` to the attendees); the invite
    is updated with a RECURRENCE-ID override."""
    if (body.start is None) == (body.status is None):
        raise Invalid("give either start or status", field="start")
    if body.note is not None and body.status is None:
        raise Invalid("a note goes with a cancellation (status cancelled)", field="note")
    who.program(pid)
    now = datetime.now(UTC)
    with locked(db, pid) as conn:
        row = booking.session_row(conn, pid, oid)
        srow, members = booking.series_members(conn, pid, row.series_id)
        who.in_match(pid, members)
        if body.status == "cancelled":
            booking.cancel_session(conn, pid, oid)
            notify.enqueue_occurrence_cancel(conn, pid, oid, note=body.note)
        else:
            assert body.start is not None
            doc = cached(conn).document(conn, pid, srow.match_id, now)  # see book_series
            booking.move_session(conn, doc, pid, oid, body.start, document_now(doc))
            # The update's text says what moved: from the start the attendees last saw.
            notify.enqueue_move(conn, pid, oid, row.start)
    notify.queued(db, cfg, row.series_id)  # the sender builds and delivers
    return _answer(db, pid, row.series_id)
