"""SPEC 2.3 end to end: a member's calendars take exactly their busy slots out of availability."""

from pathlib import Path

import numpy as np
import pytest

from ingest.availability import build_availability
from ingest.document import parse_program
from ingest.errors import CalendarError

ICS = Path(__file__).parent.parent / "data" / "ics"
# Wednesday 2027-01-06 10:50-11:05 New York (15:50Z-16:05Z): off the 15-minute grid.
OFF_GRID = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:off-grid\r\n"
    "DTSTAMP:20261201T120000Z\r\nDTSTART:20270106T155000Z\r\n"
    "DTEND:20270106T160500Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
TUESDAY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:tue\r\n"
    "DTSTAMP:20261201T120000Z\r\nDTSTART;TZID=America/New_York:20270105T100000\r\n"
    "DTEND;TZID=America/New_York:20270105T110000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_calendars_remove_exactly_their_busy_slots(program_dict):
    """SPEC 2: ben (New York, 9-17 weekdays) loses exactly the slots his calendars make busy."""
    ben = program_dict["members"][1]
    ben["calendars"] = [
        {"ics_text": TUESDAY},
        {"ics_text": OFF_GRID},
        {"ics_path": str(ICS / "transparent_and_cancelled.ics")},
    ]
    doc = parse_program(program_dict)
    with_cal = build_availability(doc).column("ben")
    without = build_availability(doc, calendars=False).column("ben")
    # Slot 0 is 2027-01-04 05:00Z (New York midnight), 4 slots an hour. Worked by hand:
    # Tue 01-05 15:00-16:00Z -> 136..139; Wed 01-06 15:50-16:05Z rounds out to 15:45-16:15
    # -> 235, 236; the fixture's Mon 01-11 15:00-16:00Z -> 712..715 and Tue 01-12
    # 17:00-18:00Z -> 816..819 (its transparent and cancelled events take nothing).
    lost = [*range(136, 140), 235, 236, *range(712, 716), *range(816, 820)]
    assert np.flatnonzero(without & ~with_cal).tolist() == lost
    assert not (with_cal & ~without).any()
    assert (
        build_availability(doc).column("ana").tolist()
        == build_availability(doc, calendars=False).column("ana").tolist()
    )


def test_broken_calendar_names_the_member(program_dict):
    """SPEC 2: a broken calendar fails the build with an error naming member and source."""
    program_dict["members"][1]["calendars"] = [
        {"ics_text": TUESDAY},
        {"ics_path": str(ICS / "broken_bad_rrule.ics")},
    ]
    with pytest.raises(CalendarError) as info:
        build_availability(parse_program(program_dict))
    assert info.value.member == "ben"
    assert "members[1].calendars[1] (ics_path)" in str(info.value)
    assert "bad RRULE" in str(info.value)


def test_missing_calendar_file_names_the_member(program_dict):
    """Guards that an ics_path that does not exist is an error for that member, not free time."""
    program_dict["members"][0]["calendars"] = [{"ics_path": str(ICS / "nope.ics")}]
    with pytest.raises(CalendarError, match=r"member 'ana'.*cannot read"):
        build_availability(parse_program(program_dict))
