"""API tokens and who may do what.

Tokens are random and shown once; the database keeps only their SHA-256. Roles:
``admin`` manages a program (or every program when the token names none),
``facilitator`` sees and books the matches they belong to, ``member`` edits only their
own availability and sees their own sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select

from .errors import Forbidden, Invalid, NotFound, Unauthorized
from .store import now_epoch, program_exists, tokens

ROLES = ("admin", "facilitator", "member")


@dataclass(frozen=True)
class Principal:
    role: str
    program_id: str | None
    member_id: str | None
    # Which token is calling: scopes what the caller's requests may share (Idempotency-Key).
    token_id: str | None = None

    @property
    def site_admin(self) -> bool:
        return self.role == "admin" and self.program_id is None

    def program(self, program_id: str) -> None:
        """Refuse any program but the token's own."""
        if self.program_id is not None and self.program_id != program_id:
            raise Forbidden("this token is for another program")

    def admin(self, program_id: str) -> None:
        self.program(program_id)
        if self.role != "admin":
            raise Forbidden("only a program admin may do this")

    def in_match(self, program_id: str, match_members: list[str]) -> None:
        """Admins, or a facilitator who is a member of the match."""
        self.program(program_id)
        if self.role == "admin":
            return
        if self.role == "facilitator" and self.member_id in match_members:
            return
        raise Forbidden("this token may not act on this match")

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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: Engine, role: str, program_id: str | None = None,
                 member_id: str | None = None, label: str | None = None) -> str:
    """A new token (returned once, stored hashed)."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    if role != "admin" and (program_id is None or member_id is None):
        raise Invalid(f"a {role} token needs --program and --member", field="member")
    token = "sw_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if program_id is not None and not program_exists(conn, program_id):
            raise NotFound(f'unknown program "{program_id}"', field="program")
        conn.execute(tokens.insert().values(
            id=secrets.token_hex(8), hash=_digest(token), role=role, program_id=program_id,
            member_id=member_id, label=label, created_at=now_epoch()))
    return token


def authenticate(engine: Engine, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("an API token is required: Authorization: Bearer <token>")
    with engine.connect() as conn:
        row = conn.execute(select(tokens.c.id, tokens.c.role, tokens.c.program_id,
                                  tokens.c.member_id)
                           .where(tokens.c.hash == _digest(token))).first()
    if row is None:
        raise Unauthorized("unknown or revoked API token")
    return Principal(row.role, row.program_id, row.member_id, row.id)
