"""The dense benchmark, the plain reference model and the generator's new knobs."""

import json

import pytest

from benchmarks import dense
from benchmarks.generate import component_sizes, generate_program
from benchmarks.plain import plain_plan
from ingest.availability import build_availability
from ingest.document import parse_program
from solver.planner import plan


@pytest.mark.parametrize("size", [{"matches": 50}, {"people": 12, "matches": 24}])
def test_plain_model_reaches_plans_proven_objective(size):
    """On small programs the plain model proves the same (held, attendance) as plan()."""
    doc = parse_program(generate_program(size, seed=1))
    avail = build_availability(doc, calendars=False)
    p = plan(doc, avail, time_limit=30, workers=2)
    r = plain_plan(doc, avail, time_limit=30)
    assert p.status == r.status == "optimal"
    assert (r.held, r.attendance) == (p.objective.held, p.objective.attendance)
    assert (r.bound_held, r.bound_attendance) == (p.bound.held, p.bound.attendance)


def test_dense_family_is_one_dense_component():
    """``people`` puts every match among that many people: one component, many matches each."""
    program = generate_program({"people": 60, "matches": 160}, seed=0)
    assert len(program["members"]) == 60 and len(program["matches"]) == 160
    assert component_sizes(program)[0] >= 50
    parse_program(program)


def test_large_component_knobs():
    """popular_mentor_matches and big_group add one mentor in N matches and one N-cohort group."""
    program = generate_program({"matches": 50, "popular_mentor_matches": 80, "big_group": 120}, 0)
    parse_program(program)
    popular = [x for x in program["matches"] if x["id"].startswith("popular-")]
    assert len(popular) == 80 and len({x["members"][0] for x in popular}) == 1
    cohort = [x for x in program["matches"] if x["id"] == "cohort-0001"]
    assert len(cohort) == 1 and len(cohort[0]["members"]) == 121
    assert component_sizes(program)[0] >= 121


def test_default_knobs_keep_the_document():
    """Knobs left at their defaults give the document the presets always gave for a seed."""
    base = generate_program("S", seed=2)
    same = generate_program({"matches": 50, "people": 0, "popular_mentor_matches": 0}, seed=2)
    assert json.dumps(base) == json.dumps(same)


def test_bad_knob_is_refused():
    """A negative or fractional knob is an error that names it."""
    with pytest.raises(ValueError, match="big_group"):
        generate_program({"big_group": -1})
    with pytest.raises(ValueError, match="people"):
        generate_program({"people": 2.5})


def test_dense_benchmark_runs_on_a_tiny_size(tmp_path):
    """``python -m benchmarks.dense`` on a tiny size writes both tables with the proof."""
    argv = ["--people", "10", "--matches", "14", "--seeds", "2", "--runs", "2", "--no-extra"]
    assert dense.main([*argv, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "dense.json").read_text(encoding="utf-8"))
    assert [r["seed"] for r in result["dense"]] == [0, 1]
    for row in result["dense"]:
        assert row["same_objective"] and len(row["plan"]) == len(row["plain"]) == 2
        assert all(r["status"] == "optimal" and r["valid"] for r in row["plan"])
        assert set(row["plan_median_s"]) >= {"scoring", "pruning", "build", "solve", "tie_break"}
    assert "| seed |" in (tmp_path / "dense.md").read_text(encoding="utf-8")
