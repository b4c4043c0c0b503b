"""Routes for booked series and their sessions: booking, invites, moving, cancelling,
marking held."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from ... import booking, notify
from ...errors import Invalid
from ...programs import document_now, find_match, solving_document
from ...schemas import SeriesCreate, SeriesPublic, SessionUpdate
from ...store import locked
from ..deps import ICS, READ, WRITE, Config, Db, Who, match_context

router = APIRouter(tags=["series"])


@router.post(
    "/programs/{pid}/matches/{xid}/series",
    status_code=201,
    response_model=SeriesPublic,
    responses=WRITE,
)
def book_series(
    pid: str,
    xid: str,
    body: SeriesCreate,
    who: Who,
    db: Db,
    cfg: Config,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> dict[str, Any]:
    """Book a series; every member gets an invite. 409 with the clashes if any member is
    already booked at any occurrence. A retried request with the same Idempotency-Key
    (same caller, match and body) returns the first result and books nothing twice; the
    key sent again for another match or body is 422."""
    who.program(pid)
    now = datetime.now(UTC)
    with locked(db, pid) as conn:
        # Without this service's sessions as document bookings: booking.clashes reads them
        # itself (a session being moved must not clash with its own old time).
        doc = solving_document(conn, pid, now, match=xid, sessions=False)
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
                return booking.series_public(conn, pid, sid)
        sid = booking.book(conn, doc, pid, match, req, idempotency=key)
        notify.queue_series(conn, cfg, pid, sid, "REQUEST")
        out = booking.series_public(conn, pid, sid)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out


@router.get(
    "/programs/{pid}/matches/{xid}/series", response_model=list[SeriesPublic], responses=READ
)
def list_series(pid: str, xid: str, who: Who, db: Db) -> list[dict[str, Any]]:
    """Series booked for a match, newest first, with sessions and progress."""
    match_context(db, who, pid, xid)
    with db.connect() as conn:
        return booking.match_series(conn, pid, xid)


@router.get("/programs/{pid}/series/{sid}", response_model=SeriesPublic, responses=READ)
def get_series(pid: str, sid: str, who: Who, db: Db) -> dict[str, Any]:
    who.program(pid)
    with db.connect() as conn:
        _, members = booking.series_members(conn, pid, sid)
        who.sees_match(pid, members)
        return booking.series_public(conn, pid, sid)


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


@router.delete("/programs/{pid}/series/{sid}", response_model=SeriesPublic, responses=WRITE)
def cancel(pid: str, sid: str, who: Who, db: Db, cfg: Config) -> dict[str, Any]:
    """Cancel a series: sessions not yet held are cancelled, members get METHOD:CANCEL."""
    who.program(pid)
    with locked(db, pid) as conn:
        _, members = booking.series_members(conn, pid, sid)
        who.in_match(pid, members)
        booking.cancel_series(conn, pid, sid)
        notify.queue_series(conn, cfg, pid, sid, "CANCEL")
        out = booking.series_public(conn, pid, sid)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out


@router.post(
    "/programs/{pid}/sessions/{oid}/complete", response_model=SeriesPublic, responses=WRITE
)
def complete(pid: str, oid: str, who: Who, db: Db) -> dict[str, Any]:
    """Mark one occurrence as held (also for sessions held outside slotwise)."""
    who.program(pid)
    with locked(db, pid) as conn:
        row = booking.session_row(conn, pid, oid)
        _, members = booking.series_members(conn, pid, row.series_id)
        who.in_match(pid, members)
        booking.complete_session(conn, pid, oid)
        return booking.series_public(conn, pid, row.series_id)


@router.patch("/programs/{pid}/sessions/{oid}", response_model=SeriesPublic, responses=WRITE)
def patch_session(
    pid: str, oid: str, body: SessionUpdate, who: Who, db: Db, cfg: Config
) -> dict[str, Any]:
    """Move one occurrence (``{"start": ...}``) or cancel it alone
    (``{"status": "cancelled"}``); the invite is updated with a RECURRENCE-ID override."""
    if (body.start is None) == (body.status is None):
        raise Invalid("give either start or status", field="start")
    who.program(pid)
    now = datetime.now(UTC)
    with locked(db, pid) as conn:
        row = booking.session_row(conn, pid, oid)
        srow, members = booking.series_members(conn, pid, row.series_id)
        who.in_match(pid, members)
        if body.status == "cancelled":
            booking.cancel_session(conn, pid, oid)
            notify.queue_occurrence_cancel(conn, cfg, pid, oid)
        else:
            assert body.start is not None
            doc = solving_document(
                conn, pid, now, match=srow.match_id, sessions=False
            )  # see book_series
            booking.move_session(conn, doc, pid, oid, body.start, document_now(doc))
            notify.queue_series(conn, cfg, pid, row.series_id, "REQUEST")
        out = booking.series_public(conn, pid, row.series_id)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out
