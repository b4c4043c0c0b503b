"""Availability from a simple CSV file: weekly windows and one-off intervals per member.

Format (header required; ``type`` optional, default ``available``)::

    member,day,start,end,type
    ana,TU,14:00,18:30,available          # weekly window: day is MO..SU
    ana,2027-02-03,09:00,12:00,available  # one-off on a date, local times
    ana,,2027-02-15T00:00,2027-02-20T00:00,unavailable   # one-off, full date-times

Local times are in the member's zone. Weekly rows must be ``available``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .document import DAYS, Interval, Member, ProgramDocument, Window, parse_clock
from .errors import CsvError

COLUMNS = ("member", "day", "start", "end", "type")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass
class MemberRows:
    """What a CSV says about one member."""

    weekly: list[Window] = field(default_factory=list)
    available: list[Interval] = field(default_factory=list)
    unavailable: list[Interval] = field(default_factory=list)
    first_line: int = 0


def read_availability_csv(text: str, errors: list[CsvError] | None = None) -> dict[str, MemberRows]:
    """Parse the CSV; raise CsvError naming the line and column of the first bad cell.
    With ``errors``, a bad row is added to it and skipped instead, so every bad row is
    found in one reading (a bad header still raises: no row can be read without it)."""
    # newline="": the csv module reads line ends itself (also inside quoted cells).
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip().lower() for h in _read(reader, lambda: reader.fieldnames) or []]
    missing = [c for c in COLUMNS[:4] if c not in header]
    if missing:
        raise CsvError(1, "header", f"missing column(s): {', '.join(missing)}")
    reader.fieldnames = header
    out: dict[str, MemberRows] = defaultdict(MemberRows)
    while (row := _read(reader, lambda: next(reader, None))) is not None:
        try:
            _read_row(out, row, reader.line_num)
        except CsvError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return dict(out)


def _read_row(out: dict[str, MemberRows], row: dict[str | None, str | None], line: int) -> None:
    cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
    if not any(cells.values()):
        return
    member = cells["member"]
    if not member:
        raise CsvError(line, "member", "is empty")
    kind = cells.get("type") or "available"
    if kind not in ("available", "unavailable"):
        raise CsvError(line, "type", f'must be "available" or "unavailable", got "{kind}"')
    rows = out[member] if member in out else MemberRows(first_line=line)
    _add_row(rows, cells, kind, line)
    out[member] = rows


def _read(reader: csv.DictReader[str], step: Callable[[], T]) -> T:
    """One step of the reader; what the csv module cannot read (e.g. a cell over its size
    limit) becomes a CsvError naming the line it is on."""
    try:
        return step()
    except csv.Error as exc:  # line_num counts the lines read before the bad one
        raise CsvError(reader.line_num + 1, "row", str(exc)) from None


def _add_row(rows: MemberRows, cells: dict[str, str], kind: str, line: int) -> None:
    day, start, end = cells["day"], cells["start"], cells["end"]
    if day.upper() in DAYS:
        if kind != "available":
            raise CsvError(line, "type", "a weekly window (day MO..SU) must be available")
        rows.weekly.append(
            _validated(Window, {"days": [day.upper()], "start": start, "end": end}, line)
        )
        return
    if day:
        try:
            d = date.fromisoformat(day)
        except ValueError:
            raise CsvError(line, "day", f'expected MO..SU or a date, got "{day}"') from None
        start_dt, end_dt = (
            _on_day(d, v, name, line) for v, name in ((start, "start"), (end, "end"))
        )
        iv = _validated(Interval, {"start": start_dt, "end": end_dt}, line)
    else:
        iv = _validated(Interval, {"start": start, "end": end}, line)
    (rows.available if kind == "available" else rows.unavailable).append(iv)


def _on_day(d: date, clock: str, column: str, line: int) -> datetime:
    try:
        minutes = parse_clock(clock)
    except ValueError as exc:
        raise CsvError(line, column, str(exc)) from None
    return datetime.combine(d, time()) + timedelta(minutes=minutes)


def _validated(model: type[M], data: dict[str, object], line: int) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        column = str(err["loc"][0]) if err["loc"] else "row"
        raise CsvError(line, column, err["msg"].removeprefix("Value error, ")) from None


def apply_csv(
    doc: ProgramDocument,
    text: str,
    *,
    replace: bool = False,
    errors: list[CsvError] | None = None,
) -> ProgramDocument:
    """A copy of ``doc`` with the CSV's rows added to (or, with ``replace``, replacing)
    each named member's weekly / available / unavailable lists. With ``errors``, every
    bad row is added to it (see :func:`read_availability_csv`) and the copy is of the
    good rows only."""
    rows = read_availability_csv(text, errors)
    known = {m.id for m in doc.members}
    for member, given in list(rows.items()):
        if member not in known:
            problem = CsvError(given.first_line, "member", f'unknown member "{member}"')
            if errors is None:
                raise problem
            errors.append(problem)
            del rows[member]
    members: list[Member] = []
    for m in doc.members:
        r = rows.get(m.id)
        if r is None:
            members.append(m)
            continue
        base = (
            MemberRows()
            if replace
            else MemberRows(list(m.weekly), list(m.available), list(m.unavailable))
        )
        members.append(
            m.model_copy(
                update={
                    "weekly": base.weekly + r.weekly,
                    "available": base.available + r.available,
                    "unavailable": base.unavailable + r.unavailable,
                }
            )
        )
    return doc.model_copy(update={"members": members})
