"""Routes for a member's CalDAV write-back: connect the calendar booked series are
written into, see how the writes go, disconnect (docs/calendars.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from ... import caldav_write, writeback
from ...schemas import WritebackConnect, WritebackPublic
from ..deps import READ, Config, Db, Who

router = APIRouter(tags=["calendars"])


@router.put(
    "/programs/{pid}/members/{mid}/writeback", response_model=WritebackPublic, responses=READ
)
async def connect_writeback(
    pid: str, mid: str, body: WritebackConnect, who: Who, db: Db, cfg: Config
) -> dict[str, Any]:
    """Connect (or reconnect) the member's CalDAV calendar: each series they are booked in
    is written into it, kept up to date and removed when cancelled. The member or an
    admin. The collection is checked first (it must exist, open with these credentials
    and take events: else 422 naming the field); the account's address instead of the
    calendar's finds its one calendar that takes events (several: 422 listing them). The
    writes themselves happen in the background."""
    who.is_member(pid, mid)
    url = await caldav_write.probe(cfg, body.url, body.user, body.password)
    return await run_in_threadpool(writeback.connect, db, pid, mid, url, body.user, body.password)


@router.get(
    "/programs/{pid}/members/{mid}/writeback", response_model=WritebackPublic, responses=READ
)
def get_writeback(pid: str, mid: str, who: Who, db: Db) -> dict[str, Any]:
    """The member's CalDAV connection: URL, user, status, last error, last write (never
    the password); status ``disconnected`` when none is connected."""
    who.is_member(pid, mid)
    with db.connect() as conn:
        return writeback.public(conn, pid, mid)


@router.delete(
    "/programs/{pid}/members/{mid}/writeback",
    status_code=204,
    response_class=Response,
    responses=READ,
)
def delete_writeback(pid: str, mid: str, who: Who, db: Db) -> Response:
    """Disconnect: nothing more is written. Events already written stay in the member's
    calendar (remove them there if you wish)."""
    who.is_member(pid, mid)
    writeback.disconnect(db, pid, mid)
    return Response(status_code=204)
