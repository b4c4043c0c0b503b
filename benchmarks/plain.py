"""The plain reference model for the planner benchmarks: SPEC 5's batch objective as one
CP-SAT model of the whole program, written for the benchmark only.

No components, no pruning, no hint, no first-come-first-served start: every viable
candidate of every match is a boolean, at most one per match, at most one per person
and slot (every slot an occurrence covers), the weekly caps, and the objective
``held * W + attendance`` (W above any total attendance), then the planner's
lexicographic tie-break (preferred occurrences, then earlier first starts) with the
first stage's value kept, when asked for (it is not proven on dense programs before
the time limit, so the comparison is made with one stage). Scoring is the planner's
(``solver.matches.score_matches``), so both models choose among the same candidates.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from ingest.availability import Availability
from ingest.document import ProgramDocument
from solver.matches import ScoredMatch, attend_cache, person_caps, program_weeks, score_matches
from solver.spec import match_spec

STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.UNKNOWN: "unknown",
}


@dataclass
class PlainResult:
    """The plain model's answer: status and proven bound of the first stage, the totals
    of the chosen series, and the seconds of each stage."""

    status: str
    held: int
    attendance: int
    preferred: int
    bound_held: int
    bound_attendance: int
    choice: dict[str, int | None]  # match id -> index into its viable candidates
    times: dict[str, float] = field(default_factory=dict)
    variables: int = 0
    constraints: int = 0


def _cliques(matches: list[ScoredMatch], offset: np.ndarray) -> list[np.ndarray]:
    """Per person in two or more matches and per slot, the variables whose occurrences
    book that person in that slot, where they come from two or more matches (each set
    once)."""
    owners: dict[int, list[int]] = {}
    for m, sm in enumerate(matches):
        for p in sm.people.tolist():
            owners.setdefault(p, []).append(m)
    parts = []
    for p, ms in owners.items():
        if len(ms) < 2:
            continue
        for m in ms:
            c = matches[m].cands
            n_c, n = c.slots.shape
            var = offset[m] + np.repeat(np.arange(n_c), n)
            covered = c.slots.ravel()[:, None] + np.arange(c.k)[None, :]
            parts.append((np.full(covered.size, p), np.repeat(var, c.k), covered.ravel(), m))
    if not parts:
        return []
    person = np.concatenate([a for a, _, _, _ in parts]).astype(np.int64)
    var = np.concatenate([b for _, b, _, _ in parts]).astype(np.int64)
    slot = np.concatenate([s for _, _, s, _ in parts]).astype(np.int64)
    match = np.concatenate([np.full(len(b), m) for _, b, _, m in parts])
    key = person * (int(slot.max()) + 1) + slot
    order = np.lexsort((var, key))
    key, var, match = key[order], var[order], match[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    size = np.diff(np.r_[starts, len(key)])
    mixed = np.minimum.reduceat(match, starts) != np.maximum.reduceat(match, starts)
    keep = (size >= 2) & mixed
    starts, size = starts[keep], size[keep]
    if not len(starts):
        return []
    # The same set (one weekly time, week after week) is kept once: sets compared by size
    # and two sums of random 64-bit labels of their variables.
    labels = np.random.default_rng(0).integers(
        0, 2**63, size=(2, int(var.max()) + 1), dtype=np.uint64
    )
    idx = np.repeat(starts - np.r_[0, np.cumsum(size)[:-1]], size) + np.arange(int(size.sum()))
    members = var[idx]
    at = np.r_[0, np.cumsum(size)[:-1]]
    h1 = np.add.reduceat(labels[0][members], at)
    h2 = np.add.reduceat(labels[1][members], at)
    _, first = np.unique(
        np.stack([h1, h2, size.astype(np.uint64)], axis=1), axis=0, return_index=True
    )
    return [members[at[g] : at[g] + size[g]] for g in np.sort(first).tolist()]


def _caps(
    model: cp_model.CpModel,
    matches: list[ScoredMatch],
    x: list[list[cp_model.IntVar]],
    week: np.ndarray,
    caps: dict[int, int],
) -> int:
    """At most ``cap`` sessions a week per capped person, over every candidate."""
    added = 0
    n_weeks = int(week.max()) + 1
    for p, cap in caps.items():
        terms: dict[int, list[tuple[cp_model.IntVar, int]]] = {}
        for m, sm in enumerate(matches):
            if p not in sm.people.tolist():
                continue
            for c, row in enumerate(sm.cands.slots):
                counts = np.bincount(week[row], minlength=n_weeks)
                for w in np.flatnonzero(counts).tolist():
                    terms.setdefault(w, []).append((x[m][c], int(counts[w])))
        for items in terms.values():
            model.add(sum(v * k for v, k in items) <= cap)
            added += 1
    return added


def plain_plan(
    doc: ProgramDocument,
    avail: Availability,
    *,
    time_limit: float = 60.0,
    workers: int = 2,
    seed: int = 0,
    tie_break: bool = False,
) -> PlainResult:
    """Score, build one model and solve it (one stage, as issue 15 measured it); with
    ``tie_break`` also the planner's second stage, until the time limit. Each stage
    timed."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    specs = [match_spec(doc, x, avail.grid) for x in doc.matches]
    matches = [m for m in score_matches(doc, avail, specs, attend_cache(avail)) if len(m.cands)]
    week = program_weeks(doc, avail.grid)
    caps = person_caps(doc, avail)
    t_scored = time.perf_counter()

    model = cp_model.CpModel()
    x = [
        [model.new_bool_var(f"x{m}_{c}") for c in range(len(sm.cands))]
        for m, sm in enumerate(matches)
    ]
    flat = [v for row in x for v in row]
    for row in x:
        model.add_at_most_one(row)
    offset = np.r_[0, np.cumsum([len(row) for row in x])]
    cliques = _cliques(matches, offset)
    for clique in cliques:
        model.add_at_most_one([flat[v] for v in clique.tolist()])
    constraints = len(cliques) + _caps(model, matches, x, week, caps)
    weight = sum(int(sm.cands.attendance.max()) for sm in matches) + 1
    primary = [
        int(h) * weight + int(a)
        for sm in matches
        for h, a in zip(sm.cands.held, sm.cands.attendance, strict=True)
    ]
    objective = cp_model.LinearExpr.weighted_sum(flat, primary)
    model.maximize(objective)
    t_built = time.perf_counter()

    solver = _solver(deadline - time.perf_counter(), workers, seed)
    status = solver.solve(model)
    t_solved = time.perf_counter()
    times = {"scoring": t_scored - t0, "build": t_built - t_scored, "solve": t_solved - t_built}
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        times["tie_break"] = 0.0
        times["total"] = time.perf_counter() - t0
        return PlainResult(STATUS.get(status, "unknown"), 0, 0, 0, 0, 0, {}, times)
    values = [solver.boolean_value(v) for v in flat]
    best = round(solver.objective_value)
    bound = math.floor(solver.best_objective_bound + 1e-6)

    # The tie-break, as the planner does it: keep the first stage's value, then prefer
    # preferred occurrences, then earlier first starts.
    first = [sm.cands.first - sm.cands.first.min() for sm in matches]
    tie_weight = sum(int(f.max()) for f in first) + 1
    remaining = deadline - time.perf_counter()
    if tie_break and remaining > 0.05:
        model.add(objective >= best)
        model.clear_hints()
        for v, on in zip(flat, values, strict=True):
            model.add_hint(v, on)
        secondary = [
            int(p) * tie_weight - int(o)
            for sm, f in zip(matches, first, strict=True)
            for p, o in zip(sm.cands.preferred, f, strict=True)
        ]
        model.maximize(cp_model.LinearExpr.weighted_sum(flat, secondary))
        solver2 = _solver(remaining, workers, seed)
        if solver2.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = [solver2.boolean_value(v) for v in flat]
    times["tie_break"] = time.perf_counter() - t_solved
    times["total"] = time.perf_counter() - t0

    choice: dict[str, int | None] = {}
    held = attendance = preferred = 0
    at = 0
    for sm, row in zip(matches, x, strict=True):
        picked = [c for c in range(len(row)) if values[at + c]]
        at += len(row)
        choice[sm.spec.id] = picked[0] if picked else None
        if picked:
            held += int(sm.cands.held[picked[0]])
            attendance += int(sm.cands.attendance[picked[0]])
            preferred += int(sm.cands.preferred[picked[0]])
    return PlainResult(
        STATUS[status],
        held,
        attendance,
        preferred,
        bound // weight,
        bound % weight,
        choice,
        times,
        len(flat),
        constraints,
    )


def _solver(time_limit: float, workers: int, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    return solver
