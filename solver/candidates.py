"""Every candidate series of one match, scored in numpy (SPEC 4-5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.availability import Availability

from .attend import can_attend
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


def member_attend(
    avail: Availability, spec: MatchSpec, k: int, attend_all: np.ndarray | None = None
) -> np.ndarray:
    """(slots, members of the match) bool: who can attend a k-slot session from each slot."""
    cols = avail.indices(spec.members)
    if attend_all is not None:
        return attend_all[:, cols]
    return can_attend(avail.matrix[:, cols], k)


def score(avail: Availability, spec: MatchSpec, attend_all: np.ndarray | None = None) -> Candidates:
    """Score every candidate of ``spec``; ranked by held, attendance, preference, first start.

    ``attend_all`` may carry ``can_attend(avail.matrix, k)`` precomputed for all members,
    so a batch computes it once per duration instead of once per match.
    """
    grid = avail.grid
    k = spec.slots(grid)
    table = candidate_table(grid, spec.zone, spec.frequency, spec.sessions, k, spec.earliest)
    found = evaluate(
        avail, spec, table.first, table.slots, member_attend(avail, spec, k, attend_all)
    )
    return found.take(np.lexsort((found.first, -found.preferred, -found.attendance, -found.held)))


def evaluate(
    avail: Availability, spec: MatchSpec, first: np.ndarray, slots: np.ndarray, can: np.ndarray
) -> Candidates:
    """The series whose occurrences start at ``slots[c, j]`` (first slot ``first[c]``),
    scored, in the order given; ``can`` is the match's can-attend matrix
    (:func:`member_attend`). ``score`` runs it on every candidate; a series a facilitator
    asks for (the booking preview) is one row."""
    k = spec.slots(avail.grid)
    attend = can[slots]  # (C, n, m)
    # Who comes and whether a session holds depend only on its start slot: reduce per slot
    # once, then gather per occurrence.
    count_at = can.sum(axis=1, dtype=np.int64)
    req = [spec.members.index(r) for r in spec.required]
    holds_at = can[:, req].all(axis=1) & (count_at >= spec.quorum)
    count, holds = count_at[slots], holds_at[slots]
    held = holds.sum(axis=1, dtype=np.int64)
    attendance = (count * holds).sum(axis=1)
    preferred = (fits_preference(avail, spec, k, slots) & holds).sum(axis=1, dtype=np.int64)
    return Candidates(spec, k, first, slots, attend, holds, held, attendance, preferred)


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
