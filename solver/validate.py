"""A validator that knows nothing of the solver: checks a plan against the rules (SPEC 5).

Used as the oracle by the tests and the benchmarks.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from ingest.availability import Availability
from ingest.document import ProgramDocument
from ingest.grid import to_epoch

from .attend import can_attend
from .result import Plan
from .spec import match_spec


def validate(doc: ProgramDocument, avail: Availability, plan: Plan) -> list[str]:
    """Every broken rule, as sentences; an empty list means the plan is valid."""
    problems: list[str] = []
    grid = avail.grid
    g = grid.granularity_minutes
    taken: dict[str, list[tuple[int, int, str]]] = {}
    week_of: dict[str, dict[int, int]] = {}
    seen = set()
    by_id = {m.id: m for m in doc.matches}
    for s in plan.series:
        if s.match in seen:
            problems.append(f"{s.match}: more than one series")
        seen.add(s.match)
        match = by_id[s.match]
        spec = match_spec(doc, match, grid)
        k = s.duration_minutes // g
        if len(s.occurrences) != spec.sessions:
            problems.append(f"{s.match}: {len(s.occurrences)} occurrences, not {spec.sessions}")
        can = can_attend(avail.matrix[:, avail.indices(match.members)], k)
        held = attendance = 0
        for o in s.occurrences:
            slot = grid.index_of(o.start)
            if slot is None or slot + k > grid.n_slots:
                problems.append(f"{s.match}: occurrence {o.start} is off the grid or horizon")
                continue
            if o.end - o.start != timedelta(minutes=s.duration_minutes):
                problems.append(f"{s.match}: occurrence {o.start} has the wrong length")
            who = [m for m, ok in zip(match.members, can[slot], strict=True) if ok]
            if sorted(who) != sorted(o.attending):
                problems.append(f"{s.match}: {o.start} attending {o.attending}, truly {who}")
            holds = all(r in who for r in spec.required) and len(who) >= spec.quorum
            if holds != o.holds:
                problems.append(f"{s.match}: {o.start} holds={o.holds}, truly {holds}")
            held += holds
            attendance += len(who) if holds else 0
            start = to_epoch(o.start)
            for m in match.members:
                taken.setdefault(m, []).append((start, start + s.duration_minutes * 60, s.match))
            wk = _week(doc, o.start)
            for m in match.members:
                week_of.setdefault(m, {}).setdefault(wk, 0)
                week_of[m][wk] += 1
        if held == 0:
            problems.append(f"{s.match}: no occurrence holds")
        if (held, attendance) != (s.score.held, s.score.attendance):
            problems.append(f"{s.match}: score {s.score} but truly held={held} "
                            f"attendance={attendance}")
    for m, spans in taken.items():
        spans.sort()
        for a, b in itertools.pairwise(spans):
            if b[0] < a[1]:
                problems.append(f"{m} is double-booked: {a[2]} and {b[2]}")
    for member in doc.members:
        cap = member.max_sessions_per_week
        if cap is not None:
            for wk, n in week_of.get(member.id, {}).items():
                if n > cap:
                    problems.append(f"{member.id} has {n} sessions in week {wk}, cap {cap}")
    total = (sum(s.score.held for s in plan.series), sum(s.score.attendance for s in plan.series))
    if total != (plan.objective.held, plan.objective.attendance):
        problems.append(f"objective {plan.objective} does not add up to {total}")
    if (plan.objective.held, plan.objective.attendance) > (plan.bound.held, plan.bound.attendance):
        problems.append(f"objective {plan.objective} exceeds the bound {plan.bound}")
    scheduled = {s.match for s in plan.series} | {u.match for u in plan.unscheduled}
    if len(scheduled) != len(plan.series) + len(plan.unscheduled):
        problems.append("a match is both scheduled and unscheduled")
    return problems


def _week(doc: ProgramDocument, instant) -> int:  # type: ignore[no-untyped-def]
    """Monday-based week of an instant, in the program's zone."""
    local = instant.astimezone(doc.program.zone).date()
    return (local.toordinal() - 1) // 7
