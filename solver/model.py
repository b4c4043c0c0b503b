"""The CP-SAT batch model (SPEC 5): build from arrays, solve, extract.

One boolean per match x candidate; at most one per match; at most one per person at
any instant; weekly caps; a lexicographic objective solved in two stages (held and
attendance first, then preference and earliest start with the first stage fixed, for
a bounded amount of work: see ``tie_break_work``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from ortools.sat.python import cp_model

from .errors import ModelInvalid
from .result import Status

# Every status CP-SAT returns but MODEL_INVALID, which ``_run`` raises as ModelInvalid.
STATUS: dict[cp_model.CpSolverStatus, Status] = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class SolveParams:
    """How CP-SAT runs: its time limit in seconds, parallel workers and random seed. The
    same seed and workers give the same answer whenever the search ends before its limit."""

    time_limit: float = 60.0
    workers: int = 2
    seed: int = 0


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
    """``x[m][c]``: match m takes candidate c; ``index`` is each variable's index in the
    model, in ``flat()`` order."""

    x: list[list[cp_model.IntVar]]
    index: list[int]

    @classmethod
    def create(cls, model: cp_model.CpModel, inst: BatchInstance) -> Variables:
        x = [
            [model.new_bool_var(f"x{m}_{c}") for c in range(len(bm.held))]
            for m, bm in enumerate(inst.matches)
        ]
        return cls(x, [v.index for row in x for v in row])

    def flat(self) -> list[cp_model.IntVar]:
        return [v for row in self.x for v in row]

    def one_hot(self, choice: list[int | None]) -> list[int]:
        """0/1 per variable (``flat()`` order) for one candidate (or None) per match."""
        values, at = [0] * len(self.index), 0
        for row, c in zip(self.x, choice, strict=True):
            if c is not None:
                values[at + c] = 1
            at += len(row)
        return values

    def extract(self, solver: cp_model.CpSolver) -> list[int | None]:
        """The chosen candidate of each match, or None."""
        solution = list(solver.response_proto.solution)
        out: list[int | None] = []
        at = 0
        for row in self.x:
            chosen = [c for c in range(len(row)) if solution[self.index[at + c]]]
            out.append(chosen[0] if chosen else None)
            at += len(row)
        return out


def set_hint(model: cp_model.CpModel, xs: Variables, choice: list[int | None]) -> None:
    """Hint a complete solution in one go (``add_hint`` per variable is slow in Python)."""
    model.proto.clear_solution_hint()  # CpModel.clear_hints, typed
    hint = model.proto.solution_hint
    hint.vars.extend(xs.index)
    hint.values.extend(xs.one_hot(choice))


def maximize(model: cp_model.CpModel, xs: Variables, coeffs: list[int]) -> None:
    """``model.maximize(weighted_sum(xs.flat(), coeffs))``, written into the objective
    proto as CP-SAT's own ``maximize`` does (negated, scaling -1), but in bulk."""
    model.proto.clear_objective()  # CpModel.clear_objective, typed
    model.proto.clear_floating_point_objective()
    objective = model.proto.objective
    objective.vars.extend(xs.index)
    objective.coeffs.extend([-c for c in coeffs])
    objective.scaling_factor = -1.0


def add_one_series_per_match(model: cp_model.CpModel, xs: Variables) -> None:
    for row in xs.x:
        if len(row) > 1:
            model.add_at_most_one(row)


def flat_offsets(inst: BatchInstance) -> np.ndarray:
    """Index of each match's first variable in ``Variables.flat()`` (one more at the end)."""
    sizes = np.array([len(bm.held) for bm in inst.matches], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(sizes)])


def person_occurrences(
    inst: BatchInstance,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every occurrence that books a person in two or more matches, as flat arrays:
    (person, flat variable, start, k); one row per person and occurrence."""
    owners: dict[int, list[int]] = {}
    for m, bm in enumerate(inst.matches):
        for p in bm.people.tolist():
            owners.setdefault(p, []).append(m)
    offset = flat_offsets(inst)
    per_match: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    parts: list[tuple[np.ndarray, ...]] = []
    for p, ms in owners.items():
        if len(ms) < 2:
            continue
        for m in ms:
            if m not in per_match:
                bm = inst.matches[m]
                c_count, n = bm.slots.shape
                per_match[m] = (offset[m] + np.repeat(np.arange(c_count), n), bm.slots.ravel())
            var, start = per_match[m]
            parts.append((np.full(len(var), p), var, start, np.full(len(var), inst.matches[m].k)))
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    person, var, start, k = (np.concatenate(a).astype(np.int64) for a in zip(*parts, strict=True))
    return person, var, start, k


def conflict_cliques(inst: BatchInstance) -> list[np.ndarray]:
    """Sets of flat variables (see ``Variables.flat``) that cannot be chosen together
    because they put one person in two overlapping sessions.

    For each person, the candidates whose occurrences cover an occurrence's start slot form
    a clique (intervals overlap iff one contains the other's start). Identical cliques
    (the same weekly time, week after week) are kept once. All in numpy: the only Python
    loop left is over the cliques that go into the model.
    """
    person, var, start, k = person_occurrences(inst)
    if not len(var):
        return []
    match_of = np.repeat(np.arange(len(inst.matches)), np.diff(flat_offsets(inst)))
    width = int(start.max() + k.max()) + 1
    point_key = np.unique(person * width + start)
    # Every (person, slot) an occurrence covers, kept where it is some occurrence's start.
    span = np.repeat(np.arange(len(start)), k)
    step = np.arange(len(span)) - np.repeat(np.cumsum(k) - k, k)
    key = person[span] * width + start[span] + step
    hit = np.isin(key, point_key)
    key, who = key[hit], var[span[hit]]
    order = np.lexsort((who, key))
    key, who = key[order], who[order]
    fresh = np.ones(len(key), bool)
    fresh[1:] = (key[1:] != key[:-1]) | (who[1:] != who[:-1])
    key, who = key[fresh], who[fresh]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    size = np.diff(np.r_[first, len(key)])
    last = first + size - 1
    # Variables are numbered match by match, so a group spans two matches iff its first and
    # last variable (sorted) belong to different matches.
    keep = (size >= 2) & (match_of[who[first]] != match_of[who[last]])
    first, size = first[keep], size[keep]
    if not len(first):
        return []
    # Identical groups: equal size and equal sums of two random 64-bit labels of their
    # variables (a collision would need two 64-bit sums to agree at once).
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2**63, size=(2, int(var.max()) + 1), dtype=np.uint64)
    ids = who[_ranges(first, size)]
    bounds = np.r_[0, np.cumsum(size)]
    h1 = np.add.reduceat(labels[0][ids], bounds[:-1])
    h2 = np.add.reduceat(labels[1][ids], bounds[:-1])
    order = np.lexsort((size, h2, h1))
    h1, h2, size = h1[order], h2[order], size[order]
    fresh = np.r_[True, (h1[1:] != h1[:-1]) | (h2[1:] != h2[:-1]) | (size[1:] != size[:-1])]
    return [ids[bounds[g] : bounds[g + 1]] for g in np.sort(order[fresh]).tolist()]


def _ranges(first: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(f, f + s)`` for every (f, s), without a Python loop."""
    total = int(size.sum())
    shift = np.repeat(first - np.r_[0, np.cumsum(size)[:-1]], size)
    return cast(np.ndarray, np.arange(total) + shift)  # numpy's stubs: Any


def add_no_double_booking(model: cp_model.CpModel, inst: BatchInstance, xs: Variables) -> int:
    cliques = conflict_cliques(inst)
    flat = xs.flat()
    for clique in cliques:
        model.add_at_most_one([flat[v] for v in clique.tolist()])
    return len(cliques)


def add_weekly_caps(model: cp_model.CpModel, inst: BatchInstance, xs: Variables) -> int:
    """SPEC 5: at most ``cap`` sessions a week (Monday-Sunday, program zone) per person."""
    added = 0
    n_weeks = int(inst.week.max()) + 1 if len(inst.week) else 0
    for p, cap in inst.caps.items():
        ms = [m for m, bm in enumerate(inst.matches) if p in bm.people]
        counts = {m: _week_counts(inst, m, n_weeks) for m in ms}
        if len(ms) <= cap and all(int(c.max(initial=0)) <= 1 for c in counts.values()):
            continue  # cannot be exceeded
        for w in range(n_weeks):
            terms, coeffs, most = [], [], 0
            for m in ms:
                column = counts[m][:, w]
                used = np.flatnonzero(column)
                terms += [xs.x[m][c] for c in used.tolist()]
                coeffs += column[used].tolist()
                most += int(column.max(initial=0))
            if most > cap:  # one series per match: the week can hold at most ``most``
                model.add(cp_model.LinearExpr.weighted_sum(terms, coeffs) <= cap)
                added += 1
    return added


def _week_counts(inst: BatchInstance, m: int, n_weeks: int) -> np.ndarray:
    """(candidates, weeks): occurrences of each candidate of match m in each week."""
    bm = inst.matches[m]
    c_count = len(bm.held)
    index = np.arange(c_count)[:, None] * n_weeks + inst.week[bm.slots]
    return np.bincount(index.ravel(), minlength=c_count * n_weeks).reshape(c_count, n_weeks)


def primary_terms(inst: BatchInstance, xs: Variables) -> tuple[list[cp_model.IntVar], list[int]]:
    """held * weight + attendance, per variable."""
    coeffs = [
        int(h) * inst.weight + int(a)
        for bm in inst.matches
        for h, a in zip(bm.held, bm.attendance, strict=True)
    ]
    return xs.flat(), coeffs


def secondary_terms(
    inst: BatchInstance, xs: Variables, tie_weight: int
) -> tuple[list[cp_model.IntVar], list[int]]:
    """preferred * tie_weight - first-start offset, per variable."""
    coeffs = [
        int(p) * tie_weight - int(o)
        for bm in inst.matches
        for p, o in zip(bm.preferred, bm.offset, strict=True)
    ]
    return xs.flat(), coeffs


@dataclass(frozen=True)
class ModelResult:
    status: Status
    choice: list[int | None]
    primary: int  # value of held * weight + attendance
    primary_bound: int
    build_seconds: float
    solve_seconds: float  # both stages
    constraints: int
    tie_break_seconds: float = 0.0  # of solve_seconds, the second stage (0 for all_at_best)


class _Model(cp_model.CpModel):
    """A CpModel without the camelCase aliases of the pre-PEP8 API, which CP-SAT's
    Python wrapper otherwise builds for every new model (about 1 ms each, 30% of the
    build of a small component's model); this package uses only the snake_case API."""

    def _add_pre_pep8_methods(self) -> None:
        pass


# The tie-break's work limit, in CP-SAT's deterministic time (a count of work, the same
# at any machine load): at least TIE_BREAK_FLOOR, else TIE_BREAK_SHARE of the first
# stage's. Measured (seed 0, with every component's tie-break logged): no tie-break of S,
# M or L needs more than 0.02, so the floor never cuts them short; on dense programs
# (benchmarks.dense) the tie-break is not proven in 3x the first stage's work, and an
# uncapped one took 2-3x the first stage's time, up to the plan's time limit.
TIE_BREAK_FLOOR = 0.1
TIE_BREAK_SHARE = 0.1


# CP-SAT's presolve, in the first stage, only for models of fewer variables than this.
# Measured on the dense family (benchmarks.dense, 60 people in 160 matches, one model of
# about 10,000 variables each): its presolve took 2.4 s of a 6.4 s solve, merging the
# conflict cliques into larger ones, and the search after it was slower, not faster; the
# five programs took 4.2-5.6 s without it against 2.0-26 s with it. Small models (the
# components of S to XL) need it: without it XL's 2,012 models took 27 s instead of 8.
PRESOLVE_BELOW = 1_000


def tie_break_work(first_stage: float) -> float:
    """The tie-break's deterministic time limit, given the first stage's."""
    return max(TIE_BREAK_FLOOR, TIE_BREAK_SHARE * first_stage)


def _solver(params: SolveParams, time_limit: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.num_workers = params.workers
    solver.parameters.random_seed = params.seed
    return solver


def _run(solver: cp_model.CpSolver, model: cp_model.CpModel) -> cp_model.CpSolverStatus:
    """``solver.solve(model)``; raises ModelInvalid if CP-SAT rejects the model."""
    status = solver.solve(model)
    if status == cp_model.MODEL_INVALID:
        raise ModelInvalid(model.validate())
    return status


# Below this many variables, ``solve`` first tries every match at its best (see
# ``all_at_best``). Measured on XL (2,012 models, all below it): 1,975 of them have a
# plan with every match at its best, and building and solving the models took 23 s
# instead of 40-48 s, with the same held, attendance and tie-break values on every one.
ALL_AT_BEST_BELOW = 1_000
# At most this share of a model's time limit goes to that try: a try that finds no plan
# leaves the rest to the two stages.
ALL_AT_BEST_SHARE = 0.25


def tie_weight_of(inst: BatchInstance) -> int:
    """The weight of ``preferred`` in the tie-break: above any sum of first-start offsets."""
    return sum(int(bm.offset.max()) for bm in inst.matches if len(bm.offset)) + 1


def all_at_best(
    inst: BatchInstance, params: SolveParams, hint: list[int | None] | None = None
) -> ModelResult | None:
    """Solve both stages at once when every match can take a candidate of its best held *
    weight + attendance, with no clash and no cap exceeded; None when it cannot (or
    CP-SAT cannot tell within the tie-break's work floor, or ``ALL_AT_BEST_SHARE`` of the
    time limit).

    Then that sum of each match's best is the optimum of the first stage and its proof
    (no plan does better than every match at its best), and the first stage's plans are
    exactly these: a match below its best, or unscheduled, would lose what no other can
    make up, as long as every best is above 0 (the planner's candidates all hold at least
    once). So the tie-break (preferred, then earlier first starts) is one model over each
    match's best candidates, one of them per match, without the first stage's objective
    as a constraint: smaller, and one CP-SAT run instead of two. ``hint``'s candidates
    that are among the best are its hint.
    """
    t0 = time.perf_counter()
    if not all(len(bm.held) for bm in inst.matches):
        return None
    # In Python integers first: a total past 64 bits is refused here, as CP-SAT refuses
    # it, and below that bound the arrays cannot overflow.
    most = sum(int(bm.held.max()) * inst.weight + int(bm.attendance.max()) for bm in inst.matches)
    if most >= 2**62:
        return None
    primary = [bm.held.astype(np.int64) * inst.weight + bm.attendance for bm in inst.matches]
    tops = [int(p.max()) for p in primary]
    if min(tops) <= 0:
        return None
    top = sum(tops)
    best = [np.flatnonzero(p == t) for p, t in zip(primary, tops, strict=True)]
    sub = BatchInstance(
        [
            BatchMatch(bm.people, bm.k, bm.slots[b], bm.held[b], bm.attendance[b],
                       bm.preferred[b], bm.offset[b])
            for bm, b in zip(inst.matches, best, strict=True)
        ],
        inst.week,
        inst.caps,
        inst.weight,
    )  # fmt: skip
    model = _Model()
    xs = Variables.create(model, sub)
    for row in xs.x:
        model.add_exactly_one(row)
    constraints = add_no_double_booking(model, sub, xs) + add_weekly_caps(model, sub, xs)
    _, secondary = secondary_terms(sub, xs, tie_weight_of(inst))
    maximize(model, xs, secondary)
    if hint is not None:  # the hinted matches that are at a best candidate
        hinted = model.proto.solution_hint
        for row, b, c in zip(xs.x, best, hint, strict=True):
            at = np.flatnonzero(b == c).tolist() if c is not None else []
            if at:
                hinted.vars.extend(v.index for v in row)
                hinted.values.extend(int(j == at[0]) for j in range(len(row)))
    build = time.perf_counter() - t0
    solver = _solver(params, min(params.time_limit - build, ALL_AT_BEST_SHARE * params.time_limit))
    solver.parameters.max_deterministic_time = TIE_BREAK_FLOOR
    if _run(solver, model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    choice: list[int | None] = [
        None if c is None else int(b[c]) for b, c in zip(best, xs.extract(solver), strict=True)
    ]
    return ModelResult(
        "optimal", choice, top, top, build, time.perf_counter() - t0 - build, constraints
    )


def solve(
    inst: BatchInstance, params: SolveParams = SolveParams(), hint: list[int | None] | None = None
) -> ModelResult:
    """Build and solve; always returns the best plan found with its status and bound.

    A small model is first tried with every match at its best (``all_at_best``); the two
    stages run when that fails, in the time left."""
    t0 = time.perf_counter()
    if sum(len(bm.held) for bm in inst.matches) < ALL_AT_BEST_BELOW:
        shortcut = all_at_best(inst, params, hint)
        if shortcut is not None:
            return shortcut
    t_model = time.perf_counter()  # solve_seconds below count a failed shortcut
    model = _Model()
    xs = Variables.create(model, inst)
    add_one_series_per_match(model, xs)
    constraints = add_no_double_booking(model, inst, xs) + add_weekly_caps(model, inst, xs)
    variables, primary = primary_terms(inst, xs)
    maximize(model, xs, primary)
    if hint is not None:
        set_hint(model, xs, hint)
    build = time.perf_counter() - t_model

    deadline = t0 + params.time_limit
    solver = _solver(params, deadline - time.perf_counter())
    solver.parameters.cp_model_presolve = len(xs.index) < PRESOLVE_BELOW
    status = _run(solver, model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ModelResult(
            STATUS[status],
            [None] * len(inst.matches),
            0,
            int(solver.best_objective_bound)
            if status == cp_model.UNKNOWN and math.isfinite(solver.best_objective_bound)
            else 0,
            build,
            time.perf_counter() - t0 - build,
            constraints,
        )
    choice = xs.extract(solver)
    best = round(solver.objective_value)
    bound = int(np.floor(solver.best_objective_bound + 1e-6))
    first_status = STATUS[status]

    # Stage 2: keep stage 1's value, prefer preferred times, then earlier first starts.
    tie_weight = tie_weight_of(inst)
    t_tie = time.perf_counter()
    remaining = deadline - t_tie
    if remaining > 0.05:
        model.add(cp_model.LinearExpr.weighted_sum(variables, primary) >= best)
        set_hint(model, xs, choice)
        _, secondary = secondary_terms(inst, xs, tie_weight)
        maximize(model, xs, secondary)
        solver2 = _solver(params, remaining)
        solver2.parameters.max_deterministic_time = tie_break_work(
            solver.response_proto.deterministic_time
        )
        if _run(solver2, model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            choice = xs.extract(solver2)
    t_end = time.perf_counter()
    return ModelResult(
        first_status, choice, best, bound, build, t_end - t0 - build, constraints, t_end - t_tie
    )
