"""The benchmark generators: valid, deterministic documents with the promised structure."""

import json
from collections import Counter
from datetime import date

import icalendar
import pytest

from benchmarks.generate import (
    component_sizes,
    describe,
    generate_ics_calendars,
    generate_program,
    main,
)
from ingest.availability import build_availability
from ingest.document import parse_program


@pytest.fixture(scope="module")
def small() -> dict:
    """The S preset, seed 0, generated once for the module."""
    return generate_program("S", seed=0)


def test_small_preset_parses(small):
    """The S preset is a valid version-1 program document with 50 matches."""
    doc = parse_program(small)
    assert len(doc.matches) == 50
    assert doc.program.timezone == "America/New_York"
    assert (doc.program.start, doc.program.end) == (date(2027, 1, 4), date(2027, 3, 29))


def test_small_preset_builds_availability(small):
    """The S preset goes through build_availability and leaves some free time."""
    availability = build_availability(parse_program(small), calendars=False)
    assert availability.matrix.shape[1] == len(small["members"])
    assert availability.matrix.any(axis=0).mean() > 0.9


def test_same_seed_same_document():
    """The same seed gives the same document."""
    assert generate_program("S", seed=3) == generate_program("S", seed=3)


def test_different_seeds_differ():
    """Different seeds give different documents."""
    assert generate_program("S", seed=1) != generate_program("S", seed=2)


def test_pairs_and_groups(small):
    """There are 1-on-1 pairs organised by the mentor and groups of 4-8 plus a facilitator."""
    stats = describe(small)
    assert stats["pairs"] > 0 and stats["groups"] > 0
    for match in small["matches"]:
        assert match["organizer"] == match["members"][0]
        assert len(match["members"]) == 2 or 5 <= len(match["members"]) <= 9
        assert match["duration_minutes"] in (45, 60)


def test_people_share_matches(small):
    """Mentors have 2-5 mentees, and some mentees also sit in a group."""
    per_mentor = Counter(x["organizer"] for x in small["matches"] if len(x["members"]) == 2)
    assert max(per_mentor.values()) >= 2 and max(per_mentor.values()) <= 5
    assert describe(small)["mentees_in_groups"] > 0


def test_no_giant_component():
    """The person graph splits into many components; none holds most of the people."""
    program = generate_program({"matches": 300}, seed=0)
    sizes = component_sizes(program)
    assert len(sizes) > 20
    assert sizes[0] < 0.25 * len(program["members"])


def test_time_zones_and_caps(small):
    """Members live in several zones and some mentors have a weekly cap of 2-4."""
    stats = describe(small)
    assert stats["time_zones"] >= 5
    caps = [m["max_sessions_per_week"] for m in small["members"] if "max_sessions_per_week" in m]
    assert caps and all(2 <= c <= 4 for c in caps)
    assert all(
        m["id"].startswith("mentor-") for m in small["members"] if "max_sessions_per_week" in m
    )


def test_sessions_fit_the_horizon(small):
    """A series never asks for more occurrences than the 12 weeks left after its start."""
    for match in small["matches"]:
        delay = 0
        if "earliest_start" in match:
            delay = (date.fromisoformat(match["earliest_start"]) - date(2027, 1, 4)).days // 7
        per_week = 1 if match["frequency"] == "weekly" else 2
        assert match["sessions"] * per_week <= 12 - delay


def test_unknown_size_key_is_refused():
    """A size dict with an unknown key is an error, not silently ignored."""
    with pytest.raises(ValueError, match="unknown size keys"):
        generate_program({"matchez": 10})


def test_ics_calendars_parse_and_are_deterministic():
    """Generated calendars are valid iCalendar with 50-100 events, the same for a seed."""
    texts = generate_ics_calendars(4, seed=0, start=date(2027, 1, 4), weeks=12)
    assert texts == generate_ics_calendars(4, seed=0, start=date(2027, 1, 4), weeks=12)
    for text in texts:
        assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
        events = icalendar.Calendar.from_ical(text).walk("VEVENT")
        assert 50 <= len(events) <= 101


def test_cli_writes_the_document(tmp_path, capsys):
    """``python -m benchmarks.generate S --seed 1 -o FILE`` writes the seed-1 document."""
    out = tmp_path / "s.json"
    assert main(["S", "--seed", "1", "-o", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == generate_program("S", seed=1)
    assert '"matches": 50' in capsys.readouterr().err


def test_caps_never_below_a_mentors_commitments(small):
    """A capped mentor signed up for no more weekly sessions than the cap allows
    (biweekly counts half), so the cap binds only when biweekly sessions pile up."""
    load = Counter()
    for match in small["matches"]:
        for person in match["members"]:
            load[person] += 1 if match["frequency"] == "weekly" else 0.5
    capped = [m for m in small["members"] if "max_sessions_per_week" in m]
    assert capped
    assert all(load[m["id"]] <= m["max_sessions_per_week"] for m in capped)


def test_presets_have_the_promised_sizes():
    """M has 1,000 matches; L has 5,000 matches, about 8,000 people, a 15-minute grid
    and 12 weekly sessions over 12 weeks."""
    assert describe(generate_program("M", seed=0))["matches"] == 1_000
    large = generate_program("L", seed=0)
    stats = describe(large)
    assert stats["matches"] == 5_000
    assert abs(stats["members"] - 8_000) <= 160
    assert large["program"]["granularity_minutes"] == 15
    assert (
        date.fromisoformat(large["program"]["end"]) - date.fromisoformat(large["program"]["start"])
    ).days == 12 * 7
    weekly = [x for x in large["matches"] if x["frequency"] == "weekly"]
    assert max(x["sessions"] for x in weekly) == 12
    assert sum(x["sessions"] == 12 for x in weekly) > 0.5 * len(large["matches"])
