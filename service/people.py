"""Who an email address is: admins by email, and the principal a signed-in person has in
a program, derived afresh on every request so that removing someone takes effect at once.

An address is compared by its key (``ingest.text.email_key``: ``JÖRG@Example.DE`` is
``jörg@example.de``). In a program, an address is, in this order: a site admin (an
``admins`` row without a program), the program's admin (a row for it), or the member with
that address, a ``facilitator`` when they organize a match of the program and a
``member`` otherwise. Anyone else has no access.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from ingest.text import address_problem, email_key

from .auth import Principal
from .errors import Invalid, NotFound
from .store import admins, matches, members, now_epoch, program_exists, programs


def checked_email(email: str, field: str = "email") -> str:
    """``email`` trimmed, or Invalid naming ``field`` when it is no address."""
    email = email.strip()
    problem = address_problem(email)
    if problem is not None:
        raise Invalid(f"{field}: not an email address: {problem}", field=field)
    return email


def person_id(key: str) -> str:
    """A stable caller id for a person (scopes their Idempotency-Keys like a token id)."""
    return "person:" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _admin_programs(conn: Connection, key: str) -> tuple[bool, list[str]]:
    """(a site admin?, the programs they administer)."""
    rows = conn.execute(
        select(admins.c.program_id).where(admins.c.email_key == key).order_by(admins.c.created_at)
    ).scalars()
    found = list(rows)
    return None in found, list(dict.fromkeys(p for p in found if p is not None))


def _member(conn: Connection, key: str, program_id: str) -> tuple[str, dict[str, Any]] | None:
    """The first member (in document order) of the program with this address."""
    row = conn.execute(
        select(members.c.id, members.c.data)
        .where((members.c.program_id == program_id) & (members.c.email_key == key))
        .order_by(members.c.position)
        .limit(1)
    ).first()
    return None if row is None else (row.id, json.loads(row.data))


def organizes(conn: Connection, program_id: str, member_id: str) -> bool:
    """Whether the member is the organizer of any match of the program. Matches are JSON:
    the database narrows them by text and each candidate is read to be sure."""
    needle = '"organizer":' + json.dumps(member_id)
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(
        select(matches.c.data).where(
            (matches.c.program_id == program_id) & matches.c.data.like(f"%{escaped}%", escape="\\")
        )
    ).scalars()
    return any(json.loads(data).get("organizer") == member_id for data in rows)


def principal_for(
    conn: Connection, key: str, program_id: str | None, *, email: str, session_id: str
) -> Principal | None:
    """The principal of the address ``key`` in ``program_id`` (None: no program), or None
    when it has no identity there."""
    site, administered = _admin_programs(conn, key)
    me = _member(conn, key, program_id) if program_id is not None else None
    member_id = me[0] if me else None
    common: dict[str, Any] = {
        "token_id": person_id(key),
        "email": email,
        "session_id": session_id,
        "current_program": program_id,
    }
    if site:
        return Principal("admin", None, member_id, **common)
    if program_id is None:
        return None
    if program_id in administered:
        return Principal("admin", program_id, member_id, **common)
    if member_id is None:
        return None
    role = "facilitator" if organizes(conn, program_id, member_id) else "member"
    return Principal(role, program_id, member_id, **common)


def identities(conn: Connection, key: str) -> list[dict[str, Any]]:
    """Every program in which the address has an identity, admin rows first: ``program``,
    ``program_name``, ``role``, ``member`` and the member's ``name``."""
    site, administered = _admin_programs(conn, key)
    names = {
        r.id: json.loads(r.header).get("name")
        for r in conn.execute(select(programs.c.id, programs.c.header).order_by(programs.c.id))
    }
    rows = conn.execute(
        select(members.c.program_id, members.c.id, members.c.data)
        .where(members.c.email_key == key)
        .order_by(members.c.program_id, members.c.position)
    ).all()
    mine: dict[str, tuple[str, dict[str, Any]]] = {}
    for r in rows:
        mine.setdefault(r.program_id, (r.id, json.loads(r.data)))
    order = [*administered, *(names if site else []), *mine]
    out = []
    for pid in dict.fromkeys(order):
        if pid not in names:
            continue
        member_id, data = mine.get(pid, (None, {}))
        if site or pid in administered:
            role = "admin"
        else:
            role = "facilitator" if organizes(conn, pid, member_id or "") else "member"
        out.append(
            {
                "program": pid,
                "program_name": names[pid],
                "role": role,
                "member": member_id,
                "name": data.get("name"),
            }
        )
    return out


def recorded_address(conn: Connection, key: str) -> tuple[str, str | None] | None:
    """(the address as recorded, the member's name if any) of whoever has this key (an
    admin row first, then a member), or None for nobody. Mail goes to the recorded
    spelling, not to the one a request typed."""
    if not key:
        return None
    admin = conn.execute(
        select(admins.c.email).where(admins.c.email_key == key).order_by(admins.c.created_at)
    ).first()
    member = conn.execute(
        select(members.c.data).where(members.c.email_key == key).order_by(members.c.program_id)
    ).first()
    data = json.loads(member.data) if member is not None else {}
    name = data.get("name") if isinstance(data.get("name"), str) else None
    if admin is not None:
        return admin.email, name
    if member is not None and isinstance(data.get("email"), str):
        return data["email"], name
    return None


def member_name(conn: Connection, program_id: str | None, member_id: str | None) -> str | None:
    """The member's name, if they have one."""
    if program_id is None or member_id is None:
        return None
    data = conn.execute(
        select(members.c.data).where(
            (members.c.program_id == program_id) & (members.c.id == member_id)
        )
    ).scalar()
    name = json.loads(data).get("name") if data else None
    return name if isinstance(name, str) else None


def program_name(conn: Connection, program_id: str | None) -> str | None:
    """The program's name, if it has one (None for no program)."""
    if program_id is None:
        return None
    header = conn.execute(select(programs.c.header).where(programs.c.id == program_id)).scalar()
    name = json.loads(header).get("name") if header else None
    return name if isinstance(name, str) else None


# --- admins by email --------------------------------------------------------------------


def _admin_row(r: Any) -> dict[str, Any]:
    return {"email": r.email, "program": r.program_id, "created_at": r.created_at}


def _admin_where(key: str, program_id: str | None) -> Any:
    program = (
        admins.c.program_id.is_(None) if program_id is None else admins.c.program_id == program_id
    )
    return (admins.c.email_key == key) & program


def add_admin(
    engine: Engine, email: str, program_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Make ``email`` an admin of the program (None: a site admin); idempotent. (the
    row, whether it was created)."""
    email = checked_email(email)
    key = email_key(email)
    with engine.begin() as conn:
        if program_id is not None and not program_exists(conn, program_id):
            raise NotFound(f'unknown program "{program_id}"', field="program")
        found = conn.execute(select(admins).where(_admin_where(key, program_id))).first()
        if found is not None:
            return _admin_row(found), False
        now = now_epoch()
        conn.execute(
            admins.insert().values(
                email_key=key, program_id=program_id, email=email, created_at=now
            )
        )
    return {"email": email, "program": program_id, "created_at": now}, True


def list_admins(
    engine: Engine, program_id: str | None = None, *, every: bool = False
) -> list[dict[str, Any]]:
    """The admins of the program (None: the site admins; ``every``: all rows, site admins
    first, then by program), oldest first."""
    q = select(admins).order_by(admins.c.created_at, admins.c.email_key)
    if not every:
        q = q.where(
            admins.c.program_id.is_(None)
            if program_id is None
            else admins.c.program_id == program_id
        )
    with engine.connect() as conn:
        if program_id is not None and not program_exists(conn, program_id):
            raise NotFound(f'unknown program "{program_id}"', field="program")
        rows = [_admin_row(r) for r in conn.execute(q)]
    # Site admins first, then by program (NULLs sort differently per database).
    return sorted(rows, key=lambda a: (a["program"] is not None, a["program"] or ""))


def remove_admin(engine: Engine, email: str, program_id: str | None = None) -> bool:
    """``email`` is no longer an admin of the program (None: of the site); False when it
    was not one. Takes effect on their next request."""
    where = _admin_where(email_key(email.strip()), program_id)
    with engine.begin() as conn:
        return conn.execute(delete(admins).where(where)).rowcount > 0
