"""What the routes depend on: the caller (:data:`Who`, by API token or sign-in session),
the database (:data:`Db`), the settings (:data:`Config`), a match with the caller's right
to see it, and the error responses most routes document."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy import Engine

from ingest.availability import Availability
from ingest.document import Match, ProgramDocument

from ..auth import Principal, authenticate
from ..cache import cached
from ..config import Settings
from ..errors import Invalid, error_responses
from ..gate import computing
from ..programs import find_match, session_match
from ..signin import CSRF_HEADER, SESSION_COOKIE, session_principal

T = TypeVar("T")

READ = error_responses(403, 404)
WRITE = error_responses(403, 404, 409)
# Calendar routes answer with ``response_class=Response``: a 200 is text/calendar, an error
# still JSON.
ICS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/calendar": {"schema": {"type": "string"}}},
        "description": "an iCalendar file",
    }
}


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller: an ``Authorization`` header wins (an API token, as scripts send it);
    otherwise the sign-in session cookie, whose writes need the ``X-CSRF-Token`` header. A
    token in the URL (``?token=``) is ignored, since URLs end up in logs, browser history
    and Referer headers."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if authorization is None and cookie:
        return session_principal(
            engine_of(request), cookie, request.method, request.headers.get(CSRF_HEADER)
        )
    bearer = None
    if authorization and authorization.lower().startswith("bearer "):
        bearer = authorization[7:].strip()
    return authenticate(engine_of(request), bearer)


Who = Annotated[Principal, Depends(principal)]
Db = Annotated[Engine, Depends(engine_of)]
Config = Annotated[Settings, Depends(settings_of)]


def match_context(db: Engine, who: Principal, pid: str, xid: str) -> tuple[ProgramDocument, Match]:
    """The part of the program match ``xid`` needs (without sessions) and the match, once
    the caller is checked to see it."""
    who.program(pid)
    with db.connect() as conn:
        doc = cached(conn).document(conn, pid, xid)
    match = find_match(doc, xid)
    who.sees_match(pid, list(match.members))
    return doc, match


def match_availability(
    db: Engine, who: Principal, pid: str, xid: str, ignore: str | None = None
) -> tuple[ProgramDocument, Match, Availability]:
    """As :func:`match_context`, with the match's members' availability now (booked
    sessions busy, the past closed; service/cache.py); booked session ``ignore`` (one of
    the match's) is not busy time."""
    who.program(pid)
    with db.connect() as conn:

        def allowed(match: Match) -> None:
            who.sees_match(pid, list(match.members))
            if ignore is not None and session_match(conn, pid, ignore) != xid:
                raise Invalid(
                    f'session "{ignore}" is not one of this match\'s', field="ignore_session"
                )

        doc, avail = cached(conn).availability(conn, pid, xid, ignore=ignore, check=allowed)
    return doc, find_match(doc, xid), avail


def computes(route: Callable[..., T]) -> Callable[..., T]:
    """A route that computes (heat map, proposals, a booking): its body runs in one of the
    process's compute slots (service/gate.py), taken after FastAPI resolved its
    dependencies. The route must take the engine as ``db``."""

    @functools.wraps(route)
    def run(*args: Any, **kwargs: Any) -> T:
        with computing(kwargs["db"]):
            return route(*args, **kwargs)

    return run
