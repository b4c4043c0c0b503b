"""Ranked proposals for one match alone (SPEC 5): the wizard's "best recurring slots"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ingest.availability import Availability, build_availability, program_grid
from ingest.document import Frequency, ProgramDocument, duration_problem, sessions_problem

from .candidates import evaluate, member_attend, score_viable
from .errors import SolverError
from .explain import no_candidate_reason
from .result import Series
from .series import build_series
from .spec import MatchSpec, Preference, match_spec


@dataclass(frozen=True)
class Proposals:
    """The best series of one match, how many viable candidates there were, and why there
    is none when ``series`` is empty."""

    spec: MatchSpec
    series: list[Series]
    candidates: int
    reason: str | None


def propose(
    doc: ProgramDocument,
    match_id: str,
    avail: Availability | None = None,
    limit: int = 5,
    *,
    duration_minutes: int | None = None,
    frequency: Frequency | None = None,
    sessions: int | None = None,
    preferred: Preference | None = None,
) -> Proposals:
    """The ``limit`` best candidate series of one match, best first.

    Keyword overrides are the proposals wizard's (duration, frequency, sessions,
    preferred); ``frequency="once"`` implies one session. ``avail`` may be any
    availability of the program that includes the match's members (default: built for
    them). Occurrences that do not hold carry their best one-off ``alternative``.
    Raises SolverError naming the override that does not fit.
    """
    match = doc.match(match_id)
    grid = avail.grid if avail is not None else program_grid(doc)
    g = grid.granularity_minutes
    problem = duration_problem(duration_minutes, g) if duration_minutes is not None else None
    if problem:
        raise SolverError(f"duration_minutes {problem}", field="duration_minutes")
    problem = sessions_problem(frequency or "", sessions or 1)
    if problem:
        raise SolverError(f"sessions {problem}", field="sessions")
    sessions = sessions or (1 if frequency == "once" else None)
    spec = match_spec(
        doc,
        match,
        grid,
        duration_minutes=duration_minutes,
        frequency=frequency,
        sessions=sessions,
        preferred=preferred,
    )
    if avail is None:
        avail = build_availability(doc, members=list(match.members))
    cands, can, total = score_viable(avail, spec)
    series = [build_series(avail, cands, c, can=can) for c in range(min(limit, len(cands)))]
    reason = None if series else no_candidate_reason(spec, total, can)
    return Proposals(spec, series, len(cands), reason)


def requested_series(
    doc: ProgramDocument,
    match_id: str,
    starts: Sequence[datetime],
    avail: Availability | None = None,
    *,
    duration_minutes: int | None = None,
    frequency: Frequency | None = None,
) -> Series:
    """The series a facilitator asks for, whose occurrences start at ``starts`` (slots of
    the program's grid, as the booking works them out), evaluated as every candidate is:
    who can come to each occurrence, whether it holds and, where it does not, its best
    one-off ``alternative`` that week. Raises SolverError naming ``first_start`` for a
    start off the grid."""
    match = doc.match(match_id)
    grid = avail.grid if avail is not None else program_grid(doc)
    spec = match_spec(
        doc,
        match,
        grid,
        duration_minutes=duration_minutes,
        frequency=frequency,
        sessions=len(starts),
    )
    index = [grid.index_of(s) for s in starts]
    if not index or any(i is None for i in index):
        raise SolverError(
            "every occurrence must start at a slot of the program's grid", field="first_start"
        )
    if avail is None:
        avail = build_availability(doc, members=list(match.members))
    slots = np.array([index], dtype=np.int64)
    can = member_attend(avail, spec, spec.slots(grid))
    found = evaluate(avail, spec, slots[:, 0], slots, can)
    return build_series(avail, found, 0, can=can)
