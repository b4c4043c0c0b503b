"""Sign-in by email: one-time links, browser sessions and their CSRF tokens.

A link's token is random, works once and for ``signin_link_minutes``; only its SHA-256 is
stored. It is mailed through the durable delivery queue (``deliveries``, method
``SIGNIN``) like an invite, pointing at ``{public_url}/signin#token=…``: in the fragment,
so it never reaches a server log or a Referer. Exchanging it makes a session: the cookie
(``slotwise_session``) and a CSRF token derived from it, of which again only hashes are
stored. Who the session is, is worked out from its address on every request
(``people.principal_for``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import MessageError
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from ingest.text import email_key

from . import notify
from .auth import Principal
from .config import Settings
from .email import text_message
from .errors import Forbidden, NotFound, Unauthorized
from .invites import Person
from .people import (
    checked_email,
    identities,
    member_name,
    principal_for,
    program_name,
    recorded_address,
)
from .store import deliveries, now_epoch, program_exists, signin_links, web_sessions

log = logging.getLogger("slotwise.signin")

SESSION_COOKIE = "slotwise_session"
LINK_PREFIX, SESSION_PREFIX = "swl_", "sws_"
# Unused, unexpired links one address may hold; more asks are answered alike and send
# nothing (a mailbox is not flooded, and the answer does not tell).
MAX_UNUSED_LINKS = 5
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
ACCEPTED = "If this address belongs to someone in a program, a sign-in link is on its way."


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """The session's CSRF token: derived from the cookie, so the page can be told it again
    (``GET /api/me``) while only its hash is stored."""
    mac = hmac.new(session_token.encode(), b"slotwise csrf token", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/signin#token={token}"


# --- links ------------------------------------------------------------------------------


def new_link(engine: Engine, settings: Settings, email: str, minutes: int | None = None) -> str:
    """A working sign-in link for ``email`` without mailing it (the CLI, the demo);
    NotFound when the address is nobody's."""
    key = email_key(checked_email(email))
    with engine.begin() as conn:
        if recorded_address(conn, key) is None:
            raise NotFound(
                f"{email} is neither an admin nor a member of any program", field="email"
            )
        token = _insert_link(conn, key, minutes or settings.signin_link_minutes)
    return link_url(settings, token)


def _insert_link(conn: Connection, key: str, minutes: int) -> str:
    token = LINK_PREFIX + secrets.token_urlsafe(32)
    now = now_epoch()
    conn.execute(
        signin_links.insert().values(
            hash=_digest(token), email_key=key, created_at=now, expires_at=now + minutes * 60
        )
    )
    return token


def request_link(engine: Engine, settings: Settings, email: str) -> bool:
    """Queue a sign-in link to ``email`` if it is someone's (and they do not already hold
    MAX_UNUSED_LINKS); whether one was queued. The caller answers the same either way."""
    key = email_key(email)
    now = now_epoch()
    with engine.begin() as conn:
        found = recorded_address(conn, key)
        if found is None:
            log.info("sign-in link asked for an address that is nobody's; none sent")
            return False
        address, name = found
        unused = conn.execute(
            select(func.count())
            .select_from(signin_links)
            .where(
                (signin_links.c.email_key == key)
                & signin_links.c.used_at.is_(None)
                & (signin_links.c.expires_at > now)
            )
        ).scalar_one()
        if unused >= MAX_UNUSED_LINKS:
            log.warning(
                "sign-in link for %s not sent: %d unused links are still valid", address, unused
            )
            return False
        url = link_url(settings, _insert_link(conn, key, settings.signin_link_minutes))
        message, problem = _message(settings, Person("", name or "", address), url)
        conn.execute(
            deliveries.insert().values(
                id="d" + secrets.token_hex(8),
                program_id="",
                series_id=None,
                recipient=address,
                method="SIGNIN",
                message=message,
                status="failed" if problem else "pending",
                last_error=problem,
                attempts=0,
                created_at=now,
            )
        )
    if not (settings.smtp_url and settings.smtp_url.strip()):
        # Outbox mode: a newcomer without mail finds the link in the log too.
        log.info("sign-in link for %s: %s", address, url)
    notify.wake(engine)
    return True


def _message(settings: Settings, to: Person, url: str) -> tuple[str, str | None]:
    minutes = settings.signin_link_minutes
    text = (
        f"Hello{' ' + to.name if to.name else ''},\n\n"
        f"open this link to sign in to slotwise. It works once, within {minutes} minutes:\n\n"
        f"{url}\n\n"
        "If you did not ask to sign in, ignore this message: nobody can sign in without "
        "the link.\n"
    )
    try:
        msg = text_message(settings.sender, to, "Your slotwise sign-in link", text)
        return msg.as_string(), None
    except (ValueError, TypeError, UnicodeError, MessageError) as exc:
        log.warning("sign-in message could not be built: %s", exc)
        return "", f"the message could not be built: {exc}"


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# --- sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    token: str  # the cookie's value, shown once
    principal: Principal


def sign_in(engine: Engine, settings: Settings, token: str) -> NewSession:
    """Exchange a sign-in link's token (once) for a session in the first program where
    the address has an identity (admin rows first)."""
    now = now_epoch()
    with engine.begin() as conn:
        row = conn.execute(
            select(signin_links).where(signin_links.c.hash == _digest(token))
        ).first()
        if row is None:
            raise Unauthorized("this sign-in link is unknown; ask for a new one", field="token")
        if row.used_at is not None:
            raise Unauthorized(
                "this sign-in link was already used; ask for a new one", field="token"
            )
        if row.expires_at <= now:
            raise Unauthorized(
                f"this sign-in link expired at {_when(row.expires_at)}; ask for a new one",
                field="token",
            )
        used = conn.execute(
            update(signin_links)
            .where((signin_links.c.hash == row.hash) & signin_links.c.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        if not used:  # another request exchanged it first
            raise Unauthorized(
                "this sign-in link was already used; ask for a new one", field="token"
            )
        found = recorded_address(conn, row.email_key)
        mine = identities(conn, row.email_key)
        program = mine[0]["program"] if mine else None
        session_token = SESSION_PREFIX + secrets.token_urlsafe(32)
        sid = secrets.token_hex(8)
        who = (
            principal_for(conn, row.email_key, program, email=found[0], session_id=sid)
            if found
            else None
        )
        if found is None or who is None:
            raise Unauthorized("this address no longer has access to any program", field="token")
        conn.execute(
            web_sessions.insert().values(
                hash=_digest(session_token),
                id=sid,
                email_key=row.email_key,
                email=found[0],
                program_id=program,
                csrf_hash=_digest(csrf_token(session_token)),
                created_at=now,
                expires_at=now + settings.session_days * 86400,
            )
        )
        _forget_old(conn, now)
    return NewSession(session_token, who)


def _forget_old(conn: Connection, now: int) -> None:
    """Links and sessions that can no longer be used are deleted (a day after the end)."""
    conn.execute(delete(signin_links).where(signin_links.c.expires_at < now - 86400))
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now - 86400))


def _session(conn: Connection, token: str) -> Any:
    row = conn.execute(select(web_sessions).where(web_sessions.c.hash == _digest(token))).first()
    if row is None:
        raise Unauthorized("you are not signed in (or signed out); sign in again")
    if row.expires_at <= now_epoch():
        raise Unauthorized("your sign-in has expired; sign in again")
    return row


def check_csrf(row: Any, sent: str | None) -> None:
    """A write by cookie must carry the session's CSRF token (constant-time compare)."""
    expected: str = row.csrf_hash
    if not sent or not hmac.compare_digest(_digest(sent), expected):
        raise Forbidden(f"missing or wrong CSRF token ({CSRF_HEADER})")


def session_principal(engine: Engine, token: str, method: str, csrf: str | None) -> Principal:
    """The principal of a session cookie for a request: 401 when the session is gone or
    expired, 403 for a write without the right CSRF token. When the session's program no
    longer knows the address, the first program that does stands in (requests for the old
    one are then refused)."""
    with engine.connect() as conn:
        row = _session(conn, token)
        if method.upper() not in SAFE_METHODS:
            check_csrf(row, csrf)
        who = _current(conn, row)
    if who is None:
        raise Unauthorized("this address no longer has access to any program; sign in again")
    return who


def _current(conn: Connection, row: Any) -> Principal | None:
    key: str = row.email_key
    email: str = row.email
    sid: str = row.id
    who = principal_for(conn, key, row.program_id, email=email, session_id=sid)
    if who is not None:
        return who
    for identity in identities(conn, key):
        who = principal_for(conn, key, identity["program"], email=email, session_id=sid)
        if who is not None:
            return who
    return None


def switch_program(engine: Engine, token: str, program_id: str) -> Principal:
    """Make ``program_id`` the session's current program: 403 when the address has no
    identity there (404 for a site admin naming an unknown program)."""
    with engine.begin() as conn:
        row = _session(conn, token)
        who = principal_for(
            conn,
            row.email_key,
            program_id,
            email=row.email,
            session_id=row.id,
        )
        if who is None:
            raise Forbidden(
                f'this address has no access to program "{program_id}"', field="program"
            )
        if not program_exists(conn, program_id):
            raise NotFound(f'unknown program "{program_id}"', field="program")
        conn.execute(
            update(web_sessions)
            .where(web_sessions.c.hash == _digest(token))
            .values(program_id=program_id)
        )
    return who


def sign_out(engine: Engine, token: str, csrf: str | None) -> None:
    """End the session of this cookie (a write: it needs the CSRF token while the session
    lives; an ended or expired one needs nothing)."""
    with engine.begin() as conn:
        row = conn.execute(
            select(web_sessions).where(web_sessions.c.hash == _digest(token))
        ).first()
        if row is None:
            return
        if row.expires_at > now_epoch():
            check_csrf(row, csrf)
        conn.execute(delete(web_sessions).where(web_sessions.c.hash == row.hash))


def me(engine: Engine, who: Principal, session_token: str | None) -> dict[str, Any]:
    """The ``Me`` body: who is asking and, for a session, every program they are someone
    in and the CSRF token. Small on purpose (the page asks it on every load)."""
    program = who.current_program if who.via == "session" else who.program_id
    with engine.connect() as conn:
        name = member_name(conn, program, who.member_id)
        if who.via == "session" and who.email is not None:
            mine = identities(conn, email_key(who.email))
        else:
            mine = [
                {
                    "program": who.program_id,
                    "program_name": program_name(conn, who.program_id),
                    "role": who.role,
                    "member": who.member_id,
                    "name": name,
                }
            ]
    session = who.via == "session" and session_token is not None
    return {
        "role": who.role,
        "program": program,
        "member": who.member_id,
        "via": who.via,
        "site_admin": who.site_admin,
        "email": who.email,
        "name": name,
        "csrf": csrf_token(session_token) if session and session_token else None,
        "identities": mine,
    }
