"""SPEC 2 calendar busy time: one real-world-shaped .ics fixture per quirk, expected by hand."""

import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.errors import CalendarError
from ingest.ics_source import busy_from_ics

ICS = Path(__file__).parent.parent / "data" / "ics"
# The member reading every fixture lives in New York: EST (UTC-5) until 2027-03-14, then
# EDT (UTC-4). All-day and floating events land on that zone.
NEW_YORK = ZoneInfo("America/New_York")
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))


def _utc(text: str) -> datetime:
    """``"01-05 14:00"`` -> 2027-01-05T14:00Z."""
    return datetime.strptime(f"2027-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def _iv(start: str, end: str) -> tuple[datetime, datetime]:
    return _utc(start), _utc(end)


# Worked out from each file by hand (see the comments), never by the code under test.
EXPECTED = {
    # X-WR-TIMEZONE:Europe/Berlin: the weekly 09:00Z (10:00 CET) event stays at 10:00 Berlin
    # after the EU change on 03-28 (so 08:00Z); the floating 12:00 is Berlin time, 11:00Z.
    "google_xwr_timezone.ics": [
        _iv("03-10 11:00", "03-10 12:00"),
        _iv("03-22 09:00", "03-22 10:00"),
        _iv("03-29 08:00", "03-29 09:00"),
        _iv("04-05 08:00", "04-05 09:00"),
    ],
    # W. Europe 10:00 CET = 09:00Z (BUSY); Eastern 09:00 EST = 14:00Z (TENTATIVE);
    # India 14:30 IST = 09:00Z (OOF); the BUSYSTATUS:FREE one is free although OPAQUE.
    "outlook_windows_zone.ics": [
        _iv("01-12 09:00", "01-12 10:00"),
        _iv("01-13 14:00", "01-13 15:00"),
        _iv("01-14 09:00", "01-14 10:00"),
    ],
    # Local New York days: 01-18..01-20 (two days); 01-25 without DTEND (one day);
    # 03-14 is the spring-forward day, 23 hours long; the transparent birthday is free.
    "all_day.ics": [
        _iv("01-18 05:00", "01-20 05:00"),
        _iv("01-25 05:00", "01-26 05:00"),
        _iv("03-14 05:00", "03-15 04:00"),
    ],
    # Floating 09:00 in New York: 14:00Z in winter, 13:00Z after 03-14; a date-time
    # DTSTART without DTEND/DURATION lasts no time and blocks nothing.
    "floating.ics": [
        _iv("01-19 14:00", "01-19 15:00"),
        _iv("03-10 14:00", "03-10 14:30"),
        _iv("03-17 13:00", "03-17 13:30"),
    ],
    # DURATION instead of DTEND: PT1H30M; Paris 09:00 CET + PT45M; a DATE + P2D (New York
    # days); a daily RRULE with DURATION.
    "duration.ics": [
        _iv("01-21 15:00", "01-21 16:30"),
        _iv("01-22 08:00", "01-22 08:45"),
        _iv("01-26 05:00", "01-28 05:00"),
        _iv("02-01 13:00", "02-01 13:30"),
        _iv("02-02 13:00", "02-02 13:30"),
    ],
    # Only CONFIRMED and TENTATIVE block; TRANSPARENT (one-off or recurring) and CANCELLED
    # do not.
    "transparent_and_cancelled.ics": [
        _iv("01-11 15:00", "01-11 16:00"),
        _iv("01-12 17:00", "01-12 18:00"),
    ],
    # Tuesdays 10:00 EST x6 from 01-05: 01-12 is an EXDATE, 01-19 moved to Wed 01-20 14:00,
    # 01-26 cancelled by its override; 01-05, 02-02, 02-09 stay.
    "recurring_exdate_override.ics": [
        _iv("01-05 15:00", "01-05 16:00"),
        _iv("01-20 19:00", "01-20 20:00"),
        _iv("02-02 15:00", "02-02 16:00"),
        _iv("02-09 15:00", "02-09 16:00"),
    ],
    # DTSTART plus two RDATEs (1 h each); a PERIOD RDATE carries its own 2 h length.
    "rdate.ics": [
        _iv("02-01 16:00", "02-01 17:00"),
        _iv("02-03 16:00", "02-03 17:00"),
        _iv("02-05 18:00", "02-05 19:00"),
        _iv("02-08 10:00", "02-08 11:00"),
        _iv("02-09 10:00", "02-09 12:00"),
    ],
    # BUSY (start/end and start/duration in one line), no FBTYPE, BUSY-TENTATIVE and
    # BUSY-UNAVAILABLE are busy; FREE is not.
    "vfreebusy.ics": [
        _iv("01-05 14:00", "01-05 15:00"),
        _iv("01-06 14:00", "01-06 14:30"),
        _iv("01-08 14:00", "01-08 15:00"),
        _iv("01-11 14:00", "01-11 15:00"),
        _iv("01-12 00:00", "01-13 00:00"),
    ],
    # Providers' real exports (docs/calendars.md), each read the way it is published.
    # Google's secret address: X-WR-TIMEZONE and its VTIMEZONE; the weekly Berlin standup
    # at 09:30 (CET, 08:30Z; CEST from 03-28, 07:30Z) until 04-05, 03-29 an EXDATE, 03-22
    # moved to Tue 03-23 14:00 CET; a one-off in UTC; all-day (New York days, EDT) busy only
    # when set to busy (TRANSP:OPAQUE); "show as available" (TRANSPARENT) is free.
    "google_secret_address.ics": [
        _iv("03-15 08:30", "03-15 09:00"),
        _iv("03-18 04:00", "03-20 04:00"),
        _iv("03-23 13:00", "03-23 13:30"),
        _iv("03-24 15:00", "03-24 16:00"),
        _iv("04-05 07:30", "04-05 08:00"),
    ],
    # Outlook's published ICS link (Exchange): Windows zones with their VTIMEZONEs. The
    # Tuesday "Jour fixe" 10:00 CET (09:00Z) until 02-09, 01-19 an EXDATE, 01-26 moved to
    # 15:00 CET; TENTATIVE at 09:00 EST (14:00Z) is busy; FREE (TRANSPARENT) is not; the
    # all-day OOF covers New York's 02-01 and 02-02 (EST); "Customized Time Zone" is the
    # file's own Lord Howe definition: 09:00 is +11 on 04-03, +10:30 on 04-04.
    "outlook_published.ics": [
        _iv("01-12 09:00", "01-12 10:00"),
        _iv("01-13 14:00", "01-13 14:30"),
        _iv("01-26 14:00", "01-26 15:00"),
        _iv("02-01 05:00", "02-03 05:00"),
        _iv("02-02 09:00", "02-02 10:00"),
        _iv("02-09 09:00", "02-09 10:00"),
        _iv("04-02 22:00", "04-02 23:00"),
        _iv("04-03 22:30", "04-03 23:30"),
    ],
    # iCloud's public calendar: Apple's VTIMEZONEs (localised TZNAMEs, its own property
    # order) and X-APPLE properties. The daily 06:30 run in Lord Howe: +11 on 04-02, 04-03
    # an EXDATE, +10:30 from 04-04; 01:45 on 04-04 is the first pass of the repeated half
    # hour (+11) and 02:45 is +10:30; an all-day holiday (busy) on New York's 04-12..04-14
    # (EDT); a birthday (TRANSPARENT) is free; the Berlin choir 18:00 CEST (16:00Z) has 30
    # minutes of Apple travel time before it, busy too.
    "icloud_public.ics": [
        _iv("04-01 19:30", "04-01 20:30"),
        _iv("04-03 14:45", "04-03 16:15"),
        _iv("04-03 20:00", "04-03 21:00"),
        _iv("04-04 20:00", "04-04 21:00"),
        _iv("04-12 04:00", "04-15 04:00"),
        _iv("04-20 15:30", "04-20 17:30"),
    ],
}

# Broken calendars: the problem and the offending line the error must name.
BROKEN = {
    "broken_not_utf8.ics": ("not UTF-8", None),
    "broken_not_vcalendar.ics": ("not an iCalendar file", "<!DOCTYPE html>"),
    "broken_truncated.ics": ("no END:VCALENDAR", "DTSTART:2027"),
    "broken_bad_date.ics": ("bad DTSTART", "DTSTART:2027-01-05 10:00"),
    "broken_unknown_tzid.ics": (
        'unknown time zone "Mars Standard Time"',
        "DTSTART;TZID=Mars Standard Time:20270105T100000",
    ),
    "broken_bad_rrule.ics": ("bad RRULE", "RRULE:FREQ=SOMETIMES;COUNT=3"),
    "broken_end_before_start.ics": ("ends before it starts", "DTEND:20270105T100000Z"),
    "broken_no_dtstart.ics": ("no DTSTART", "UID:no-start"),
    "broken_unknown_xwr_timezone.ics": (
        'unknown time zone "Europe/Lisboa"',
        "X-WR-TIMEZONE:Europe/Lisboa",
    ),
}


def test_every_fixture_is_in_a_table():
    """Guards against a fixture file that no test reads."""
    assert {p.name for p in ICS.glob("*.ics")} == set(EXPECTED) | set(BROKEN)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_busy_intervals(name):
    """SPEC 2: each calendar quirk yields exactly the hand-computed busy intervals."""
    busy = busy_from_ics((ICS / name).read_bytes(), NEW_YORK, *WINDOW)
    assert busy == EXPECTED[name]
    assert all(s.utcoffset().total_seconds() == 0 for s, _ in busy)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_calendar_raises(name):
    """SPEC 2: a broken calendar raises CalendarError naming the problem and line, never 'free'."""
    problem, line = BROKEN[name]
    with pytest.raises(CalendarError) as info:
        busy_from_ics((ICS / name).read_bytes(), NEW_YORK, *WINDOW)
    assert problem in info.value.problem
    assert info.value.line == line
    assert isinstance(info.value, ValueError)


def test_text_and_bytes_read_alike():
    """Guards that ics_text (str) and ics_path (bytes) give the same busy time."""
    data = (ICS / "recurring_exdate_override.ics").read_bytes()
    assert busy_from_ics(data.decode(), NEW_YORK, *WINDOW) == busy_from_ics(data, NEW_YORK, *WINDOW)


def test_only_intervals_overlapping_the_window():
    """Guards that busy time is limited to intervals overlapping [start, end), end exclusive."""
    data = (ICS / "recurring_exdate_override.ics").read_bytes()
    # 01-05 15:00-16:00 touches the start only at its end; 02-02 15:00 starts at the end.
    busy = busy_from_ics(data, NEW_YORK, _utc("01-05 16:00"), _utc("02-02 15:00"))
    assert busy == [_iv("01-20 19:00", "01-20 20:00")]
    busy = busy_from_ics(data, NEW_YORK, _utc("01-05 15:59"), _utc("02-02 15:01"))
    assert busy == [
        _iv("01-05 15:00", "01-05 16:00"),
        _iv("01-20 19:00", "01-20 20:00"),
        _iv("02-02 15:00", "02-02 16:00"),
    ]


def test_all_day_and_floating_follow_the_member_zone():
    """SPEC 2: all-day and floating events are read in the member's zone, not UTC."""
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9, no DST
    assert busy_from_ics((ICS / "all_day.ics").read_bytes(), tokyo, *WINDOW)[0] == (
        datetime(2027, 1, 17, 15, tzinfo=UTC),
        datetime(2027, 1, 19, 15, tzinfo=UTC),
    )
    assert busy_from_ics((ICS / "floating.ics").read_bytes(), tokyo, *WINDOW)[0] == (
        datetime(2027, 1, 19, 0, tzinfo=UTC),
        datetime(2027, 1, 19, 1, tzinfo=UTC),
    )


def test_globally_unique_tzid_is_read_without_warning():
    """Regression: a '/vendor/Europe/Berlin' TZID warned (an error under pytest), not read."""
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla.org//Lightning//EN\r\n"
        "BEGIN:VEVENT\r\nUID:g\r\nDTSTAMP:20261201T120000Z\r\n"
        "DTSTART;TZID=/freeassociation.sourceforge.net/Europe/Berlin:20270105T100000\r\n"
        "DURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert busy_from_ics(text, NEW_YORK, *WINDOW) == [_iv("01-05 09:00", "01-05 10:00")]


def test_custom_vtimezone_is_used():
    """Guards that a TZID defined only by the file's own VTIMEZONE is honoured, not an error."""
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        "BEGIN:VEVENT\r\nUID:c\r\nDTSTAMP:20261201T120000Z\r\n"
        "DTSTART;TZID=Office Time:20270105T100000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Office Time\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19700101T000000\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
    )
    assert busy_from_ics(text, NEW_YORK, *WINDOW) == [_iv("01-05 07:00", "01-05 08:00")]


# Regressions found by fuzzing (tests/ingest/test_fuzz_parsers.py): each raised another
# exception, hung, or was read as something it does not say.


def _calendar(*event: str, before: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        + before
        + "BEGIN:VEVENT\r\nUID:e@test\r\nDTSTAMP:20270101T000000Z\r\n"
        + "".join(line + "\r\n" for line in event)
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        # dateutil walked every second (minute) of the horizon, or looped forever: a hang.
        (
            ["DTSTART:20270105T100000Z", "DTEND:20270105T100001Z", "RRULE:FREQ=SECONDLY"],
            "repeats too often",
        ),
        (
            ["DTSTART:19000105T100000Z", "DTEND:19000105T100100Z", "RRULE:FREQ=MINUTELY"],
            "repeats too often",
        ),
        (
            ["DTSTART:20270105T100000Z", "DTEND:20270105T110000Z", "RRULE:FREQ=DAILY;INTERVAL=0"],
            "INTERVAL must be at least 1",
        ),
        # A weekly event lasting 425 years: every occurrence since 1601 overlaps the window.
        (
            ["DTSTART:16011106T100000Z", "DTEND:20270105T110000Z", "RRULE:FREQ=WEEKLY;BYDAY=TU,TH"],
            "repeats too often",
        ),
        # AttributeError / TypeError deep in icalendar, recurring-ical-events or dateutil.
        (["DTSTART:20270105T100000Z", "DTSTART:20270106T100000Z"], "DTSTART more than once"),
        (["DTSTART:20270105T100000Z", "SEQUENCE:1", "SEQUENCE:2"], "SEQUENCE more than once"),
        (["DTSTART:100000", "DTEND:20270105T110000Z"], "bad DTSTART: not a date or date-time"),
        (["DTSTART:20270105T100000Z", "RRULE:COUNT=3"], "bad RRULE: no FREQ"),
        # OverflowError.
        (["DTSTART:20270105T100000Z", "DURATION:P99999999W"], "out of range"),
        # Read as busy 09:00-10:00 although it "ends" an hour before it starts.
        (["DTSTART:20270105T100000Z", "DURATION:-PT1H"], "negative DURATION"),
        # OSError: file name too long (a TZID is looked up as a zone file).
        (
            ["DTSTART;TZID=" + "a" * 300 + ":20270105T100000", "DTEND:20270105T110000Z"],
            "unknown time zone",
        ),
    ],
)
def test_fuzz_found_calendars_are_refused_at_once(lines, problem):
    """Regression: a CalendarError naming the problem, within a second."""
    started = time.monotonic()
    with pytest.raises(CalendarError) as info:
        busy_from_ics(_calendar(*lines), NEW_YORK, *WINDOW)
    assert problem in info.value.problem
    assert time.monotonic() - started < 1


def test_fuzz_found_broken_structure_is_refused():
    """Regression: an END that closes another component failed inside icalendar
    (AttributeError); a FREEBUSY period in the year 9999 overflowed."""
    with pytest.raises(CalendarError, match="END:VTIMEZONE closes BEGIN:VCALENDAR"):
        busy_from_ics("BEGIN:VCALENDAR\r\nTZID:x\r\nEND:VTIMEZONE\r\n", NEW_YORK, *WINDOW)
    with pytest.raises(CalendarError, match="out of range"):
        busy_from_ics(
            "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY:99991231T230000/P2D\r\n"
            "END:VFREEBUSY\r\nEND:VCALENDAR\r\n",
            NEW_YORK,
            *WINDOW,
        )


# Values of another kind than their property holds, found by a differential check: each
# parsed, then escaped from deep inside the expansion as another exception (a 500).


def _refused(text: str) -> CalendarError:
    with pytest.raises(CalendarError) as info:
        busy_from_ics(text, NEW_YORK, *WINDOW)
    return info.value


@pytest.mark.parametrize("rule", [[], ["RRULE:FREQ=DAILY;COUNT=3"]])
@pytest.mark.parametrize(
    "value", ["20270105", "20270105T110000Z", "20270105T100000Z/PT1H", "110000"]
)
def test_duration_holding_a_date_is_refused(value, rule):
    """Regression: a DURATION holding a date, date-time, period or time raised AttributeError
    ('seconds') inside recurring-ical-events; now a CalendarError naming it and its line."""
    err = _refused(_calendar("DTSTART:20270105T100000Z", f"DURATION:{value}", *rule))
    assert err.problem == "VEVENT 'e@test' has a bad DURATION: not a duration"
    assert (err.line, err.line_number) == (f"DURATION:{value}", 8)


@pytest.mark.parametrize("value", ["PT1H", "-P1D", "110000", "20270106T100000Z,PT1H"])
def test_rdate_holding_a_duration_is_refused(value):
    """Regression: an RDATE holding a duration (or a time) raised TypeError (a date-time
    compared with it) inside dateutil; now a CalendarError naming it and its line."""
    err = _refused(_calendar("DTSTART:20270105T100000Z", "DURATION:PT1H", f"RDATE:{value}"))
    assert err.problem == "VEVENT 'e@test' has a bad RDATE: not a date, date-time or period"
    assert (err.line, err.line_number) == (f"RDATE:{value}", 9)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("SEQUENCE:x", "VEVENT has a bad SEQUENCE: Expected int, got: x"),  # icalendar's vBroken
        ("SEQUENCE;VALUE=TEXT:1", "VEVENT 'e@test' has a bad SEQUENCE: not an integer"),
        ("SEQUENCE;VALUE=DATE:20270105", "VEVENT 'e@test' has a bad SEQUENCE: not an integer"),
    ],
)
def test_sequence_that_is_not_an_integer_is_refused(line, problem):
    """Regression: a SEQUENCE icalendar could not read (kept as a vBroken) or read as
    another kind raised TypeError (compared with a float) inside recurring-ical-events.
    SEQUENCE decides which version of an event counts, so it is refused, not skipped."""
    err = _refused(_calendar("DTSTART:20270105T100000Z", "DURATION:PT1H", line))
    assert err.problem == problem
    assert (err.line, err.line_number) == (line, 9)


_FREEBUSY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VFREEBUSY\r\nUID:f\r\n"
    "{}\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
)


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        # AttributeError: a UTC offset has no date.
        (
            _calendar("DTSTART:20270105T100000Z", "DTEND;VALUE=UTC-OFFSET:-0500"),
            "VEVENT 'e@test' has a bad DTEND: not a date or date-time",
            "DTEND;VALUE=UTC-OFFSET:-0500",
        ),
        (
            _calendar("DTSTART;VALUE=UTC-OFFSET:-0500", "DURATION:PT1H"),
            "VEVENT 'e@test' has a bad DTSTART: not a date or date-time",
            "DTSTART;VALUE=UTC-OFFSET:-0500",
        ),
        (
            _calendar(
                "DTSTART:20270105T100000Z",
                "DURATION:PT1H",
                "RRULE:FREQ=DAILY;COUNT=3",
                "RECURRENCE-ID;VALUE=UTC-OFFSET:+0100",
            ),
            "VEVENT 'e@test' has a bad RECURRENCE-ID: not a date or date-time",
            "RECURRENCE-ID;VALUE=UTC-OFFSET:+0100",
        ),
        # AttributeError in rrule_limits: a rule read as a date.
        (
            _calendar("DTSTART:20270105T100000Z", "DURATION:PT1H", "RRULE;VALUE=DATE:20270105"),
            "VEVENT 'e@test' has a bad RRULE: not a recurrence rule",
            "RRULE;VALUE=DATE:20270105",
        ),
        # Read as nothing: the occurrence it was to remove stayed busy.
        (
            _calendar(
                "DTSTART:20270105T100000Z",
                "DURATION:PT1H",
                "RRULE:FREQ=DAILY;COUNT=3",
                "EXDATE:PT1H",
            ),
            "VEVENT 'e@test' has a bad EXDATE: not a date or date-time",
            "EXDATE:PT1H",
        ),
        (
            _calendar(
                "DTSTART:20270105T100000Z",
                "DURATION:PT1H",
                "RRULE:FREQ=DAILY;COUNT=3",
                "EXDATE:20270106T100000Z/PT1H",
            ),
            "VEVENT 'e@test' has a bad EXDATE: not a date or date-time",
            "EXDATE:20270106T100000Z/PT1H",
        ),
        # TypeError: a date is no (start, end) pair; AttributeError: a UTC offset has no date.
        (
            _FREEBUSY.format("FREEBUSY;VALUE=DATE:20270105"),
            "VFREEBUSY 'f' has a bad FREEBUSY: not a period",
            "FREEBUSY;VALUE=DATE:20270105",
        ),
        (
            _FREEBUSY.format("FREEBUSY;VALUE=UTC-OFFSET:-0500"),
            "VFREEBUSY 'f' has a bad FREEBUSY: not a period",
            "FREEBUSY;VALUE=UTC-OFFSET:-0500",
        ),
    ],
)
def test_value_of_another_kind_is_refused(text, problem, line):
    """Regression: DTSTART, DTEND, RECURRENCE-ID, RRULE, EXDATE and FREEBUSY holding a value
    of another kind raised AttributeError or TypeError, or were skipped; now a
    CalendarError naming the property and its line."""
    err = _refused(text)
    assert err.problem == problem
    assert err.line == line and err.line_number is not None


def test_rule_that_never_occurs_leaves_its_first_occurrence():
    """Regression: dateutil walked a never-matching rule to the year 9999 (seconds per rule,
    a hang for many); the rule is dropped and the event keeps its DTSTART (RFC 5545)."""
    started = time.monotonic()
    busy = busy_from_ics(
        _calendar(
            "DTSTART:20270105T150000Z",
            "DTEND:20270105T160000Z",
            "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        ),
        NEW_YORK,
        *WINDOW,
    )
    assert busy == [_iv("01-05 15:00", "01-05 16:00")]
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("rule", ["FREQ=SECONDLY", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"])
def test_custom_zone_with_a_runaway_rule_is_refused(rule):
    """Regression: a VTIMEZONE rule is walked from its DTSTART (1601) on every offset asked
    of the zone icalendar builds from it: a hang. Refused before icalendar reads it."""
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Runaway " + rule + "\r\nBEGIN:STANDARD\r\n"
        "DTSTART:16011104T020000\r\nRRULE:" + rule + "\r\nTZOFFSETFROM:-0400\r\n"
        "TZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    started = time.monotonic()
    with pytest.raises(CalendarError, match="VTIMEZONE 'Runaway"):
        busy_from_ics(
            _calendar(
                f"DTSTART;TZID=Runaway {rule}:20270105T100000",
                f"DTEND;TZID=Runaway {rule}:20270105T110000",
                before=zone,
            ),
            NEW_YORK,
            *WINDOW,
        )
    assert time.monotonic() - started < 1


SECRET = "S3CRET"


def _cal(body: str) -> str:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{body}END:VCALENDAR\r\n"


_EVENT = "BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20261201T120000Z\r\n"
# Calendars with SECRET where an error message would quote the calendar, and the number of
# the line the error is about.
QUOTING = [
    (f"<html>{SECRET}</html>\n", 1),  # not a calendar at all: an internal page, say
    (_cal(f"BEGIN:VEVENT\r\nUID:{SECRET}\r\nEND:VEVENT\r\n"), 5),
    (_cal(_EVENT + f"DTSTART;TZID={SECRET}:20270105T100000\r\nEND:VEVENT\r\n"), 7),
    (_cal(_EVENT + f"DTSTART:{SECRET}\r\nEND:VEVENT\r\n"), 7),
    (_cal(_EVENT + f"DTSTART:20270105T100000Z\r\nEND:{SECRET}\r\n"), 8),
    (
        _cal(f"X-WR-TIMEZONE:{SECRET}\r\n" + _EVENT + "DTSTART:20270105T100000Z\r\nEND:VEVENT\r\n"),
        4,
    ),
    (_cal(_EVENT + f"DTSTART:20270105T100000Z\r\nRRULE:FREQ={SECRET}\r\nEND:VEVENT\r\n"), 8),
    (
        _cal(
            _EVENT.replace("UID:1", f"UID:{SECRET}") + "DTSTART:20270105T100000Z\r\n"
            "RRULE:FREQ=DAILY;INTERVAL=0\r\nEND:VEVENT\r\n"
        ),
        8,
    ),
    (
        _cal(
            _EVENT + f"DTSTART;TZID=Europe/Ber\r\n lin-{SECRET}:20270105T100000\r\nEND:VEVENT\r\n"
        ),
        7,
    ),  # folded: the number of the line where it starts
    (_cal(f"BEGIN:VFREEBUSY\r\nUID:x\r\nFREEBUSY:{SECRET}\r\nEND:VFREEBUSY\r\n"), 6),
    (
        _cal(
            _EVENT.replace("UID:1", f"UID:{SECRET}") + "DTSTART:20270105T100000Z\r\n"
            "DURATION:20270105\r\nEND:VEVENT\r\n"
        ),
        8,
    ),  # a value of another kind
    (f"BEGIN:VCALENDAR\r\nX-{SECRET}:1\r\n", 2),
]


@pytest.mark.parametrize(("text", "number"), QUOTING)
def test_an_error_without_content_quotes_nothing_of_the_calendar(text, number):
    """Guards errors about fetched calendars: they name the line's number and the problem
    but quote nothing the server sent (uploaded text is still quoted, for its author)."""
    with pytest.raises(CalendarError) as info:
        busy_from_ics(text, NEW_YORK, *WINDOW)
    assert SECRET in str(info.value) and info.value.line_number == number
    plain = info.value.without_content().for_member("mia", "calendar")
    assert SECRET not in str(plain) and plain.line is None
    assert str(plain).startswith("member 'mia', calendar: ")
    assert str(plain).endswith(f" (at line {number})")


def _events(n: int, uid: str = "e") -> str:
    """A calendar of ``n`` plain one-hour events."""
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}{i}@test\r\nDTSTAMP:20270101T000000Z\r\n"
        f"DTSTART:20270105T{i % 24:02d}0000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n"
        for i in range(n)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


@pytest.mark.parametrize(
    "text",
    [
        _events(10_001),
        _calendar(
            "DTSTART:20270105T100000Z",
            "DURATION:PT1H",
            "RDATE:"
            + ",".join(
                f"2027{m:02d}{d:02d}T{h:02d}0000Z"
                for m in range(1, 5)
                for d in range(1, 29)
                for h in range(24)
            )
            * 4,
        ),
    ],
)
def test_too_many_events_or_dates_are_refused_before_parsing(text):
    """More than 10,000 events, RDATE dates and FREEBUSY periods are refused at once, before
    icalendar spends seconds parsing them (no recurrence rule counts them)."""
    t = time.monotonic()
    with pytest.raises(CalendarError, match="more than 10,000 events"):
        busy_from_ics(text, NEW_YORK, *WINDOW)
    assert time.monotonic() - t < 1


@pytest.mark.parametrize("filler", ["X-PAD:1\r\n", "X-PAD:\r\n 1\r\n"])
def test_too_many_lines_are_refused_before_parsing(filler):
    """One event of 100,001 lines (folded or not) is refused at once: lines cost parsing
    time whatever they say (a 2 MB event of X: lines took 31 s to read)."""
    text = _calendar("DTSTART:20270105T100000Z", "DURATION:PT1H").replace(
        "END:VEVENT", filler * 100_001 + "END:VEVENT"
    )
    t = time.monotonic()
    with pytest.raises(CalendarError, match="more than 100,000 lines"):
        busy_from_ics(text, NEW_YORK, *WINDOW)
    assert time.monotonic() - t < 1


def test_events_of_all_of_a_members_calendars_count_together(monkeypatch):
    """Two calendars of 60% of the limit each: each alone is read, together they are
    refused (the limit is lowered to 1,000 so that the test reads only a few events)."""
    from ingest import rrule_limits
    from ingest.calendars import member_busy
    from ingest.document import CalendarSource

    monkeypatch.setattr(rrule_limits, "MAX_ENTRIES", 1_000)
    one = _events(600, "a")
    assert len(member_busy([CalendarSource(ics_text=one)], NEW_YORK, *WINDOW)) == 600
    with pytest.raises(CalendarError, match="more than 1,000 events") as err:
        member_busy(
            [CalendarSource(ics_text=one), CalendarSource(ics_text=_events(600, "b"))],
            NEW_YORK,
            *WINDOW,
        )
    assert err.value.field == "calendars[1]"


@pytest.mark.parametrize(
    "travel",
    [
        "X-APPLE-TRAVEL-DURATION;VALUE=DURATION:PT30M",  # as Apple writes it
        "X-APPLE-TRAVEL-DURATION:PT30M",  # untyped, as other tools copy it
    ],
)
@pytest.mark.parametrize("rule", [[], ["RRULE:FREQ=DAILY;COUNT=2"]])
def test_apple_travel_time_is_busy_before_the_event(travel, rule):
    """Regression: Apple Calendar's travel time (X-APPLE-TRAVEL-DURATION) was free time;
    the member is on the road, so it is busy before the event, each occurrence too."""
    text = _calendar("DTSTART:20270105T100000Z", "DTEND:20270105T110000Z", *rule, travel)
    busy = busy_from_ics(text, NEW_YORK, *WINDOW)
    expected = [_iv("01-05 09:30", "01-05 11:00"), _iv("01-06 09:30", "01-06 11:00")]
    assert busy == expected[: 1 + len(rule)]


@pytest.mark.parametrize(
    "line",
    [
        "X-APPLE-TRAVEL-DURATION;VALUE=DURATION:-PT30M",
        "X-APPLE-TRAVEL-DURATION:half an hour",
        "X-APPLE-TRAVEL-DURATION;VALUE=DATE:20270105",
    ],
)
def test_bad_apple_travel_time_is_refused(line):
    """A travel time that is not a duration of zero or more names the event and its line
    (it changes busy time, so it is not skipped)."""
    err = _refused(_calendar("DTSTART:20270105T100000Z", "DTEND:20270105T110000Z", line))
    assert err.problem == (
        "VEVENT 'e@test' has a bad X-APPLE-TRAVEL-DURATION: not a duration of zero or more"
    )
    assert err.line == line
