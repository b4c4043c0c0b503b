"""SPEC 4: recurring series are wall-clock in the organizer's zone, across DST."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.grid import SlotGrid
from solver.recurrence import candidate_table, occurrence_starts, rrule_text
from tests.reference import reference_occurrence_naives, reference_period_end

NY = ZoneInfo("America/New_York")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_weekly_tuesday_nine_keeps_local_time_across_both_dst_changes():
    first = datetime(2027, 3, 2, 9, 0, tzinfo=NY)
    starts = occurrence_starts(first, "weekly", 3)
    # 2027-03-14 DST begins: 09:00 EST is 14:00 UTC, 09:00 EDT is 13:00 UTC.
    assert starts == [utc(2027, 3, 2, 14), utc(2027, 3, 9, 14), utc(2027, 3, 16, 13)]
    autumn = occurrence_starts(datetime(2027, 10, 26, 9, 0, tzinfo=NY), "weekly", 3)
    assert autumn == [utc(2027, 10, 26, 13), utc(2027, 11, 2, 13), utc(2027, 11, 9, 14)]
    assert [s.astimezone(NY).hour for s in starts + autumn] == [9] * 6


def test_biweekly_steps_fourteen_days():
    starts = occurrence_starts(datetime(2027, 1, 5, 9, tzinfo=NY), "biweekly", 4)
    assert [s.astimezone(NY).date() for s in starts] == [
        date(2027, 1, 5),
        date(2027, 1, 19),
        date(2027, 2, 2),
        date(2027, 2, 16),
    ]
    assert rrule_text(starts[0], "biweekly", 4) == "FREQ=WEEKLY;INTERVAL=2;COUNT=4"


def test_monthly_repeats_nth_weekday_and_fifth_week_means_last():
    second = datetime(2027, 1, 12, 9, tzinfo=NY)  # 2nd Tuesday of January 2027
    assert [s.astimezone(NY).date() for s in occurrence_starts(second, "monthly", 3)] == [
        date(2027, 1, 12),
        date(2027, 2, 9),
        date(2027, 3, 9),
    ]
    assert rrule_text(second, "monthly", 3) == "FREQ=MONTHLY;BYDAY=2TU;COUNT=3"
    fifth = datetime(2027, 3, 30, 9, tzinfo=NY)  # 5th Tuesday of March 2027
    assert [s.astimezone(NY).date() for s in occurrence_starts(fifth, "monthly", 3)] == [
        date(2027, 3, 30),
        date(2027, 4, 27),
        date(2027, 5, 25),
    ]
    assert rrule_text(fifth, "monthly", 3) == "FREQ=MONTHLY;BYDAY=-1TU;COUNT=3"


def test_once_has_no_rrule():
    assert rrule_text(datetime(2027, 1, 12, 9, tzinfo=NY), "once", 1) is None


def test_time_in_spring_forward_gap_shifts_by_the_gap():
    starts = occurrence_starts(datetime(2027, 3, 7, 2, 30, tzinfo=NY), "weekly", 2)
    # 2027-03-14 02:30 does not exist in New York: it becomes 03:30 EDT.
    assert starts[1] == utc(2027, 3, 14, 7, 30)
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # a 30-minute DST shift
    starts = occurrence_starts(datetime(2027, 9, 26, 2, 15, tzinfo=lord_howe), "weekly", 2)
    assert starts[1].astimezone(lord_howe).replace(tzinfo=None) == datetime(2027, 10, 3, 2, 45)


ZONES = [
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kathmandu",
    "Pacific/Chatham",
]


@settings(max_examples=80, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    organizer=st.sampled_from(ZONES),
    start=st.dates(date(2027, 1, 1), date(2027, 12, 1)),
    weeks=st.integers(1, 10),
    g=st.sampled_from([15, 30, 60]),
    frequency=st.sampled_from(["once", "weekly", "biweekly", "monthly"]),
    sessions=st.integers(1, 4),
    k=st.integers(1, 3),
    delay=st.integers(0, 6 * 24 * 60),
)
def test_candidate_table_equals_calendar_arithmetic(
    zone, organizer, start, weeks, g, frequency, sessions, k, delay
):
    """Every candidate (and only those) by brute force: all first slots of the first
    period whose occurrences all start on the grid and end inside the horizon."""
    if frequency == "once":
        sessions = 1
    grid = SlotGrid(ZoneInfo(zone), start, start + timedelta(weeks=weeks), g)
    oz = ZoneInfo(organizer)
    earliest = grid.t0 + timedelta(minutes=delay)
    table = candidate_table(grid, oz, frequency, sessions, k, earliest)
    got = {int(f): list(map(int, row)) for f, row in zip(table.first, table.slots, strict=True)}

    slots = [grid.t0 + timedelta(minutes=g * i) for i in range(grid.n_slots)]
    index = {s: i for i, s in enumerate(slots)}
    end = reference_period_end(earliest, oz, frequency)
    expected = {}
    for i, s in enumerate(slots):
        if not earliest <= s < end:
            continue
        occ = [
            index.get(n.replace(tzinfo=oz).astimezone(UTC))
            for n in reference_occurrence_naives(s.astimezone(oz), frequency, sessions)
        ]
        if occ[0] == i and all(o is not None and o + k <= len(slots) for o in occ):
            expected[i] = occ
    assert got == expected


@pytest.mark.parametrize(
    "frequency,first",
    [
        ("weekly", datetime(2027, 3, 2, 9, 0)),
        ("biweekly", datetime(2027, 10, 19, 1, 30)),
        ("monthly", datetime(2027, 1, 29, 9, 0)),
        ("monthly", datetime(2027, 2, 9, 2, 30)),
        ("weekly", datetime(2027, 3, 7, 2, 30)),
    ],
)
@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe", "Europe/Paris"])
def test_rrule_text_expands_to_the_same_instants(frequency, first, zone):
    """The RRULE we write, expanded by dateutil (an independent implementation), gives the
    occurrences we booked."""
    tz = ZoneInfo(zone)
    start = first.replace(tzinfo=tz)
    ours = occurrence_starts(start, frequency, 6)
    theirs = list(rrulestr(rrule_text(start, frequency, 6), dtstart=start))
    assert [t.astimezone(UTC) for t in theirs] == ours


def test_second_pass_of_fall_back_hour_does_not_start_a_series():
    """01:30 on 2027-11-07 happens twice in New York; a DTSTART can only name the first."""
    grid = SlotGrid(NY, date(2027, 11, 7), date(2027, 11, 30), 30)
    table = candidate_table(grid, NY, "weekly", 2, 1, grid.t0)
    firsts = {grid.slot_start(int(f)) for f in table.first}
    assert utc(2027, 11, 7, 5, 30) in firsts  # 01:30 EDT
    assert utc(2027, 11, 7, 6, 30) not in firsts  # 01:30 EST, the second pass
    assert utc(2027, 11, 7, 7, 0) in firsts  # 02:00 EST
