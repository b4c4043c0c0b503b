"""SPEC 4-5: single-match optimum and tiny batches against brute force; plans validate."""

import itertools
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.availability import build_availability
from ingest.document import parse_program
from solver.peers import first_come_first_served
from solver.planner import plan
from solver.validate import validate
from tests.reference import CODES, reference_availability, reference_best, reference_candidates

ZONES = [
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Santiago",
    "Australia/Adelaide",
]
# Program starts that put a DST change inside a short horizon, for some zone above.
STARTS = [
    date(2027, 3, 1),
    date(2027, 3, 22),
    date(2027, 3, 29),
    date(2027, 9, 27),
    date(2027, 10, 25),
    date(2027, 11, 1),
]


def _clock(m):
    return f"{m // 60:02d}:{m % 60:02d}"


@st.composite
def window(draw):
    start = draw(st.integers(6, 20)) * 60 + draw(st.sampled_from([0, 30]))
    end = min(start + draw(st.integers(1, 4)) * 60, 24 * 60)
    return {
        "days": draw(st.lists(st.sampled_from(CODES[:5]), min_size=1, max_size=2, unique=True)),
        "start": _clock(start),
        "end": _clock(end),
    }


@st.composite
def programs(draw, n_matches=1):
    first = draw(st.sampled_from(STARTS))
    weeks = draw(st.integers(2, 6))
    n_people = draw(st.integers(2, 4))
    members = []
    for i in range(n_people):
        m = {
            "id": f"p{i}",
            "timezone": draw(st.sampled_from(ZONES)),
            "weekly": draw(st.lists(window(), min_size=1, max_size=2)),
        }
        if draw(st.booleans()):
            a = first + timedelta(days=draw(st.integers(0, weeks * 7)))
            m["unavailable"] = [
                {
                    "start": a.isoformat(),
                    "end": (a + timedelta(days=draw(st.integers(1, 8)))).isoformat(),
                }
            ]
        members.append(m)
    matches = []
    for x in range(n_matches):
        size = draw(st.integers(2, min(3, n_people)))
        who = draw(
            st.lists(
                st.sampled_from([m["id"] for m in members]),
                min_size=size,
                max_size=size,
                unique=True,
            )
        )
        if x > 0 and matches and draw(st.booleans()):
            shared = matches[0]["members"][0]  # a mentor shared with the first match
            if shared not in who:
                who[0] = shared
        freq = draw(st.sampled_from(["once", "weekly", "weekly", "biweekly", "monthly"]))
        sessions = 1 if freq == "once" else draw(st.integers(1, 3 if freq != "monthly" else 2))
        match = {
            "id": f"x{x}",
            "members": who,
            "organizer": who[0],
            "frequency": freq,
            "sessions": sessions,
            "duration_minutes": draw(st.sampled_from([60, 120])),
        }
        if draw(st.booleans()):
            match["preferred"] = {
                "days": draw(
                    st.lists(st.sampled_from(CODES[:5]), min_size=1, max_size=3, unique=True)
                )
            }
        if size > 2 and draw(st.booleans()):
            match["required"] = who[:2]
        matches.append(match)
    program = {
        "id": "p",
        "timezone": draw(st.sampled_from(ZONES)),
        "start": first.isoformat(),
        "end": (first + timedelta(weeks=weeks)).isoformat(),
        "granularity_minutes": 60,
    }
    return {"program": program, "members": members, "matches": matches}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_single_match_optimum_equals_brute_force(data):
    """SPEC 5: the plan of one match is its lexicographically best candidate."""
    doc = parse_program(data)
    avail = build_availability(doc, calendars=False)
    best = reference_best(doc, "x0", reference_availability(doc))
    result = plan(doc, avail, time_limit=10)
    assert validate(doc, avail, result) == []
    if best is None:
        assert [u.match for u in result.unscheduled] == ["x0"]
        assert result.unscheduled[0].reason
        return
    (series,) = result.series
    assert (
        series.first_slot,
        series.score.held,
        series.score.attendance,
        series.score.preferred,
    ) == best
    assert result.status == "optimal"


def _brute_batch(doc, ref):
    """Best summed (held, attendance) over every combination of viable candidates."""
    grid_g = doc.program.granularity_minutes
    options = []
    for x in doc.matches:
        k = x.duration_minutes // grid_g
        cands = [c for c in reference_candidates(doc, x.id, ref) if c[1] > 0]
        options.append([None] + [(x, k, c) for c in cands])
    best = (0, 0)
    for combo in itertools.product(*options):
        taken = set()
        ok = True
        score = [0, 0]
        for item in combo:
            if item is None:
                continue
            x, k, (first, held, att, _) = item
            from tests.reference import reference_occurrence_naives  # noqa: F401

            score[0] += held
            score[1] += att
            for s in _occurrence_slots(doc, x, first):
                for t in range(s, s + k):
                    for m in x.members:
                        ok &= (m, t) not in taken
                        taken.add((m, t))
        if ok:
            best = max(best, tuple(score))
    return best


def _occurrence_slots(doc, x, first):
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from tests.reference import reference_occurrence_naives, reference_slots

    slots = reference_slots(doc)
    index = {s: i for i, s in enumerate(slots)}
    zone = ZoneInfo(doc.member(x.organizer).timezone)
    return [
        index[n.replace(tzinfo=zone).astimezone(UTC)]
        for n in reference_occurrence_naives(slots[first].astimezone(zone), x.frequency, x.sessions)
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(n_matches=3))
def test_tiny_batch_is_optimal(data):
    """SPEC 5: a batch plan reaches the best (held, attendance) of all combinations."""
    doc = parse_program(data)
    avail = build_availability(doc, calendars=False)
    result = plan(doc, avail, time_limit=10)
    assert validate(doc, avail, result) == []
    assert result.status == "optimal"
    expected = _brute_batch(doc, reference_availability(doc))
    assert (result.objective.held, result.objective.attendance) == expected
    assert (result.bound.held, result.bound.attendance) == expected
    fcfs = [s for _, s in first_come_first_served(doc, avail) if s is not None]
    assert sum(s.held for s in fcfs) <= result.objective.held


def _generated(matches=40, seed=0):
    from benchmarks.generate import generate_program

    doc = parse_program(generate_program({"matches": matches}, seed=seed))
    return doc, build_availability(doc, calendars=False)


def test_first_come_first_served_plan_validates_and_is_not_better():
    """SPEC 5: the peer's plan is valid, and plan() holds at least as many occurrences."""
    from solver.peers import first_come_first_served_plan

    doc, avail = _generated()
    peer = first_come_first_served_plan(doc, avail)
    assert validate(doc, avail, peer) == []
    scores = [s for _, s in first_come_first_served(doc, avail) if s is not None]
    assert peer.objective.held == sum(s.held for s in scores)
    result = plan(doc, avail, time_limit=10)
    assert validate(doc, avail, result) == []
    assert (result.objective.held, result.objective.attendance) >= (
        peer.objective.held,
        peer.objective.attendance,
    )


def test_plan_falls_back_to_first_come_when_the_solver_finds_nothing(monkeypatch):
    """When CP-SAT returns no solution within its limit, the plan is still the
    first-come-first-served one, never an empty plan."""
    import solver.passes as passes
    import solver.peers as peers
    from solver.model import ModelResult

    def nothing(inst, **kwargs):
        return ModelResult("unknown", [None] * len(inst.matches), 0, 10**9, 0.0, 0.0, 0)

    doc, avail = _generated()
    monkeypatch.setattr(passes, "solve", nothing)
    result = plan(doc, avail, time_limit=10)
    assert result.stats.models > 0
    assert validate(doc, avail, result) == []
    peer = peers.first_come_first_served_plan(doc, avail)
    assert result.objective.held >= peer.objective.held
    assert result.status == "feasible"


def test_progress_is_reported_in_order_and_ends_at_one():
    """Long plans report progress: from 0 to 1, never backwards, not once per model."""
    doc, avail = _generated(matches=120)
    calls = []
    result = plan(doc, avail, time_limit=10, progress=lambda f, msg: calls.append((f, msg)))
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert len(calls) <= 25 and all(msg for _, msg in calls)
    assert result.stats.models > 0


def test_plan_stats_to_dict_keeps_the_keys_benchmarks_have_written():
    """PlanStats.to_dict(): the 15 keys plan()'s stats dict had, in order, counts as ints."""
    doc, avail = _generated()
    stats = plan(doc, avail, time_limit=10).stats.to_dict()
    assert list(stats) == [
        "score_seconds",
        "fcfs_seconds",
        "prune_seconds",
        "build_seconds",
        "solve_seconds",
        "assemble_seconds",
        "models",
        "solver_runs",
        "unproven_after_first_pass",
        "components",
        "variables",
        "constraints",
        "total_seconds",
        "parallel_slots",
        "chunks",
    ]
    counts = [
        "models",
        "solver_runs",
        "unproven_after_first_pass",
        "components",
        "variables",
        "constraints",
        "parallel_slots",
        "chunks",
    ]
    assert all(type(stats[k]) is int for k in counts)
    assert all(type(v) is float for k, v in stats.items() if k not in counts)
