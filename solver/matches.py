"""A program's matches as plan() works on them: each scored, with its people and caps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from ingest.availability import Availability
from ingest.document import ProgramDocument
from ingest.grid import SlotGrid

from .attend import can_attend
from .candidates import Candidates, score
from .spec import MatchSpec
from .wallclock import wall_clock


@dataclass
class ScoredMatch:
    """One match of the plan: its candidates, its members' person indices, and whether
    any of them has a weekly cap."""

    spec: MatchSpec
    all: Candidates  # every candidate (for reasons)
    cands: Candidates  # viable (>= 1 occurrence holds), best first
    people: np.ndarray
    cap_people: bool = False


def attend_cache(avail: Availability) -> Callable[[int], np.ndarray]:
    """``can_attend(avail.matrix, k)`` for every member, computed once per duration k."""
    cache: dict[int, np.ndarray] = {}

    def get(k: int) -> np.ndarray:
        if k not in cache:
            # Column-major, so one match's members are a contiguous gather.
            if 0 not in cache:
                cache[0] = np.asfortranarray(avail.matrix)
            cache[k] = can_attend(cache[0], k)
        return cache[k]

    return get


def score_matches(
    doc: ProgramDocument,
    avail: Availability,
    specs: Sequence[MatchSpec],
    attend: Callable[[int], np.ndarray] | None = None,
) -> list[ScoredMatch]:
    """Every candidate of each match scored (SPEC 5), best first."""
    attend = attend or attend_cache(avail)
    caps = {m.id for m in doc.members if m.max_sessions_per_week is not None}
    out = []
    for spec in specs:
        cands = score(avail, spec, attend(spec.slots(avail.grid)))
        out.append(
            ScoredMatch(
                spec,
                cands,
                cands.viable(),
                avail.indices(spec.members),
                bool(caps & set(spec.members)),
            )
        )
    return out


def program_weeks(doc: ProgramDocument, grid: SlotGrid) -> np.ndarray:
    """SPEC 5: Monday-to-Sunday week of each slot in the program's zone, from 0."""
    week = wall_clock(grid, doc.program.zone).week
    return cast(np.ndarray, week - week.min())  # numpy's stubs: Any


def person_caps(doc: ProgramDocument, avail: Availability) -> dict[int, int]:
    """SPEC 5: ``max_sessions_per_week`` by person index, for the members who have one."""
    return {
        avail.index(m.id): m.max_sessions_per_week
        for m in doc.members
        if m.max_sessions_per_week is not None and m.id in avail.members
    }
