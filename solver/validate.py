"""A validator that knows nothing of the solver: checks a plan against the rules (SPEC 5).

Used as the oracle by the tests and the benchmarks. Each rule is one small function that
returns its broken cases as sentences; ``validate`` reads each occurrence off the
availability once (``Truth``) and puts the rules together.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ingest.availability import Availability
from ingest.document import Match, ProgramDocument
from ingest.grid import to_epoch

from .attend import can_attend
from .result import Occurrence, Plan, Series
from .spec import MatchSpec, match_spec


@dataclass(frozen=True)
class Truth:
    """One occurrence as the availability has it (``slot`` None: off the grid or horizon)."""

    occurrence: Occurrence
    slot: int | None
    attending: tuple[str, ...] = ()
    holds: bool = False


@dataclass(frozen=True)
class Checked:
    """One series of the plan with its match and the truth of each occurrence."""

    series: Series
    match: Match
    spec: MatchSpec
    repeated: bool  # an earlier series of the plan is for the same match
    truths: tuple[Truth, ...]

    @property
    def on_grid(self) -> list[Truth]:
        return [t for t in self.truths if t.slot is not None]

    @property
    def held(self) -> int:
        return sum(t.holds for t in self.on_grid)

    @property
    def attendance(self) -> int:
        return sum(len(t.attending) for t in self.on_grid if t.holds)


# --- each series ---------------------------------------------------------------------------


def one_series_per_match(c: Checked) -> list[str]:
    """SPEC 5: at most one series per match."""
    return [f"{c.series.match}: more than one series"] if c.repeated else []


def every_session(c: Checked) -> list[str]:
    """SPEC 4: a series has as many occurrences as its match's sessions."""
    n = len(c.series.occurrences)
    return (
        []
        if n == c.spec.sessions
        else [f"{c.series.match}: {n} occurrences, not {c.spec.sessions}"]
    )


def on_the_grid(c: Checked, t: Truth) -> list[str]:
    """SPEC 4: every occurrence starts on a grid slot and lies inside the horizon."""
    return (
        []
        if t.slot is not None
        else [f"{c.series.match}: occurrence {t.occurrence.start} is off the grid or horizon"]
    )


def of_its_length(c: Checked, t: Truth) -> list[str]:
    """SPEC 4: an occurrence lasts the match's duration."""
    o = t.occurrence
    if o.end - o.start == timedelta(minutes=c.series.duration_minutes):
        return []
    return [f"{c.series.match}: occurrence {o.start} has the wrong length"]


def attending_as_available(c: Checked, t: Truth) -> list[str]:
    """SPEC 3: those said to attend are the members who can attend."""
    o = t.occurrence
    if sorted(t.attending) == sorted(o.attending):
        return []
    return [f"{c.series.match}: {o.start} attending {o.attending}, truly {list(t.attending)}"]


def holds_as_available(c: Checked, t: Truth) -> list[str]:
    """SPEC 4: an occurrence holds when every required member (or a quorum) can attend."""
    o = t.occurrence
    return (
        []
        if t.holds == o.holds
        else [f"{c.series.match}: {o.start} holds={o.holds}, truly {t.holds}"]
    )


def some_occurrence_holds(c: Checked) -> list[str]:
    """SPEC 5: a series is only chosen if at least one of its occurrences holds."""
    return [] if c.held else [f"{c.series.match}: no occurrence holds"]


def score_adds_up(c: Checked) -> list[str]:
    """SPEC 5: a series' score counts its occurrences that hold and who attends them."""
    score = c.series.score
    if (c.held, c.attendance) == (score.held, score.attendance):
        return []
    return [f"{c.series.match}: score {score} but truly held={c.held} attendance={c.attendance}"]


OccurrenceRule = Callable[[Checked, Truth], list[str]]
# Checked in this order on each occurrence on the grid (one off it is only reported so).
OCCURRENCE_RULES: tuple[OccurrenceRule, ...] = (
    of_its_length,
    attending_as_available,
    holds_as_available,
)


def series_problems(c: Checked) -> list[str]:
    """Every rule of one series, in order; an occurrence off the grid is only that."""
    problems = one_series_per_match(c) + every_session(c)
    for t in c.truths:
        problems += on_the_grid(c, t)
        if t.slot is not None:
            for rule in OCCURRENCE_RULES:
                problems += rule(c, t)
    return problems + some_occurrence_holds(c) + score_adds_up(c)


# --- the plan as a whole -------------------------------------------------------------------


def no_double_booking(checked: Sequence[Checked]) -> list[str]:
    """SPEC 5: no member is booked into two overlapping sessions."""
    taken: dict[str, list[tuple[int, int, str]]] = {}
    for c in checked:
        seconds = c.series.duration_minutes * 60
        for t in c.on_grid:
            start = to_epoch(t.occurrence.start)
            for m in c.match.members:
                taken.setdefault(m, []).append((start, start + seconds, c.series.match))
    problems = []
    for m, spans in taken.items():
        spans.sort()
        problems += [
            f"{m} is double-booked: {a[2]} and {b[2]}"
            for a, b in itertools.pairwise(spans)
            if b[0] < a[1]
        ]
    return problems


def within_weekly_caps(doc: ProgramDocument, checked: Sequence[Checked]) -> list[str]:
    """SPEC 5: at most ``max_sessions_per_week`` per member, Monday to Sunday, program zone."""
    week_of: dict[str, dict[int, int]] = {}
    for c in checked:
        for t in c.on_grid:
            wk = _week(doc, t.occurrence.start)
            for m in c.match.members:
                week_of.setdefault(m, {}).setdefault(wk, 0)
                week_of[m][wk] += 1
    return [
        f"{member.id} has {n} sessions in week {wk}, cap {cap}"
        for member in doc.members
        if (cap := member.max_sessions_per_week) is not None
        for wk, n in week_of.get(member.id, {}).items()
        if n > cap
    ]


def objective_adds_up(plan: Plan) -> list[str]:
    """SPEC 5: the objective is the sum of the series' scores."""
    total = (sum(s.score.held for s in plan.series), sum(s.score.attendance for s in plan.series))
    if total == (plan.objective.held, plan.objective.attendance):
        return []
    return [f"objective {plan.objective} does not add up to {total}"]


def objective_within_bound(plan: Plan) -> list[str]:
    """SPEC 5: no plan beats the bound the solver proved."""
    if (plan.objective.held, plan.objective.attendance) <= (plan.bound.held, plan.bound.attendance):
        return []
    return [f"objective {plan.objective} exceeds the bound {plan.bound}"]


def scheduled_or_unscheduled(plan: Plan) -> list[str]:
    """SPEC 5: a match is either scheduled or unscheduled, not both."""
    scheduled = {s.match for s in plan.series} | {u.match for u in plan.unscheduled}
    if len(scheduled) == len(plan.series) + len(plan.unscheduled):
        return []
    return ["a match is both scheduled and unscheduled"]


# --- putting them together -----------------------------------------------------------------


def validate(doc: ProgramDocument, avail: Availability, plan: Plan) -> list[str]:
    """Every broken rule, as sentences; an empty list means the plan is valid."""
    checked = check_series(doc, avail, plan.series)
    problems = [p for c in checked for p in series_problems(c)]
    return (
        problems
        + no_double_booking(checked)
        + within_weekly_caps(doc, checked)
        + objective_adds_up(plan)
        + objective_within_bound(plan)
        + scheduled_or_unscheduled(plan)
    )


def check_series(
    doc: ProgramDocument, avail: Availability, series: Sequence[Series]
) -> list[Checked]:
    """Each series with the truth of its occurrences, read off ``avail``."""
    by_id = {m.id: m for m in doc.matches}
    seen: set[str] = set()
    out = []
    for s in series:
        match = by_id[s.match]
        spec = match_spec(doc, match, avail.grid)
        k = s.duration_minutes // avail.grid.granularity_minutes
        can = can_attend(avail.matrix[:, avail.indices(match.members)], k)
        truths = tuple(_truth(avail, spec, k, can, o) for o in s.occurrences)
        out.append(Checked(s, match, spec, s.match in seen, truths))
        seen.add(s.match)
    return out


def _truth(avail: Availability, spec: MatchSpec, k: int, can: np.ndarray, o: Occurrence) -> Truth:
    """``can``: who of the match's members can attend a ``k``-slot session at each slot."""
    slot = avail.grid.index_of(o.start)
    if slot is None or slot + k > avail.grid.n_slots:
        return Truth(o, None)
    who = tuple(m for m, ok in zip(spec.members, can[slot], strict=True) if ok)
    holds = all(r in who for r in spec.required) and len(who) >= spec.quorum
    return Truth(o, slot, who, holds)


def _week(doc: ProgramDocument, instant: datetime) -> int:
    """Monday-based week of an instant, in the program's zone."""
    local = instant.astimezone(doc.program.zone).date()
    return (local.toordinal() - 1) // 7
