"""Routes for a program admin's people and matches: the members a page at a time, one
member's stored object, and imports of an availability CSV or a program document."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from ... import roster
from ...errors import Invalid, error_responses, json_problem
from ...schemas import EXAMPLE_CSV, EXAMPLE_PROGRAM, ImportResult, MemberPublic, MembersPage
from ...uploads import busy_on_upload, fetch_uploaded
from ..deps import READ, WRITE, Config, Db, Who

router = APIRouter(tags=["people"])

CSV_TYPES = ("text/csv", "text/plain")


@router.get("/programs/{pid}/members", response_model=MembersPage, responses=READ)
def list_members(
    pid: str,
    who: Who,
    db: Db,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    q: Annotated[
        str | None, Query(max_length=320, description="part of an id, name or email")
    ] = None,
) -> dict[str, Any]:
    """The program's members, ``limit`` at a time from ``offset`` (those whose id, name or
    email holds ``q``, in any case), each with how many matches they are in. Admins only."""
    who.admin(pid)
    with db.connect() as conn:
        return roster.member_page(conn, pid, offset, limit, q)


@router.get("/programs/{pid}/members/{mid}", response_model=MemberPublic, responses=READ)
def get_member(pid: str, mid: str, who: Who, db: Db) -> dict[str, Any]:
    """One member's stored object (SPEC 6), as ``PUT`` takes it back. Admins, or the
    member themselves."""
    who.is_member(pid, mid)
    with db.connect() as conn:
        return roster.member_object(conn, pid, mid)


@router.post(
    "/programs/{pid}/import",
    response_model=ImportResult,
    responses={**WRITE, **error_responses(503)},
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": EXAMPLE_CSV},
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {"members": EXAMPLE_PROGRAM["members"]},
                },
            }
        }
    },
)
async def import_people(
    pid: str, request: Request, who: Who, db: Db, cfg: Config
) -> dict[str, Any]:
    """Import into the program, all or nothing: an availability CSV (``text/csv``; each
    member it names gets its rows as their whole availability) or a program document
    (``application/json``, SPEC 6: its members and matches are added, or replace those
    with the same id; its ``program`` part is not imported). A refusal (422) lists every
    problem in ``errors``: the CSV ``line`` and column, or the document's field path."""
    who.admin(pid)
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in CSV_TYPES:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"the CSV file is {json_problem(exc)}") from None
        return await run_in_threadpool(roster.import_csv, db, pid, text)
    if kind not in ("application/json", ""):
        raise Invalid(
            "send an availability CSV as text/csv or a program document as application/json",
            field="content-type",
        )
    try:
        sent = json.loads(raw or b"null")
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"malformed JSON: {json_problem(exc)}") from None
    # Checked, and the sent members' calendar URLs fetched (on the event loop, see
    # programs.create_program), before the program's lock is taken; checked again under it.
    first = await run_in_threadpool(roster.check_document, db, pid, sent, cfg)
    ids = [m["id"] for m in first.members]
    fetched = await fetch_uploaded(first.doc, ids, cfg, first.where)
    busy = await run_in_threadpool(busy_on_upload, first.doc, ids, fetched, first.where)
    return await run_in_threadpool(roster.store_document, db, pid, sent, cfg, busy)
