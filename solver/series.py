"""A chosen candidate as a Series: occurrences with who can come, and one-off alternatives."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from ingest.availability import Availability

from .candidates import Candidates
from .recurrence import rrule_text
from .result import Occurrence, Score, Series
from .wallclock import wall_clock


def build_series(
    avail: Availability, cands: Candidates, c: int, *, can: np.ndarray | None = None
) -> Series:
    """Series for candidate ``c`` of ``cands``; ``can`` is the match's (slots, members)
    can-attend matrix, used to find alternatives for occurrences that do not hold."""
    spec, grid = cands.spec, avail.grid
    length = timedelta(minutes=spec.duration_minutes)
    occurrences = []
    # Plain lists: numpy's per-element indexing would cost more than the rest of the loop.
    rows = zip(
        cands.slots[c].tolist(), cands.attend[c].tolist(), cands.holds[c].tolist(), strict=True
    )
    for slot, who, holds in rows:
        start = grid.slot_start(slot).astimezone(spec.zone)
        alternative = None
        if not holds and can is not None:
            alt = best_alternative(avail, cands, can, slot)
            if alt is not None:
                alternative = grid.slot_start(alt).astimezone(spec.zone)
        occurrences.append(
            Occurrence(
                slot=slot,
                start=start,
                end=(start + length).astimezone(spec.zone),
                holds=holds,
                attending=tuple(m for m, ok in zip(spec.members, who, strict=True) if ok),
                missing=tuple(m for m, ok in zip(spec.members, who, strict=True) if not ok),
                alternative=alternative,
            )
        )
    first = grid.slot_start(int(cands.first[c])).astimezone(spec.zone)
    return Series(
        match=spec.id,
        timezone=str(spec.zone.key),
        frequency=spec.frequency,
        rrule=rrule_text(first, spec.frequency, spec.sessions),
        first_slot=int(cands.first[c]),
        duration_minutes=spec.duration_minutes,
        occurrences=tuple(occurrences),
        score=Score(int(cands.held[c]), int(cands.attendance[c]), int(cands.preferred[c])),
    )


def best_alternative(
    avail: Availability, cands: Candidates, can: np.ndarray, slot: int
) -> int | None:
    """SPEC 6: the best start in the same week (organizer's zone, Monday to Sunday) where
    the occurrence would hold: most attendees, then closest to the planned time."""
    spec = cands.spec
    week = wall_clock(avail.grid, spec.zone).week
    in_week = np.flatnonzero(week == week[slot])
    in_week = in_week[in_week >= avail.grid.first_open_slot]
    if not len(in_week):
        return None
    rows = can[in_week]
    count = rows.sum(axis=1)
    req = [spec.members.index(r) for r in spec.required]
    ok = rows[:, req].all(axis=1) & (count >= max(spec.quorum, 1)) & (in_week != slot)
    if not ok.any():
        return None
    options, count = in_week[ok], count[ok]
    best = np.lexsort((np.abs(options - slot), -count))[0]
    return int(options[best])
