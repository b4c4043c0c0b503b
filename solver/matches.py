"""A program's matches as plan() works on them: each scored, with its people and caps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from ingest.availability import Availability
from ingest.document import ProgramDocument
from ingest.grid import SlotGrid

from .attend import can_attend
from .candidates import Attend, Candidates, score_viable
from .spec import MatchSpec
from .wallclock import wall_clock


@dataclass
class ScoredMatch:
    """One match of the plan: its viable candidates, how many candidates it had in all
    (for reasons), its members' person indices, and whether any of them has a weekly cap.
    Candidates that never hold are not kept: on a large program they would take most of
    the plan's memory."""

    spec: MatchSpec
    cands: Candidates  # viable (>= 1 occurrence holds), best first
    candidates: int  # every candidate, viable or not
    people: np.ndarray
    cap_people: bool = False


def attend_cache(avail: Availability) -> Attend:
    """``attend(k, columns)``: ``can_attend(avail.matrix[:, columns], k)``, from one
    column-major copy of the matrix, so one match's members are a contiguous gather. (A
    copy per duration for every member would cost the whole matrix again for each.)"""
    by_column: list[np.ndarray] = []

    def get(k: int, columns: np.ndarray) -> np.ndarray:
        if not by_column:
            by_column.append(column_major(avail.matrix))
        return can_attend(by_column[0][:, columns], k)

    return get


def column_major(matrix: np.ndarray, rows: int = 512) -> np.ndarray:
    """A column-major copy of ``matrix``, made in bands of ``rows`` rows: numpy's own
    ``asfortranarray`` walks a large matrix with a stride that misses the cache at every
    byte (XL, 8,060 x 32,210: 8.9 s against 0.7 s in bands of 512 rows)."""
    out = np.empty(matrix.shape, dtype=matrix.dtype, order="F")
    for r in range(0, matrix.shape[0], rows):
        out[r : r + rows] = matrix[r : r + rows]
    return out


def score_matches(
    doc: ProgramDocument,
    avail: Availability,
    specs: Sequence[MatchSpec],
    attend: Attend | None = None,
) -> list[ScoredMatch]:
    """Every viable candidate of each match scored (SPEC 5), best first."""
    attend = attend or attend_cache(avail)
    caps = {m.id for m in doc.members if m.max_sessions_per_week is not None}
    out = []
    for spec in specs:
        cands, _, total = score_viable(avail, spec, attend)
        out.append(
            ScoredMatch(
                spec, cands, total, avail.indices(spec.members), bool(caps & set(spec.members))
            )
        )
    return out


def program_weeks(doc: ProgramDocument, grid: SlotGrid) -> np.ndarray:
    """SPEC 5: Monday-to-Sunday week of each slot in the program's zone, from 0."""
    week = wall_clock(grid, doc.program.zone).week
    return cast(np.ndarray, week - week.min())  # numpy's stubs: Any


def person_caps(doc: ProgramDocument, avail: Availability) -> dict[int, int]:
    """SPEC 5: ``max_sessions_per_week`` by person index, for the members who have one."""
    known = set(avail.members)
    return {
        avail.index(m.id): m.max_sessions_per_week
        for m in doc.members
        if m.max_sessions_per_week is not None and m.id in known
    }
