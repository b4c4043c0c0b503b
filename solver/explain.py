"""Reasons a person can act on, for matches that get no series (SPEC 5)."""

from __future__ import annotations

import numpy as np

from .candidates import Candidates
from .recurrence import FREQUENCIES
from .spec import MatchSpec

# Each frequency in words: its own name, but for these two.
FREQ_WORDS = {f: {"once": "one-off", "biweekly": "bi-weekly"}.get(f, f) for f in FREQUENCIES}


def _names(ids: list[str] | tuple[str, ...]) -> str:
    ids = list(ids)
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def no_candidate_reason(spec: MatchSpec, candidates: int, can: np.ndarray) -> str:
    """Why no series of this match holds even once, of its ``candidates`` series."""
    d = spec.duration_minutes
    if candidates == 0:
        what = (
            f"a {d}-minute session"
            if spec.frequency == "once"
            else f"{spec.sessions} {FREQ_WORDS[spec.frequency]} sessions of {d} minutes"
        )
        return (
            f"{what} do not fit between {spec.earliest.astimezone(spec.zone):%Y-%m-%d} "
            f"and the end of the program"
        ).replace("a " + str(d) + "-minute session do", "a " + str(d) + "-minute session does")
    who = list(spec.required) or list(spec.members)
    cols = [spec.members.index(m) for m in who]
    alone = [m for m, c in zip(who, cols, strict=True) if not can[:, c].any()]
    if alone:
        return (
            f"{_names(alone)} {'has' if len(alone) == 1 else 'have'} no {d}-minute window "
            f"in the program"
        )
    together = can[:, cols].all(axis=1)
    if spec.quorum and not spec.required:
        together = can.sum(axis=1) >= spec.quorum
    if not together.any():
        return f"{_names(who)} share no {d}-minute window on any weekday"
    return (
        f"{_names(who)} are free together for {d} minutes only at times no "
        f"{FREQ_WORDS[spec.frequency]} series can use (too late in the program or "
        f"outside its first {'month' if spec.frequency == 'monthly' else 'period'})"
    )


def blocked_reason(cands: Candidates, busy_by: dict[str, np.ndarray], capped: set[str]) -> str:
    """Why a match with workable times got none: whose other sessions are in the way.

    ``busy_by[member]`` marks the slots taken by that member's other chosen series.
    """
    spec = cands.spec
    blockers = []
    for member in spec.members:
        taken = busy_by.get(member)
        if taken is None:
            continue
        span = cands.slots[:, :, None] + np.arange(cands.k)
        if taken[span].any(axis=(1, 2)).any():
            blockers.append(member)
    if capped & set(spec.members):
        names = _names(sorted(capped & set(spec.members)))
        return f"every fitting time would exceed the weekly session limit of {names}"
    if blockers:
        return f"every fitting time collides with sessions of {_names(blockers)}'s other matches"
    return "no fitting time was found within the time limit"
