"""The route behind each person's home page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ... import booking
from ...home import home
from ...schemas import HomePublic
from ..deps import READ, Db, Who

router = APIRouter(tags=["home"])


@router.get("/programs/{pid}/home", response_model=HomePublic, responses=READ)
def get_home(
    pid: str,
    who: Who,
    db: Db,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    match: Annotated[str | None, Query(max_length=128, description="only this match")] = None,
) -> dict[str, Any]:
    """The caller's home: a member's or facilitator's own matches and next sessions; for an
    admin, the program's counts and every match, ``limit`` at a time from ``offset``. Each
    match says whether the caller may book it (``can_book``)."""
    who.program(pid)
    with db.connect() as conn:
        return home(conn, who, pid, booking.program_now(conn, pid), offset, limit, match)
