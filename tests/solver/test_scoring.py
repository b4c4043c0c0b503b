"""The planner's lean scoring: only viable candidates kept, one column-major matrix, and a
packed occupancy bitmap for first-come-first-served; each against the plain version."""

import numpy as np
import pytest

from benchmarks.generate import generate_program
from ingest.availability import build_availability
from ingest.document import parse_program
from solver.candidates import score, score_viable
from solver.matches import (
    attend_cache,
    column_major,
    person_caps,
    program_weeks,
    score_matches,
)
from solver.peers import fcfs_choice
from solver.spec import match_spec

FIELDS = ("first", "slots", "attend", "holds", "held", "attendance", "preferred")


@pytest.fixture(scope="module")
def program():
    doc = parse_program(generate_program({"matches": 60, "cap_share": 0.5}, seed=3))
    return doc, build_availability(doc)


def test_viable_scoring_equals_every_candidate_scored_then_filtered(program):
    """score_viable keeps exactly score().viable(), in the same order, and counts them all."""
    doc, avail = program
    attend = attend_cache(avail)
    empty = 0
    for match in doc.matches:
        spec = match_spec(doc, match, avail.grid)
        full = score(avail, spec)
        lean, can, total = score_viable(avail, spec, attend)
        assert total == len(full)
        want = full.viable()
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(lean, name), getattr(want, name), name)
        assert can.shape == (avail.grid.n_slots, len(spec.members))
        empty += not len(lean)
    assert 0 < empty < len(doc.matches)  # both kinds were seen


@pytest.mark.parametrize("shape", [(1, 3), (511, 7), (513, 1), (1100, 33)])
def test_column_major_copy_is_equal_and_column_major(shape):
    """The banded copy holds the same values in Fortran order, whatever the band cut."""
    m = np.random.default_rng(0).random(shape) < 0.5
    out = column_major(m, rows=512)
    assert out.flags.f_contiguous
    np.testing.assert_array_equal(out, m)


def _fcfs_dense(matches, week, caps, n_slots, n_people):
    """First come, first served with one bool per slot and person, as written before."""
    taken = np.zeros((n_slots + 1, n_people), dtype=bool)
    n_weeks = int(week.max()) + 1
    per_week = {p: np.zeros(n_weeks, np.int64) for p in caps}
    out = {}
    for i, m in enumerate(matches):
        c = m.cands
        out[i] = None
        if not len(c):
            continue
        span = (c.slots[:, :, None] + np.arange(c.k)).reshape(len(c), -1)
        clash = taken[:, m.people][span].any(axis=(1, 2))
        capped = [p for p in m.people.tolist() if p in caps]
        for idx in np.flatnonzero(~clash).tolist():
            weeks = np.bincount(week[c.slots[idx]], minlength=n_weeks)
            if any((per_week[p] + weeks).max() > caps[p] for p in capped):
                continue
            out[i] = idx
            break
        if out[i] is None:
            continue
        for s in c.slots[out[i]].tolist():
            taken[s : s + c.k, m.people] = True
        for p in capped:
            per_week[p] += np.bincount(week[c.slots[out[i]]], minlength=n_weeks)
    return out


def test_first_come_first_served_with_packed_bits_equals_the_dense_bitmap(program):
    """The packed occupancy makes the same choices as a bool per slot and person."""
    doc, avail = program
    specs = [match_spec(doc, x, avail.grid) for x in doc.matches]
    matches = score_matches(doc, avail, specs)
    week, caps = program_weeks(doc, avail.grid), person_caps(doc, avail)
    args = (matches, week, caps, avail.grid.n_slots, len(avail.members))
    got, want = fcfs_choice(*args), _fcfs_dense(*args)
    assert got == want
    # Some matches lost their best candidate to an earlier one: the bitmap was consulted.
    assert any(c not in (None, 0) for c in got.values())
