"""Program documents as the service keeps them, and as the solver needs them.

The stored document is what was sent (members, matches, the document's own bookings).
For heat maps, proposals and plans the service adds what it knows besides: sessions it
has booked (busy time for their members), snapshots of fetched calendar URLs, and the
current time when the program does not fix ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from ingest.document import Match, ProgramDocument, parse_program
from ingest.errors import DocumentError
from ingest.grid import as_instant, from_epoch

from .errors import Invalid, NotFound
from .store import active_busy, document_data, fetched_calendars


def validated(data: dict[str, Any], focus: str | None = None) -> ProgramDocument:
    """Parse a whole document; a problem becomes Invalid naming the field. With ``focus``
    (e.g. ``members[3]``, the object a request replaced) paths are relative to it."""
    try:
        return parse_program(data)
    except DocumentError as exc:
        errors = [{"field": _relative(e.path, focus), "message": e.message}
                  for e in exc.errors]
        first = errors[0]
        raise Invalid(f"{first['field']}: {first['message']}" if first["field"]
                      else first["message"], field=first["field"],
                      details={"errors": errors}) from None


def _relative(path: str, focus: str | None) -> str:
    if focus and path.startswith(focus + "."):
        return path[len(focus) + 1:]
    return "" if focus and path == focus else path


def stored_document(conn: Connection, program_id: str) -> ProgramDocument:
    return parse_program(document_data(conn, program_id))


def solving_document(conn: Connection, program_id: str, now: datetime | None = None,
                     members: list[str] | None = None) -> ProgramDocument:
    """The stored document plus booked sessions, fetched calendars and ``now``."""
    data = document_data(conn, program_id)
    fetched = fetched_calendars(conn, program_id)
    for m in data["members"]:
        snaps = fetched.get(m["id"], {})
        m["calendars"] = [{"ics_text": snaps[c["ics_url"]]} if c.get("ics_url") in snaps else c
                          for c in m.get("calendars", [])]
    if data["program"].get("now") is None:
        data["program"]["now"] = (now or datetime.now(UTC)).isoformat()
    booked: dict[tuple[str, str, int, int], list[str]] = defaultdict(list)
    for member, start, end, session, match in active_busy(conn, program_id, members):
        booked[session, match, start, end].append(member)
    for (_, match, start, end), who in booked.items():
        data["bookings"].append({
            "match": match, "members": sorted(who),
            "start": from_epoch(start).isoformat(), "end": from_epoch(end).isoformat()})
    return parse_program(data)


def document_now(doc: ProgramDocument) -> datetime:
    """The instant before which nothing may be booked: the document's ``now`` (always set
    by :func:`solving_document`)."""
    p = doc.program
    return as_instant(p.now, p.zone) if p.now is not None else datetime.now(UTC)


def find_match(doc: ProgramDocument, match_id: str) -> Match:
    try:
        return doc.match(match_id)
    except KeyError:
        raise NotFound(f'unknown match "{match_id}"') from None


def find_member_index(data: dict[str, Any], member_id: str) -> int | None:
    return next((i for i, m in enumerate(data["members"]) if m["id"] == member_id), None)
