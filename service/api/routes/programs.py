"""Routes for programs, their members and members' calendars, and matches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ingest.errors import CalendarError
from ingest.text import email_key

from ... import signin
from ...errors import Forbidden, Invalid, error_responses
from ...programs import (
    member_document,
    member_program,
    program_size_within_limits,
    store_calendar,
    store_match,
    store_member,
    store_program,
    stored_email_key,
    validated,
)
from ...schemas import (
    EXAMPLE_ICS,
    CalendarSet,
    CalendarUpdate,
    Created,
    DocumentPublic,
    MatchCreate,
    Me,
    MemberPublic,
    MemberUpdate,
    ProgramCreate,
    ProgramSummary,
)
from ...store import document_data, program_summaries
from ...uploads import busy_on_upload, calendar_source, fetch_text, fetch_uploaded
from ..deps import READ, WRITE, Config, Db, Who

router = APIRouter(tags=["programs"])


@router.get("/me", response_model=Me)
def me(who: Who, db: Db, request: Request) -> dict[str, Any]:
    """Who is asking: role, program (None = every program) and member; for a sign-in
    session also the email, the CSRF token and every program the address is someone in."""
    return signin.me(db, who, request.cookies.get(signin.SESSION_COOKIE))


@router.post(
    "/programs", status_code=201, response_model=Created, responses=error_responses(403, 409, 503)
)
async def create_program(doc: ProgramCreate, who: Who, db: Db, cfg: Config) -> dict[str, str]:
    """Create a program from a program document."""
    # async: calendar URLs are fetched on the event loop (no worker thread waits on the
    # network); validating and storing run in the thread pool.
    parsed = await run_in_threadpool(validated, doc)
    if not who.site_admin:
        raise Forbidden("only a site admin may create programs")
    program_size_within_limits(parsed, cfg)
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
        return [p for p in program_summaries(conn) if who.sees_program(p["id"])]


@router.get("/programs/{pid}", response_model=DocumentPublic, responses=READ)
def get_program(pid: str, who: Who, db: Db) -> dict[str, Any]:
    """The program document as stored; facilitators and members see only their part."""
    who.program(pid)
    with db.connect() as conn:
        data = document_data(conn, pid)
    return who.visible_part(data)


@router.put(
    "/programs/{pid}/members/{mid}",
    response_model=MemberPublic,
    responses={
        201: {"model": MemberPublic, "description": "Created"},
        **READ,
        **error_responses(503),
    },
)
async def put_member(
    pid: str, mid: str, member: MemberUpdate, who: Who, db: Db, cfg: Config, response: Response
) -> dict[str, Any]:
    """Create or replace one member, availability included."""
    who.is_member(pid, mid)
    if member.get("id", mid) != mid:
        raise Invalid(f'id "{member.get("id")}" does not match the URL ("{mid}")', field="id")
    # A member's validity does not depend on the other members or matches, so it is
    # checked, and its calendar URLs fetched (guarded, on the event loop: see
    # create_program), before the program's lock is taken.
    doc, i = await run_in_threadpool(member_document, db, pid, {**member, "id": mid})
    if who.role != "admin":
        # The address is who signs in as this member and where their invites go.
        before = await run_in_threadpool(stored_email_key, db, pid, mid)
        if before is not None and email_key(doc.members[i].email) != before:
            raise Forbidden("only a program admin may change a member's email address")
    fetched = await fetch_uploaded(doc, [mid], cfg, {mid: ""})
    busy = await run_in_threadpool(busy_on_upload, doc, [mid], fetched, {mid: ""})
    stored = doc.members[i].model_dump(mode="json", exclude_none=True)
    created = await run_in_threadpool(store_member, db, cfg, pid, stored, busy[mid])
    response.status_code = 201 if created else 200
    return stored


@router.put(
    "/programs/{pid}/members/{mid}/calendar",
    response_model=CalendarSet,
    responses={**READ, **error_responses(503)},
    openapi_extra={
        "requestBody": {
            "content": {
                "text/calendar": {"schema": {"type": "string"}, "example": EXAMPLE_ICS},
                "application/json": {"schema": CalendarUpdate.model_json_schema()},
            }
        }
    },
)
async def put_calendar(
    pid: str, mid: str, request: Request, who: Who, db: Db, cfg: Config
) -> dict[str, Any]:
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


@router.post("/programs/{pid}/matches", status_code=201, response_model=Created, responses=WRITE)
def add_match(pid: str, match: MatchCreate, who: Who, db: Db, cfg: Config) -> dict[str, str]:
    """Add a match (a pair or a group) to the program."""
    who.admin(pid)
    return {"id": store_match(db, cfg, pid, match)}
