"""SPEC 2: the availability matrix equals a slot-by-slot reference, across zones and DST."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.availability import Availability, build_availability, program_grid
from ingest.document import parse_program
from tests.reference import CODES, reference_availability

ZONES = [
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "America/Santiago",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "UTC",
]
# DST changes in 2027 and a zone that has each (US, EU, southern hemisphere, Chile,
# Lord Howe's 30-minute shift, Chatham's 02:45 change).
PIVOTS = [
    (date(2027, 3, 14), "America/New_York"),
    (date(2027, 3, 28), "Europe/London"),
    (date(2027, 4, 4), "Australia/Sydney"),
    (date(2027, 4, 4), "Australia/Lord_Howe"),
    (date(2027, 4, 4), "America/Santiago"),
    (date(2027, 9, 5), "America/Santiago"),
    (date(2027, 10, 3), "Australia/Adelaide"),
    (date(2027, 9, 26), "Pacific/Chatham"),
    (date(2027, 10, 31), "Europe/London"),
    (date(2027, 11, 7), "America/New_York"),
]


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def windows(draw):
    start = draw(st.integers(0, 286)) * 5
    end = draw(st.integers(start // 5 + 1, 288)) * 5
    days = (
        CODES
        if draw(st.booleans())
        else draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True))
    )
    return {"days": days, "start": _clock(start), "end": _clock(end)}


@st.composite
def local_intervals(draw, first: date, days: int):
    a = datetime.combine(first, datetime.min.time()) + timedelta(
        minutes=5 * draw(st.integers(-288, days * 288))
    )
    b = a + timedelta(minutes=5 * draw(st.integers(1, 600)))
    return {"start": a.isoformat(), "end": b.isoformat()}


@st.composite
def programs(draw):
    pivot, pivot_zone = draw(st.sampled_from(PIVOTS))
    zones = st.one_of(st.just(pivot_zone), st.sampled_from(ZONES))
    first = pivot + timedelta(days=draw(st.integers(-3, 0)))
    days = draw(st.integers(1, 6))
    g = draw(st.sampled_from([15, 30, 60]))
    members = []
    for i in range(draw(st.integers(1, 3))):
        m = {"id": f"m{i}", "timezone": draw(zones)}
        if draw(st.booleans()):
            m["weekly"] = draw(st.lists(windows(), min_size=1, max_size=3))
        m["available"] = draw(st.lists(local_intervals(first, days), max_size=2))
        m["unavailable"] = draw(st.lists(local_intervals(first, days), max_size=2))
        members.append(m)
    program = {
        "id": "p",
        "timezone": draw(zones),
        "start": first.isoformat(),
        "end": (first + timedelta(days=days)).isoformat(),
        "granularity_minutes": g,
        "working_hours": draw(st.lists(windows(), min_size=1, max_size=2)),
    }
    if draw(st.booleans()):
        now = datetime.combine(first, datetime.min.time(), UTC) + timedelta(
            minutes=7 * draw(st.integers(0, days * 205))
        )
        program["now"] = now.isoformat()
    busy = {}
    for m in members:
        rows = []
        for _ in range(draw(st.integers(0, 2))):
            a = datetime.combine(first, datetime.min.time(), UTC) + timedelta(
                minutes=draw(st.integers(-600, days * 1440))
            )
            rows.append((a, a + timedelta(minutes=draw(st.integers(1, 300)))))
        busy[m["id"]] = rows
    return {"program": program, "members": members}, busy


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_matrix_equals_reference(case):
    """Windows, working hours, one-off intervals, busy time and the past, DST included."""
    data, busy = case
    doc = parse_program(data)
    avail = build_availability(doc, busy=busy, calendars=False)
    expected = reference_availability(doc, busy)
    for j, m in enumerate(avail.members):
        assert avail.matrix[:, j].tolist() == expected[m], m


def _doc(program_dict, **member_updates):
    program_dict["members"][1].update(member_updates)
    return parse_program(program_dict)


def test_working_hours_are_the_default(program_dict):
    """A member without weekly windows gets the program's working hours in their own zone."""
    avail = build_availability(parse_program(program_dict), calendars=False)
    ben = avail.column("ben")
    grid = avail.grid
    first = grid.slot_start(int(np.flatnonzero(ben)[0])).astimezone(ZoneInfo("America/New_York"))
    assert (first.hour, first.minute) == (9, 0)
    assert ben.sum() == 5 * 13 * 32  # 13 weeks of Mon-Fri 09:00-17:00 at 15 minutes


def test_windows_round_inward_and_busy_rounds_outward(program_dict):
    """A 09:10-10:50 window gives 09:15-10:45; a 09:50-10:05 busy blocks 09:45-10:15."""
    doc = _doc(program_dict, weekly=[{"days": ["WE"], "start": "09:10", "end": "10:50"}])
    col = build_availability(doc, calendars=False).column("ben")
    day = np.flatnonzero(col)[:6]
    assert len(np.flatnonzero(col)) == 13 * 6
    ny = ZoneInfo("America/New_York")
    grid = build_availability(doc, calendars=False).grid
    assert grid.slot_start(int(day[0])).astimezone(ny).strftime("%H:%M") == "09:15"
    doc = _doc(
        program_dict,
        weekly=[{"days": ["WE"], "start": "09:00", "end": "11:00"}],
        unavailable=[{"start": "2027-01-06T09:50", "end": "2027-01-06T10:05"}],
    )
    col = build_availability(doc, calendars=False).column("ben")
    first_day = [
        grid.slot_start(int(i)).astimezone(ny).strftime("%H:%M") for i in np.flatnonzero(col)[:4]
    ]
    assert first_day == ["09:00", "09:15", "09:30", "10:15"]


def test_back_to_back_windows_join(program_dict):
    """Windows 09:00-12:00 and 12:00-15:00 make one continuous stretch on a 60-min grid."""
    program_dict["program"]["timezone"] = "Asia/Kolkata"
    program_dict["program"]["granularity_minutes"] = 60
    program_dict["program"].pop("now")
    doc = _doc(
        program_dict,
        timezone="Asia/Kathmandu",
        weekly=[
            {"days": ["MO"], "start": "09:00", "end": "12:00"},
            {"days": ["MO"], "start": "12:00", "end": "15:00"},
        ],
    )
    col = build_availability(doc, calendars=False).column("ben")
    # Kathmandu is 15 minutes off the Kolkata hour grid: 6 hours give 5 whole slots.
    assert col.sum() == 13 * 5


def test_bookings_block_their_members(program_dict):
    """SPEC 6: bookings are busy time for every member of their match."""
    program_dict["bookings"] = [
        {"match": "ana-ben", "start": "2027-01-05T09:00", "end": "2027-01-05T10:00"}
    ]
    doc = parse_program(program_dict)
    avail = build_availability(doc, calendars=False)
    grid = avail.grid
    i = grid.index_of(datetime(2027, 1, 5, 14, tzinfo=UTC))
    assert not avail.column("ben")[i : i + 4].any()
    assert avail.column("ben")[i + 4]


def test_past_is_unavailable(program_dict):
    """SPEC 1: nobody is available in a slot that starts before now."""
    program_dict["program"]["now"] = "2027-01-05T15:00:00Z"
    avail = build_availability(parse_program(program_dict), calendars=False)
    cut = avail.grid.first_open_slot
    assert avail.grid.slot_start(cut) == datetime(2027, 1, 5, 15, tzinfo=UTC)
    assert not avail.matrix[:cut].any()
    assert avail.column("ben")[cut]


def test_frame_round_trip(program_dict):
    """to_frame gives aware slot starts and one bool column per member; from_frame inverts."""
    avail = build_availability(parse_program(program_dict), calendars=False)
    frame = avail.to_frame()
    assert str(frame.index.tz) == "UTC"
    assert list(frame.columns) == ["ana", "ben"]
    assert frame.index[0] == pd.Timestamp("2027-01-04T05:00Z")
    assert frame.dtypes.eq(bool).all()
    back = Availability.from_frame(avail.grid, frame)
    assert np.array_equal(back.matrix, avail.matrix)
    with pytest.raises(ValueError):
        Availability.from_frame(avail.grid, frame.iloc[1:])


def test_matrix_is_read_only(program_dict):
    """Availability is frozen: the solver cannot change what ingest measured."""
    avail = build_availability(parse_program(program_dict), calendars=False)
    with pytest.raises(ValueError):
        avail.matrix[0, 0] = True
    assert program_grid(parse_program(program_dict)).n_slots == avail.matrix.shape[0]
