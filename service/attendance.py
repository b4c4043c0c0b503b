"""Who can come to the sessions still ahead of a booked series, read from everyone's
availability as it is now (a vacation added after booking shows here): the facilitator's
"who is missing where", and the column beside each session on a match's page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ingest.document import Frequency
from ingest.grid import from_epoch
from solver.errors import SolverError
from solver.proposals import requested_series

from .booking import series_members
from .cache import cached
from .store import sessions


def series_attendance(
    conn: Connection, program_id: str, series_id: str, now: datetime
) -> dict[str, Any]:
    """Per scheduled session of the series not yet over: who can come, who cannot and,
    where someone cannot, the start that week where everyone could."""
    row, _ = series_members(conn, program_id, series_id)
    ahead = conn.execute(
        select(sessions.c.id, sessions.c.start)
        .where(
            (sessions.c.series_id == series_id)
            & (sessions.c.status == "scheduled")
            & (sessions.c.end > int(now.timestamp()))
        )
        .order_by(sessions.c.start)
    ).all()
    out: dict[str, Any] = {"series": series_id, "match": row.match_id, "sessions": []}
    if not ahead or row.status != "scheduled":
        return out
    # Without booked sessions as busy time: the series' own sessions would be its members'
    # busy time, and a clash with another session is refused when booking or moving.
    doc = cached(conn).document(conn, program_id, row.match_id, now)
    frequency: Frequency = row.frequency
    try:
        planned = requested_series(
            doc,
            row.match_id,
            [from_epoch(s.start) for s in ahead],
            duration_minutes=row.duration_minutes,
            frequency=frequency,
        )
    except SolverError:
        # A session outside today's grid (the program's dates were changed): nothing to say.
        return out
    for s, o in zip(ahead, planned.occurrences, strict=True):
        item: dict[str, Any] = {
            "id": s.id,
            "start": from_epoch(s.start).isoformat(),
            "attending": list(o.attending),
            "missing": list(o.missing),
        }
        if o.alternative is not None:
            item["alternative"] = o.alternative.isoformat()
        out["sessions"].append(item)
    return out
