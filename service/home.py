"""What a person's home page shows: their matches with the state of each one's series, the
next sessions, and for an admin the program's counts. One compact answer per page, with
what the caller may do on each match decided here by the same rules the API applies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from ingest.grid import from_epoch

from .auth import Principal
from .errors import Forbidden
from .store import (
    PENDING,
    count_rows,
    jobs,
    matches,
    members_data,
    program_row,
    series,
    session_members,
    sessions,
)

# Series in these states take the members' time; a match that has one is booked.
LIVE = ("scheduled",)
UPCOMING = 8


def home(
    conn: Connection,
    who: Principal,
    program_id: str,
    now: datetime,
    offset: int,
    limit: int,
    match_id: str | None = None,
) -> dict[str, Any]:
    """The caller's home in ``program_id``: matches (all of them, a page at a time, for an
    admin; their own otherwise; only ``match_id`` when given), each with its live series,
    and the next sessions."""
    header = json.loads(program_row(conn, program_id).header)
    mine = who.role != "admin"
    rows = _match_rows(conn, program_id, who.member_id if mine else None, match_id)
    total = len(rows)
    page = rows if mine else rows[offset : offset + limit]
    people = {m for x in page for m in x["members"]}
    names = {m["id"]: m for m in members_data(conn, program_id, people)}
    live = _live_series(conn, program_id, [x["id"] for x in page], now)
    out: dict[str, Any] = {
        "program": {
            "id": program_id,
            "name": header.get("name"),
            "timezone": header["timezone"],
            "now": now.isoformat(),
        },
        "role": who.role,
        "member": who.member_id,
        "matches": [_match(who, program_id, x, names, live.get(x["id"])) for x in page],
        "total": total,
        "offset": 0 if mine else offset,
        "upcoming": _upcoming(conn, program_id, who.member_id if mine else None, now),
    }
    if not mine:
        out["counts"] = _counts(conn, program_id)
        out["last_plan"] = _last_plan(conn, program_id)
    return out


def _match_rows(
    conn: Connection, program_id: str, member_id: str | None, match_id: str | None
) -> list[dict[str, Any]]:
    q = select(matches.c.data).where(matches.c.program_id == program_id)
    if match_id is not None:
        q = q.where(matches.c.id == match_id)
    if member_id is not None:
        # A cheap filter in the database; the exact test is below.
        q = q.where(matches.c.data.contains(json.dumps(member_id)))
    rows = [json.loads(d) for d in conn.execute(q.order_by(matches.c.position)).scalars()]
    return [x for x in rows if member_id is None or member_id in x["members"]]


def _may(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except Forbidden:
        return False
    return True


def _match(
    who: Principal,
    program_id: str,
    x: dict[str, Any],
    names: dict[str, dict[str, Any]],
    live: dict[str, Any] | None,
) -> dict[str, Any]:
    def person(mid: str) -> dict[str, Any]:
        m = names.get(mid, {})
        return {"id": mid, "name": m.get("name") or mid, "timezone": m.get("timezone")}

    return {
        "id": x["id"],
        "kind": "pair" if len(x["members"]) == 2 else "group",
        "members": [person(m) for m in x["members"]],
        "organizer": x.get("organizer") or x["members"][0],
        "duration_minutes": x.get("duration_minutes", 60),
        "frequency": x.get("frequency", "weekly"),
        "sessions": x.get("sessions", 1),
        "conferencing": x.get("conferencing") or {},
        "agenda": x.get("agenda"),
        "can_book": _may(who.in_match, program_id, list(x["members"])),
        "series": live,
    }


def _live_series(
    conn: Connection, program_id: str, match_ids: list[str], now: datetime
) -> dict[str, dict[str, Any]]:
    """Per match, its newest live series: when it runs, how far it has got, what is next."""
    if not match_ids:
        return {}
    rows = conn.execute(
        select(series)
        .where(
            (series.c.program_id == program_id)
            & series.c.match_id.in_(match_ids)
            & series.c.status.in_(LIVE)
        )
        .order_by(series.c.created_at)
    ).all()
    newest = {r.match_id: r for r in rows}  # later rows win
    if not newest:
        return {}
    occ = conn.execute(
        select(
            sessions.c.series_id, sessions.c.id, sessions.c.start, sessions.c.end, sessions.c.status
        )
        .where(sessions.c.series_id.in_([r.id for r in newest.values()]))
        .order_by(sessions.c.start)
    ).all()
    at = int(now.timestamp())
    out = {}
    for mid, r in newest.items():
        mine = [o for o in occ if o.series_id == r.id]
        nxt = next((o for o in mine if o.status == "scheduled" and o.end > at), None)
        out[mid] = {
            "id": r.id,
            "status": r.status,
            "frequency": r.frequency,
            "timezone": r.timezone,
            "duration_minutes": r.duration_minutes,
            "first_start": from_epoch(r.first_start).isoformat(),
            "done": sum(o.status == "completed" for o in mine),
            "planned": sum(o.status != "cancelled" for o in mine),
            "next": None
            if nxt is None
            else {
                "id": nxt.id,
                "start": from_epoch(nxt.start).isoformat(),
                "end": from_epoch(nxt.end).isoformat(),
            },
        }
    return out


def _upcoming(
    conn: Connection, program_id: str, member_id: str | None, now: datetime
) -> list[dict[str, Any]]:
    """The next sessions not yet over: the member's own, or the program's for an admin."""
    q = (
        select(
            sessions.c.id,
            sessions.c.series_id,
            sessions.c.match_id,
            sessions.c.start,
            sessions.c.end,
            sessions.c.status,
        )
        .join(series, series.c.id == sessions.c.series_id)
        .where(
            (sessions.c.program_id == program_id)
            & (sessions.c.end > int(now.timestamp()))
            & (sessions.c.status == "scheduled")
            & series.c.status.in_(LIVE)
        )
    )
    if member_id is not None:
        q = q.join(session_members, session_members.c.session_id == sessions.c.id).where(
            (session_members.c.member_id == member_id) & (session_members.c.active == 1)
        )
    rows = conn.execute(q.order_by(sessions.c.start).limit(UPCOMING)).all()
    return [
        {
            "id": r.id,
            "series": r.series_id,
            "match": r.match_id,
            "start": from_epoch(r.start).isoformat(),
            "end": from_epoch(r.end).isoformat(),
        }
        for r in rows
    ]


def _counts(conn: Connection, program_id: str) -> dict[str, int]:
    """How many matches the program has and how many of them have a live series."""
    total = count_rows(conn, matches, program_id)
    booked = conn.execute(
        select(func.count(func.distinct(series.c.match_id))).where(
            (series.c.program_id == program_id)
            & series.c.status.in_(LIVE)
            & (series.c.status != PENDING)
        )
    ).scalar_one()
    return {"matches": total, "booked": booked, "not_booked": total - booked}


# How many of the last plan's unplanned matches the admin's home lists.
UNPLANNED = 50


def _last_plan(conn: Connection, program_id: str) -> dict[str, Any] | None:
    """The newest finished batch plan: when, how many matches it planned, whether it was
    applied, and the matches it could not plan, each with the reason."""
    row = conn.execute(
        select(jobs.c.id, jobs.c.result, jobs.c.applied, jobs.c.updated_at)
        .where((jobs.c.program_id == program_id) & (jobs.c.status == "done"))
        .order_by(jobs.c.created_at.desc())
        .limit(1)
    ).first()
    if row is None or row.result is None:
        return None
    plan = json.loads(row.result)
    unplanned = plan.get("unscheduled", [])
    return {
        "job": row.id,
        "finished": from_epoch(row.updated_at).isoformat(),
        "applied": bool(row.applied),
        "planned": len(plan.get("series", [])),
        "unplanned": len(unplanned),
        "unscheduled": unplanned[:UNPLANNED],
    }
