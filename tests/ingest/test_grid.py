"""SPEC 1: the slot grid is absolute time; DST changes do not break it."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.grid import SlotGrid, local_to_utc

NY = ZoneInfo("America/New_York")


def test_slot_count_on_spring_forward_day():
    """A 23-hour local day (US spring forward) has 23 h of slots, not 24."""
    grid = SlotGrid(NY, date(2027, 3, 14), date(2027, 3, 15), 15)
    assert grid.n_slots == 23 * 4


def test_slot_count_on_fall_back_day():
    """A 25-hour local day (US fall back) has 25 h of slots."""
    grid = SlotGrid(NY, date(2027, 11, 7), date(2027, 11, 8), 30)
    assert grid.n_slots == 25 * 2


def test_slot_zero_is_local_midnight_of_start():
    """Slot 0 starts at local midnight of the first day, in UTC."""
    grid = SlotGrid(NY, date(2027, 1, 4), date(2027, 1, 5), 15)
    assert grid.t0 == datetime(2027, 1, 4, 5, tzinfo=UTC)
    assert grid.slot_start(4) == datetime(2027, 1, 4, 6, tzinfo=UTC)


def test_index_rounding():
    """floor/ceil/exact slot lookups agree with the half-open slot definition."""
    grid = SlotGrid(NY, date(2027, 1, 4), date(2027, 1, 5), 15)
    t = datetime(2027, 1, 4, 5, 20, tzinfo=UTC)
    assert grid.floor_index(t) == 1
    assert grid.ceil_index(t) == 2
    assert grid.index_of(t) is None
    assert grid.index_of(datetime(2027, 1, 4, 5, 15, tzinfo=UTC)) == 1
    assert grid.index_of(grid.t_end) is None


def test_now_marks_the_past():
    """Slots that start before now are the past; a slot starting at now is open."""
    now = datetime(2027, 1, 4, 14, 5, tzinfo=UTC)
    grid = SlotGrid(NY, date(2027, 1, 4), date(2027, 1, 5), 15, now)
    assert grid.slot_start(grid.first_open_slot) == datetime(2027, 1, 4, 14, 15, tzinfo=UTC)


def test_gap_times_shift_forward_and_folds_take_first_instant():
    """SPEC 2: 02:30 in the spring gap is 03:30 EDT; 01:30 at fall back is the EDT one."""
    gap = local_to_utc(datetime(2027, 3, 14, 2, 30), NY)
    assert gap == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert gap.astimezone(NY).hour == 3
    fold = local_to_utc(datetime(2027, 11, 7, 1, 30), NY)
    assert fold == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_bad_grid_is_refused():
    """A granularity off the list or an empty horizon is a ValueError."""
    with pytest.raises(ValueError):
        SlotGrid(NY, date(2027, 1, 4), date(2027, 1, 5), 7)
    with pytest.raises(ValueError):
        SlotGrid(NY, date(2027, 1, 4), date(2027, 1, 4), 15)
