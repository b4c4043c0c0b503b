"""Program documents as the service keeps them, and as the solver needs them.

The stored document is what was sent (members, matches, the document's own bookings).
For heat maps, proposals and plans the service adds what it knows besides: sessions it
has booked (busy time for their members), the busy time read from members' calendars
when they were uploaded, and the current time when the program does not fix ``now``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, select

from ingest.availability import program_grid
from ingest.document import CalendarSource, Match, ProgramDocument, check_entered, parse_program
from ingest.errors import DocumentError
from ingest.grid import from_epoch

from .config import Settings
from .errors import Conflict, Invalid, NotFound
from .store import (
    active_busy,
    count_rows,
    document_data,
    insert_match,
    insert_program,
    locked,
    matches_data,
    members_and_busy,
    members_data,
    program_row,
    stored_busy,
    upsert_member,
)
from .store import matches as matches_table
from .store import members as members_table
from .store import sessions as sessions_table
from .uploads import needs_network, read_busy


def validated(data: dict[str, Any], focus: str | None = None) -> ProgramDocument:
    """Parse a whole document; a problem becomes Invalid naming the field. With ``focus``
    (e.g. ``members[3]``, the object a request replaced) paths are relative to it, and
    only that object's names, addresses and texts are checked as new: the rest is the
    stored document, which an older version may have let hold what is refused today."""
    try:
        if focus is None:
            return parse_program(data)
        kind, index = _focus(focus)
        check_entered(kind, data[kind][index], focus)
        return parse_program(data, stored=True)
    except DocumentError as exc:
        errors = [{"field": _relative(e.path, focus), "message": e.message} for e in exc.errors]
        first = errors[0]
        raise Invalid(
            f"{first['field']}: {first['message']}" if first["field"] else first["message"],
            field=first["field"],
            details={"errors": errors},
        ) from None


def _focus(focus: str) -> tuple[Literal["members", "matches"], int]:
    kind, _, index = focus.rstrip("]").partition("[")
    if kind == "members":
        return "members", int(index)
    assert kind == "matches", focus
    return "matches", int(index)


def _relative(path: str, focus: str | None) -> str:
    if focus and path.startswith(focus + "."):
        return path[len(focus) + 1 :]
    return "" if focus and path == focus else path


def stored_document(conn: Connection, program_id: str) -> ProgramDocument:
    return parse_program(document_data(conn, program_id), stored=True)


def solving_document(
    conn: Connection,
    program_id: str,
    now: datetime | None = None,
    match: str | None = None,
    sessions: bool = True,
    ignore: str | None = None,
    clock: bool = True,
    member: str | None = None,
    whole: ProgramBookings | None = None,
) -> ProgramDocument:
    """The stored document plus booked sessions (unless ``sessions`` is false: bookings
    check those themselves; session ``ignore`` is left out, as when it is being moved),
    fetched calendars and ``now`` (the program's own, else ``now``, else the clock; with
    ``clock`` false a program without one is left without, as the cache keeps it).

    With ``match``, only the part of the program that match needs: its members, the
    bookings and sessions that touch them, and the matches those belong to (with their
    members, so the document stays whole). A heat map, proposals or a booking then costs
    the same in a program of ten matches as in one of ten thousand. With ``member``
    instead, the part one member needs (their free/busy): the member, the bookings and
    sessions that touch them, and the matches those belong to. ``whole``: the program's
    :func:`program_bookings`, when the caller already holds them (they change only with
    the program itself).
    """
    if match is not None:
        data, focus = _match_data(conn, program_id, match, whole)
    elif member is not None:
        data, focus = _member_data(conn, program_id, member)
    else:
        data = document_data(conn, program_id)
        focus = None
    booked: dict[tuple[str, str, int, int], list[str]] = defaultdict(list)
    for member, start, end, session, x in active_busy(conn, program_id, focus) if sessions else []:
        if session != ignore:
            booked[session, x, start, end].append(member)
    for (_, x, start, end), who in booked.items():
        data["bookings"].append(
            {
                "match": x,
                "members": sorted(who),
                "start": from_epoch(start).isoformat(),
                "end": from_epoch(end).isoformat(),
            }
        )
    busy = (
        stored_busy(conn, program_id) if focus is None else _complete(conn, program_id, data, focus)
    )
    _calendars_as_busy(data, busy)
    if clock and data["program"].get("now") is None:
        data["program"]["now"] = (now or datetime.now(UTC)).isoformat()
    return parse_program(data, stored=True)


def _calendars_as_busy(
    data: dict[str, Any], stored: dict[str, list[list[int]] | dict[str, str]]
) -> None:
    """Put each member's calendar busy time, read at upload, in place of its calendars
    (as ``unavailable`` intervals: SPEC 2 subtracts both the same way, rounding outward)."""
    for m in data["members"]:
        got = stored.get(m["id"], {})
        if isinstance(got, dict):  # stored before busy time was kept: read the copies
            if needs_network(m, got):
                raise Invalid(
                    f'a calendar of member "{m["id"]}" was stored without being '
                    "fetched; upload it again (PUT its calendar)",
                    field="calendars",
                )
            m["calendars"] = [
                {"ics_text": got[c["ics_url"]]} if c.get("ics_url") in got else c
                for c in m.get("calendars", [])
            ]
            continue
        m["calendars"] = []
        m["unavailable"] = [
            *m.get("unavailable", []),
            *(
                {"start": from_epoch(s).isoformat(), "end": from_epoch(e).isoformat()}
                for s, e in got
            ),
        ]


@dataclass(frozen=True)
class ProgramBookings:
    """The program's header and its document's own bookings, each with the members it
    books (a booking without members books every member of its match): what every match
    part reads, the same for all of them while no member or match changes (the
    availability cache reads it once per roster stamp)."""

    header: str  # JSON text, as stored
    bookings: tuple[tuple[dict[str, Any], frozenset[str]], ...]


def program_bookings(conn: Connection, program_id: str) -> ProgramBookings:
    row = program_row(conn, program_id)
    bookings = json.loads(row.bookings)
    whole = matches_data(conn, program_id, {b["match"] for b in bookings if not b.get("members")})
    return ProgramBookings(
        row.header,
        tuple(
            (b, frozenset(b.get("members") or whole.get(b["match"], {}).get("members", [])))
            for b in bookings
        ),
    )


def _match_data(
    conn: Connection, program_id: str, match_id: str, whole: ProgramBookings | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The program header, one match, its members and the document bookings touching
    them; the bookings' other matches are added by :func:`_complete`."""
    whole = whole or program_bookings(conn, program_id)
    match = matches_data(conn, program_id, {match_id}).get(match_id)
    if match is None:
        raise NotFound(f'unknown match "{match_id}"')
    focus = list(match["members"])
    # Copies: the caller's bookings are shared, and the document built here is its own.
    touching = [dict(b) for b, booked in whole.bookings if booked.intersection(focus)]
    data = {
        "version": 1,
        "program": json.loads(whole.header),
        "members": [],
        "matches": [match],
        "bookings": touching,
    }
    return data, focus


def _member_data(
    conn: Connection, program_id: str, member_id: str
) -> tuple[dict[str, Any], list[str]]:
    """The program header and the document bookings touching one member (no match: the
    bookings' matches are added by :func:`_complete`)."""
    row = program_row(conn, program_id)
    if not members_data(conn, program_id, {member_id}):
        raise NotFound(f'unknown member "{member_id}"')
    bookings = json.loads(row.bookings)
    whole = matches_data(conn, program_id, {b["match"] for b in bookings if not b.get("members")})
    touching = [
        b
        for b in bookings
        if member_id in (b.get("members") or whole.get(b["match"], {}).get("members", []))
    ]
    data = {
        "version": 1,
        "program": json.loads(row.header),
        "members": [],
        "matches": [],
        "bookings": touching,
    }
    return data, [member_id]


def _complete(
    conn: Connection, program_id: str, data: dict[str, Any], focus: list[str]
) -> dict[str, list[list[int]] | dict[str, str]]:
    """Add the matches the bookings name and every member those matches list (and the
    members of ``focus``, who may be in none of them); the members' stored busy time
    (``stored_busy``), read with them."""
    have = {x["id"] for x in data["matches"]}
    data["matches"] += matches_data(
        conn, program_id, {b["match"] for b in data["bookings"]} - have
    ).values()
    wanted = {m for x in data["matches"] for m in x["members"]}
    wanted |= {m for b in data["bookings"] for m in b.get("members") or []}
    data["members"], busy = members_and_busy(conn, program_id, wanted | set(focus))
    return busy


def document_now(doc: ProgramDocument) -> datetime:
    """The instant before which nothing may be booked: the document's ``now`` (always set
    by :func:`solving_document`)."""
    return doc.program.now_instant()


def find_match(doc: ProgramDocument, match_id: str) -> Match:
    try:
        return doc.match(match_id)
    except KeyError:
        raise NotFound(f'unknown match "{match_id}"') from None


def find_member_index(data: dict[str, Any], member_id: str) -> int | None:
    return next((i for i, m in enumerate(data["members"]) if m["id"] == member_id), None)


# --- storing what a request sends ------------------------------------------------------


def store_program(engine: Engine, doc: ProgramDocument, busy: dict[str, list[list[int]]]) -> None:
    """Store a validated program document and its members' calendar busy time."""
    with engine.begin() as conn:
        insert_program(conn, doc.model_dump(mode="json", exclude_none=True), busy)


def member_document(
    engine: Engine, program_id: str, member: dict[str, Any]
) -> tuple[ProgramDocument, int]:
    """The program document with ``member`` put in (validated), and the member's index."""
    with engine.connect() as conn:
        data = document_data(conn, program_id)
    i = find_member_index(data, member["id"])
    if i is None:
        data["members"].append(member)
        i = len(data["members"]) - 1
    else:
        data["members"][i] = member
    return validated(data, focus=f"members[{i}]"), i


def session_match(conn: Connection, program_id: str, session_id: str) -> str | None:
    """The match a booked session belongs to (None for no such session)."""
    found: str | None = conn.execute(
        select(sessions_table.c.match_id).where(
            (sessions_table.c.program_id == program_id) & (sessions_table.c.id == session_id)
        )
    ).scalar()
    return found


def stored_email_key(engine: Engine, program_id: str, member_id: str) -> str | None:
    """The stored member's address key (``ingest.text.email_key``; "" without one), None
    for a member not stored yet."""
    with engine.connect() as conn:
        key: str | None = conn.execute(
            select(members_table.c.email_key).where(
                (members_table.c.program_id == program_id) & (members_table.c.id == member_id)
            )
        ).scalar()
    return key


def store_member(
    engine: Engine,
    settings: Settings,
    program_id: str,
    stored: dict[str, Any],
    busy: list[list[int]],
) -> bool:
    """Create or replace one member (validated) and its busy time, within the program's
    member limit; True if it was created."""
    with locked(engine, program_id) as conn:
        if not members_data(conn, program_id, {stored["id"]}):
            within_limit(conn, members_table, program_id, settings.max_members, "members")
        return upsert_member(conn, program_id, stored, busy)


def store_match(engine: Engine, settings: Settings, program_id: str, match: dict[str, Any]) -> str:
    """Add a new match (validated) to the program, within its match limit; its id."""
    with locked(engine, program_id) as conn:
        within_limit(conn, matches_table, program_id, settings.max_matches, "matches")
        data = document_data(conn, program_id)
        if any(x["id"] == match.get("id") for x in data["matches"]):
            raise Conflict(f'match "{match.get("id")}" already exists', field="id")
        data["matches"].append(match)
        # Errors name the match's own fields, not its place in the stored document.
        doc = validated(data, focus=f"matches[{len(data['matches']) - 1}]")
        new = doc.matches[-1]
        insert_match(conn, program_id, new.model_dump(mode="json", exclude_none=True))
    return new.id


def program_size_within_limits(doc: ProgramDocument, settings: Settings) -> None:
    """Refuse a new program with more members or matches than the settings allow."""
    if len(doc.members) > settings.max_members or len(doc.matches) > settings.max_matches:
        raise Invalid(
            f"at most {settings.max_members} members and {settings.max_matches} matches "
            "per program",
            field="members",
        )


def within_limit(conn: Connection, table: Any, program_id: str, limit: int, what: str) -> None:
    """Refuse one more member or match past the program's limit (checked under the
    program's lock, so concurrent additions cannot pass it together)."""
    if count_rows(conn, table, program_id) >= limit:
        raise Invalid(
            f"at most {limit} {what} per program; this program has {limit} (setting max_{what})",
            field="id",
        )


def member_program(engine: Engine, program_id: str, member_id: str) -> ProgramDocument:
    """The stored program document, checked to have the member."""
    with engine.connect() as conn:
        doc = stored_document(conn, program_id)
    if member_id not in {m.id for m in doc.members}:
        raise NotFound(f'unknown member "{member_id}"')
    return doc


def store_calendar(
    engine: Engine,
    doc: ProgramDocument,
    program_id: str,
    member_id: str,
    source: dict[str, Any],
    fetched: dict[str, str],
) -> dict[str, Any]:
    """Make ``source`` the member's only calendar and store its busy time (read now, from
    ``fetched`` for a URL); what ``PUT …/calendar`` answers."""
    busy = read_busy(
        [CalendarSource(**source)], fetched, doc.member_zone(member_id), program_grid(doc)
    )
    with locked(engine, program_id) as conn:
        data = document_data(conn, program_id)
        i = find_member_index(data, member_id)
        if i is None:  # removed meanwhile
            raise NotFound(f'unknown member "{member_id}"')
        data["members"][i]["calendars"] = [source]
        upsert_member(conn, program_id, data["members"][i], busy)
    return {
        "member": member_id,
        "busy_intervals": len(busy),
        **({"ics_url": source["ics_url"]} if "ics_url" in source else {}),
    }
