"""HTTP routes (SPEC 8). Thin: check who asks, validate, call store / solver / booking.

Routes that run numpy or CP-SAT are plain ``def`` so they run in the thread pool.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select

from ingest.availability import build_availability
from ingest.document import DAYS, Line, Text, _check_zone, _parse_clock
from solver.heatmap import heatmap
from solver.proposals import propose
from solver.spec import Preference

from . import booking, jobs, notify
from .auth import Principal, authenticate
from .calendars import fetch_text, fetch_uploaded
from .config import Settings
from .documents import heatmap_dict, series_dict
from .errors import Conflict, Invalid, NotFound, error_responses
from .programs import (
    document_now,
    find_match,
    find_member_index,
    solving_document,
    stored_document,
    validated,
)
from .schemas import (
    EXAMPLE_ICS,
    EXAMPLE_MATCH,
    EXAMPLE_MEMBER,
    EXAMPLE_PROGRAM,
    CalendarSet,
    Created,
    DocumentPublic,
    HeatmapPublic,
    JobPublic,
    JobStarted,
    Me,
    MemberPublic,
    PlanApplied,
    ProgramSummary,
    ProposalsPublic,
    SeriesPublic,
)
from .store import (
    document_data,
    insert_match,
    insert_program,
    locked,
    members_data,
    program_row,
    programs,
    series,
    upsert_member,
)

# Every route needs a token and reads its parameters; any request body may be too large.
# Calendar routes answer with ``response_class=Response``: a 200 is text/calendar, an error
# still JSON.
router = APIRouter(prefix="/api", responses=error_responses(401, 413, 422))
_READ = error_responses(403, 404)
_WRITE = error_responses(403, 404, 409)
_ICS = {200: {"content": {"text/calendar": {"schema": {"type": "string"}}},
              "description": "an iCalendar file"}}


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def principal(request: Request,
              authorization: Annotated[str | None, Header()] = None,
              token: Annotated[str | None, Query(description="for calendar feeds, which "
                                                 "cannot send headers")] = None) -> Principal:
    bearer = None
    if authorization and authorization.lower().startswith("bearer "):
        bearer = authorization[7:].strip()
    return authenticate(engine_of(request), bearer or token)


Who = Annotated[Principal, Depends(principal)]
Db = Annotated[Engine, Depends(engine_of)]
Config = Annotated[Settings, Depends(settings_of)]
# Documents are read as plain objects and validated by ingest (errors name the field).
Document = Annotated[dict[str, Any], Body(description="a program document (SPEC 6)",
                                          examples=[EXAMPLE_PROGRAM])]
MemberDocument = Annotated[dict[str, Any], Body(
    description="a member object of the program document (SPEC 6); ``id`` is the URL's",
    examples=[EXAMPLE_MEMBER])]
MatchDocument = Annotated[dict[str, Any], Body(
    description="a match object of the program document (SPEC 6)", examples=[EXAMPLE_MATCH])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreferredIn(_Body):
    days: list[Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]] | None = None
    start: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}$")
    end: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}$")


class ProposalsRequest(_Body):
    limit: int = Field(default=5, ge=1, le=50)
    duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    frequency: Literal["once", "weekly", "biweekly", "monthly"] | None = None
    sessions: int | None = Field(default=None, ge=1, le=520)
    preferred: PreferredIn | None = None


class ConferencingIn(_Body):
    video_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)
    location: Line | None = Field(default=None, max_length=500)


class SeriesCreate(_Body):
    first_start: datetime
    duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    frequency: Literal["once", "weekly", "biweekly", "monthly"] | None = None
    sessions: int | None = Field(default=None, ge=1, le=520)
    conferencing: ConferencingIn | None = None
    agenda: Text | None = Field(default=None, max_length=10_000)
    summary: Line | None = Field(default=None, max_length=500)


class SessionPatch(_Body):
    start: datetime | None = None
    status: Literal["cancelled"] | None = None


class PlanRequest(_Body):
    time_limit: float | None = Field(default=None, gt=0, le=3600)
    matches: list[str] | None = None


class CalendarUrl(_Body):
    ics_url: str = Field(pattern=r"^(https?|webcal)://\S+$", max_length=2000)


# --- programs -------------------------------------------------------------------------

@router.get("/me", response_model=Me)
def me(who: Who) -> dict[str, Any]:
    """Who this token is: role, program (None = every program) and member."""
    return {"role": who.role, "program": who.program_id, "member": who.member_id}


@router.post("/programs", status_code=201, response_model=Created,
             responses=error_responses(403, 409))
def create_program(doc: Document, who: Who, db: Db, cfg: Config) -> dict[str, str]:
    """Create a program from a program document."""
    parsed = validated(doc)
    if not who.site_admin:
        from .errors import Forbidden

        raise Forbidden("only a site admin may create programs")
    if len(parsed.members) > cfg.max_members or len(parsed.matches) > cfg.max_matches:
        raise Invalid(f"at most {cfg.max_members} members and {cfg.max_matches} matches "
                      "per program", field="members")
    fetched = fetch_uploaded(parsed, [m.id for m in parsed.members], cfg,
                             {m.id: f"members[{i}]" for i, m in enumerate(parsed.members)})
    with db.begin() as conn:
        insert_program(conn, parsed.model_dump(mode="json", exclude_none=True), fetched)
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
    if who.role == "admin":
        return data
    mine = [x for x in data["matches"] if who.member_id in x["members"]]
    people = {who.member_id} | {m for x in mine for m in x["members"]}
    members = [m if m["id"] == who.member_id else
               {k: m[k] for k in ("id", "name", "timezone") if k in m}
               for m in data["members"] if m["id"] in people]
    return {**data, "members": members, "matches": mine, "bookings": []}


@router.put("/programs/{pid}/members/{mid}", response_model=MemberPublic,
            responses={201: {"model": MemberPublic, "description": "Created"}, **_READ})
def put_member(pid: str, mid: str, member: MemberDocument, who: Who, db: Db, cfg: Config,
               response: Response) -> dict[str, Any]:
    """Create or replace one member, availability included."""
    who.is_member(pid, mid)
    if member.get("id", mid) != mid:
        raise Invalid(f'id "{member.get("id")}" does not match the URL ("{mid}")', field="id")
    member = {**member, "id": mid}
    with db.connect() as conn:
        data = document_data(conn, pid)
    i = find_member_index(data, mid)
    if i is None:
        data["members"].append(member)
        i = len(data["members"]) - 1
    else:
        data["members"][i] = member
    # A member's validity does not depend on the other members or matches, so it is
    # checked, and its calendar URLs fetched (guarded), before the program's lock is taken.
    doc = validated(data, focus=f"members[{i}]")
    fetched = fetch_uploaded(doc, [mid], cfg, {mid: ""})
    stored = doc.members[i].model_dump(mode="json", exclude_none=True)
    with locked(db, pid) as conn:
        created = upsert_member(conn, pid, stored, fetched.get(mid, {}))
    response.status_code = 201 if created else 200
    return stored


@router.put("/programs/{pid}/members/{mid}/calendar", response_model=CalendarSet,
            responses=_READ, openapi_extra={"requestBody": {"content": {
                "text/calendar": {"schema": {"type": "string"}, "example": EXAMPLE_ICS},
                "application/json": {"schema": CalendarUrl.model_json_schema()}}}})
async def put_calendar(pid: str, mid: str, request: Request, who: Who, db: Db,
                       cfg: Config) -> dict[str, Any]:
    """Replace the member's calendar: an iCalendar body, or ``{"ics_url": ...}``."""
    from starlette.concurrency import run_in_threadpool

    who.is_member(pid, mid)
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return await run_in_threadpool(_put_calendar, db, cfg, pid, mid, raw, kind)


def _put_calendar(db: Engine, cfg: Settings, pid: str, mid: str, raw: bytes,
                  kind: str) -> dict[str, Any]:
    from ingest.availability import program_grid
    from ingest.errors import CalendarError
    from ingest.ics_source import busy_from_ics

    with db.connect() as conn:
        doc = stored_document(conn, pid)
    if mid not in {m.id for m in doc.members}:
        raise NotFound(f'unknown member "{mid}"')
    fetched: dict[str, str] = {}
    if kind in ("application/json", ""):
        try:
            url = CalendarUrl.model_validate(json.loads(raw or b"null")).ics_url
        except (ValueError, TypeError, RecursionError) as exc:  # RecursionError: [[[[...
            raise Invalid("send text/calendar, or JSON {\"ics_url\": \"https://...\"}",
                          field="ics_url", details={"problem": str(exc)[:300]}) from None
        text = fetch_text(url, cfg)
        source: dict[str, Any] = {"ics_url": url}
        fetched[url] = text
    elif kind in ("text/calendar", "text/plain"):
        text = raw.decode("utf-8", "replace")
        source = {"ics_text": text}
    else:
        raise Invalid(f"unsupported content type {kind!r}; send text/calendar or "
                      "application/json", field="content-type")
    grid = program_grid(doc)
    try:  # parse now, so a broken calendar is refused instead of stored
        busy = busy_from_ics(text, doc.member_zone(mid), grid.t0, grid.t_end)
    except CalendarError as exc:
        raise exc.for_member(mid, "calendar") from None
    with locked(db, pid) as conn:
        data = document_data(conn, pid)
        i = find_member_index(data, mid)
        if i is None:  # removed meanwhile
            raise NotFound(f'unknown member "{mid}"')
        data["members"][i]["calendars"] = [source]
        upsert_member(conn, pid, data["members"][i], fetched)
    return {"member": mid, "busy_intervals": len(busy), **(
        {"ics_url": source["ics_url"]} if "ics_url" in source else {})}


@router.post("/programs/{pid}/matches", status_code=201, response_model=Created,
             responses=_WRITE)
def add_match(pid: str, match: MatchDocument, who: Who, db: Db) -> dict[str, str]:
    """Add a match (a pair or a group) to the program."""
    who.admin(pid)
    with locked(db, pid) as conn:
        data = document_data(conn, pid)
        if any(x["id"] == match.get("id") for x in data["matches"]):
            raise Conflict(f'match "{match.get("id")}" already exists', field="id")
        data["matches"].append(match)
        # Errors name the match's own fields, not its place in the stored document.
        doc = validated(data, focus=f"matches[{len(data['matches']) - 1}]")
        new = doc.matches[-1]
        insert_match(conn, pid, new.model_dump(mode="json", exclude_none=True))
    return {"id": new.id}


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
                tz: Annotated[str | None, Query(description="viewer's IANA zone")] = None
                ) -> dict[str, Any]:
    """How many members can attend a session starting at each slot, as SPEC 7's JSON plus
    the viewer-zone day × time grid (``view``)."""
    doc, match = _match_context(db, who, pid, xid)
    try:
        zone = ZoneInfo(_check_zone(tz or doc.organizer_zone(match).key))
    except ValueError as exc:
        raise Invalid(str(exc), field="tz") from None
    duration = duration or match.duration_minutes
    avail = build_availability(doc, members=list(match.members))
    try:
        hm = heatmap(avail, list(match.members), duration)
    except ValueError as exc:
        raise Invalid(str(exc), field="duration") from None
    out = heatmap_dict(hm, zone)
    out["match"] = match.id
    out["names"] = {m: doc.member(m).name or m for m in match.members}
    # Per member (in order), the start slots they can attend: enough to answer "who is
    # free here?" for every cell without a request per cell.
    out["free"] = [np.flatnonzero(col).tolist() for col in hm.attend.T]
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
    except ValueError as exc:  # the message starts with the override's name
        raise Invalid(str(exc), field=str(exc).split()[0]) from None
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
    returns the first result and books nothing twice."""
    who.program(pid)
    now = datetime.now(UTC)
    with locked(db, pid) as conn:
        # Without this service's sessions as document bookings: booking.clashes reads them
        # itself (a session being moved must not clash with its own old time).
        doc = solving_document(conn, pid, now, match=xid, sessions=False)
        match = find_match(doc, xid)
        who.in_match(pid, list(match.members))
        req = booking.request_for(doc, match, body.model_dump(exclude_none=True))
        if idempotency_key:
            sid = booking.find_idempotent(conn, pid, idempotency_key, req)
            if sid is not None:
                return booking.series_public(conn, pid, sid)
        wanted = booking.occurrences(doc, match, req, document_now(doc))
        found = booking.clashes(conn, doc, pid, list(match.members), wanted)
        if found:
            raise Conflict(f"{len(found)} occurrence(s) collide with sessions already booked",
                           details={"clashes": found})
        sid = booking.insert_series(conn, doc, pid, match, req, wanted,
                                    idempotency_key=idempotency_key)
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
            (series.c.program_id == pid) & (series.c.match_id == xid))
            .order_by(series.c.created_at.desc())).scalars().all()
        return [booking.series_public(conn, pid, s) for s in ids]


def _series_match(conn: Any, pid: str, sid: str) -> tuple[Any, list[str]]:
    row = booking.series_row(conn, pid, sid)
    return row, json.loads(row.members)


@router.get("/programs/{pid}/series/{sid}", response_model=SeriesPublic, responses=_READ)
def get_series(pid: str, sid: str, who: Who, db: Db) -> dict[str, Any]:
    who.program(pid)
    with db.connect() as conn:
        _, members = _series_match(conn, pid, sid)
        who.sees_match(pid, members)
        return booking.series_public(conn, pid, sid)


@router.get("/programs/{pid}/series/{sid}/invite.ics", responses={**_ICS, **_READ},
            response_class=Response)
def invite(pid: str, sid: str, who: Who, db: Db, cfg: Config) -> Response:
    """The series' invite (``METHOD:REQUEST``, or ``CANCEL`` once cancelled)."""
    who.program(pid)
    with db.connect() as conn:
        row, members = _series_match(conn, pid, sid)
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
        _, members = _series_match(conn, pid, sid)
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
        _, members = _series_match(conn, pid, row.series_id)
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
        srow, members = _series_match(conn, pid, row.series_id)
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
    """A member's booked sessions as a calendar feed to subscribe to (``?token=`` works,
    since calendar apps cannot send headers)."""
    who.is_member(pid, mid)
    with db.connect() as conn:
        found = members_data(conn, pid, {mid})
        if not found:
            program_row(conn, pid)  # an unknown program is named before the member
            raise NotFound(f'unknown member "{mid}"')
        body = notify.member_feed(conn, pid, mid, found[0].get("name") or mid)
    return Response(body, media_type="text/calendar; charset=utf-8")


# --- batch plans ----------------------------------------------------------------------

@router.post("/programs/{pid}/plans", status_code=202, response_model=JobStarted,
             responses=_READ)
def start_plan(pid: str, request: Request, who: Who, db: Db, cfg: Config,
               body: PlanRequest | None = None) -> dict[str, Any]:
    """Plan every match that has no series yet, in the background → ``{"job": id}``."""
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
    """Book every series of a finished plan, all or nothing."""
    who.admin(pid)
    out = jobs.apply(db, cfg, pid, jid)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out
