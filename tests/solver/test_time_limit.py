"""A plan stopped by its time limit is the best found so far, with an honest status."""

from __future__ import annotations

import pytest

from benchmarks.generate import generate_program
from ingest.availability import build_availability
from ingest.document import parse_program
from solver.peers import first_come_first_served_plan
from solver.planner import plan
from solver.validate import validate


@pytest.fixture(scope="module")
def medium():
    doc = parse_program(generate_program("M", seed=0))
    return doc, build_availability(doc)


@pytest.mark.parametrize("time_limit", [0.05, 1.0])
def test_time_out_returns_the_best_plan_so_far_with_its_status(medium, time_limit):
    """M needs about 1.5 s to be proven optimal: cut short, the plan is still valid,
    never worse than first-come-first-served, and reported "feasible" with a bound
    above it, so nobody mistakes it for the optimum."""
    doc, avail = medium
    result = plan(doc, avail, time_limit=time_limit)
    peer = first_come_first_served_plan(doc, avail)
    assert validate(doc, avail, result) == []
    got = (result.objective.held, result.objective.attendance)
    bound = (result.bound.held, result.bound.attendance)
    assert got >= (peer.objective.held, peer.objective.attendance)
    assert bound >= got
    assert result.status in ("optimal", "feasible")
    assert (result.status == "optimal") == (got == bound)
    if time_limit < 0.1:  # the limit passes while the candidates are still scored
        assert result.status == "feasible" and bound > got
