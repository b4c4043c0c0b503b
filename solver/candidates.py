"""Every candidate series of one match, scored in numpy (SPEC 4-5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ingest.availability import Availability

from .attend import can_attend, row_counts
from .recurrence import candidate_table
from .spec import MatchSpec
from .wallclock import wall_clock


@dataclass(frozen=True)
class Candidates:
    """Candidates of one match, best first.

    ``slots[c, j]`` is the start slot of occurrence j of candidate c; ``attend[c, j, i]``
    says whether member i of the match can attend it.
    """

    spec: MatchSpec
    k: int
    first: np.ndarray  # (C,)
    slots: np.ndarray  # (C, n)
    attend: np.ndarray  # (C, n, m) bool
    holds: np.ndarray  # (C, n) bool
    held: np.ndarray  # (C,)
    attendance: np.ndarray  # (C,)
    preferred: np.ndarray  # (C,)

    def __len__(self) -> int:
        return len(self.first)

    def take(self, index: np.ndarray) -> Candidates:
        """The candidates at ``index`` (keeps their order)."""
        return Candidates(
            self.spec,
            self.k,
            self.first[index],
            self.slots[index],
            self.attend[index],
            self.holds[index],
            self.held[index],
            self.attendance[index],
            self.preferred[index],
        )

    def viable(self) -> Candidates:
        """Only candidates with at least one occurrence that holds (SPEC 5)."""
        return self.take(np.flatnonzero(self.held > 0))


# ``attend(k, columns)``: ``can_attend(avail.matrix[:, columns], k)``, from a batch's own
# copy of the matrix (``solver.matches.attend_cache``).
Attend = Callable[[int, np.ndarray], np.ndarray]


def member_attend(
    avail: Availability, spec: MatchSpec, k: int, attend: Attend | None = None
) -> np.ndarray:
    """(slots, members of the match) bool: who can attend a k-slot session from each slot."""
    cols = avail.indices(spec.members)
    if attend is not None:
        return attend(k, cols)
    return can_attend(avail.matrix[:, cols], k)


def score(avail: Availability, spec: MatchSpec, attend: Attend | None = None) -> Candidates:
    """Score every candidate of ``spec``; ranked by held, attendance, preference, first start."""
    grid = avail.grid
    k = spec.slots(grid)
    table = candidate_table(grid, spec.zone, spec.frequency, spec.sessions, k, spec.earliest)
    found = evaluate(avail, spec, table.first, table.slots, member_attend(avail, spec, k, attend))
    return _ranked(found)


def score_viable(
    avail: Availability, spec: MatchSpec, attend: Attend | None = None
) -> tuple[Candidates, np.ndarray, int]:
    """``score(...).viable()``, the match's can-attend matrix (:func:`member_attend`) and
    how many candidates there were in all, without building the candidates that never
    hold: a planner keeps only the viable ones, and on a large program the others would
    take most of its memory."""
    grid = avail.grid
    k = spec.slots(grid)
    table = candidate_table(grid, spec.zone, spec.frequency, spec.sessions, k, spec.earliest)
    can = member_attend(avail, spec, k, attend)
    count_at, holds_at = _per_slot(spec, can)
    viable = np.flatnonzero(holds_at[table.slots].any(axis=1))
    first, slots = table.first[viable], table.slots[viable]
    found = _evaluate(avail, spec, first, slots, can, count_at, holds_at)
    return _ranked(found), can, len(table)


def _ranked(found: Candidates) -> Candidates:
    """Best first: most held, then attendance, then preference, then earliest start."""
    return found.take(np.lexsort((found.first, -found.preferred, -found.attendance, -found.held)))


def _per_slot(spec: MatchSpec, can: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slots,) each: how many members can come to a session starting at each slot, and
    whether it holds (SPEC 5: every required member and at least the quorum can come);
    ``can`` is the match's can-attend matrix."""
    req = [spec.members.index(r) for r in spec.required]
    count = row_counts(can)
    holds: np.ndarray = can[:, req].all(axis=1) & (count >= spec.quorum)
    return count, holds


def evaluate(
    avail: Availability, spec: MatchSpec, first: np.ndarray, slots: np.ndarray, can: np.ndarray
) -> Candidates:
    """The series whose occurrences start at ``slots[c, j]`` (first slot ``first[c]``),
    scored, in the order given; ``can`` is the match's can-attend matrix
    (:func:`member_attend`). ``score`` runs it on every candidate; a series a facilitator
    asks for (the booking preview) is one row."""
    return _evaluate(avail, spec, first, slots, can, *_per_slot(spec, can))


def _evaluate(
    avail: Availability,
    spec: MatchSpec,
    first: np.ndarray,
    slots: np.ndarray,
    can: np.ndarray,
    count_at: np.ndarray,
    holds_at: np.ndarray,
) -> Candidates:
    # Who comes and whether a session holds depend only on its start slot: reduced per
    # slot once (``_per_slot``), then gathered per occurrence.
    k = spec.slots(avail.grid)
    count, holds = count_at[slots], holds_at[slots]
    held = holds.sum(axis=1, dtype=np.int64)
    attendance = (count * holds).sum(axis=1)
    preferred = (fits_preference(avail, spec, k, slots) & holds).sum(axis=1, dtype=np.int64)
    return Candidates(spec, k, first, slots, can[slots], holds, held, attendance, preferred)


def fits_preference(avail: Availability, spec: MatchSpec, k: int, slots: np.ndarray) -> np.ndarray:
    """Occurrences on a preferred day whose session lies in the preferred window."""
    pref = spec.preferred
    if pref is None:
        return np.zeros(slots.shape, dtype=bool)
    clock = wall_clock(avail.grid, spec.zone)
    ok = np.ones(slots.shape, dtype=bool)
    if pref.days is not None:
        ok &= np.isin(clock.weekday[slots], sorted(pref.days))
    minute = clock.minute[slots]
    if pref.start is not None:
        ok &= minute >= pref.start
    if pref.end is not None:
        ok &= minute + k * avail.grid.granularity_minutes <= pref.end
    return ok
