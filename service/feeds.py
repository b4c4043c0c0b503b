"""Members' calendar feeds: every series a member attends, as one subscribable calendar."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from .errors import NotFound
from .invites import feed_calendar
from .notify import invite_series
from .store import PENDING, members_data, program_row, series, session_members, sessions


def member_feed(conn: Connection, program_id: str, member_id: str, name: str) -> bytes:
    """Every series of one member as a subscribable feed: the same recurring events, with
    the same UIDs, as the invites (cancelled sessions and series marked so)."""
    ids = conn.execute(
        select(sessions.c.series_id, series.c.first_start)
        .join(session_members, session_members.c.session_id == sessions.c.id)
        .join(series, series.c.id == sessions.c.series_id)
        .where(
            (session_members.c.program_id == program_id)
            & (session_members.c.member_id == member_id)
            & (series.c.status != PENDING)
        )  # a plan still being applied
        .distinct()
        .order_by(series.c.first_start, sessions.c.series_id)
    ).all()
    return feed_calendar(
        f"slotwise: {name}", [invite_series(conn, program_id, r.series_id) for r in ids]
    )


def member_calendar(engine: Engine, program_id: str, member_id: str) -> bytes:
    """:func:`member_feed` of a member given by id (NotFound if there is none)."""
    with engine.connect() as conn:
        found = members_data(conn, program_id, {member_id})
        if not found:
            program_row(conn, program_id)  # an unknown program is named before the member
            raise NotFound(f'unknown member "{member_id}"')
        return member_feed(conn, program_id, member_id, found[0].get("name") or member_id)
