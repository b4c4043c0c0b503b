"""Issue 8: the document, CSV and ICS parsers, fed mutated real-world inputs, give a correct
result or their own error naming the field or line: never another exception, never a hang.

Inputs are the files in tests/data, the demo program and the calendars the other tests use,
mutated at random: bytes flipped, lines deleted, duplicated, swapped or cut off, values
replaced by wrong types and hostile ones (bad dates and zones, years 1 and 9999, endless
or never-matching RRULEs, negative durations, BEGIN without END, a property holding
another's value: a DURATION a date, an RDATE a duration). Every example runs under
a time guard, so a pathological expansion fails the test instead of stalling it.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ingest.availability import build_availability, program_grid
from ingest.csv_source import apply_csv
from ingest.document import ProgramDocument, parse_program
from ingest.errors import CalendarError, CsvError, DocumentError
from ingest.ics_source import busy_from_ics
from service.demo import demo_program
from tests.conftest import BASE_PROGRAM

DATA = Path(__file__).parent.parent / "data"
GUARD_SECONDS = 10  # far above any honest example (< 1 s): only a hang trips it
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Hang(Exception):
    """An example ran longer than GUARD_SECONDS."""


@contextmanager
def time_guard(seconds: float = GUARD_SECONDS) -> Iterator[None]:
    """Raise Hang in the test (main thread) if the block runs longer than ``seconds``."""

    def alarm(*_: Any) -> None:
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- mutations -------------------------------------------------------------------------


@st.composite
def mutated_lines(
    draw: st.DrawFn, texts: list[str], values: dict[str, list[str]], lines: list[str]
) -> str:
    """A text of ``texts`` after 1-4 line operations: delete, duplicate, swap, cut, insert
    one of ``lines``, or give a property named in ``values`` one of its hostile values."""
    out = draw(st.sampled_from(texts)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            out = [draw(st.sampled_from(lines))]
        i = draw(st.integers(0, len(out) - 1))
        op = draw(
            st.sampled_from(
                ["delete", "duplicate", "swap", "insert", "value", "value", "value", "garble"]
            )
        )
        if op == "delete":
            del out[i]
        elif op == "duplicate":
            out.insert(draw(st.integers(0, len(out))), out[i])
        elif op == "swap":
            j = draw(st.integers(0, len(out) - 1))
            out[i], out[j] = out[j], out[i]
        elif op == "insert":
            out.insert(i, draw(st.sampled_from(lines)))
        elif op == "garble":
            out[i] = draw(st.text(max_size=30))
        else:
            named = [k for k, line in enumerate(out) if _name(line) in values]
            if named:
                k = draw(st.sampled_from(named))
                head = out[k].split(":", 1)[0] if ":" in out[k] else out[k]
                out[k] = f"{head}:{draw(st.sampled_from(values[_name(out[k])]))}"
    return "\r\n".join(out) + "\r\n"


def _name(line: str) -> str:
    return line.split(":", 1)[0].split(";", 1)[0].strip().upper()


@st.composite
def damaged(draw: st.DrawFn, text: str) -> bytes:
    """``text`` as UTF-8 with a few bytes flipped, and maybe cut off."""
    data = bytearray(text.encode())
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


# -- ICS -------------------------------------------------------------------------------

CALENDARS = [
    p.read_text(encoding="utf-8", errors="replace") for p in sorted((DATA / "ics").glob("*.ics"))
] + [
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:busy-1@test\r\nDTSTAMP:20270101T000000Z\r\n"
    "DTSTART;TZID=America/New_York:20270302T100000\r\n"
    "DTEND;TZID=America/New_York:20270302T110000\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n",
    # A custom (non-IANA) zone: icalendar builds it from the VTIMEZONE's own rules.
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\n"
    "TZID:Custom Eastern\r\nBEGIN:STANDARD\r\nDTSTART:16011104T020000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"
    "END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010311T020000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"
    "END:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:custom@test\r\n"
    "DTSTAMP:20270101T000000Z\r\nDTSTART;TZID=Custom Eastern:20270105T100000\r\n"
    "DTEND;TZID=Custom Eastern:20270105T110000\r\nRRULE:FREQ=WEEKLY;BYDAY=TU,TH\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n",
]
_DATES = [
    "20270105T100000",
    "20270105T100000Z",
    "20270105",
    "2027-01-05 10:00",
    "20271345T250000Z",
    "20270230T100000",
    "00010101T000000",
    "99991231T235959Z",
    "99991231",
    "00010101",
    "19000101T000000Z",
    "",
    "garbage",
    "20270105T100000+0200",
]
_RULES = [
    "FREQ=SECONDLY",
    "FREQ=MINUTELY",
    "FREQ=MINUTELY;COUNT=999999999",
    "FREQ=HOURLY;UNTIL=99991231T000000Z",
    "FREQ=DAILY;INTERVAL=0",
    "FREQ=DAILY;INTERVAL=-3",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=6",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    "FREQ=DAILY;BYSETPOS=2",
    "FREQ=DAILY;INTERVAL=7;BYDAY=SU",
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=9",
    "FREQ=YEARLY;COUNT=-1",
    "FREQ=WEEKLY;UNTIL=20200101T000000Z",
    "FREQ=DAILY;UNTIL=20270110",
    "FREQ=SOMETIMES",
    "FREQ=WEEKLY;BYDAY=XX",
    "FREQ=MONTHLY;BYMONTHDAY=31;INTERVAL=12",
    "FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1",
    "FREQ=WEEKLY;COUNT=10;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "",
]
_ZONES = [
    "America/New_York",
    "Mars/Base",
    "W. Europe Standard Time",
    "",
    "a" * 300,
    "../../etc/passwd",
    "Europe/Lisboa",
    "/freeassociation.sourceforge.net/Europe/Berlin",
]
ICS_VALUES = {
    "DTSTART": _DATES,
    "DTEND": _DATES,
    "RECURRENCE-ID": _DATES,
    "EXDATE": _DATES,
    "RDATE": [*_DATES, "20270110T100000Z/20270110T090000Z", "20270110T100000Z/PT1H"],
    "DURATION": ["PT1H", "-PT1H", "PT0S", "P99999999W", "P1D", "garbage", "-P1D"],
    "RRULE": _RULES,
    "TZID": _ZONES,
    "X-WR-TIMEZONE": _ZONES,
    "FREEBUSY": [
        "20270105T100000Z/PT1H",
        "20270105T100000Z/-PT1H",
        "99991231T230000/P2D",
        "00010101T000000/PT1H",
        "garbage",
        "20270105T100000Z/20270104T100000Z",
    ],
    "STATUS": ["CANCELLED", "TENTATIVE", ""],
    "TRANSP": ["TRANSPARENT", "OPAQUE", "x"],
    "TZOFFSETFROM": ["-0500", "+9999", "garbage"],
    "TZOFFSETTO": ["-0400", "+2500", ""],
    "SEQUENCE": ["0", "3", "-1", "1.5", "x"],
    "BEGIN": ["VEVENT", "VCALENDAR", "VTIMEZONE", "STANDARD", "VALARM", "X-NESTED"],
    "END": ["VEVENT", "VCALENDAR", "VTIMEZONE", "DAYLIGHT", "X-OTHER"],
}
ICS_LINES = [
    "BEGIN:VEVENT",
    "END:VEVENT",
    "BEGIN:VCALENDAR",
    "END:VCALENDAR",
    "BEGIN:VTIMEZONE",
    "BEGIN:VFREEBUSY",
    "FREEBUSY:20270105T100000Z/PT1H",
    "DTSTART;TZID=Custom Eastern:20270112T100000",
    "RRULE:FREQ=SECONDLY",
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "DURATION:-PT30M",
    "DTSTART;VALUE=DATE:20270301",
    "X-WR-TIMEZONE:Europe/Berlin",
    "",
]
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))
ZONES = [ZoneInfo(z) for z in ("America/New_York", "Asia/Tokyo", "UTC", "Pacific/Kiritimati")]
# Words one of which a CalendarError without a line names: what could not be read.
NAMED = (
    "UTF-8",
    "iCalendar",
    "VCALENDAR",
    "VEVENT",
    "VTIMEZONE",
    "VFREEBUSY",
    "RRULE",
    "DTSTART",
    "DTEND",
    "DURATION",
    "time zone",
    "date",
    "expand",
)


def check_ics(data: str | bytes, zone: ZoneInfo) -> None:
    """Busy time inside the window, sorted, each start before its end, all UTC; or a
    CalendarError naming what is wrong and where."""
    start, end = WINDOW
    try:
        with time_guard():
            busy = busy_from_ics(data, zone, start, end)
    except CalendarError as exc:
        event("refused")
        assert exc.problem, exc
        assert exc.line is not None or any(w in exc.problem for w in NAMED), exc
        return
    event("read")
    assert busy == sorted(busy)
    for s, e in busy:
        assert s.utcoffset().total_seconds() == 0 == e.utcoffset().total_seconds()
        assert s < e and s < end and e > start, (s, e)


@FUZZ
@given(text=mutated_lines(CALENDARS, ICS_VALUES, ICS_LINES), zone=st.sampled_from(ZONES))
def test_mutated_calendars_read_or_refused(text: str, zone: ZoneInfo) -> None:
    """Real calendars with lines and values changed: busy time, or a CalendarError."""
    check_ics(text, zone)


@FUZZ
@given(data=st.sampled_from(CALENDARS).flatmap(damaged), zone=st.sampled_from(ZONES))
def test_damaged_calendar_bytes_read_or_refused(data: bytes, zone: ZoneInfo) -> None:
    """Real calendars with bytes flipped or cut off: busy time, or a CalendarError."""
    check_ics(data, zone)


# Every property ingest reads, and some it does not (a VTODO's DUE, a VTIMEZONE's), once;
# each may be given a value of another kind (a DURATION a date, an RDATE a duration, a
# SEQUENCE a date), as it is written or through a VALUE parameter.
EVERY_PROPERTY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    "BEGIN:VTIMEZONE\r\nTZID:Office\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
    "TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0500\r\nRDATE:19800101T000000\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\nUID:weekly@test\r\nDTSTAMP:20270101T000000Z\r\nSEQUENCE:1\r\n"
    "DTSTART;TZID=Office:20270105T100000\r\nDTEND;TZID=Office:20270105T110000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=6\r\nRDATE:20270107T100000Z,20270108T100000Z/PT1H\r\n"
    "EXDATE;TZID=Office:20270112T100000\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:weekly@test\r\nDTSTAMP:20270101T000000Z\r\nSEQUENCE:2\r\n"
    "RECURRENCE-ID;TZID=Office:20270119T100000\r\nDTSTART:20270120T150000Z\r\n"
    "DURATION:PT1H\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:all-day@test\r\nDTSTART;VALUE=DATE:20270125\r\nDURATION:P1D\r\n"
    "TRANSP:OPAQUE\r\nEND:VEVENT\r\n"
    "BEGIN:VTODO\r\nUID:todo@test\r\nDTSTART:20270105T100000Z\r\nDUE:20270106T100000Z\r\n"
    "END:VTODO\r\n"
    "BEGIN:VFREEBUSY\r\nUID:fb@test\r\nDTSTART:20270101T000000Z\r\nDTEND:20270201T000000Z\r\n"
    "FREEBUSY;FBTYPE=BUSY:20270126T140000Z/PT1H,20270127T140000Z/20270127T150000Z\r\n"
    "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
)
# One value of each kind iCalendar has (and a list mixing two).
KIND_VALUES = [
    "20270105",
    "20270105T100000Z",
    "20270105T100000",
    "20270105T100000Z/PT1H",
    "20270105T100000Z/20270105T110000Z",
    "PT1H",
    "-P1D",
    "100000",
    "-0500",
    "FREQ=DAILY;COUNT=2",
    "3",
    "1.5",
    "TRUE",
    "text",
    "20270105,PT1H",
]
VALUE_TYPES = [
    "",
    "",
    "",
    ";VALUE=DATE",
    ";VALUE=DATE-TIME",
    ";VALUE=DURATION",
    ";VALUE=PERIOD",
    ";VALUE=TIME",
    ";VALUE=UTC-OFFSET",
    ";VALUE=RECUR",
    ";VALUE=INTEGER",
    ";VALUE=FLOAT",
    ";VALUE=TEXT",
]


@st.composite
def swapped_kinds(draw: st.DrawFn) -> str:
    """EVERY_PROPERTY with one or two property values replaced by a value of any kind, maybe
    with a VALUE parameter that says it is of yet another kind."""
    out = EVERY_PROPERTY.splitlines()
    named = [k for k, line in enumerate(out) if _name(line) not in ("BEGIN", "END")]
    for _ in range(draw(st.integers(1, 2))):
        k = draw(st.sampled_from(named))
        out[k] = (
            f"{out[k].split(':', 1)[0]}{draw(st.sampled_from(VALUE_TYPES))}:"
            f"{draw(st.sampled_from(KIND_VALUES))}"
        )
    return "\r\n".join(out) + "\r\n"


@FUZZ
@given(text=swapped_kinds(), zone=st.sampled_from(ZONES))
def test_values_of_another_kind_read_or_refused(text: str, zone: ZoneInfo) -> None:
    """Properties holding a value of another kind (DURATION:20270105, RDATE:PT1H,
    SEQUENCE;VALUE=TEXT:x): busy time, or a CalendarError."""
    check_ics(text, zone)


# -- CSV -------------------------------------------------------------------------------

CSV_DOC = parse_program(BASE_PROGRAM)
CSVS = [
    "member,day,start,end,type\nben,WE,09:00,10:00,\nben,2027-01-08,13:00,14:00,available\n"
    "ben,,2027-01-13T00:00,2027-01-14T00:00,unavailable\n",
    "\ufeffMember,Day,Start,End\nana,TU,14:00,18:30\nana,TH,14:00,18:30\n"
    "ben,MO,09:00,17:00\nben,FR,09:00,12:00\n",
    "member,day,start,end,type\nana,,2027-02-15T00:00,2027-02-20T00:00,unavailable\n"
    "ana,2027-03-02,09:00,24:00,available\n\n,,,,\nben,SU,00:00,24:00,available\n",
]
_CELLS = [
    "",
    "ana",
    "ben",
    "zed",
    "a b",
    "MO",
    "mo",
    "XX",
    "2027-01-08",
    "2027-02-30",
    "09:00",
    "24:00",
    "25:00",
    "9am",
    "-1:00",
    "10:60",
    "00:00",
    "23:59",
    "2027-01-13T00:00",
    "2027-01-13T00:00+14:00",
    "9999-12-31T23:59",
    "0001-01-01",
    "0001-01-01T00:00-12:00",
    "available",
    "unavailable",
    "busy",
    '"',
    '"a,b"',
    "x" * 300,
    "\x00",
    "2027-01-13T25:00",
    "1e9",
]


@st.composite
def mutated_csv(draw: st.DrawFn) -> str:
    """A CSV of CSVS with lines deleted, duplicated or swapped and cells replaced."""
    rows = [line.split(",") for line in draw(st.sampled_from(CSVS)).splitlines()]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(rows) - 1))
        op = draw(
            st.sampled_from(
                ["cell", "cell", "cell", "delete", "duplicate", "swap", "column", "garble"]
            )
        )
        if op == "cell" and rows[i]:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(st.sampled_from(_CELLS))
        elif op == "delete" and len(rows) > 1:
            del rows[i]
        elif op == "duplicate":
            rows.insert(i, list(rows[i]))
        elif op == "swap":
            j = draw(st.integers(0, len(rows) - 1))
            rows[i], rows[j] = rows[j], rows[i]
        elif op == "column":
            rows[i].insert(draw(st.integers(0, len(rows[i]))), draw(st.sampled_from(_CELLS)))
        elif op == "garble":
            rows[i] = [draw(st.text(max_size=20))]
    text = "\n".join(",".join(r) for r in rows) + "\n"
    return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text


@FUZZ
@given(text=mutated_csv(), replace=st.booleans())
def test_mutated_csv_applied_or_refused(text: str, replace: bool) -> None:
    """A changed CSV adds exactly its rows to the named members, or raises CsvError naming
    the line and column; the document it was applied to is never changed."""
    before = CSV_DOC.model_dump()
    try:
        with time_guard():
            new = apply_csv(CSV_DOC, text, replace=replace)
    except CsvError as exc:
        event("refused")
        assert exc.line >= 1 and exc.column and exc.problem, exc
        assert str(exc).startswith(f"line {exc.line}, {exc.column}: ")
        assert CSV_DOC.model_dump() == before
        return
    event("applied")
    assert CSV_DOC.model_dump() == before
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    column = [h.strip().lower() for h in table[0]].index("member")
    rows = Counter(
        r[column].strip() if column < len(r) else "" for r in table[1:] if any(c.strip() for c in r)
    )
    for old, m in zip(CSV_DOC.members, new.members, strict=True):
        if m.id in rows:  # every row of the member lands in one of its lists
            base = 0 if replace else _entries(old)
            assert _entries(m) == base + rows[m.id]
        else:
            assert m == old
    check_availability(new)


def _entries(member: Any) -> int:
    return len(member.weekly) + len(member.available) + len(member.unavailable)


# -- program documents -----------------------------------------------------------------

SPEC_EXAMPLE = {
    "version": 1,
    "program": {
        "id": "spring-2027",
        "name": "Spring cohort",
        "timezone": "America/New_York",
        "start": "2027-01-04",
        "end": "2027-04-05",
        "granularity_minutes": 15,
        "working_hours": [
            {"days": ["MO", "TU", "WE", "TH", "FR"], "start": "09:00", "end": "17:00"}
        ],
        "now": "2027-01-04T14:00:00Z",
    },
    "members": [
        {
            "id": "ana",
            "name": "Ana Silva",
            "email": "ana@example.org",
            "timezone": "Europe/Lisbon",
            "weekly": [{"days": ["TU", "TH"], "start": "14:00", "end": "18:30"}],
            "unavailable": [{"start": "2027-02-15T00:00", "end": "2027-02-20T00:00"}],
            "available": [],
            "calendars": [{"ics_text": CALENDARS[-1]}],
            "max_sessions_per_week": 4,
        },
        {"id": "ben", "timezone": "America/New_York"},
        {"id": "cara"},
        {"id": "dan", "timezone": "Asia/Kolkata"},
    ],
    "matches": [
        {
            "id": "ana-ben",
            "members": ["ana", "ben"],
            "organizer": "ana",
            "duration_minutes": 60,
            "sessions": 8,
            "frequency": "weekly",
            "preferred": {"days": ["TU"], "start": "09:00", "end": "12:00"},
            "earliest_start": "2027-01-11",
            "conferencing": {"video_url": "https://meet.example.org/ana-ben"},
            "agenda": "Goals for the term",
        },
        {"id": "cara-dan", "members": ["cara", "dan"], "duration_minutes": 30},
    ],
    "bookings": [
        {"match": "cara-dan", "start": "2027-01-12T15:00:00Z", "end": "2027-01-12T16:00:00Z"}
    ],
}
DOCUMENTS = [BASE_PROGRAM, SPEC_EXAMPLE, demo_program(date(2027, 1, 1))]
BAD_DOCUMENTS = [json.loads(p.read_text()) for p in sorted((DATA / "bad_documents").glob("*.json"))]
_HOSTILE = [
    None,
    True,
    0,
    -1,
    7,
    1.5,
    10**30,
    "",
    "x",
    "a b",
    [],
    {},
    [None],
    {"x": 1},
    "2027-02-30",
    "2027-01-04",
    "2027-01-04T10:00",
    "2027-01-04T10:00:00+14:00",
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31",
    "9999-12-31T23:59-12:00",
    "24:00",
    "25:00",
    "09:00",
    "9am",
    "Mars/Base",
    "Europe/Lisboa",
    "a" * 300,
    "../../etc/passwd",
    "Europe/Berlin",
    "MO",
    ["MO", "XX"],
    "weekly",
    "once",
    "ana",
    "ben",
    ["ana", "ana"],
    ["ana", "nobody"],
    {"ics_path": "/etc/passwd"},
    {"ics_text": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"},
    float("nan"),
    "\x00",
]
_EDGE_TIMES = [
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31",
    "9999-12-31T23:59:00-12:00",
    "2027-02-30",
    "2027-03-14T02:30",
    "25:00",
    "24:00",
]
_EDGE_ZONES = ["Mars/Base", "Europe/Lisboa", "a" * 300, "../../etc/passwd", "", "UTC"]
# Values a field of that name could well have, and edge cases of its kind: mutations that
# keep a document valid reach the checks after validation (references, grid, availability).
_PLAUSIBLE: dict[str, list[Any]] = {
    "timezone": [
        "Europe/Berlin",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "America/St_Johns",
        "UTC",
        "Australia/Lord_Howe",
    ],
    "start": [
        "2027-01-04",
        "2027-03-14",
        "2027-03-14T02:30",
        "2027-11-07T01:30",
        "00:00",
        "09:15",
        "23:45",
        "2027-01-04T10:00:00+05:45",
    ],
    "end": [
        "2027-12-31",
        "2028-01-04",
        "2027-03-15",
        "2027-11-08T00:00",
        "24:00",
        "17:05",
        "2027-01-05T10:00:00-03:30",
    ],
    "now": ["2027-01-04T14:00:00Z", "2027-03-01T00:00:00Z", "2026-01-01", "2030-01-01"],
    "days": [["SU"], ["MO", "TU", "WE", "TH", "FR", "SA", "SU"], ["FR", "MO"]],
    "granularity_minutes": [5, 10, 20, 30, 60],
    "duration_minutes": [5, 20, 45, 90, 1440],
    "sessions": [1, 2, 52, 520],
    "frequency": ["once", "biweekly", "monthly"],
    "max_sessions_per_week": [0, 1, 100],
    "earliest_start": ["2027-02-01", "2027-03-14T02:30"],
    "unavailable": [
        [{"start": "2027-01-01", "end": "2027-12-31"}],
        [{"start": "2027-03-14T01:00", "end": "2027-03-14T04:00"}],
    ],
    "available": [[{"start": "2027-01-09T10:00", "end": "2027-01-09T12:00"}]],
    "calendars": [[{"ics_text": c} for c in CALENDARS[:3]], [{"ics_text": CALENDARS[-1]}]],
    "weekly": [[], [{"days": ["SA"], "start": "22:00", "end": "24:00"}]],
    "required": [["ana"], []],
    "organizer": ["ben", "ana"],
}
# Edge cases first: generation favours the first choices of a list.
for _key in ("start", "end", "now", "earliest_start"):
    _PLAUSIBLE[_key] = _EDGE_TIMES + _PLAUSIBLE[_key]
_PLAUSIBLE["timezone"] = _EDGE_ZONES + _PLAUSIBLE["timezone"]


@st.composite
def mutated_document(draw: st.DrawFn) -> Any:
    """A document of DOCUMENTS (or, a quarter of the time, of tests/data/bad_documents)
    with 1-3 values replaced by hostile or plausible ones, keys deleted or added, or list
    items duplicated; or its JSON text damaged."""
    doc = copy.deepcopy(
        draw(
            st.sampled_from(DOCUMENTS)
            if draw(st.integers(0, 3))
            else st.sampled_from(BAD_DOCUMENTS)
        )
    )
    if draw(st.integers(0, 4)) == 0:  # the JSON text itself
        text = json.dumps(doc, indent=1)
        return draw(damaged(text)).decode("utf-8", "replace")
    for _ in range(draw(st.integers(1, 3))):
        # By field name first, so every kind of field gets its turn, and mostly the
        # fields with a pool of their own.
        places = _places(doc)
        names = sorted({k if isinstance(k, str) else "[]" for _, k in places})
        own = [n for n in names if n in _PLAUSIBLE]
        name = draw(st.sampled_from(own if own and draw(st.integers(0, 2)) else names))
        parent, key = draw(
            st.sampled_from(
                [(c, k) for c, k in places if (k if isinstance(k, str) else "[]") == name]
            )
        )
        op = draw(st.sampled_from(["value", "value", "value", "delete", "add", "duplicate"]))
        if op == "value":
            pool = _HOSTILE
            if isinstance(key, str) and key in _PLAUSIBLE and draw(st.integers(0, 3)):
                pool = _PLAUSIBLE[key]
            parent[key] = copy.deepcopy(draw(st.sampled_from(pool)))
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["emial", "timezone", "weekly", "now", "id"]))] = (
                copy.deepcopy(draw(st.sampled_from(_HOSTILE)))
            )
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return doc


def _places(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in ``doc``, so deep fields are picked as often as
    top-level ones."""
    keys = sorted(doc) if isinstance(doc, dict) else range(len(doc))
    out = [(doc, k) for k in keys]
    for k in keys:
        if isinstance(doc[k], dict | list):
            out += _places(doc[k])
    return out


def check_availability(doc: ProgramDocument) -> None:
    """The availability of a valid document: one column per member, nobody free before
    ``now``; calendars are read only when they need no network or file."""
    sources = [c for m in doc.members for c in m.calendars]
    offline = all(c.ics_text is not None for c in sources)
    try:
        avail = build_availability(doc, calendars=offline)
    except CalendarError as exc:
        assert offline and exc.member and exc.problem, exc
        return
    grid = program_grid(doc)
    assert avail.matrix.shape == (grid.n_slots, len(doc.members))
    assert not np.any(avail.matrix[: grid.first_open_slot])


@settings(FUZZ, max_examples=600)  # cheap examples; a document has many fields to hit
@given(data=mutated_document())
def test_mutated_documents_parse_or_name_the_field(data: Any) -> None:
    """A changed program document parses (and then reads back from its own dump and gives
    availability), or raises DocumentError whose every problem names its field."""
    try:
        with time_guard():
            doc = parse_program(data)
    except DocumentError as exc:
        event("refused")
        assert exc.errors, exc
        for problem in exc.errors:
            assert problem.message, exc
            assert (
                problem.path
                or isinstance(data, str)
                or "program" in problem.message
                or problem.message.startswith(("a program document", "Input should"))
            ), exc
        return
    event("parsed")
    dumped = doc.model_dump(mode="json", exclude_none=True)
    assert parse_program(json.loads(json.dumps(dumped))) == doc  # the service stores dumps
    with time_guard():
        check_availability(doc)
