"""Free/busy out: a member's or a match's busy time as VFREEBUSY (RFC 5545 3.6.4), read
off the availability the scheduler itself uses, for other schedulers to read.

Busy is what the service knows, on the program's slot grid (SPEC 2: windows round
inward, busy time outward), exactly the slots :func:`ingest.availability.build_availability`
marks not free: outside the member's weekly windows and in their time away is
``FBTYPE=BUSY-UNAVAILABLE`` (it cannot be scheduled); their calendars' busy time, the
document's bookings and the sessions the service booked are ``FBTYPE=BUSY``. Other
members of a match are shown as plain BUSY to a caller who is neither an admin nor that
member: the heat map shows them no more than free or not (``Principal.visible_part``
hides other members' windows and time away), and without their address (it shows
them only id, name and time zone).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from icalendar import Calendar, FreeBusy, vCalAddress
from sqlalchemy import Engine

from ingest.availability import build_availability, program_grid
from ingest.document import Member, ProgramDocument, parse_program
from ingest.grid import SlotGrid, from_epoch, local_midnight, to_epoch
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
# A "+" written into a query string by hand arrives as a space: "T09:00:00 10:30".
_SPACED_OFFSET = re.compile(r"^(\S+T\S+) (\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC
    end: datetime
    fbtype: str


@dataclass(frozen=True)
class Periods:
    """Busy periods in time order, as arrays (a year of a group on a 5-minute grid can
    have 400,000 of them): ``[start, end)`` in whole seconds since the epoch (UTC), and
    each one's kind, BUSY or UNAVAILABLE. Iterating gives :class:`Period` objects."""

    start: np.ndarray  # int64
    end: np.ndarray  # int64
    kind: np.ndarray  # int8

    def __len__(self) -> int:
        return len(self.start)

    def __iter__(self) -> Iterator[Period]:
        for s, e, k in zip(self.start.tolist(), self.end.tolist(), self.kind.tolist(), strict=True):
            yield Period(from_epoch(s), from_epoch(e), FBTYPES[k])


# --- the range asked for ----------------------------------------------------------------


def _moment(value: str, field: str, zone: ZoneInfo) -> datetime:
    """A query value as a UTC instant in whole seconds (what iCalendar can say): a date is
    local midnight in ``zone``; a date-time needs its offset (``Z`` or ``+10:30``, also
    when the query decoded its ``+`` to a space), since a bare one names no instant."""
    text = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
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
    try:
        return moment.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in year 10000 in UTC
        raise Invalid(
            f'{field}: "{value[:40]}" falls outside the years 1 to 9999 in UTC', field=field
        ) from None


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


def busy_periods(state: np.ndarray, grid: SlotGrid, lo: datetime, hi: datetime) -> Periods:
    """Maximal runs of equal non-free state over the slots ``[lo, hi)`` touches, cut to
    ``[lo, hi)`` (whole seconds), in time order."""
    first = max(int(grid.floor_index(lo)), 0)
    last = min(int(grid.ceil_index(hi)), grid.n_slots)
    part = state[first : max(first, last)]
    edges = np.flatnonzero(np.diff(part)) + 1
    starts = np.concatenate(([0], edges)).astype(np.int64) if len(part) else edges
    ends = np.concatenate((edges, [len(part)])).astype(np.int64) if len(part) else edges
    kind = part[starts]
    busy = kind != FREE
    at = grid.t0_epoch + first * grid.step
    return Periods(
        np.maximum(at + starts[busy] * grid.step, to_epoch(lo)),
        np.minimum(at + ends[busy] * grid.step, to_epoch(hi)),
        kind[busy].astype(np.int8),
    )


@dataclass(frozen=True)
class Busy:
    """One member's free/busy over a range."""

    member: Member
    periods: Periods


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


def _address(member: Member, shown: set[str] | None) -> vCalAddress | None:
    """The member's address, when they have one and the caller may see it (``shown``:
    those members; None: everyone)."""
    if not member.email or (shown is not None and member.id not in shown):
        return None
    address = vCalAddress(f"mailto:{one_line(member.email)}")
    address.params["CN"] = one_line(member.name or member.id)
    return address


def _uid(program_id: str, member_id: str, scope: str) -> str:
    digest = hashlib.sha256(f"{program_id}\0{scope}\0{member_id}".encode()).hexdigest()[:24]
    return f"freebusy-{digest}@slotwise"


# FREEBUSY lines are written as a byte matrix, one row per period (a year of a group can
# have 400,000 of them; icalendar spends some 0.3 ms on each property, numpy a few ns).
# Each row holds its kind's prefix, padded with NULs to the longest, which are dropped.
_PREFIXES = {kind: f"FREEBUSY;FBTYPE={name}:".encode() for kind, name in FBTYPES.items()}
_WIDTH = max(map(len, _PREFIXES.values()))
_PREFIX = np.zeros((max(FBTYPES) + 1, _WIDTH), dtype=np.uint8)
for _kind, _text in _PREFIXES.items():
    _PREFIX[_kind, : len(_text)] = np.frombuffer(_text, dtype=np.uint8)


_TWO_DIGITS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), np.uint8)
_TWO_DIGITS = _TWO_DIGITS.reshape(100, 2)


def _utc_stamps(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as RFC 5545 UTC date-times (``20270405T093000Z``), one row of 16
    ASCII bytes each."""
    t = seconds.astype("datetime64[s]")
    day = t.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]")
    of_day = (t - day).astype(np.int64)
    years = year.astype(np.int64) + 1970
    out = np.empty((len(seconds), 16), dtype=np.uint8)
    out[:, 8], out[:, 15] = ord("T"), ord("Z")
    for at, value in (
        (0, years // 100),
        (2, years % 100),
        (4, (month - year).astype(np.int64) + 1),
        (6, (day - month).astype(np.int64) + 1),
        (9, of_day // 3600),
        (11, of_day // 60 % 60),
        (13, of_day % 60),
    ):
        out[:, at : at + 2] = _TWO_DIGITS[value]
    return out


def _freebusy_lines(periods: Periods) -> bytes:
    """One ``FREEBUSY;FBTYPE=…:start/end`` content line per period (a PERIOD in UTC, RFC
    5545 3.8.2.6), CRLF-ended. Each is ASCII and at most 68 octets: never folded."""
    n = len(periods)
    rows = np.zeros((n, _WIDTH + 16 + 1 + 16 + 2), dtype=np.uint8)
    rows[:, :_WIDTH] = _PREFIX[periods.kind]
    rows[:, _WIDTH : _WIDTH + 16] = _utc_stamps(periods.start)
    rows[:, _WIDTH + 16] = ord("/")
    rows[:, _WIDTH + 17 : _WIDTH + 33] = _utc_stamps(periods.end)
    rows[:, -2:] = np.frombuffer(b"\r\n", dtype=np.uint8)
    return bytes(rows[rows != 0].tobytes())


def _split_end(component: bytes, end: bytes) -> bytes:
    """``component`` (icalendar's bytes) without its last line, which must be ``end``."""
    assert component.endswith(end), component[-40:]
    return component[: -len(end)]


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
    shown: set[str] | None = None,
) -> bytes:
    """One VFREEBUSY per member. A member alone is its ORGANIZER, as RFC 5545 publishes
    busy time; in a ``group`` (a match) each member is the ATTENDEE whose busy time it is
    and the match's ``organizer`` (if any) the ORGANIZER. A member without an address,
    or whose address the caller may not see (not in ``shown``, when given), is neither.
    FREEBUSY periods in UTC, one property per period, in time order."""
    stamp = (dtstamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    end_cal, end_fb = b"END:VCALENDAR\r\n", b"END:VFREEBUSY\r\n"
    parts = [_split_end(bytes(cal.to_ical()), end_cal)]
    for item in busy:
        fb = FreeBusy()
        fb.add("uid", _uid(program_id, item.member.id, scope))
        fb.add("dtstamp", stamp)
        fb.add("dtstart", lo)
        fb.add("dtend", hi)
        who = _address(item.member, shown)
        lead = (_address(organizer, shown) if organizer is not None else None) if group else who
        if lead is not None:
            fb.add("organizer", lead)
        if group and who is not None:
            fb.add("attendee", who)
        parts += [_split_end(bytes(fb.to_ical()), end_fb), _freebusy_lines(item.periods), end_fb]
    return b"".join([*parts, end_cal])


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
    # What GET /api/programs/{pid} shows the caller (Principal.visible_part): an admin
    # everything; anyone else the kinds of their own busy time and their own address only.
    own = set(ids) if who.role == "admin" else {who.member_id or ""} & set(ids)
    busy = members_busy(doc, [by_id[m] for m in ids], ids, lo, hi, own)
    organizer = doc.member(match.organizer) if match.organizer else None
    return freebusy_calendar(
        program_id,
        busy,
        lo,
        hi,
        group=True,
        organizer=organizer,
        scope=f"match:{match_id}",
        shown=own,
    )
