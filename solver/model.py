"""The CP-SAT batch model (SPEC 5): build from arrays, solve, extract.

One boolean per match x candidate; at most one per match; at most one per person at
any instant; weekly caps; a lexicographic objective solved in two stages (held and
attendance first, then preference and earliest start with the first stage fixed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from .result import Status

STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "unknown",
    cp_model.UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class BatchMatch:
    """One match's kept candidates, as arrays (best first)."""

    people: np.ndarray  # global person indices of the match's members
    k: int  # slots per session
    slots: np.ndarray  # (C, n) occurrence start slots
    held: np.ndarray  # (C,)
    attendance: np.ndarray  # (C,)
    preferred: np.ndarray  # (C,)
    offset: np.ndarray  # (C,) first start, in slots after the match's earliest candidate


@dataclass(frozen=True)
class BatchInstance:
    matches: list[BatchMatch]
    week: np.ndarray  # (slots,) Monday-based week of each slot in the program zone
    caps: dict[int, int] = field(default_factory=dict)  # person -> max sessions per week
    weight: int = 1  # > any total attendance: held * weight + attendance is lexicographic


@dataclass
class Variables:
    """``x[m][c]``: match m takes candidate c."""

    x: list[list[cp_model.IntVar]]

    @classmethod
    def create(cls, model: cp_model.CpModel, inst: BatchInstance) -> Variables:
        return cls([[model.new_bool_var(f"x{m}_{c}") for c in range(len(bm.held))]
                    for m, bm in enumerate(inst.matches)])

    def flat(self) -> list[cp_model.IntVar]:
        return [v for row in self.x for v in row]

    def extract(self, solver: cp_model.CpSolver) -> list[int | None]:
        """The chosen candidate of each match, or None."""
        out: list[int | None] = []
        for row in self.x:
            chosen = [c for c, v in enumerate(row) if solver.boolean_value(v)]
            out.append(chosen[0] if chosen else None)
        return out


def add_one_series_per_match(model: cp_model.CpModel, xs: Variables) -> None:
    for row in xs.x:
        if len(row) > 1:
            model.add_at_most_one(row)


def person_occurrences(inst: BatchInstance) -> dict[int, tuple[np.ndarray, np.ndarray,
                                                                np.ndarray, np.ndarray]]:
    """Per person in two or more matches: (match, candidate, start, k) of every occurrence."""
    owners: dict[int, list[int]] = {}
    for m, bm in enumerate(inst.matches):
        for p in bm.people.tolist():
            owners.setdefault(p, []).append(m)
    out = {}
    for p, ms in owners.items():
        if len(ms) < 2:
            continue
        parts = []
        for m in ms:
            bm = inst.matches[m]
            c_count, n = bm.slots.shape
            parts.append((np.full(c_count * n, m), np.repeat(np.arange(c_count), n),
                          bm.slots.ravel(), np.full(c_count * n, bm.k)))
        out[p] = tuple(np.concatenate(a) for a in zip(*parts, strict=True))
    return out


def conflict_cliques(inst: BatchInstance) -> list[list[tuple[int, int]]]:
    """Sets of (match, candidate) that cannot be chosen together because they put one
    person in two overlapping sessions.

    For each person, the candidates whose occurrences cover an occurrence's start slot form
    a clique (intervals overlap iff one contains the other's start). Identical cliques
    (the same weekly time, week after week) are kept once.
    """
    cliques: dict[bytes, list[tuple[int, int]]] = {}
    for match, cand, start, k in person_occurrences(inst).values():
        ids = match.astype(np.int64) << 32 | cand.astype(np.int64)
        points = np.unique(start)
        # (point, id) for every slot an occurrence covers that is some occurrence's start.
        span = np.repeat(np.arange(len(start)), k)
        covered = start[span] + (np.arange(len(span)) - np.repeat(np.cumsum(k) - k, k))
        hit = np.isin(covered, points)
        pt, who = covered[hit], ids[span[hit]]
        order = np.lexsort((who, pt))
        pt, who = pt[order], who[order]
        bounds = np.flatnonzero(np.diff(pt)) + 1
        for group in np.split(who, bounds):
            group = np.unique(group)
            matches = group >> 32
            if len(group) < 2 or matches.min() == matches.max():
                continue  # one match's candidates already exclude each other
            key = group.tobytes()
            if key not in cliques:
                cliques[key] = [(int(g >> 32), int(g & 0xFFFFFFFF)) for g in group]
    return list(cliques.values())


def add_no_double_booking(model: cp_model.CpModel, inst: BatchInstance, xs: Variables) -> int:
    cliques = conflict_cliques(inst)
    for clique in cliques:
        model.add_at_most_one(xs.x[m][c] for m, c in clique)
    return len(cliques)


def add_weekly_caps(model: cp_model.CpModel, inst: BatchInstance, xs: Variables) -> int:
    """SPEC 5: at most ``cap`` sessions a week (Monday-Sunday, program zone) per person."""
    added = 0
    n_weeks = int(inst.week.max()) + 1 if len(inst.week) else 0
    for p, cap in inst.caps.items():
        ms = [m for m, bm in enumerate(inst.matches) if p in bm.people]
        if len(ms) <= cap and all(_max_per_week(inst, m) <= 1 for m in ms):
            continue  # cannot be exceeded
        per_week: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in range(n_weeks)]
        for m in ms:
            bm = inst.matches[m]
            weeks = inst.week[bm.slots]
            for c in range(len(bm.held)):
                for w, count in zip(*np.unique(weeks[c], return_counts=True), strict=True):
                    per_week[int(w)].append((int(count), xs.x[m][c]))
        for terms in per_week:
            if sum(t[0] for t in terms) > cap:
                model.add(sum(cnt * v for cnt, v in terms) <= cap)
                added += 1
    return added


def _max_per_week(inst: BatchInstance, m: int) -> int:
    bm = inst.matches[m]
    if not len(bm.held):
        return 0
    weeks = inst.week[bm.slots]
    return int(max(np.unique(row, return_counts=True)[1].max() for row in weeks))


def primary_terms(inst: BatchInstance, xs: Variables) -> tuple[list, list[int]]:
    """held * weight + attendance, per variable."""
    coeffs = [int(h) * inst.weight + int(a) for bm in inst.matches
              for h, a in zip(bm.held, bm.attendance, strict=True)]
    return xs.flat(), coeffs


def secondary_terms(inst: BatchInstance, xs: Variables, tie_weight: int) -> tuple[list, list[int]]:
    """preferred * tie_weight - first-start offset, per variable."""
    coeffs = [int(p) * tie_weight - int(o) for bm in inst.matches
              for p, o in zip(bm.preferred, bm.offset, strict=True)]
    return xs.flat(), coeffs


@dataclass(frozen=True)
class ModelResult:
    status: Status
    choice: list[int | None]
    primary: int  # value of held * weight + attendance
    primary_bound: int
    build_seconds: float
    solve_seconds: float
    constraints: int


def _solver(time_limit: float, workers: int, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    return solver


def solve(inst: BatchInstance, *, time_limit: float = 60.0, workers: int = 2, seed: int = 0,
          hint: list[int | None] | None = None) -> ModelResult:
    """Build and solve; always returns the best plan found with its status and bound."""
    t0 = time.perf_counter()
    model = cp_model.CpModel()
    xs = Variables.create(model, inst)
    add_one_series_per_match(model, xs)
    constraints = add_no_double_booking(model, inst, xs) + add_weekly_caps(model, inst, xs)
    variables, primary = primary_terms(inst, xs)
    model.maximize(cp_model.LinearExpr.weighted_sum(variables, primary))
    if hint is not None:
        for row, chosen in zip(xs.x, hint, strict=True):
            for c, v in enumerate(row):
                model.add_hint(v, c == chosen)
    build = time.perf_counter() - t0

    deadline = t0 + time_limit
    solver = _solver(deadline - time.perf_counter(), workers, seed)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ModelResult(STATUS[status], [None] * len(inst.matches), 0,
                           int(solver.best_objective_bound) if status == cp_model.UNKNOWN else 0,
                           build, time.perf_counter() - t0 - build, constraints)
    choice = xs.extract(solver)
    best = round(solver.objective_value)
    bound = int(np.floor(solver.best_objective_bound + 1e-6))
    first_status = STATUS[status]

    # Stage 2: keep stage 1's value, prefer preferred times, then earlier first starts.
    tie_weight = sum(int(bm.offset.max()) for bm in inst.matches if len(bm.offset)) + 1
    remaining = deadline - time.perf_counter()
    if remaining > 0.05:
        model.add(cp_model.LinearExpr.weighted_sum(variables, primary) >= best)
        model.clear_hints()
        for row, chosen in zip(xs.x, choice, strict=True):
            for c, v in enumerate(row):
                model.add_hint(v, c == chosen)
        _, secondary = secondary_terms(inst, xs, tie_weight)
        model.maximize(cp_model.LinearExpr.weighted_sum(variables, secondary))
        solver2 = _solver(remaining, workers, seed)
        if solver2.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            choice = xs.extract(solver2)
    return ModelResult(first_status, choice, best, bound, build,
                       time.perf_counter() - t0 - build, constraints)
