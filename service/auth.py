"""API tokens and who may do what.

Tokens are random and shown once; the database keeps only their SHA-256. Roles:
``admin`` manages a program (or every program when the token names none),
``facilitator`` sees and books the matches they belong to, ``member`` edits only their
own availability and sees their own sessions. API tokens travel only in the
``Authorization`` header and may expire. People sign in by email instead
(``service/signin.py``): their principal is derived from their address on every request
(``service/people.py``), with ``email`` and ``session_id`` set.

A member's calendar feed has a token of its own (``swf_…``, table ``feed_tokens``): it
sits in the feed's URL, because calendar apps cannot send headers, so it is made to open
nothing but that feed. It is read-only, one per member, replaced when rotated.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from .errors import Forbidden, Invalid, NotFound, Unauthorized
from .store import feed_tokens, members, now_epoch, program_exists, tokens

ROLES = ("admin", "facilitator", "member")
API_PREFIX, FEED_PREFIX = "sw_", "swf_"


@dataclass(frozen=True)
class Principal:
    role: str
    program_id: str | None
    member_id: str | None
    # Which token (or person) is calling: scopes what the caller's requests may share
    # (Idempotency-Key).
    token_id: str | None = None
    # Set for a signed-in person (a session cookie), None for an API token.
    email: str | None = None
    session_id: str | None = None
    # The program a signed-in person works in (a site admin's principal names none).
    current_program: str | None = None

    @property
    def via(self) -> str:
        """How the caller authenticated: ``"token"`` or ``"session"``."""
        return "token" if self.session_id is None else "session"

    @property
    def site_admin(self) -> bool:
        return self.role == "admin" and self.program_id is None

    def sees_program(self, program_id: str) -> bool:
        """Whether the token is for ``program_id`` (a site admin's is for every program)."""
        return self.program_id is None or self.program_id == program_id

    def program(self, program_id: str) -> None:
        """Refuse any program but the token's own."""
        if not self.sees_program(program_id):
            raise Forbidden(
                "you are signed in to another program; switch program first"
                if self.via == "session"
                else "this token is for another program"
            )

    def admin(self, program_id: str) -> None:
        self.program(program_id)
        if self.role != "admin":
            raise Forbidden("only a program admin may do this")

    def in_match(self, program_id: str, match_members: list[str]) -> None:
        """Admins; a facilitator who is a member of the match; a member of a pair (a match
        of exactly two members) they belong to: mentors and mentees book for themselves.
        A group stays with its facilitators and the admins (docs/rules.md, "Who may do
        what")."""
        self.program(program_id)
        if self.role == "admin":
            return
        if self.member_id in match_members and (
            self.role == "facilitator" or len(set(match_members)) == 2
        ):
            return
        raise Forbidden(
            "only the match's facilitator, its two members (a pair) or an admin may act "
            "on this match"
        )

    def sees_match(self, program_id: str, match_members: list[str]) -> None:
        """Admins and any member of the match (facilitator or member) may read it."""
        self.program(program_id)
        if self.role == "admin" or self.member_id in match_members:
            return
        raise Forbidden("this token may not see this match")

    def is_member(self, program_id: str, member_id: str) -> None:
        """Admins, or the member themselves."""
        self.program(program_id)
        if self.role == "admin" or self.member_id == member_id:
            return
        raise Forbidden("this token may only act for its own member")

    def visible_part(self, data: dict[str, Any]) -> dict[str, Any]:
        """What this principal may see of a program document (as ``store.document_data``
        reads it): all of it for an admin; for a facilitator or member, their own member,
        their matches, the other members of those (id, name and time zone only) and none
        of the document's bookings."""
        if self.role == "admin":
            return data
        mine = [x for x in data["matches"] if self.member_id in x["members"]]
        people = {self.member_id} | {m for x in mine for m in x["members"]}
        members = [
            m
            if m["id"] == self.member_id
            else {k: m[k] for k in ("id", "name", "timezone") if k in m}
            for m in data["members"]
            if m["id"] in people
        ]
        return {**data, "members": members, "matches": mine, "bookings": []}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _when(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def create_token(
    engine: Engine,
    role: str,
    program_id: str | None = None,
    member_id: str | None = None,
    label: str | None = None,
    expires_at: int | None = None,
) -> str:
    """A new API token (returned once, stored hashed); ``expires_at`` in epoch seconds."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    if role != "admin" and (program_id is None or member_id is None):
        raise Invalid(f"a {role} token needs --program and --member", field="member")
    token = API_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if program_id is not None and not program_exists(conn, program_id):
            raise NotFound(f'unknown program "{program_id}"', field="program")
        conn.execute(
            tokens.insert().values(
                id=secrets.token_hex(8),
                hash=_digest(token),
                role=role,
                program_id=program_id,
                member_id=member_id,
                label=label,
                created_at=now_epoch(),
                expires_at=expires_at,
            )
        )
    return token


def authenticate(engine: Engine, token: str | None) -> Principal:
    """The principal of an API token (from the Authorization header; never a feed token)."""
    if not token:
        raise Unauthorized(
            "sign in (POST /api/auth/link), or send an API token: Authorization: Bearer <token>"
        )
    if token.startswith(FEED_PREFIX):
        raise Unauthorized("a calendar feed token opens only its feed; send an API token")
    with engine.connect() as conn:
        row = conn.execute(
            select(
                tokens.c.id,
                tokens.c.role,
                tokens.c.program_id,
                tokens.c.member_id,
                tokens.c.expires_at,
            ).where(tokens.c.hash == _digest(token))
        ).first()
    if row is None:
        raise Unauthorized("unknown or revoked API token")
    if row.expires_at is not None and row.expires_at <= now_epoch():
        raise Unauthorized(
            f"this API token expired at {_when(row.expires_at)}; "
            "ask for a new one (slotwise token create)"
        )
    return Principal(row.role, row.program_id, row.member_id, row.id)


def list_tokens(engine: Engine) -> list[dict[str, Any]]:
    """Every API and feed token, oldest first: who it is for and when it ends, never the
    secret (only its hash is kept)."""
    with engine.connect() as conn:
        api = conn.execute(select(tokens).order_by(tokens.c.created_at, tokens.c.id)).all()
        feeds = conn.execute(select(feed_tokens).order_by(feed_tokens.c.created_at)).all()
    out = [
        {
            "id": r.id,
            "role": r.role,
            "program": r.program_id,
            "member": r.member_id,
            "label": r.label,
            "created": _when(r.created_at),
            "expires": _when(r.expires_at),
        }
        for r in api
    ]
    out += [
        {
            "id": r.id,
            "role": "feed",
            "program": r.program_id,
            "member": r.member_id,
            "label": None,
            "created": _when(r.created_at),
            "expires": None,
        }
        for r in feeds
    ]
    return sorted(out, key=lambda t: t["created"] or "")


def revoke_token(engine: Engine, key: str) -> bool:
    """Revoke an API or feed token given its id or the token itself; False if none."""
    digest = _digest(key)
    with engine.begin() as conn:
        hit = conn.execute(delete(tokens).where((tokens.c.id == key) | (tokens.c.hash == digest)))
        hit_feed = conn.execute(
            delete(feed_tokens).where((feed_tokens.c.id == key) | (feed_tokens.c.hash == digest))
        )
    return hit.rowcount + hit_feed.rowcount > 0


# --- calendar feed tokens ---------------------------------------------------------------


def _known_member(conn: Any, program_id: str, member_id: str) -> None:
    if not program_exists(conn, program_id):
        raise NotFound(f'unknown program "{program_id}"')
    found = conn.execute(
        select(members.c.id).where(
            (members.c.program_id == program_id) & (members.c.id == member_id)
        )
    ).first()
    if found is None:
        raise NotFound(f'unknown member "{member_id}"')


def issue_feed_token(engine: Engine, program_id: str, member_id: str) -> str:
    """A new feed token for the member, replacing (and so revoking) the one they had."""
    token = FEED_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        _known_member(conn, program_id, member_id)
        conn.execute(
            delete(feed_tokens).where(
                (feed_tokens.c.program_id == program_id) & (feed_tokens.c.member_id == member_id)
            )
        )
        conn.execute(
            feed_tokens.insert().values(
                program_id=program_id,
                member_id=member_id,
                id=secrets.token_hex(8),
                hash=_digest(token),
                created_at=now_epoch(),
            )
        )
    return token


def revoke_feed_token(engine: Engine, program_id: str, member_id: str) -> None:
    """The member's feed link stops working (nothing happens if they have none)."""
    with engine.begin() as conn:
        _known_member(conn, program_id, member_id)
        conn.execute(
            delete(feed_tokens).where(
                (feed_tokens.c.program_id == program_id) & (feed_tokens.c.member_id == member_id)
            )
        )


def feed_member(engine: Engine, token: str) -> tuple[str, str]:
    """(program, member) whose feed this feed token opens."""
    with engine.connect() as conn:
        row = conn.execute(
            select(feed_tokens.c.program_id, feed_tokens.c.member_id).where(
                feed_tokens.c.hash == _digest(token)
            )
        ).first()
    if row is None:
        raise Unauthorized("unknown or revoked calendar feed link")
    return row.program_id, row.member_id
