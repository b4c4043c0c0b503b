"""A program's people and matches as its admin manages them: the members a page at a time,
one member's stored object, and imports of an availability CSV or a program document.

An import is all or nothing. Every problem is found before anything is written and the
refusal lists each one (``errors``: the CSV line and column, or the document's field
path, e.g. ``members[3].email``); otherwise everything is written in one transaction
under the program's lock. Objects an import sends unchanged are not written again, so the
same file can be imported twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, Engine, select

from ingest.csv_source import apply_csv
from ingest.document import ProgramDocument, check_entered, parse_program
from ingest.errors import CsvError, DocumentError

from .config import Settings
from .errors import Conflict, Invalid, NotFound
from .store import (
    PENDING,
    document_data,
    insert_match,
    locked,
    matches,
    members,
    members_data,
    program_row,
    replace_match_data,
    replace_member_data,
    series,
    upsert_member,
)

# --- the members list -------------------------------------------------------------------


def member_page(
    conn: Connection, program_id: str, offset: int, limit: int, q: str | None
) -> dict[str, Any]:
    """``limit`` members from ``offset`` (document order), those whose id, name or email
    holds ``q`` (any case) when given; each with how many matches they are in."""
    header = json.loads(program_row(conn, program_id).header)
    rows = [
        json.loads(d)
        for d in conn.execute(
            select(members.c.data)
            .where(members.c.program_id == program_id)
            .order_by(members.c.position)
        ).scalars()
    ]
    needle = (q or "").strip().casefold()
    if needle:
        rows = [
            m
            for m in rows
            if any(needle in str(m.get(k) or "").casefold() for k in ("id", "name", "email"))
        ]
    count: dict[str, int] = {}
    for data in conn.execute(
        select(matches.c.data).where(matches.c.program_id == program_id)
    ).scalars():
        for mid in json.loads(data).get("members", []):
            count[mid] = count.get(mid, 0) + 1
    return {
        "program": {"id": program_id, "name": header.get("name"), "timezone": header["timezone"]},
        "total": len(rows),
        "offset": offset,
        "limit": limit,
        "members": [
            {
                "id": m["id"],
                "name": m.get("name"),
                "email": m.get("email"),
                "timezone": m.get("timezone"),
                "matches": count.get(m["id"], 0),
                "weekly": m.get("weekly", []),
                "calendars": len(m.get("calendars", [])),
            }
            for m in rows[offset : offset + limit]
        ],
    }


def member_object(conn: Connection, program_id: str, member_id: str) -> dict[str, Any]:
    """The member's stored object (SPEC 6), e.g. to edit it and ``PUT`` it back whole."""
    program_row(conn, program_id)  # NotFound for an unknown program
    found = members_data(conn, program_id, {member_id})
    if not found:
        raise NotFound(f'unknown member "{member_id}"')
    return found[0]


# --- imports ----------------------------------------------------------------------------


def _refused(errors: list[dict[str, Any]], what: str) -> Invalid:
    """Invalid listing every problem (each once, in the order found)."""
    unique = list({(e["field"], e.get("line"), e["message"]): e for e in errors}.values())
    n = len(unique)
    return Invalid(
        f"the {what} has {n} problem{'s' if n > 1 else ''}; nothing was imported",
        field=unique[0]["field"],
        details={"errors": unique},
    )


def _result(kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "members_added": [],
        "members_replaced": [],
        "members_unchanged": 0,
        "matches_added": [],
        "matches_replaced": [],
        "matches_unchanged": 0,
    }


def import_csv(engine: Engine, program_id: str, text: str) -> dict[str, Any]:
    """Make each member an availability CSV names have the CSV's weekly, available and
    unavailable rows as their whole availability (``ingest/csv_source.py``)."""
    with locked(engine, program_id) as conn:
        data = document_data(conn, program_id)
        doc = parse_program(data, stored=True)
        problems: list[CsvError] = []
        try:
            new = apply_csv(doc, text, replace=True, errors=problems)
        except CsvError as exc:  # the header, or a line the csv module cannot read
            problems.append(exc)
        if problems:
            raise _refused(
                [
                    {"field": p.column, "line": p.line, "message": p.problem}
                    for p in sorted(problems, key=lambda p: p.line)
                ],
                "CSV file",
            )
        out = _result("csv")
        for before, old, after in zip(data["members"], doc.members, new.members, strict=True):
            if after is old:  # not in the CSV
                continue
            dumped = after.model_dump(mode="json", exclude_none=True)
            if dumped == before:
                out["members_unchanged"] += 1
                continue
            replace_member_data(conn, program_id, after.id, dumped)
            out["members_replaced"].append(after.id)
    return out


Kind = Literal["members", "matches"]
KINDS: tuple[Kind, Kind] = ("members", "matches")
IMPORT_KEYS = ("version", "program", "members", "matches", "bookings")
_PLACE = re.compile(r"^(members|matches)\[(\d+)\](.*)$")


@dataclass
class Prepared:
    """A document import checked against the stored program: the merged document, the
    objects to write (as stored) and where each came from in the file."""

    doc: ProgramDocument
    members: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # member id -> its path in the file
    result: dict[str, Any] = field(default_factory=lambda: _result("document"))


def prepare_document(
    stored: dict[str, Any], sent: Any, booked: set[str], settings: Settings
) -> Prepared:
    """Check a sent program document (SPEC 6; its ``members`` and ``matches``) against
    the stored program ``stored``: every problem at once, named by its place in the
    sent file. ``booked``: matches with live sessions, which may not be changed."""
    if not isinstance(sent, dict):
        raise _refused([{"field": "", "message": "must be a JSON object"}], "document")
    errors: list[dict[str, Any]] = []
    for key in sent:
        if key not in IMPORT_KEYS:
            errors.append({"field": str(key), "message": "unknown field"})
    if sent.get("bookings"):
        errors.append(
            {
                "field": "bookings",
                "message": "bookings are not imported; book sessions in the app",
            }
        )
    lists: dict[Kind, list[Any]] = {}
    for kind in KINDS:
        value = sent.get(kind, [])
        if not isinstance(value, list):
            errors.append({"field": kind, "message": "must be a list"})
            value = []
        lists[kind] = value
    merged = {**stored, "members": list(stored["members"]), "matches": list(stored["matches"])}
    origin: dict[tuple[str, int], str] = {}  # (kind, index in merged) -> path in the file
    for kind, given in lists.items():
        index = {obj["id"]: k for k, obj in enumerate(merged[kind])}
        seen: dict[str, str] = {}
        for i, obj in enumerate(given):
            path = f"{kind}[{i}]"
            try:
                check_entered(kind, obj, path)
            except DocumentError as exc:
                errors += [{"field": e.path, "message": e.message} for e in exc.errors]
                continue
            oid = obj["id"]
            if oid in seen:
                errors.append({"field": f"{path}.id", "message": f'"{oid}" is also at {seen[oid]}'})
                continue
            seen[oid] = path
            k = index.get(oid)
            if k is None:
                k = len(merged[kind])
                merged[kind].append(obj)
            else:
                merged[kind][k] = obj
            origin[kind, k] = path
    doc: ProgramDocument | None = None
    try:
        doc = parse_program(merged, stored=True)
    except DocumentError as exc:
        for e in exc.errors:
            hit = _PLACE.match(e.path)
            if hit and (hit[1], int(hit[2])) in origin:
                errors.append({"field": origin[hit[1], int(hit[2])] + hit[3], "message": e.message})
            elif hit:
                name = merged[hit[1]][int(hit[2])].get("id", "")
                errors.append({"field": e.path, "message": f'(stored "{name}") {e.message}'})
            else:
                errors.append({"field": e.path, "message": e.message})
    if doc is not None:
        if len(doc.members) > settings.max_members:
            errors.append(
                {
                    "field": "members",
                    "message": f"at most {settings.max_members} members "
                    "per program (setting max_members)",
                }
            )
        if len(doc.matches) > settings.max_matches:
            errors.append(
                {
                    "field": "matches",
                    "message": f"at most {settings.max_matches} matches "
                    "per program (setting max_matches)",
                }
            )
    out = Prepared(doc=doc) if doc is not None else None
    if out is not None:
        _changes(out, stored, origin, booked, errors)
    if errors or out is None:
        raise _refused(errors, "document")
    return out


def _changes(
    out: Prepared,
    stored: dict[str, Any],
    origin: dict[tuple[str, int], str],
    booked: set[str],
    errors: list[dict[str, Any]],
) -> None:
    """What the import adds and replaces; a booked match may not change."""
    r = out.result
    for (kind, k), path in sorted(origin.items(), key=lambda x: x[1]):
        objs = out.doc.members if kind == "members" else out.doc.matches
        dumped = objs[k].model_dump(mode="json", exclude_none=True)
        before = stored[kind][k] if k < len(stored[kind]) else None
        if before == dumped:
            r[f"{kind}_unchanged"] += 1
            continue
        if kind == "matches" and before is not None and dumped["id"] in booked:
            errors.append(
                {
                    "field": path,
                    "message": f'match "{dumped["id"]}" has sessions booked and cannot be '
                    "changed by an import; cancel them first",
                }
            )
            continue
        r[f"{kind}_{'added' if before is None else 'replaced'}"].append(dumped["id"])
        if kind == "members":
            out.members.append(dumped)
            out.where[dumped["id"]] = path
        else:
            out.matches.append(dumped)


def booked_matches(conn: Connection, program_id: str) -> set[str]:
    """Matches with a live (scheduled, or being applied) series."""
    return set(
        conn.execute(
            select(series.c.match_id).where(
                (series.c.program_id == program_id) & series.c.status.in_(("scheduled", PENDING))
            )
        ).scalars()
    )


def check_document(engine: Engine, program_id: str, sent: Any, settings: Settings) -> Prepared:
    """:func:`prepare_document` against the program as stored now."""
    with engine.connect() as conn:
        return prepare_document(
            document_data(conn, program_id), sent, booked_matches(conn, program_id), settings
        )


def store_document(
    engine: Engine,
    program_id: str,
    sent: Any,
    settings: Settings,
    busy: dict[str, list[list[int]]],
) -> dict[str, Any]:
    """Check the import again under the program's lock (the program may have changed
    since it was first checked) and write it all; what changed. ``busy``: the busy time
    of the sent members' calendars (read before, outside the lock)."""
    with locked(engine, program_id) as conn:
        p = prepare_document(
            document_data(conn, program_id), sent, booked_matches(conn, program_id), settings
        )
        for m in p.members:
            if m.get("calendars") and m["id"] not in busy:  # unchanged when first checked
                raise Conflict("the program changed during the import; import again")
            upsert_member(conn, program_id, m, busy.get(m["id"], []))
        replaced = set(p.result["matches_replaced"])
        for x in p.matches:
            if x["id"] in replaced:
                replace_match_data(conn, program_id, x)
            else:
                insert_match(conn, program_id, x)
    return p.result
