"""solver.difficulty.hardest_to_schedule: each member's tightest match, and the reasons."""

import pandas as pd

from ingest.availability import build_availability
from ingest.document import parse_program
from solver.difficulty import DIFFICULTY_COLUMNS, hardest_to_schedule
from solver.heatmap import heatmap


def _program(program_dict):
    """Ana (Lisbon, Tue/Thu 14:00-18:30), Ben (New York, working hours), Cy (New York,
    Mondays 09:00-10:00 only) and Dee (no match); pairs ana-ben and ben-cy."""
    program_dict["members"] += [
        {
            "id": "cy",
            "timezone": "America/New_York",
            "weekly": [{"days": ["MO"], "start": "09:00", "end": "10:00"}],
        },
        {"id": "dee", "timezone": "Asia/Tokyo"},
    ]
    program_dict["matches"].append(
        {
            "id": "ben-cy",
            "members": ["ben", "cy"],
            "duration_minutes": 60,
            "sessions": 4,
            "frequency": "weekly",
        }
    )
    doc = parse_program(program_dict)
    return doc, build_availability(doc, calendars=False)


def test_each_member_is_judged_by_the_tightest_match(program_dict):
    """Ben's tightest match is the one with Cy (one hour a week), not Ana's afternoons;
    the mutual hours are the heat map's everyone-free starts, per week of the program."""
    doc, avail = _program(program_dict)
    hard = hardest_to_schedule(doc, avail)
    assert tuple(hard.columns) == DIFFICULTY_COLUMNS and hard.index.name == "member"
    weeks = 13
    with_cy = len(heatmap(avail, ["ben", "cy"], 60).everyone) * 15 / 60 / weeks
    with_ana = len(heatmap(avail, ["ana", "ben"], 60).everyone) * 15 / 60 / weeks
    assert 0 < with_cy < with_ana
    assert (hard.loc["ben", "match"], hard.loc["ben", "with"]) == ("ben-cy", "cy")
    assert hard.loc["ben", "mutual_h_per_week"] == with_cy
    assert (hard.loc["ana", "match"], hard.loc["ana", "mutual_h_per_week"]) == ("ana-ben", with_ana)


def test_hardest_first_and_a_member_in_no_match_last(program_dict):
    """Rows run from the fewest mutual hours up; Dee, in no match, comes last with no
    match columns."""
    doc, avail = _program(program_dict)
    hard = hardest_to_schedule(doc, avail)
    assert list(hard.index) == ["ben", "cy", "ana", "dee"]
    assert hard.loc["dee", ["match", "with", "mutual_h_per_week"]].isna().all()


def test_reasons_name_what_a_coordinator_can_act_on(program_dict):
    """Cy: few free hours and narrow windows; Ana: few hours too (9 a week, none in her
    vacation week: 108 in 13 weeks) and 5 h from Ben; Dee: none ('-')."""
    doc, avail = _program(program_dict)
    hard = hardest_to_schedule(doc, avail)
    assert hard.loc["cy", "why"] == "few free hours (1.0 h/week); narrow windows (at most 1 h)"
    assert hard.loc["ana", "why"] == "few free hours (8.3 h/week); 5 h zone gap to ben"
    assert hard.loc["ana", "zone_gap_h"] == 5.0 and hard.loc["ben", "zone_gap_h"] == 0.0
    assert hard.loc["dee", "why"] == "-"


def test_never_free_together_is_said(program_dict):
    """A pair with no common start time: 0 mutual hours, and the reason names the partner
    and the match."""
    program_dict["members"][1]["weekly"] = [{"days": ["MO"], "start": "09:00", "end": "17:00"}]
    doc = parse_program(program_dict)
    hard = hardest_to_schedule(doc, build_availability(doc, calendars=False))
    assert hard.loc["ana", "mutual_h_per_week"] == 0
    assert hard.loc["ana", "why"].endswith("never free together with ben for ana-ben")


def test_availability_is_built_when_not_given(program_dict):
    """Without ``avail`` the document's own availability is used."""
    doc = parse_program(program_dict)
    pd.testing.assert_frame_equal(
        hardest_to_schedule(doc), hardest_to_schedule(doc, build_availability(doc))
    )
