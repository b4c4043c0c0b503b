"""A plan's series from each match's chosen candidate, and the reasons of those left out."""

from __future__ import annotations

import numpy as np

from ingest.availability import Availability
from ingest.document import ProgramDocument

from .candidates import Attend
from .explain import blocked_reason, no_candidate_reason
from .matches import ScoredMatch, attend_cache
from .result import Series, Unscheduled
from .series import build_series


def assemble(
    doc: ProgramDocument,
    avail: Availability,
    matches: list[ScoredMatch],
    choice: dict[int, int | None],
    caps: dict[int, int],
    attend: Attend | None = None,
) -> tuple[list[Series], list[Unscheduled]]:
    """A series for each match with a candidate in ``choice``, and the reason of each match
    without one."""
    attend = attend or attend_cache(avail)
    series, unscheduled = [], []
    # The starts of each member's chosen sessions; a member's busy slots are drawn only
    # for the few matches left out (a bitmap per member would cost the whole matrix).
    starts_of: dict[str, list[tuple[np.ndarray, int]]] = {}
    for i, m in enumerate(matches):
        c = choice.get(i)
        if c is None:
            continue
        cands = m.cands
        for member in m.spec.members:
            starts_of.setdefault(member, []).append((cands.slots[c], cands.k))
        can = attend(cands.k, avail.indices(m.spec.members))
        series.append(build_series(avail, cands, c, can=can))
    capped = {avail.members[p] for p in caps}
    for i, m in enumerate(matches):
        if choice.get(i) is not None:
            continue
        if not len(m.cands):
            can = attend(m.spec.slots(avail.grid), avail.indices(m.spec.members))
            reason = no_candidate_reason(m.spec, m.candidates, can)
        else:
            others = {
                k: _busy(starts_of[k], avail.grid.n_slots) for k in m.spec.members if k in starts_of
            }
            reason = blocked_reason(m.cands, others, capped & _at_cap(matches, choice, m))
        unscheduled.append(Unscheduled(m.spec.id, reason))
    return series, unscheduled


def _busy(starts: list[tuple[np.ndarray, int]], n_slots: int) -> np.ndarray:
    """(n_slots + 1,) bool: the slots taken by sessions of k slots at these starts."""
    taken = np.zeros(n_slots + 1, bool)
    for slots, k in starts:
        for s in slots.tolist():
            taken[s : s + k] = True
    return taken


def _at_cap(matches: list[ScoredMatch], choice: dict[int, int | None], m: ScoredMatch) -> set[str]:
    return set(m.spec.members) if m.cap_people else set()
