"""Routes for signing in by email: a one-time link, the session it opens (a cookie),
switching program, signing out; and a program's admins by email."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response

from ... import people, signin
from ...config import Settings
from ...errors import Forbidden, NotFound, Unauthorized, error_responses
from ...schemas import (
    AdminPublic,
    Me,
    ProgramSwitch,
    SessionCreate,
    SessionState,
    SignInAccepted,
    SignInLinkCreate,
)
from ..deps import READ, Config, Db, Who, principal

router = APIRouter(tags=["sign-in"])

CsrfHeader = Annotated[
    str | None,
    Header(
        alias=signin.CSRF_HEADER,
        description="the session's CSRF token (``csrf`` of GET /api/me); every write "
        "signed in by cookie must send it",
    ),
]
Email = Annotated[str, Path(max_length=320, description="an email address")]


def _set_cookie(response: Response, cfg: Settings, token: str) -> None:
    response.set_cookie(
        signin.SESSION_COOKIE,
        token,
        max_age=cfg.session_days * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cfg.public_url.startswith("https://"),
    )


def _clear_cookie(response: Response, cfg: Settings) -> None:
    response.delete_cookie(
        signin.SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cfg.public_url.startswith("https://"),
    )


@router.post("/auth/link", status_code=202, response_model=SignInAccepted)
def request_link(body: SignInLinkCreate, db: Db, cfg: Config) -> dict[str, str]:
    """Mail a one-time sign-in link to this address if it belongs to someone in a program.
    The answer is the same either way (202), so it tells nobody whose address it is."""
    signin.request_link(db, cfg, body.email)
    return {"detail": signin.ACCEPTED}


@router.post("/auth/session", response_model=Me)
def sign_in(body: SessionCreate, db: Db, cfg: Config, response: Response) -> dict[str, Any]:
    """Exchange a sign-in link's token (once) for a session: sets the ``slotwise_session``
    cookie and answers who you are (as GET /api/me). 401 when the link is unknown, used
    or expired."""
    new = signin.sign_in(db, cfg, body.token)
    _set_cookie(response, cfg, new.token)
    return signin.me(db, new.principal, new.token)


@router.get("/auth/session", response_model=SessionState)
def session_state(request: Request, db: Db) -> dict[str, Any]:
    """Whether this browser is signed in, and if so who it is (as GET /api/me): the page
    asks this first, so that a visitor who is not signed in gets an answer, not a 401."""
    cookie = request.cookies.get(signin.SESSION_COOKIE)
    if not cookie:
        return {"signed_in": False, "me": None}
    try:
        who = principal(request)
    except Unauthorized:
        return {"signed_in": False, "me": None}
    return {"signed_in": True, "me": signin.me(db, who, cookie)}


@router.delete(
    "/auth/session", status_code=204, response_class=Response, responses=error_responses(403)
)
def sign_out(request: Request, db: Db, cfg: Config, csrf: CsrfHeader = None) -> Response:
    """Sign out: the session ends and its cookie is cleared (204 also when there was none).
    A live session needs its CSRF token. A request with an Authorization header is an API
    token's, as everywhere: it ends no session and leaves the cookie alone."""
    response = Response(status_code=204)
    if "authorization" in request.headers:
        return response
    cookie = request.cookies.get(signin.SESSION_COOKIE)
    if cookie:
        signin.sign_out(db, cookie, csrf)
    _clear_cookie(response, cfg)
    return response


@router.put("/auth/session/program", response_model=Me, responses=READ)
def switch_program(
    body: ProgramSwitch, who: Who, request: Request, db: Db, csrf: CsrfHeader = None
) -> dict[str, Any]:
    """Work in another program the address is someone in (403 if none there); answers
    who you are now (as GET /api/me). Only a sign-in session has a program to switch."""
    cookie = request.cookies.get(signin.SESSION_COOKIE)
    if who.via != "session" or not cookie:
        raise Forbidden("an API token is for its own program; only a sign-in can switch")
    now = signin.switch_program(db, cookie, body.program)
    return signin.me(db, now, cookie)


@router.get("/programs/{pid}/admins", response_model=list[AdminPublic], responses=READ)
def list_admins(pid: str, who: Who, db: Db) -> list[dict[str, Any]]:
    """The program's admins by email (site admins are not listed)."""
    who.admin(pid)
    return [_public(a) for a in people.list_admins(db, pid)]


@router.put(
    "/programs/{pid}/admins/{email}",
    response_model=AdminPublic,
    responses={201: {"model": AdminPublic, "description": "Created"}, **READ},
)
def put_admin(pid: str, email: Email, who: Who, db: Db, response: Response) -> dict[str, Any]:
    """Make this address an admin of the program (200 when it already was one). They sign
    in with a link mailed to it."""
    who.admin(pid)
    row, created = people.add_admin(db, email, pid)
    response.status_code = 201 if created else 200
    return _public(row)


@router.delete(
    "/programs/{pid}/admins/{email}", status_code=204, response_class=Response, responses=READ
)
def delete_admin(pid: str, email: Email, who: Who, db: Db) -> Response:
    """This address is no longer an admin of the program, from its next request on."""
    who.admin(pid)
    if not people.remove_admin(db, email, pid):
        raise NotFound(f"{email} is not an admin of program {pid!r}", field="email")
    return Response(status_code=204)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "email": row["email"],
        "program": row["program"],
        "created": datetime.fromtimestamp(row["created_at"], UTC).isoformat(),
    }
