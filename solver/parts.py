"""A very large program planned on an executor in parts: the whole of plan() per part.

Matches that share no member are independent (SPEC 5), so a program splits into
components of its person graph, and components are packed into parts of at most
``part_size`` matches. Each part is a document of its own (its matches, their members,
the bookings that touch them) and a worker runs all of ``plan()`` on it: availability
(sliced from the caller's when there is one), scoring, pruning, the models and the
series. The planning process keeps only the document and the parts' answers, so no
process holds the whole program's availability matrix or candidates; with parts proven
optimal the objective is the same as one process would find.

The time limit is shared as the models' is (``budget``): a part starts with the time
left times its share of the matches not yet started, times the parts that run at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, fields, replace

import numpy as np

from ingest.availability import Availability
from ingest.document import ProgramDocument

from .model import SolveParams
from .progress import Reporter
from .result import Plan, PlanStats, Score, Status

# Parts pay off once a program is too big for one process to hold comfortably: below
# this many matches plan() sends only the CP-SAT models to the executor (see
# ``executors``), whose measured speed-ups the scaling benchmark reports.
PARTS_MIN_MATCHES = 10_000
# Matches per part: about L (5,000 matches, ~8,000 people: ~65 MB of availability and
# ~0.4 GB peak in a worker), and at least two parts per worker to even the load.
PART_MAX_MATCHES = 5_000
PART_MIN_MATCHES = 1_000
# No part starts with less than this, however little time is left (as ``budget``).
PART_FLOOR_S = 0.5


@dataclass(frozen=True)
class PartTask:
    """One part: its document, its members' availability (None: the worker builds it)
    and the CP-SAT parameters, whose time limit is the part's."""

    doc: ProgramDocument
    avail: Availability | None
    params: SolveParams


def part_size(matches: int, slots: int) -> int:
    """Matches per part for a program of ``matches`` on ``slots`` workers."""
    return max(PART_MIN_MATCHES, min(PART_MAX_MATCHES, -(-matches // (2 * max(slots, 1)))))


def split(doc: ProgramDocument, match_ids: Sequence[str], size: int) -> list[list[str]]:
    """``match_ids`` in parts of at most ``size`` matches (a bigger component is a part of
    its own), no member in two parts; largest part first, matches in document order."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = x = parent[parent[x]]
        return x

    for x in match_ids:
        members = doc.match(x).members
        for m in members[1:]:
            parent[root(m)] = root(members[0])
    comps: dict[str, list[str]] = {}
    for x in match_ids:
        comps.setdefault(root(doc.match(x).members[0]), []).append(x)
    parts: list[list[str]] = []
    for comp in comps.values():
        if parts and len(parts[-1]) + len(comp) <= size:
            parts[-1] += comp
        else:
            parts.append(list(comp))
    order = {x: i for i, x in enumerate(match_ids)}
    return sorted((sorted(p, key=order.__getitem__) for p in parts), key=len, reverse=True)


def part_document(doc: ProgramDocument, match_ids: Sequence[str]) -> ProgramDocument:
    """The program with only these matches, their members, and the bookings of those
    members (a booking names a match or its members)."""
    matches = [doc.match(x) for x in match_ids]
    people = {m for x in matches for m in x.members}
    kept = {x.id for x in matches}
    bookings = [
        b for b in doc.bookings if b.match in kept or (b.members and people & set(b.members))
    ]
    return doc.model_copy(
        update={
            "members": [m for m in doc.members if m.id in people],
            "matches": matches,
            "bookings": bookings,
        }
    )


def part_availability(avail: Availability, doc: ProgramDocument) -> Availability:
    """``avail``'s columns of the part's members, in the part document's order."""
    ids = tuple(m.id for m in doc.members)
    return Availability(avail.grid, ids, np.ascontiguousarray(avail.matrix[:, avail.indices(ids)]))


def plan_part(task: PartTask) -> Plan:
    """What a worker runs: all of ``plan()`` on one part, in its own process."""
    from .planner import plan

    return plan(task.doc, task.avail, params=task.params)


def plan_in_parts(
    doc: ProgramDocument,
    avail: Availability | None,
    match_ids: Sequence[str],
    params: SolveParams,
    executor: Executor,
    slots: int,
    report: Reporter,
) -> Plan:
    """``plan()`` of ``match_ids`` on ``executor``, part by part (module docstring)."""
    t_start = time.perf_counter()
    deadline = t_start + params.time_limit
    parts = split(doc, match_ids, part_size(len(match_ids), slots))
    total = not_started = len(match_ids)
    report(0.0, f"planning {total} matches in {len(parts)} parts")
    running: dict[Future[Plan], list[str]] = {}
    plans: list[Plan] = []
    done = 0
    try:
        while parts or running:
            while parts and len(running) < slots:
                ids = parts.pop(0)
                left = deadline - time.perf_counter()
                share = min(1.0, slots * len(ids) / not_started)
                limit = min(left, max(left * share, PART_FLOOR_S))
                not_started -= len(ids)
                part = part_document(doc, ids)
                task = PartTask(
                    part,
                    None if avail is None else part_availability(avail, part),
                    replace(params, time_limit=max(limit, 0.0)),
                )
                running[executor.submit(plan_part, task)] = ids
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                done += len(running.pop(future))
                plans.append(future.result())
                report(done / total, f"planned {done} of {total} matches")
    finally:
        for future in running:
            future.cancel()
    return merge(doc, plans, time.perf_counter() - t_start, slots)


def merge(doc: ProgramDocument, plans: Sequence[Plan], seconds: float, slots: int) -> Plan:
    """The parts' plans as one: series and reasons in document order, scores summed."""
    order = {x.id: i for i, x in enumerate(doc.matches)}
    series = sorted((s for p in plans for s in p.series), key=lambda s: order[s.match])
    left_out = sorted((u for p in plans for u in p.unscheduled), key=lambda u: order[u.match])
    status: Status = "optimal" if all(p.status == "optimal" for p in plans) else "feasible"
    sums = {
        f.name: sum(getattr(p.stats, f.name) for p in plans)
        for f in fields(PlanStats)
        if f.name not in ("total_seconds", "parallel_slots", "chunks")
    }
    return Plan(
        status,
        sum((p.objective for p in plans), Score()),
        sum((p.bound for p in plans), Score()),
        round(seconds, 3),
        tuple(series),
        tuple(left_out),
        PlanStats(**sums, total_seconds=seconds, parallel_slots=slots, chunks=len(plans)),
    )
