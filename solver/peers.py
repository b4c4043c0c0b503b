"""The peers plan() is measured against: first come, first served, and the per-match bound."""

from __future__ import annotations

import time

import numpy as np

from ingest.availability import Availability, build_availability
from ingest.document import ProgramDocument

from .assemble import assemble
from .matches import ScoredMatch, person_caps, program_weeks, score_matches
from .result import Plan, Score
from .spec import match_spec


def fcfs_choice(
    matches: list[ScoredMatch], week: np.ndarray, caps: dict[int, int], n_slots: int, n_people: int
) -> dict[int, int | None]:
    """First come, first served: each match in turn takes its best candidate that fits what
    is already booked (no member double-booked, no weekly cap exceeded)."""
    # Occupancy per person as a packed slot bitmap (a bit per slot, a row per person)
    # keeps this linear in the program's size and small next to the availability matrix.
    taken = np.zeros((n_people, n_slots // 8 + 1), dtype=np.uint8)
    n_weeks = int(week.max()) + 1
    per_week = {p: np.zeros(n_weeks, np.int64) for p in caps}
    out: dict[int, int | None] = {}
    for i, m in enumerate(matches):
        c = m.cands
        out[i] = None
        if not len(c):
            continue
        span = (c.slots[:, :, None] + np.arange(c.k)).reshape(len(c), -1)
        byte, bit = span >> 3, (span & 7).astype(np.uint8)
        clash = np.zeros(len(c), bool)
        for p in m.people.tolist():
            clash |= ((taken[p][byte] >> bit) & 1).any(axis=1)
        capped = [p for p in m.people.tolist() if p in caps]
        for idx in np.flatnonzero(~clash).tolist():
            weeks = np.bincount(week[c.slots[idx]], minlength=n_weeks)
            if any((per_week[p] + weeks).max() > caps[p] for p in capped):
                continue
            out[i] = idx
            break
        if out[i] is None:
            continue
        for p in m.people.tolist():
            np.bitwise_or.at(taken[p], byte[out[i]], np.left_shift(1, bit[out[i]], dtype=np.uint8))
        for p in capped:
            per_week[p] += np.bincount(week[c.slots[out[i]]], minlength=n_weeks)
    return out


def _peer_setup(
    doc: ProgramDocument, avail: Availability | None
) -> tuple[Availability, list[ScoredMatch], np.ndarray, dict[int, int]]:
    avail = avail or build_availability(doc)
    specs = [match_spec(doc, x, avail.grid) for x in doc.matches]
    matches = score_matches(doc, avail, specs)
    return avail, matches, program_weeks(doc, avail.grid), person_caps(doc, avail)


def first_come_first_served(
    doc: ProgramDocument, avail: Availability | None = None
) -> list[tuple[str, Score | None]]:
    """The peer booking tools use: matches in document order each take their best free
    series. Returns each match's score (None when it got nothing)."""
    avail, matches, week, caps = _peer_setup(doc, avail)
    picked = fcfs_choice(matches, week, caps, avail.grid.n_slots, len(avail.members))
    out: list[tuple[str, Score | None]] = []
    for i, m in enumerate(matches):
        c = picked[i]
        out.append(
            (
                m.spec.id,
                None
                if c is None
                else Score(
                    int(m.cands.held[c]), int(m.cands.attendance[c]), int(m.cands.preferred[c])
                ),
            )
        )
    return out


def first_come_first_served_plan(doc: ProgramDocument, avail: Availability | None = None) -> Plan:
    """The first-come-first-served peer as a Plan (status "feasible", no proven bound), so
    the validator can check it like any plan."""
    t0 = time.perf_counter()
    avail, matches, week, caps = _peer_setup(doc, avail)
    picked = fcfs_choice(matches, week, caps, avail.grid.n_slots, len(avail.members))
    series, unscheduled = assemble(doc, avail, matches, picked, caps)
    objective = sum((s.score for s in series), Score())
    upper = sum(
        (
            Score(int(m.cands.held[0]), int(m.cands.attendance[0]), int(m.cands.preferred[0]))
            for m in matches
            if len(m.cands)
        ),
        Score(),
    )
    return Plan(
        "feasible",
        objective,
        upper,
        round(time.perf_counter() - t0, 3),
        tuple(series),
        tuple(unscheduled),
    )


def per_match_upper_bound(doc: ProgramDocument, avail: Availability | None = None) -> Score:
    """Every match alone at its best: no plan can do better (the peer bound)."""
    avail = avail or build_availability(doc)
    specs = [match_spec(doc, x, avail.grid) for x in doc.matches]
    total = Score()
    for m in score_matches(doc, avail, specs):
        if len(m.cands):
            total = total + Score(
                int(m.cands.held[0]), int(m.cands.attendance[0]), int(m.cands.preferred[0])
            )
    return total
