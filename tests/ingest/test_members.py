"""ingest.members: UTC offsets, free time per member, and the weekly-cap what-if."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ingest.availability import Availability, build_availability
from ingest.document import load_program, parse_program
from ingest.errors import DocumentError
from ingest.grid import SlotGrid
from ingest.members import (
    free_hours_per_week,
    longest_free_hours,
    utc_offset_hours,
    with_weekly_cap,
)

WINTER = datetime(2027, 1, 4, 12, tzinfo=UTC)
SUMMER = datetime(2027, 7, 5, 12, tzinfo=UTC)


def _week(**free: list[range]) -> Availability:
    """One week of hourly slots (168) in UTC; each member free in the given slot ranges."""
    grid = SlotGrid(ZoneInfo("UTC"), date(2027, 1, 4), date(2027, 1, 11), 60)
    matrix = np.zeros((grid.n_slots, len(free)), dtype=bool)
    for j, ranges in enumerate(free.values()):
        for r in ranges:
            matrix[r, j] = True
    return Availability(grid, tuple(free), matrix)


def test_utc_offset_is_the_members_zone_at_that_instant(program_dict):
    """Lisbon is UTC+0 in winter and +1 in summer; New York -5 and -4."""
    doc = parse_program(program_dict)
    assert [utc_offset_hours(doc, m, WINTER) for m in ("ana", "ben")] == [0.0, -5.0]
    assert [utc_offset_hours(doc, m, SUMMER) for m in ("ana", "ben")] == [1.0, -4.0]


def test_utc_offset_of_a_member_without_zone_is_the_programs(program_dict):
    """A member who gives no zone lives in the program's (New York)."""
    program_dict["members"][0].pop("timezone")
    assert utc_offset_hours(parse_program(program_dict), "ana", WINTER) == -5.0


def test_free_hours_per_week_and_longest_stretch():
    """Free slots counted over the grid's weeks; the longest run of consecutive free slots
    wins, wherever it is; never free is 0 for both."""
    avail = _week(a=[range(10, 14), range(20, 23)], b=[range(0, 1), range(160, 168)], c=[])
    assert [free_hours_per_week(avail, m) for m in "abc"] == [7.0, 9.0, 0.0]
    assert [longest_free_hours(avail, m) for m in "abc"] == [4.0, 8.0, 0.0]


def test_free_time_of_a_real_program(program_dict):
    """Ben keeps the program's working hours (Mon-Fri 09:00-17:00): 40 hours a week, 8 at a
    stretch; Ana's Tuesday and Thursday afternoons are 4.5 hours long."""
    avail = build_availability(parse_program(program_dict), calendars=False)
    assert free_hours_per_week(avail, "ben") == 40.0
    assert longest_free_hours(avail, "ben") == 8.0
    assert longest_free_hours(avail, "ana") == 4.5


def test_with_weekly_cap_sets_or_removes_every_cap(program_dict):
    """Every member gets the cap (or none); nothing else changes and the original stays."""
    program_dict["members"][1]["max_sessions_per_week"] = 4
    doc = parse_program(program_dict)
    capped = with_weekly_cap(doc, 2)
    assert [m.max_sessions_per_week for m in capped.members] == [2, 2]
    assert [m.max_sessions_per_week for m in with_weekly_cap(doc, None).members] == [None] * 2
    assert [m.max_sessions_per_week for m in doc.members] == [None, 4]
    assert capped.model_dump(exclude={"members"}) == doc.model_dump(exclude={"members"})
    assert [m.model_dump(exclude={"max_sessions_per_week"}) for m in capped.members] == [
        m.model_dump(exclude={"max_sessions_per_week"}) for m in doc.members
    ]
    assert capped.member("ben").max_sessions_per_week == 2


def test_with_weekly_cap_validates_and_keeps_the_documents_folder(program_dict, tmp_path):
    """A negative cap is refused like in any document; a loaded document's folder (where
    its ics_path calendars are) carries over."""
    import json

    path = tmp_path / "program.json"
    path.write_text(json.dumps(program_dict))
    doc = load_program(path)
    assert with_weekly_cap(doc, 3).base_dir == doc.base_dir == tmp_path.resolve()
    with pytest.raises(DocumentError, match=r"members\[0\]\.max_sessions_per_week"):
        with_weekly_cap(doc, -1)
