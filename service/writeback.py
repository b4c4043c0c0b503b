"""Members' CalDAV calendars that booked series are written into: the connection (URL,
user, password, status) and what each calendar is owed.

A change to a series marks, in the change's own (locked) transaction, one row per
connected member of it (``caldav_writes``: ``wanted`` goes up); the background sender
writes the series as it is by then (service/caldav_write.py) and records the ``wanted``
it wrote. The password is stored as given and never shown: an API answer has the URL,
the user name and the state of the writes only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from .errors import NotFound
from .store import (
    PENDING,
    caldav_links,
    caldav_writes,
    locked,
    members_data,
    now_epoch,
    program_row,
    series,
    session_members,
    sessions,
)

OK, GONE, UNAUTHORISED = "ok", "gone", "unauthorised"
DISCONNECTED = "disconnected"  # no connection: what GET answers then


def public(conn: Connection, program_id: str, member_id: str) -> dict[str, Any]:
    """The member's connection as the API shows it (never the password); status
    ``disconnected`` when there is none (NotFound for an unknown member)."""
    link = conn.execute(select(caldav_links).where(_link(program_id, member_id))).one_or_none()
    if link is None:
        if not members_data(conn, program_id, {member_id}):
            program_row(conn, program_id)  # an unknown program is named before the member
            raise NotFound(f'unknown member "{member_id}"')
        return {
            "member": member_id,
            "url": None,
            "user": None,
            "status": DISCONNECTED,
            "last_error": None,
            "last_write": None,
            "pending": 0,
        }
    owed = conn.execute(
        select(func.count())
        .select_from(caldav_writes)
        .where(_rows(program_id, member_id) & (caldav_writes.c.wanted > caldav_writes.c.done))
    ).scalar_one()
    return {
        "member": member_id,
        "url": link.url,
        "user": link.username,
        "status": link.status,
        "last_error": link.last_error,
        "last_write": _iso(link.last_write_at),
        "pending": int(owed),
    }


def connect(
    engine: Engine, program_id: str, member_id: str, url: str, user: str, password: str
) -> dict[str, Any]:
    """Store the member's connection (its collection was probed by the caller) and owe
    their calendar every series they are in: reconnecting resumes the writes. Written
    events are found again by their href; after the collection was gone, or at another
    URL, they are written afresh (a copy already there is merged, not duplicated)."""
    # Under the program's lock (a short database write, nothing else): a booking marking
    # the same member's rows at the same moment waits, and then finds them.
    with locked(engine, program_id) as conn:
        if not members_data(conn, program_id, {member_id}):
            raise NotFound(f'unknown member "{member_id}"')
        before = conn.execute(
            select(caldav_links.c.url, caldav_links.c.status).where(_link(program_id, member_id))
        ).one_or_none()
        values = {
            "url": url,
            "username": user,
            "password": password,
            "status": OK,
            "last_error": None,
        }
        if before is None:
            conn.execute(
                insert(caldav_links).values(
                    program_id=program_id, member_id=member_id, created_at=now_epoch(), **values
                )
            )
        else:
            conn.execute(update(caldav_links).where(_link(program_id, member_id)).values(**values))
        if before is not None and (before.url != url or before.status == GONE):
            # A write under way to the old calendar is no longer the writer's (its claim
            # goes): what it learns there is not recorded, and the row is written afresh.
            conn.execute(
                update(caldav_writes)
                .where(_rows(program_id, member_id))
                .values(href=None, etag=None, removed=0, claim=None, claimed_at=None)
            )
        mark_member(conn, program_id, member_id)
        return public(conn, program_id, member_id)


def disconnect(engine: Engine, program_id: str, member_id: str) -> None:
    """Forget the connection and what was owed to it; events already written stay in the
    member's calendar. NotFound when there was none."""
    with locked(engine, program_id) as conn:
        gone = conn.execute(caldav_links.delete().where(_link(program_id, member_id))).rowcount
        if not gone:
            raise NotFound(f'member "{member_id}" has no CalDAV calendar connected')
        conn.execute(caldav_writes.delete().where(_rows(program_id, member_id)))


def mark(conn: Connection, program_id: str, series_id: str) -> None:
    """In the caller's transaction: the series changed, so every connected member's
    calendar is owed it as it is now (a member who left it: its removal)."""
    row = conn.execute(
        select(series.c.members, series.c.uid).where(series.c.id == series_id)
    ).one_or_none()
    if row is None:
        bump(conn, series_id)
        return
    linked = (
        conn.execute(
            select(caldav_links.c.member_id).where(
                (caldav_links.c.program_id == program_id)
                & caldav_links.c.member_id.in_(json.loads(row.members))
            )
        )
        .scalars()
        .all()
    )
    _owe(conn, program_id, series_id, row.uid, list(linked))
    bump(conn, series_id)


def mark_plan(conn: Connection, job_id: str) -> None:
    """:func:`mark` for every series a plan's apply shows now (``PENDING`` until its last
    transaction, which calls this). Nothing to do, and one query, when nobody in the
    program has connected a calendar."""
    hidden = (series.c.plan_job == job_id) & (series.c.status == PENDING)
    program_ids = conn.execute(select(series.c.program_id).where(hidden).limit(1)).scalars().all()
    if not program_ids:
        return
    linked = set(
        conn.execute(
            select(caldav_links.c.member_id).where(caldav_links.c.program_id == program_ids[0])
        )
        .scalars()
        .all()
    )
    if not linked:
        return
    for row in conn.execute(select(series.c.id, series.c.uid, series.c.members).where(hidden)):
        owed = [m for m in json.loads(row.members) if m in linked]
        _owe(conn, program_ids[0], row.id, row.uid, owed)


def mark_member(conn: Connection, program_id: str, member_id: str) -> None:
    """Owe a member's calendar every series they are in (on connecting)."""
    found = conn.execute(
        select(series.c.id, series.c.uid)
        .where(
            series.c.id.in_(
                select(sessions.c.series_id)
                .join(session_members, session_members.c.session_id == sessions.c.id)
                .where(
                    (session_members.c.program_id == program_id)
                    & (session_members.c.member_id == member_id)
                )
            )
            & (series.c.status != PENDING)
        )
        .order_by(series.c.first_start)
    ).all()
    for row in found:
        _owe(conn, program_id, row.id, row.uid, [member_id])
        conn.execute(
            update(caldav_writes)
            .where(_rows(program_id, member_id) & (caldav_writes.c.series_id == row.id))
            .values(wanted=caldav_writes.c.wanted + 1, attempts=0, due_at=None)
        )


def bump(conn: Connection, series_id: str) -> None:
    """Every calendar that holds or is owed the series is owed its state now (and is tried
    at once, however many times it failed before)."""
    conn.execute(
        update(caldav_writes)
        .where(caldav_writes.c.series_id == series_id)
        .values(wanted=caldav_writes.c.wanted + 1, attempts=0, due_at=None, last_error=None)
    )


def _owe(
    conn: Connection, program_id: str, series_id: str, uid: str, member_ids: list[str]
) -> None:
    """A row, owed a write, for each of ``member_ids`` that has none for the series yet."""
    if not member_ids:
        return
    have = set(
        conn.execute(
            select(caldav_writes.c.member_id).where(
                (caldav_writes.c.series_id == series_id)
                & (caldav_writes.c.program_id == program_id)
            )
        )
        .scalars()
        .all()
    )
    new = [
        {
            "program_id": program_id,
            "member_id": m,
            "series_id": series_id,
            "uid": uid,
            "wanted": 1,
            "done": 0,
            "removed": 0,
            "attempts": 0,
        }
        for m in dict.fromkeys(member_ids)
        if m not in have
    ]
    if new:
        conn.execute(insert(caldav_writes), new)


def _link(program_id: str, member_id: str) -> Any:
    return (caldav_links.c.program_id == program_id) & (caldav_links.c.member_id == member_id)


def _rows(program_id: str, member_id: str) -> Any:
    return (caldav_writes.c.program_id == program_id) & (caldav_writes.c.member_id == member_id)


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()
