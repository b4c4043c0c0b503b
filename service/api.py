"""HTTP routes (SPEC 8). Thin: check who asks, validate, call store / solver / booking.

Routes that run numpy or CP-SAT are plain ``def`` so they run in the thread pool.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from ingest.availability import build_availability
from ingest.document import DAYS, _check_zone, _parse_clock
from ingest.errors import CalendarError
from solver.errors import SolverError
from solver.heatmap import heatmap
from solver.proposals import propose
from solver.spec import Preference

from . import booking, jobs, notify
from .auth import Principal, authenticate, feed_member, issue_feed_token, revoke_feed_token
from .config import Settings
from .errors import Conflict, Invalid, NotFound, error_responses
from .programs import (
    document_now,
    find_match,
    member_document,
    member_program,
    solving_document,
    store_calendar,
    store_match,
    store_member,
    store_program,
    validated,
)
from .schemas import (
    EXAMPLE_ICS,
    CalendarSet,
    CalendarUrl,
    Created,
    Document,
    DocumentPublic,
    FeedLink,
    HeatmapPublic,
    JobPublic,
    JobStarted,
    MatchDocument,
    Me,
    MemberDocument,
    MemberPublic,
    PlanApplied,
    PlanRequest,
    ProgramSummary,
    ProposalsPublic,
    ProposalsRequest,
    SeriesCreate,
    SeriesPublic,
    SessionPatch,
)
from .serialize import HEATMAP_WEEKS, MAX_HEATMAP_WEEKS, heatmap_window, series_dict
from .store import (
    PENDING,
    document_data,
    locked,
    programs,
    series,
)
from .uploads import busy_on_upload, calendar_source, fetch_text, fetch_uploaded

# Every route needs a token and reads its parameters; any request body may be too large.
# Calendar routes answer with ``response_class=Response``: a 200 is text/calendar, an error
# still JSON.
router = APIRouter(prefix="/api", responses=error_responses(401, 413, 422, 503))
_READ = error_responses(403, 404)
_WRITE = error_responses(403, 404, 409)
_ICS = {200: {"content": {"text/calendar": {"schema": {"type": "string"}}},
              "description": "an iCalendar file"}}


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def principal(request: Request,
              authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller, from the Authorization header only: a token in the URL (``?token=``)
    is ignored, since URLs end up in logs, browser history and Referer headers."""
    bearer = None
    if authorization and authorization.lower().startswith("bearer "):
        bearer = authorization[7:].strip()
    return authenticate(engine_of(request), bearer)


Who = Annotated[Principal, Depends(principal)]
Db = Annotated[Engine, Depends(engine_of)]
Config = Annotated[Settings, Depends(settings_of)]
# --- programs -------------------------------------------------------------------------

@router.get("/me", response_model=Me)
def me(who: Who) -> dict[str, Any]:
    """Who this token is: role, program (None = every program) and member."""
    return {"role": who.role, "program": who.program_id, "member": who.member_id}


@router.post("/programs", status_code=201, response_model=Created,
             responses=error_responses(403, 409, 503))
async def create_program(doc: Document, who: Who, db: Db, cfg: Config) -> dict[str, str]:
    """Create a program from a program document."""
    # async: calendar URLs are fetched on the event loop (no worker thread waits on the
    # network); validating and storing run in the thread pool.
    parsed = await run_in_threadpool(validated, doc)
    if not who.site_admin:
        from .errors import Forbidden

        raise Forbidden("only a site admin may create programs")
    if len(parsed.members) > cfg.max_members or len(parsed.matches) > cfg.max_matches:
        raise Invalid(f"at most {cfg.max_members} members and {cfg.max_matches} matches "
                      "per program", field="members")
    where = {m.id: f"members[{i}]" for i, m in enumerate(parsed.members)}
    ids = [m.id for m in parsed.members]
    fetched = await fetch_uploaded(parsed, ids, cfg, where)
    busy = await run_in_threadpool(busy_on_upload, parsed, ids, fetched, where)
    await run_in_threadpool(store_program, db, parsed, busy)
    return {"id": parsed.program.id}


@router.get("/programs", response_model=list[ProgramSummary])
def list_programs(who: Who, db: Db) -> list[dict[str, Any]]:
    """The programs this token can see."""
    with db.connect() as conn:
        rows = conn.execute(select(programs.c.id, programs.c.header)).all()
    return [{"id": r.id, "name": json.loads(r.header).get("name")} for r in rows
            if who.program_id in (None, r.id)]


@router.get("/programs/{pid}", response_model=DocumentPublic, responses=_READ)
def get_program(pid: str, who: Who, db: Db) -> dict[str, Any]:
    """The program document as stored; facilitators and members see only their part."""
    who.program(pid)
    with db.connect() as conn:
        data = document_data(conn, pid)
    return who.visible_part(data)


@router.put("/programs/{pid}/members/{mid}", response_model=MemberPublic,
            responses={201: {"model": MemberPublic, "description": "Created"}, **_READ,
                       **error_responses(503)})
async def put_member(pid: str, mid: str, member: MemberDocument, who: Who, db: Db, cfg: Config,
                     response: Response) -> dict[str, Any]:
    """Create or replace one member, availability included."""
    who.is_member(pid, mid)
    if member.get("id", mid) != mid:
        raise Invalid(f'id "{member.get("id")}" does not match the URL ("{mid}")', field="id")
    # A member's validity does not depend on the other members or matches, so it is
    # checked, and its calendar URLs fetched (guarded, on the event loop: see
    # create_program), before the program's lock is taken.
    doc, i = await run_in_threadpool(member_document, db, pid, {**member, "id": mid})
    fetched = await fetch_uploaded(doc, [mid], cfg, {mid: ""})
    busy = await run_in_threadpool(busy_on_upload, doc, [mid], fetched, {mid: ""})
    stored = doc.members[i].model_dump(mode="json", exclude_none=True)
    created = await run_in_threadpool(store_member, db, cfg, pid, stored, busy[mid])
    response.status_code = 201 if created else 200
    return stored


@router.put("/programs/{pid}/members/{mid}/calendar", response_model=CalendarSet,
            responses={**_READ, **error_responses(503)}, openapi_extra={"requestBody": {
                "content": {
                    "text/calendar": {"schema": {"type": "string"}, "example": EXAMPLE_ICS},
                    "application/json": {"schema": CalendarUrl.model_json_schema()}}}})
async def put_calendar(pid: str, mid: str, request: Request, who: Who, db: Db,
                       cfg: Config) -> dict[str, Any]:
    """Replace the member's calendar: an iCalendar body, or ``{"ics_url": ...}``."""
    who.is_member(pid, mid)
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    doc = await run_in_threadpool(member_program, db, pid, mid)
    source = await run_in_threadpool(calendar_source, raw, kind)
    fetched: dict[str, str] = {}
    if "ics_url" in source:  # fetched on the event loop: see create_program
        url = source["ics_url"]
        try:
            fetched[url] = await fetch_text(url, cfg)
        except CalendarError as exc:
            raise Invalid(f"ics_url: {exc}", field="ics_url") from None
    return await run_in_threadpool(store_calendar, db, doc, pid, mid, source, fetched)


@router.post("/programs/{pid}/matches", status_code=201, response_model=Created,
             responses=_WRITE)
def add_match(pid: str, match: MatchDocument, who: Who, db: Db, cfg: Config) -> dict[str, str]:
    """Add a match (a pair or a group) to the program."""
    who.admin(pid)
    return {"id": store_match(db, cfg, pid, match)}


# --- heat maps and proposals ----------------------------------------------------------

def _match_context(db: Engine, who: Principal, pid: str, xid: str, *, act: bool = False):  # type: ignore[no-untyped-def]
    who.program(pid)
    with db.connect() as conn:
        doc = solving_document(conn, pid, match=xid)
    match = find_match(doc, xid)
    if act:
        who.in_match(pid, list(match.members))
    else:
        who.sees_match(pid, list(match.members))
    return doc, match


@router.get("/programs/{pid}/matches/{xid}/heatmap", response_model=HeatmapPublic,
            responses=_READ)
def get_heatmap(pid: str, xid: str, who: Who, db: Db,
                duration: Annotated[int | None, Query(gt=0, le=1440)] = None,
                tz: Annotated[str | None, Query(description="viewer's IANA zone")] = None,
                first_day: Annotated[date | None, Query(
                    alias="from", description="first date of the window, in the viewer's "
                    "zone (default: the program's first)")] = None,
                weeks: Annotated[int, Query(ge=1, le=MAX_HEATMAP_WEEKS, description=(
                    "weeks of dates in the window"))] = HEATMAP_WEEKS,
                ) -> dict[str, Any]:
    """How many members can attend a session starting at each slot of a window of weeks:
    SPEC 7's JSON for the window (``window`` says which slots), the viewer-zone
    day × time grid (``view``) and, per member, a base64 bitmap of the window's start
    slots they can attend (``free``: bit ``i``, little-endian within each byte, is slot
    ``window.first_slot + i``)."""
    doc, match = _match_context(db, who, pid, xid)
    try:
        zone = ZoneInfo(_check_zone(tz or doc.organizer_zone(match).key))
    except ValueError as exc:
        raise Invalid(str(exc), field="tz") from None
    duration = duration or match.duration_minutes
    avail = build_availability(doc, members=list(match.members))
    try:
        hm = heatmap(avail, list(match.members), duration)
    except SolverError as exc:
        raise Invalid(str(exc), field=exc.field) from None
    out = heatmap_window(hm, zone, first_day, weeks)
    out["match"] = match.id
    out["names"] = {m: doc.member(m).name or m for m in match.members}
    return out


@router.post("/programs/{pid}/matches/{xid}/proposals", response_model=ProposalsPublic,
             responses=_READ)
def proposals(pid: str, xid: str, who: Who, db: Db,
              body: ProposalsRequest | None = None) -> dict[str, Any]:
    """Ranked candidate series for one match (SPEC 5), with who can come to each
    occurrence and, where one does not hold, the best one-off alternative that week."""
    body = body or ProposalsRequest()
    doc, match = _match_context(db, who, pid, xid)
    pref = None
    if body.preferred is not None:
        p = body.preferred
        try:
            start = _parse_clock(p.start) if p.start else None
            end = _parse_clock(p.end) if p.end else None
        except ValueError as exc:
            raise Invalid(str(exc), field="preferred") from None
        if start is not None and end is not None and end <= start:
            raise Invalid("must be after start", field="preferred.end")
        pref = Preference(frozenset(DAYS.index(d) for d in p.days) if p.days else None,
                          start, end)
    try:
        found = propose(doc, match.id, limit=body.limit, duration_minutes=body.duration_minutes,
                        frequency=body.frequency, sessions=body.sessions, preferred=pref)
    except SolverError as exc:
        raise Invalid(str(exc), field=exc.field) from None
    spec = found.spec
    return {"match": match.id, "duration_minutes": spec.duration_minutes,
            "frequency": spec.frequency, "sessions": spec.sessions,
            "candidates": found.candidates,
            "proposals": [series_dict(s) for s in found.series], "reason": found.reason}


# --- booking ----------------------------------------------------------------------------

@router.post("/programs/{pid}/matches/{xid}/series", status_code=201,
             response_model=SeriesPublic, responses=_WRITE)
def book_series(pid: str, xid: str, body: SeriesCreate, who: Who, db: Db, cfg: Config,
                idempotency_key: Annotated[str | None, Header(max_length=255)] = None
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
        key = (booking.Idempotency.of(who.token_id, idempotency_key, match, req)
               if idempotency_key else None)
        if key is not None:
            sid = booking.find_idempotent(conn, pid, key)
            if sid is not None:
                return booking.series_public(conn, pid, sid)
        wanted = booking.occurrences(doc, match, req, document_now(doc))
        found = booking.clashes(conn, doc, pid, list(match.members), wanted)
        if found:
            raise Conflict(f"{len(found)} occurrence(s) collide with sessions already booked",
                           details={"clashes": found})
        sid = booking.insert_series(conn, doc, pid, match, req, wanted, idempotency=key)
        notify.queue_series(conn, cfg, pid, sid, "REQUEST")
        out = booking.series_public(conn, pid, sid)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out


@router.get("/programs/{pid}/matches/{xid}/series", response_model=list[SeriesPublic],
            responses=_READ)
def list_series(pid: str, xid: str, who: Who, db: Db) -> list[dict[str, Any]]:
    """Series booked for a match, newest first, with sessions and progress."""
    _match_context(db, who, pid, xid)
    with db.connect() as conn:
        ids = conn.execute(select(series.c.id).where(
            (series.c.program_id == pid) & (series.c.match_id == xid)
            & (series.c.status != PENDING))  # a plan still being applied
            .order_by(series.c.created_at.desc())).scalars().all()
        return [booking.series_public(conn, pid, s) for s in ids]


@router.get("/programs/{pid}/series/{sid}", response_model=SeriesPublic, responses=_READ)
def get_series(pid: str, sid: str, who: Who, db: Db) -> dict[str, Any]:
    who.program(pid)
    with db.connect() as conn:
        _, members = booking.series_members(conn, pid, sid)
        who.sees_match(pid, members)
        return booking.series_public(conn, pid, sid)


@router.get("/programs/{pid}/series/{sid}/invite.ics", responses={**_ICS, **_READ},
            response_class=Response)
def invite(pid: str, sid: str, who: Who, db: Db, cfg: Config) -> Response:
    """The series' invite (``METHOD:REQUEST``, or ``CANCEL`` once cancelled)."""
    who.program(pid)
    with db.connect() as conn:
        row, members = booking.series_members(conn, pid, sid)
        who.sees_match(pid, members)
        data = notify.series_ics(conn, cfg, pid, sid,
                                 "CANCEL" if row.status == "cancelled" else "REQUEST")
    return Response(data, media_type="text/calendar; charset=utf-8")


@router.delete("/programs/{pid}/series/{sid}", response_model=SeriesPublic,
               responses=_WRITE)
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


@router.post("/programs/{pid}/sessions/{oid}/complete", response_model=SeriesPublic,
             responses=_WRITE)
def complete(pid: str, oid: str, who: Who, db: Db) -> dict[str, Any]:
    """Mark one occurrence as held (also for sessions held outside slotwise)."""
    who.program(pid)
    with locked(db, pid) as conn:
        row = booking.session_row(conn, pid, oid)
        _, members = booking.series_members(conn, pid, row.series_id)
        who.in_match(pid, members)
        booking.complete_session(conn, pid, oid)
        return booking.series_public(conn, pid, row.series_id)


@router.patch("/programs/{pid}/sessions/{oid}", response_model=SeriesPublic,
              responses=_WRITE)
def patch_session(pid: str, oid: str, body: SessionPatch, who: Who, db: Db,
                  cfg: Config) -> dict[str, Any]:
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
            doc = solving_document(conn, pid, now, match=srow.match_id,
                                   sessions=False)  # see book_series
            booking.move_session(conn, doc, pid, oid, body.start, document_now(doc))
            notify.queue_series(conn, cfg, pid, row.series_id, "REQUEST")
        out = booking.series_public(conn, pid, row.series_id)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out


@router.get("/programs/{pid}/members/{mid}/sessions.ics", responses={**_ICS, **_READ},
            response_class=Response)
def member_feed(pid: str, mid: str, who: Who, db: Db) -> Response:
    """A member's booked sessions as a calendar (with the Authorization header; calendar
    apps subscribe to the feed link instead, see ``POST …/feed-token``)."""
    who.is_member(pid, mid)
    return Response(notify.member_calendar(db, pid, mid),
                    media_type="text/calendar; charset=utf-8")


# The feed token is the file name: calendar apps subscribe to a plain URL ending in .ics
# (some refuse or mangle query strings), and the URL is all the credential there is. The
# access log shows it as /api/feeds/swf_…redacted.ics (service/redact.py).
@router.get("/feeds/{feed}.ics", name="feed", responses={**_ICS, **error_responses(404)},
            response_class=Response)
def feed(feed: str, db: Db) -> Response:
    """A member's booked sessions as a subscribable calendar feed. The feed token in the
    URL opens this and nothing else; rotating or revoking it ends the old link (401)."""
    pid, mid = feed_member(db, feed)
    return Response(notify.member_calendar(db, pid, mid),
                    media_type="text/calendar; charset=utf-8")


@router.post("/programs/{pid}/members/{mid}/feed-token", status_code=201,
             response_model=FeedLink, responses=_READ)
def rotate_feed_token(pid: str, mid: str, request: Request, who: Who,
                      db: Db) -> dict[str, Any]:
    """A new calendar feed link for the member (the member or an admin); the previous
    link stops working. The link is shown once."""
    who.is_member(pid, mid)
    token = issue_feed_token(db, pid, mid)
    return {"member": mid, "url": str(request.url_for("feed", feed=token))}


@router.delete("/programs/{pid}/members/{mid}/feed-token", status_code=204,
               response_class=Response, responses=_READ)
def delete_feed_token(pid: str, mid: str, who: Who, db: Db) -> Response:
    """Revoke the member's calendar feed link (the member or an admin)."""
    who.is_member(pid, mid)
    revoke_feed_token(db, pid, mid)
    return Response(status_code=204)


# --- batch plans ----------------------------------------------------------------------

@router.post("/programs/{pid}/plans", status_code=202, response_model=JobStarted,
             responses={**_READ, **error_responses(429)})
def start_plan(pid: str, request: Request, who: Who, db: Db, cfg: Config,
               body: PlanRequest | None = None) -> dict[str, Any]:
    """Plan every match that has no series yet, in the background → ``{"job": id}``.
    429 when the program already has SLOTWISE_MAX_PLAN_JOBS plans queued or running."""
    who.admin(pid)
    body = body or PlanRequest()
    limit = min(body.time_limit or cfg.plan_time_limit, cfg.max_plan_time_limit)
    with db.connect() as conn:
        doc = solving_document(conn, pid)
    for x in body.matches or []:
        find_match(doc, x)
    jid = jobs.submit(request.app.state.executor, db, cfg, pid, limit, body.matches)
    return {"job": jid, "status": "queued"}


@router.get("/jobs/{jid}", response_model=JobPublic, responses=_READ)
def get_job(jid: str, who: Who, db: Db) -> dict[str, Any]:
    """Job status, progress (0-1) and, when done, the plan document."""
    job = jobs.get(db, jid)
    if who.program_id not in (None, job["program"]):
        # Another program's job is answered like one that does not exist: a token must
        # not learn which job ids exist elsewhere.
        raise NotFound(f'unknown job "{jid}"')
    who.admin(job["program"])
    return job


@router.post("/programs/{pid}/plans/{jid}/apply", response_model=PlanApplied,
             responses=_WRITE)
def apply_plan(pid: str, jid: str, who: Who, db: Db, cfg: Config) -> dict[str, Any]:
    """Book every series of a finished plan, all or nothing. 409 naming what stands in the
    way: matches the plan lists twice (``repeated``), matches booked since it was made
    (``booked``), occurrences that now collide with other sessions (``clashes``)."""
    who.admin(pid)
    out = jobs.apply(db, cfg, pid, jid)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out
