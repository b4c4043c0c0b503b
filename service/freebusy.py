"""Free/busy out: a member's or a match's busy time as VFREEBUSY (RFC 5545 3.6.4), read
off the availability the scheduler itself uses, for other schedulers to read.

Busy is what the service knows, on the program's slot grid (SPEC 2: windows round
inward, busy time outward), exactly the slots :func:`ingest.availability.build_availability`
marks not free: outside the member's weekly windows and in their time away is
``FBTYPE=BUSY-UNAVAILABLE`` (it cannot be scheduled); their calendars' busy time, the
document's bookings and the sessions the service booked are ``FBTYPE=BUSY``. Other
members of a match are shown as plain BUSY to a caller who is neither an admin nor that
member: the heat map shows them no more than free or not (``Principal.visible_part``
hides other members' windows and time away).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from icalendar import Calendar, FreeBusy, vCalAddress, vPeriod
from sqlalchemy import Engine

from ingest.availability import build_availability, program_grid
from ingest.document import Member, ProgramDocument, parse_program
from ingest.grid import SlotGrid, local_midnight
from ingest.text import one_line

from .auth import Principal
from .errors import Invalid
from .programs import find_match, solving_document
from .store import members_data

PRODID = "-//slotwise//slotwise free-busy//EN"
MAX_RANGE_DAYS = 366
FREE, BUSY, UNAVAILABLE = 0, 1, 2
FBTYPES = {BUSY: "BUSY", UNAVAILABLE: "BUSY-UNAVAILABLE"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC
    end: datetime
    fbtype: str


# --- the range asked for ----------------------------------------------------------------


def _moment(value: str, field: str, zone: ZoneInfo) -> datetime:
    """A query value as a UTC instant: a date is local midnight in ``zone``; a date-time
    needs its offset (``Z`` or ``+10:30``), since a bare one names no instant."""
    text = value.strip()
    try:
        if _DATE.match(text):
            return local_midnight(date.fromisoformat(text), zone)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise Invalid(
            f'{field}: "{value[:40]}" is not a date (2027-03-01) or a date-time with an '
            "offset (2027-03-01T09:00:00Z)",
            field=field,
        ) from None
    if moment.tzinfo is None:
        raise Invalid(
            f'{field}: "{value[:40]}" has no UTC offset; add one (Z, +01:00) or give a date',
            field=field,
        )
    return moment.astimezone(UTC)


def requested_range(
    start: str | None, end: str | None, grid: SlotGrid, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC from the query (default: the program's horizon), refused
    with a 422 naming the field when it is unreadable, backwards, longer than
    ``MAX_RANGE_DAYS`` or outside the horizon (nothing is known there)."""
    lo = grid.t0 if start is None else _moment(start, "start", zone)
    hi = grid.t_end if end is None else _moment(end, "end", zone)
    if hi <= lo:
        raise Invalid("end: must be after start", field="end")
    if hi - lo > timedelta(days=MAX_RANGE_DAYS):
        raise Invalid(f"end: a range spans at most {MAX_RANGE_DAYS} days", field="end")
    horizon = f"{grid.t0.isoformat()} to {grid.t_end.isoformat()}"
    if lo < grid.t0 or lo >= grid.t_end:
        raise Invalid(f"start: outside the program ({horizon})", field="start")
    if hi > grid.t_end:
        raise Invalid(f"end: after the program ends ({horizon})", field="end")
    return lo, hi


# --- busy periods from availability ------------------------------------------------------


def slot_states(free: np.ndarray, open_: np.ndarray, typed: bool) -> np.ndarray:
    """Per slot: FREE, BUSY (open in the member's windows but taken) or UNAVAILABLE
    (outside their windows or away); without ``typed`` every busy slot is BUSY."""
    state = np.where(free, FREE, BUSY).astype(np.int8)
    if typed:
        state[~open_] = UNAVAILABLE
    return state


def busy_periods(state: np.ndarray, grid: SlotGrid, lo: datetime, hi: datetime) -> list[Period]:
    """Maximal runs of equal non-free state over the slots ``[lo, hi)`` touches, cut to
    ``[lo, hi)``, in time order."""
    first = max(int(grid.floor_index(lo)), 0)
    last = min(int(grid.ceil_index(hi)), grid.n_slots)
    part = state[first:last]
    if not len(part):
        return []
    edges = np.flatnonzero(np.diff(part)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(part)]))
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        kind = int(part[s])
        if kind == FREE:
            continue
        begin = max(grid.slot_start(first + s), lo)
        finish = min(grid.slot_start(first + e), hi)
        out.append(Period(begin, finish, FBTYPES[kind]))
    return out


@dataclass(frozen=True)
class Busy:
    """One member's free/busy over a range."""

    member: Member
    periods: list[Period]


def _without_now(doc: ProgramDocument) -> ProgramDocument:
    # The past is closed for booking, not busy: free/busy shows it as it was.
    return doc.model_copy(update={"program": doc.program.model_copy(update={"now": None})})


def _open_document(doc: ProgramDocument, raw: list[dict[str, object]]) -> ProgramDocument:
    """The members as they entered themselves (weekly windows, extra open time, time
    away), without calendars or bookings: what is open to scheduling at all."""
    return parse_program(
        {
            "version": 1,
            "program": doc.program.model_dump(mode="json", exclude_none=True),
            "members": [{**m, "calendars": []} for m in raw],
        },
        stored=True,
    )


def members_busy(
    doc: ProgramDocument,
    raw: list[dict[str, object]],
    ids: Sequence[str],
    lo: datetime,
    hi: datetime,
    typed: set[str],
) -> list[Busy]:
    """Each member's busy periods over ``[lo, hi)``: ``doc`` is the solving document
    (bookings, sessions and calendar busy time in it, no ``now``), ``raw`` the members as
    stored; members in ``typed`` get BUSY-UNAVAILABLE where it applies."""
    full = build_availability(doc, members=ids)
    base = build_availability(_open_document(doc, raw), members=ids, calendars=False)
    grid = full.grid
    return [
        Busy(
            doc.member(m),
            busy_periods(
                slot_states(full.matrix[:, j], base.matrix[:, j], m in typed), grid, lo, hi
            ),
        )
        for j, m in enumerate(ids)
    ]


# --- the VFREEBUSY ---------------------------------------------------------------------


def _address(member: Member) -> vCalAddress | None:
    if not member.email:
        return None
    address = vCalAddress(f"mailto:{one_line(member.email)}")
    address.params["CN"] = one_line(member.name or member.id)
    return address


def _uid(program_id: str, member_id: str, scope: str) -> str:
    digest = hashlib.sha256(f"{program_id}\0{scope}\0{member_id}".encode()).hexdigest()[:24]
    return f"freebusy-{digest}@slotwise"


def _period(p: Period) -> vPeriod:
    period = vPeriod((p.start, p.end))
    period.params.pop("VALUE", None)  # FREEBUSY is a PERIOD by default (RFC 5545 3.8.2.6)
    return period


def freebusy_calendar(
    program_id: str,
    busy: Sequence[Busy],
    lo: datetime,
    hi: datetime,
    *,
    group: bool = False,
    organizer: Member | None = None,
    scope: str = "member",
    dtstamp: datetime | None = None,
) -> bytes:
    """One VFREEBUSY per member. A member alone is its ORGANIZER, as RFC 5545 publishes
    busy time; in a ``group`` (a match) each member is the ATTENDEE whose busy time it is
    and the match's ``organizer`` (if any) the ORGANIZER. A member without an address
    has neither property. FREEBUSY periods in UTC, one property per period, in time
    order."""
    stamp = (dtstamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    for item in busy:
        fb = FreeBusy()
        fb.add("uid", _uid(program_id, item.member.id, scope))
        fb.add("dtstamp", stamp)
        fb.add("dtstart", lo)
        fb.add("dtend", hi)
        who = _address(item.member)
        lead = (_address(organizer) if organizer is not None else None) if group else who
        if lead is not None:
            fb.add("organizer", lead)
        if group and who is not None:
            fb.add("attendee", who)
        for p in item.periods:
            fb.add("freebusy", _period(p), parameters={"FBTYPE": p.fbtype})
        cal.add_component(fb)
    return bytes(cal.to_ical())


# --- what the routes call ---------------------------------------------------------------


def member_freebusy(
    engine: Engine, program_id: str, member_id: str, start: str | None, end: str | None
) -> bytes:
    """A member's free/busy (the caller is checked before: the member or an admin)."""
    with engine.connect() as conn:
        doc = _without_now(solving_document(conn, program_id, member=member_id, clock=False))
        raw = members_data(conn, program_id, {member_id})
    lo, hi = requested_range(start, end, program_grid(doc), doc.member_zone(member_id))
    busy = members_busy(doc, raw, [member_id], lo, hi, typed={member_id})
    return freebusy_calendar(program_id, busy, lo, hi)


def match_freebusy(
    engine: Engine,
    who: Principal,
    program_id: str,
    match_id: str,
    start: str | None,
    end: str | None,
) -> bytes:
    """Every member's free/busy in a match, for whoever may see the match (its members
    and the admins, as for its heat map)."""
    who.program(program_id)
    with engine.connect() as conn:
        doc = _without_now(solving_document(conn, program_id, match=match_id, clock=False))
        match = find_match(doc, match_id)
        who.sees_match(program_id, list(match.members))
        raw = members_data(conn, program_id, set(match.members))
    ids = list(match.members)
    by_id = {m["id"]: m for m in raw}
    lo, hi = requested_range(start, end, program_grid(doc), doc.organizer_zone(match))
    typed = set(ids) if who.role == "admin" else {who.member_id or ""} & set(ids)
    busy = members_busy(doc, [by_id[m] for m in ids], ids, lo, hi, typed)
    organizer = doc.member(match.organizer) if match.organizer else None
    return freebusy_calendar(
        program_id, busy, lo, hi, group=True, organizer=organizer, scope=f"match:{match_id}"
    )
