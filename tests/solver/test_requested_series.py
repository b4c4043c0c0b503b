"""A series a facilitator asks for (the booking preview) is evaluated exactly as the
proposals evaluate their candidates (SPEC 5-6): one scorer, not two."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ingest.document import parse_program
from solver.errors import SolverError
from solver.proposals import propose, requested_series


def test_a_proposal_asked_for_is_the_proposal(program_dict):
    """Every proposal, asked for by its own occurrence starts, comes back equal: the same
    attendance, holds, alternatives (Ana is away on Tuesday 16 February, so Tuesday series
    break that week and offer the Thursday) and score."""
    program_dict["members"][0]["unavailable"] = [
        {"start": "2027-02-15T00:00", "end": "2027-02-17T00:00"}
    ]
    doc = parse_program(program_dict)
    found = propose(doc, "ana-ben", limit=50)
    assert found.series
    assert any(not o.holds and o.alternative for s in found.series for o in s.occurrences)
    for s in found.series:
        again = requested_series(doc, "ana-ben", [o.start for o in s.occurrences])
        assert again == s


def test_a_series_no_proposal_would_offer_is_still_evaluated(program_dict):
    """A start outside Ana's weekly window (Monday 09:00 New York): every occurrence is
    evaluated, none holds, Ana is missing from each, and the score says so."""
    doc = parse_program(program_dict)
    s = requested_series(
        doc,
        "ana-ben",
        [_ny("2027-01-11T09:00") + timedelta(weeks=j) for j in range(3)],
        frequency="weekly",
    )
    assert [o.holds for o in s.occurrences] == [False] * 3
    assert [o.missing for o in s.occurrences] == [("ana",)] * 3
    assert (s.score.held, s.rrule) == (0, "FREQ=WEEKLY;COUNT=3")


def test_an_occurrence_off_the_grid_is_refused(program_dict):
    """A start between two slots is a SolverError naming first_start."""
    doc = parse_program(program_dict)
    with pytest.raises(SolverError) as caught:
        requested_series(doc, "ana-ben", [_ny("2027-01-11T09:05")])
    assert caught.value.field == "first_start"


def _ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("America/New_York"))
