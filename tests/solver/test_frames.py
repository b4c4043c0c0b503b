"""solver.frames: heat maps, proposals and plans as DataFrames agree with the arrays they
show, recomputed here independently (slot instants via grid.slot_start, availability via
Availability.column)."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from ingest.availability import build_availability
from ingest.document import parse_program
from solver.frames import (
    OCCURRENCE_COLUMNS,
    SERIES_COLUMNS,
    best_weekly_time,
    first_come_first_served_frame,
    heatmap_frame,
    occurrence_frame,
    plan_frames,
    proposals,
    series_frame,
)
from solver.heatmap import heatmap
from solver.peers import first_come_first_served
from solver.planner import plan
from solver.result import Plan, Score

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _local_cells(grid, zone):
    """(ISO date, "HH:MM") -> first slot starting then in ``zone``, by brute force."""
    cells = {}
    for i in range(grid.n_slots):
        local = grid.slot_start(i).astimezone(zone)
        cells.setdefault((local.date().isoformat(), f"{local:%H:%M}"), i)
    return cells


@pytest.fixture
def two(program_dict):
    """The shared two-member program (New York, 4 Jan - 5 Apr 2027, a DST change in
    March), its availability and the 60-minute heat map of ana and ben."""
    doc = parse_program(program_dict)
    avail = build_availability(doc)
    return doc, avail, heatmap(avail, ["ana", "ben"], 60)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Lisbon", "Asia/Kolkata"])
def test_date_cells_are_the_counts_of_the_slot_starting_then(two, zone):
    """by="date": every cell is hm.counts of the slot starting at that local date and time;
    every other cell (no slot starts then) is NaN."""
    _, avail, hm = two
    frame = heatmap_frame(hm, ZoneInfo(zone))
    cells = _local_cells(avail.grid, ZoneInfo(zone))
    assert hm.counts.max() == 2  # the check below sees 0, 1 and 2
    for (day, clock), slot in cells.items():
        assert frame.loc[clock, day] == hm.counts[slot], (day, clock)
    assert frame.notna().to_numpy().sum() == len(cells)
    assert list(frame.columns) == sorted({d for d, _ in cells})
    assert list(frame.index) == sorted({c for _, c in cells})


def test_date_frame_leaves_the_dst_gap_empty(two):
    """The spring-forward hour (02:00-02:45 on 14 March 2027 in New York) has no slot: NaN,
    while the same times the day before have one."""
    _, _, hm = two
    frame = heatmap_frame(hm, "America/New_York")
    assert frame.loc["02:00":"02:45", "2027-03-14"].isna().all()
    assert frame.loc["02:00":"02:45", "2027-03-13"].notna().all()


def test_fall_back_shows_the_first_of_two_slots(program_dict):
    """At a fall-back fold two slots share a wall-clock time: the frame shows the first."""
    program_dict["program"].update(start="2027-10-25", end="2027-11-15", now=None)
    program_dict["members"][1]["weekly"] = [{"days": ["SU"], "start": "01:00", "end": "01:30"}]
    program_dict["members"][0].pop("unavailable")
    avail = build_availability(parse_program(program_dict))
    hm = heatmap(avail, ["ben"], 15)
    grid, zone = avail.grid, ZoneInfo("America/New_York")
    first = avail.grid.index_of(datetime(2027, 11, 7, 5, 0, tzinfo=UTC))  # 01:00 EDT
    second = first + 4  # 01:00 EST, an hour later
    assert grid.slot_start(second).astimezone(zone).strftime("%H:%M") == "01:00"
    assert (hm.counts[first], hm.counts[second]) == (1, 0)
    assert heatmap_frame(hm, zone).loc["01:00", "2027-11-07"] == 1


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
@pytest.mark.parametrize("value", ["count", "share", "everyone"])
def test_weekday_cells_are_the_mean_over_dates(two, zone, value):
    """by="weekday": a cell is the mean, over the dates of that weekday with a slot at that
    time, of the count (or share, or everyone-free flag) of that slot."""
    _, avail, hm = two
    frame = heatmap_frame(hm, zone, by="weekday", value=value)
    n = len(hm.members)
    per_slot = {"count": hm.counts, "share": hm.counts / n, "everyone": hm.counts == n}[value]
    samples = defaultdict(list)
    for (day, clock), slot in _local_cells(avail.grid, ZoneInfo(zone)).items():
        weekday = WEEKDAYS[datetime.fromisoformat(day).weekday()]
        samples[clock, weekday].append(float(per_slot[slot]))
    assert list(frame.columns) == WEEKDAYS
    for (clock, weekday), values in samples.items():
        assert frame.loc[clock, weekday] == pytest.approx(np.mean(values)), (clock, weekday)
    assert frame.notna().to_numpy().sum() == len(samples)


def test_share_and_everyone_per_date(two):
    """value="share" is count / members; value="everyone" is 1 exactly where all can come."""
    _, _, hm = two
    count = heatmap_frame(hm, "Europe/Lisbon")
    share = heatmap_frame(hm, "Europe/Lisbon", value="share")
    everyone = heatmap_frame(hm, "Europe/Lisbon", value="everyone")
    pd.testing.assert_frame_equal(share, count / 2)
    pd.testing.assert_frame_equal(everyone, (count == 2).astype(float).where(count.notna()))
    assert everyone.sum().sum() == len(hm.everyone)


@pytest.mark.parametrize("bad", [{"by": "week"}, {"value": "percent"}])
def test_unknown_by_or_value_is_refused(two, bad):
    """A typo in by / value is an error, not a silently different table."""
    with pytest.raises(ValueError, match=next(iter(bad))):
        heatmap_frame(two[2], "UTC", **bad)


def _can_come(avail, member, start, minutes):
    """Whether ``member`` is free for every slot of a session from ``start`` (brute force)."""
    g = avail.grid.granularity_minutes
    slot = avail.grid.index_of(start.astimezone(UTC))
    return bool(avail.column(member)[slot : slot + minutes // g].all())


def test_occurrence_rows_agree_with_availability(two):
    """Each occurrence row: start/end are the session's instants, attending counts and
    missing names who is (not) free for all of it, holds means both are free."""
    doc, avail, _ = two
    found = proposals(doc, "ana-ben", avail, limit=3)
    frame = occurrence_frame(found)
    assert list(frame.columns) == list(OCCURRENCE_COLUMNS)
    assert len(frame) == sum(len(s.occurrences) for s in found) == 3 * 8
    assert not frame.holds.all()  # ana's vacation: the check below sees both cases
    for row in frame.itertuples():
        assert row.end - row.start == timedelta(minutes=60)
        free = [m for m in ("ana", "ben") if _can_come(avail, m, row.start, 60)]
        assert row.attending == len(free)
        assert row.missing == ", ".join(m for m in ("ana", "ben") if m not in free)
        assert row.holds == (len(free) == 2)
        assert pd.isna(row.alternative) or (
            not row.holds
            and _can_come(avail, "ana", row.alternative, 60)
            and _can_come(avail, "ben", row.alternative, 60)
        )
    assert list(frame.groupby("match", sort=False).occurrence.max()) == [8]
    assert str(frame.start.dtype) == "datetime64[ns, UTC]"


def test_series_rows_agree_with_their_occurrences(two):
    """Each series row: first start, sessions, held and attendance recomputed from the
    occurrence frame; ranks come best first (SPEC 5 order)."""
    doc, avail, _ = two
    found = proposals(doc, "ana-ben", avail, limit=4)
    series, occ = series_frame(found), occurrence_frame(found)
    assert list(series.columns) == list(SERIES_COLUMNS)
    occ["series"] = np.repeat(np.arange(len(found)), [len(s.occurrences) for s in found])
    for i, row in series.iterrows():
        mine = occ[occ.series == i]
        assert row.first_start == mine.start.iloc[0] == found[i].occurrences[0].start
        assert row.sessions == len(mine) == 8
        assert row.held == mine.holds.sum()
        assert row.attendance == mine.attending[mine.holds].sum()
        assert row.rrule == "FREQ=WEEKLY;COUNT=8"
    keys = list(
        zip(-series.held, -series.attendance, -series.preferred, series.first_start, strict=True)
    )
    assert keys == sorted(keys)


def test_proposals_top_is_the_single_match_plan(two):
    """proposals()[0] is what plan() picks for a one-match program, with or without a
    prebuilt availability; overrides reach the spec."""
    doc, avail, _ = two
    best = proposals(doc, "ana-ben", avail, limit=1)
    assert len(best) == 1
    assert best[0].first_slot == plan(doc, avail, time_limit=10).series[0].first_slot
    assert proposals(doc, "ana-ben", limit=1) == best
    once = proposals(doc, "ana-ben", avail, limit=2, frequency="once", duration_minutes=30)
    assert [len(s.occurrences) for s in once] == [1, 1]
    assert {s.duration_minutes for s in once} == {30} and once[0].rrule is None


@pytest.mark.parametrize(
    "overrides", [{"duration_minutes": 50}, {"frequency": "once", "sessions": 2}]
)
def test_proposals_refuse_overrides_the_wizard_refuses(two, overrides):
    """Durations off the grid and several one-off sessions are errors, as in the API."""
    with pytest.raises(ValueError):
        proposals(two[0], "ana-ben", two[1], **overrides)


def test_plan_frames_cover_series_occurrences_and_unscheduled(program_dict):
    """plan_frames: one series row per planned series, all their occurrences, and each
    unscheduled match with its reason, in the plan's order."""
    # Sunday 03:00 in Tokyo is Saturday afternoon in New York, when ben does not work.
    program_dict["members"].append(
        {
            "id": "cy",
            "timezone": "Asia/Tokyo",
            "weekly": [{"days": ["SU"], "start": "03:00", "end": "04:00"}],
        }
    )
    program_dict["matches"].append(
        {
            "id": "ben-cy",
            "members": ["ben", "cy"],
            "duration_minutes": 60,
            "sessions": 2,
            "frequency": "weekly",
        }
    )
    doc = parse_program(program_dict)
    result = plan(doc, time_limit=10)
    series, occ, unscheduled = plan_frames(result)
    assert list(series.match) == [s.match for s in result.series] == ["ana-ben"]
    assert len(occ) == sum(len(s.occurrences) for s in result.series)
    assert (
        list(unscheduled.itertuples(index=False, name=None))
        == [(u.match, u.reason) for u in result.unscheduled]
        != []
    )
    assert series.held.sum() == result.objective.held
    assert series.attendance.sum() == result.objective.attendance


def test_empty_plan_gives_empty_frames_with_their_columns():
    """A plan with nothing in it still yields frames with the documented columns and
    dtypes, so code written against them works on an empty program."""
    empty = Plan("optimal", Score(), Score(), 0.0, (), ())
    series, occ, unscheduled = plan_frames(empty)
    assert (len(series), len(occ), len(unscheduled)) == (0, 0, 0)
    assert list(series.columns) == list(SERIES_COLUMNS)
    assert list(occ.columns) == list(OCCURRENCE_COLUMNS)
    assert list(unscheduled.columns) == ["match", "reason"]
    assert str(series.first_start.dtype) == str(occ.start.dtype) == "datetime64[ns, UTC]"
    assert str(series.held.dtype) == str(occ.attending.dtype) == "int64"


def test_best_weekly_time_is_the_one_common_start_in_the_viewers_zone(program_dict):
    """Ana free only on Wednesdays 10:00-11:00 in New York, Ben all working day: the one
    time both can attend 60 minutes is Wed 10:00 there, Wed 15:00 in Lisbon (winter; in
    the DST weeks it is 14:00, in fewer weeks)."""
    program_dict["members"][0].update(
        timezone="America/New_York", weekly=[{"days": ["WE"], "start": "10:00", "end": "11:00"}]
    )
    avail = build_availability(parse_program(program_dict))
    hm = heatmap(avail, ["ana", "ben"], 60)
    assert best_weekly_time(hm, "America/New_York") == "Wed 10:00"
    assert best_weekly_time(hm, ZoneInfo("Europe/Lisbon")) == "Wed 15:00"


def test_best_weekly_time_is_none_when_they_never_meet(program_dict):
    """Ana free only on Saturdays, Ben on weekdays: None."""
    program_dict["members"][0]["weekly"] = [{"days": ["SA"], "start": "10:00", "end": "12:00"}]
    avail = build_availability(parse_program(program_dict))
    assert best_weekly_time(heatmap(avail, ["ana", "ben"], 60), "America/New_York") is None


def test_first_come_first_served_frame_is_the_peer_per_match(program_dict):
    """One row per match in document order with the peer's held and attendance; a match
    that got nothing (Ana's weekly cap of one is taken by the first) has 0 and 0."""
    program_dict["members"][0]["max_sessions_per_week"] = 1
    program_dict["members"].append({"id": "cy", "timezone": "America/New_York"})
    program_dict["matches"].append(
        {
            "id": "ana-cy",
            "members": ["ana", "cy"],
            "duration_minutes": 60,
            "sessions": 4,
            "frequency": "weekly",
        }
    )
    doc = parse_program(program_dict)
    avail = build_availability(doc)
    peer = first_come_first_served(doc, avail)
    frame = first_come_first_served_frame(doc, avail)
    assert frame.index.name == "match" and list(frame.columns) == ["held", "attendance"]
    assert list(frame.itertuples(name=None)) == [
        (m, s.held if s else 0, s.attendance if s else 0) for m, s in peer
    ]
    assert frame.loc["ana-ben", "held"] > 0
    assert tuple(frame.loc["ana-cy"]) == (0, 0)
