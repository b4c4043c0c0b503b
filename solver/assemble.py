"""A plan's series from each match's chosen candidate, and the reasons of those left out."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ingest.availability import Availability
from ingest.document import ProgramDocument

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
    attend: Callable[[int], np.ndarray] | None = None,
) -> tuple[list[Series], list[Unscheduled]]:
    """A series for each match with a candidate in ``choice``, and the reason of each match
    without one."""
    attend = attend or attend_cache(avail)
    series, unscheduled = [], []
    busy_by: dict[str, np.ndarray] = {}
    for i, m in enumerate(matches):
        c = choice.get(i)
        if c is None:
            continue
        cands = m.cands
        for member in m.spec.members:
            taken = busy_by.setdefault(member, np.zeros(avail.grid.n_slots + 1, bool))
            for s in cands.slots[c].tolist():
                taken[s : s + cands.k] = True
        can = attend(cands.k)[:, avail.indices(m.spec.members)]
        series.append(build_series(avail, cands, c, can=can))
    capped = {avail.members[p] for p in caps}
    for i, m in enumerate(matches):
        if choice.get(i) is not None:
            continue
        can = attend(m.all.k)[:, avail.indices(m.spec.members)]
        if not len(m.cands):
            reason = no_candidate_reason(avail, m.all, can)
        else:
            others = {k: v for k, v in busy_by.items() if k in m.spec.members}
            reason = blocked_reason(m.cands, others, capped & _at_cap(matches, choice, m))
        unscheduled.append(Unscheduled(m.spec.id, reason))
    return series, unscheduled


def _at_cap(matches: list[ScoredMatch], choice: dict[int, int | None], m: ScoredMatch) -> set[str]:
    return set(m.spec.members) if m.cap_people else set()
