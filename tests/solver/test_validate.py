"""SPEC 4-5: the validator, the oracle of the solver's tests and benchmarks, finds each
broken rule: one test per rule feeds it a plan broken in that one way."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ingest.availability import Availability, build_availability
from ingest.document import ProgramDocument, parse_program
from solver.planner import plan
from solver.result import Occurrence, Plan, Score, Series, Unscheduled
from solver.validate import validate

MORNINGS = {"days": ["MO", "TU", "WE", "TH", "FR"], "start": "09:00", "end": "12:00"}


def _program(cap: int | None = None) -> dict[str, Any]:
    """Three people free on weekday mornings; ana is in two weekly matches."""
    ana: dict[str, Any] = {"id": "ana", "timezone": "Europe/Berlin", "weekly": [MORNINGS]}
    if cap is not None:
        ana["max_sessions_per_week"] = cap
    return {
        "program": {
            "id": "p",
            "timezone": "Europe/Berlin",
            "start": "2027-01-04",
            "end": "2027-01-25",
            "granularity_minutes": 60,
        },
        "members": [
            ana,
            {"id": "ben", "timezone": "Europe/Berlin", "weekly": [MORNINGS]},
            {"id": "cara", "timezone": "Europe/Berlin", "weekly": [MORNINGS]},
        ],
        "matches": [
            {
                "id": "ana-ben",
                "members": ["ana", "ben"],
                "frequency": "weekly",
                "sessions": 2,
                "duration_minutes": 60,
            },
            {
                "id": "ana-cara",
                "members": ["ana", "cara"],
                "frequency": "weekly",
                "sessions": 2,
                "duration_minutes": 60,
            },
        ],
    }


@pytest.fixture(scope="module")
def planned() -> tuple[ProgramDocument, Availability, Plan]:
    """The fixture program, its availability and its (valid) plan."""
    doc = parse_program(_program())
    avail = build_availability(doc, calendars=False)
    return doc, avail, plan(doc, avail, time_limit=10)


def _series(p: Plan, match: str) -> Series:
    return next(s for s in p.series if s.match == match)


def _with_series(p: Plan, series: Series) -> Plan:
    """``p`` with the series of ``series.match`` replaced by ``series``."""
    return replace(p, series=tuple(series if s.match == series.match else s for s in p.series))


def _with_occurrence(p: Plan, match: str, occurrence: Occurrence) -> Plan:
    """``p`` with the first occurrence of ``match``'s series replaced."""
    s = _series(p, match)
    return _with_series(p, replace(s, occurrences=(occurrence, *s.occurrences[1:])))


def test_the_intact_plan_passes(planned):
    """The plan of the fixture program is valid, and schedules both matches."""
    doc, avail, p = planned
    assert validate(doc, avail, p) == []
    assert sorted(s.match for s in p.series) == ["ana-ben", "ana-cara"]


def test_a_second_series_of_a_match(planned):
    """SPEC 5: at most one series per match."""
    doc, avail, p = planned
    broken = replace(p, series=(*p.series, _series(p, "ana-ben")))
    assert "ana-ben: more than one series" in validate(doc, avail, broken)


def test_a_missing_occurrence(planned):
    """SPEC 4: a series has as many occurrences as its match has sessions."""
    doc, avail, p = planned
    s = _series(p, "ana-ben")
    broken = _with_series(
        p, replace(s, occurrences=s.occurrences[:1], score=Score(1, 2, s.score.preferred))
    )
    broken = replace(
        broken,
        objective=replace(
            p.objective, held=p.objective.held - 1, attendance=p.objective.attendance - 2
        ),
    )
    assert validate(doc, avail, broken) == ["ana-ben: 1 occurrences, not 2"]


def test_an_occurrence_off_the_grid(planned):
    """SPEC 4: every occurrence starts on a grid slot (here: half past the hour)."""
    doc, avail, p = planned
    o = _series(p, "ana-ben").occurrences[0]
    moved = replace(o, start=o.start + timedelta(minutes=30), end=o.end + timedelta(minutes=30))
    problems = validate(doc, avail, _with_occurrence(p, "ana-ben", moved))
    assert f"ana-ben: occurrence {moved.start} is off the grid or horizon" in problems


def test_an_occurrence_of_the_wrong_length(planned):
    """SPEC 4: an occurrence lasts its match's duration."""
    doc, avail, p = planned
    o = _series(p, "ana-ben").occurrences[0]
    longer = replace(o, end=o.end + timedelta(minutes=60))
    assert validate(doc, avail, _with_occurrence(p, "ana-ben", longer)) == [
        f"ana-ben: occurrence {o.start} has the wrong length"
    ]


def test_attending_someone_who_cannot(planned):
    """SPEC 3: those said to attend are those who can (ben is left out here)."""
    doc, avail, p = planned
    o = _series(p, "ana-ben").occurrences[0]
    assert validate(doc, avail, _with_occurrence(p, "ana-ben", replace(o, attending=("ana",)))) == [
        f"ana-ben: {o.start} attending ('ana',), truly ['ana', 'ben']"
    ]


def test_holds_when_it_does_not(planned):
    """SPEC 4: an occurrence holds exactly when its required members can attend."""
    doc, avail, p = planned
    o = _series(p, "ana-ben").occurrences[0]
    assert validate(doc, avail, _with_occurrence(p, "ana-ben", replace(o, holds=False))) == [
        f"ana-ben: {o.start} holds=False, truly True"
    ]


def test_a_series_in_which_nothing_holds(planned):
    """SPEC 5: a series is only chosen if one of its occurrences holds (here: Saturdays,
    when nobody is free)."""
    doc, avail, p = planned
    s = _series(p, "ana-ben")
    saturday = timedelta(days=5 - s.occurrences[0].start.weekday())
    occurrences = tuple(
        replace(
            o,
            start=o.start + saturday,
            end=o.end + saturday,
            holds=False,
            attending=(),
            missing=("ana", "ben"),
        )
        for o in s.occurrences
    )
    broken = _with_series(p, replace(s, occurrences=occurrences, score=Score()))
    broken = replace(
        broken,
        objective=replace(
            p.objective,
            held=p.objective.held - s.score.held,
            attendance=p.objective.attendance - s.score.attendance,
        ),
    )
    assert validate(doc, avail, broken) == ["ana-ben: no occurrence holds"]


def test_a_score_that_does_not_add_up(planned):
    """SPEC 5: a series' score counts its occurrences that hold and their attendance."""
    doc, avail, p = planned
    s = _series(p, "ana-ben")
    better = replace(s.score, attendance=s.score.attendance + 1)
    broken = replace(
        _with_series(p, replace(s, score=better)),
        objective=replace(p.objective, attendance=p.objective.attendance + 1),
        bound=replace(p.bound, attendance=p.bound.attendance + 1),
    )
    assert validate(doc, avail, broken) == [
        f"ana-ben: score {better} but truly held={s.score.held} attendance={s.score.attendance}"
    ]


def test_a_member_in_two_sessions_at_once(planned):
    """SPEC 5: no member is booked into two overlapping sessions (ana's two matches
    moved to the same times)."""
    doc, avail, p = planned
    same = replace(
        _series(p, "ana-cara"),
        occurrences=tuple(
            replace(o, start=b.start, end=b.end)
            for o, b in zip(
                _series(p, "ana-cara").occurrences, _series(p, "ana-ben").occurrences, strict=True
            )
        ),
    )
    problems = validate(doc, avail, _with_series(p, same))
    assert problems == ["ana is double-booked: ana-ben and ana-cara"] * 2


def test_more_sessions_in_a_week_than_the_cap(planned):
    """SPEC 5: at most max_sessions_per_week per member (ana, capped at 1, has two
    sessions a week in the plan made without the cap)."""
    _, avail, p = planned
    capped = parse_program(_program(cap=1))
    problems = validate(capped, avail, p)
    assert problems and all(
        x.startswith("ana has 2 sessions in week ") and x.endswith(", cap 1") for x in problems
    )


def test_an_objective_that_is_not_the_sum(planned):
    """SPEC 5: the objective is the sum of the series' scores."""
    doc, avail, p = planned
    broken = replace(p, objective=replace(p.objective, held=p.objective.held - 1))
    total = (p.objective.held, p.objective.attendance)
    assert validate(doc, avail, broken) == [
        f"objective {broken.objective} does not add up to {total}"
    ]


def test_an_objective_above_the_bound(planned):
    """SPEC 5: no plan is better than the bound the solver proved."""
    doc, avail, p = planned
    broken = replace(p, bound=replace(p.bound, held=p.bound.held - 1))
    assert validate(doc, avail, broken) == [
        f"objective {p.objective} exceeds the bound {broken.bound}"
    ]


def test_a_match_both_scheduled_and_unscheduled(planned):
    """SPEC 5: a match gets a series or is unscheduled, not both."""
    doc, avail, p = planned
    broken = replace(p, unscheduled=(Unscheduled("ana-ben", "no time"),))
    assert validate(doc, avail, broken) == ["a match is both scheduled and unscheduled"]
