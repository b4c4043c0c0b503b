"""SPEC 5: each CP-SAT constraint on a tiny model (feasible and infeasible), and the
solver's optimum against brute-force enumeration."""

import itertools
import pickle
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

import solver.model as model_module
from solver.errors import ModelInvalid
from solver.model import (
    ALL_AT_BEST_BELOW,
    PRESOLVE_BELOW,
    TIE_BREAK_FLOOR,
    TIE_BREAK_SHARE,
    BatchInstance,
    BatchMatch,
    SolveParams,
    Variables,
    add_no_double_booking,
    add_one_series_per_match,
    add_weekly_caps,
    conflict_cliques,
    solve,
    tie_break_work,
)

WEEK = np.repeat(np.arange(4), 10)  # 40 slots, 10 per week


def bm(people, slots, k=2, held=None, attendance=None):
    slots = np.asarray(slots, dtype=np.int64)
    c = len(slots)
    held = np.asarray(held if held is not None else [slots.shape[1]] * c)
    att = np.asarray(attendance if attendance is not None else held * len(people))
    return BatchMatch(
        np.asarray(people), k, slots, held, att, np.zeros(c, np.int64), np.arange(c, dtype=np.int64)
    )


def status_with(inst, forced, *adders):
    model = cp_model.CpModel()
    xs = Variables.create(model, inst)
    for add in adders:
        if add is add_one_series_per_match:
            add(model, xs)
        else:
            add(model, inst, xs)
    for m, c in forced:
        model.add(xs.x[m][c] == 1)
    return cp_model.CpSolver().solve(model)


def test_one_series_per_match():
    """Two candidates of one match cannot both be taken; one can."""
    inst = BatchInstance([bm([0, 1], [[0], [5]])], WEEK)
    assert status_with(inst, [(0, 0), (0, 1)], add_one_series_per_match) == cp_model.INFEASIBLE
    assert status_with(inst, [(0, 1)], add_one_series_per_match) == cp_model.OPTIMAL


def test_no_double_booking():
    """A shared member cannot be in overlapping sessions; touching sessions are fine."""
    inst = BatchInstance([bm([0, 1], [[3, 13]]), bm([0, 2], [[4, 24], [5, 25]])], WEEK)
    assert status_with(inst, [(0, 0), (1, 0)], add_no_double_booking) == cp_model.INFEASIBLE
    assert status_with(inst, [(0, 0), (1, 1)], add_no_double_booking) == cp_model.OPTIMAL


def test_no_double_booking_ignores_strangers():
    """Matches with no member in common may overlap."""
    inst = BatchInstance([bm([0, 1], [[3]]), bm([2, 3], [[3]])], WEEK)
    assert status_with(inst, [(0, 0), (1, 0)], add_no_double_booking) == cp_model.OPTIMAL


def test_weekly_cap():
    """With max 1 session a week, two matches of one mentor cannot share a week."""
    inst = BatchInstance([bm([0, 1], [[1]], k=1), bm([0, 2], [[5], [15]], k=1)], WEEK, {0: 1})
    assert status_with(inst, [(0, 0), (1, 0)], add_weekly_caps) == cp_model.INFEASIBLE
    assert status_with(inst, [(0, 0), (1, 1)], add_weekly_caps) == cp_model.OPTIMAL


def brute_force(inst):
    """Best held*weight+attendance over every combination (None = no series)."""
    options = [[None, *range(len(m.held))] for m in inst.matches]
    best = 0
    for combo in itertools.product(*options):
        taken = {}
        ok = True
        for m, c in enumerate(combo):
            if c is None:
                continue
            match = inst.matches[m]
            for p in match.people.tolist():
                for s in match.slots[c].tolist():
                    for t in range(s, s + match.k):
                        ok &= (p, t) not in taken
                        taken[(p, t)] = 1
        for p, cap in inst.caps.items():
            weeks = {}
            for m, c in enumerate(combo):
                if c is not None and p in inst.matches[m].people:
                    for s in inst.matches[m].slots[c].tolist():
                        weeks[WEEK[s]] = weeks.get(WEEK[s], 0) + 1
            ok &= all(v <= cap for v in weeks.values())
        if ok:
            value = sum(
                int(inst.matches[m].held[c]) * inst.weight + int(inst.matches[m].attendance[c])
                for m, c in enumerate(combo)
                if c is not None
            )
            best = max(best, value)
    return best


@st.composite
def instances(draw):
    n_people = draw(st.integers(2, 4))
    matches = []
    for _ in range(draw(st.integers(1, 4))):
        people = draw(st.lists(st.integers(0, n_people - 1), min_size=2, max_size=2, unique=True))
        n = draw(st.integers(1, 2))
        c = draw(st.integers(1, 3))
        # A series never overlaps itself: occurrences are a "week" (12 slots) apart.
        slots = [
            [s0 + 12 * j for j in range(n)]
            for s0 in draw(st.lists(st.integers(0, 13), min_size=c, max_size=c))
        ]
        held = [draw(st.integers(1, n)) for _ in range(c)]
        att = [h * 2 - draw(st.integers(0, h)) for h in held]
        matches.append(bm(people, slots, k=draw(st.integers(1, 3)), held=held, attendance=att))
    caps = {0: draw(st.integers(1, 2))} if draw(st.booleans()) else {}
    return BatchInstance(matches, WEEK, caps, weight=100)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_solve_is_optimal_on_tiny_batches(inst):
    """CP-SAT's plan equals the best of every combination and proves it."""
    res = solve(inst, SolveParams(time_limit=10, workers=1))
    assert res.status == "optimal"
    assert res.primary == brute_force(inst) == res.primary_bound


def test_solve_reports_its_bound_and_times():
    """A result carries the objective, the proven bound and the time split."""
    inst = BatchInstance([bm([0, 1], [[0], [3]]), bm([0, 2], [[0]])], WEEK, weight=100)
    res = solve(inst, SolveParams(time_limit=5, workers=1))
    assert res.choice == [1, 0]
    assert res.primary == res.primary_bound == 2 * (1 * 100 + 2)
    assert res.build_seconds >= 0 and res.solve_seconds >= 0
    with pytest.raises(IndexError):
        res.choice[2]


@settings(max_examples=40, deadline=None)
@given(instances())
def test_solve_without_presolve_is_optimal_on_tiny_batches(inst):
    """The first stage of a large model runs without CP-SAT's presolve (PRESOLVE_BELOW):
    forced on tiny batches, it still proves the brute-force optimum."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_module, "PRESOLVE_BELOW", 0)
        res = solve(inst, SolveParams(time_limit=10, workers=1))
    assert res.status == "optimal"
    assert res.primary == brute_force(inst) == res.primary_bound


def test_presolve_only_below_the_size_and_always_in_the_tie_break(monkeypatch):
    """A model of PRESOLVE_BELOW variables or more is solved without presolve in its first
    stage; the tie-break keeps it (measured: without it the tie-break took longer)."""
    seen = []
    real_run = model_module._run

    def run(solver, model):
        seen.append((len(model.proto.variables), solver.parameters.cp_model_presolve))
        return real_run(solver, model)

    monkeypatch.setattr(model_module, "_run", run)
    monkeypatch.setattr(model_module, "ALL_AT_BEST_BELOW", 0)  # the two stages
    n = PRESOLVE_BELOW // 2
    for size in (n - 1, n):  # 2 * size variables: just below, then at the size
        inst = BatchInstance(
            [bm([0, 1], [[c] for c in range(size)]), bm([1, 2], [[c] for c in range(size)])],
            np.zeros(size + 2, np.int64),
            weight=100,
        )
        res = solve(inst, SolveParams(time_limit=10, workers=1))
        assert res.status == "optimal" and res.primary == 2 * (100 + 2)
    assert seen == [
        (2 * n - 2, True), (2 * n - 2, True), (2 * n, False), (2 * n, True)
    ]  # fmt: skip


def _clashes(inst, a, b):
    """Brute force: do flat variables a and b put someone in two overlapping sessions?"""
    where = [(m, c) for m, bm in enumerate(inst.matches) for c in range(len(bm.held))]
    (ma, ca), (mb, cb) = where[a], where[b]
    x, y = inst.matches[ma], inst.matches[mb]
    if not set(x.people.tolist()) & set(y.people.tolist()):
        return False
    return any(
        s < t + y.k and t < s + x.k for s in x.slots[ca].tolist() for t in y.slots[cb].tolist()
    )


@settings(max_examples=80, deadline=None)
@given(instances())
def test_conflict_cliques_cover_exactly_the_clashes(inst):
    """Every clique is pairwise clashing (or one match), and every clash between two
    matches lies in some clique."""
    cliques = [set(c.tolist()) for c in conflict_cliques(inst)]
    offsets = np.cumsum([0] + [len(bm.held) for bm in inst.matches])
    match_of = np.repeat(np.arange(len(inst.matches)), np.diff(offsets))
    for clique in cliques:
        for a, b in itertools.combinations(sorted(clique), 2):
            assert match_of[a] == match_of[b] or _clashes(inst, a, b)
    for a, b in itertools.combinations(range(offsets[-1]), 2):
        if match_of[a] != match_of[b] and _clashes(inst, a, b):
            assert any(a in c and b in c for c in cliques)


def test_identical_weekly_cliques_are_kept_once():
    """The same weekly clash, week after week, gives one constraint, not one per week."""
    inst = BatchInstance([bm([0, 1], [[3, 13, 23, 33]]), bm([0, 2], [[4, 14, 24, 34]])], WEEK)
    assert [sorted(c.tolist()) for c in conflict_cliques(inst)] == [[0, 1]]


def test_hint_does_not_change_the_optimum():
    """A poor hint (the worse candidate) still ends at the proven optimum."""
    inst = BatchInstance([bm([0, 1], [[0], [3]]), bm([0, 2], [[0]])], WEEK, weight=100)
    res = solve(inst, SolveParams(time_limit=5, workers=1), hint=[0, None])
    assert res.status == "optimal" and res.choice == [1, 0]


def test_a_model_cp_sat_rejects_is_an_internal_error():
    """MODEL_INVALID is a bug of ours, not "unknown": solve raises ModelInvalid (no
    ValueError, which the service would answer as bad input), and it pickles from a
    worker. Here a weight of 2**62 makes the objective overflow 64 bits."""
    inst = BatchInstance([bm([0, 1], [[0], [3]])], WEEK, weight=2**62)
    assert model_module.all_at_best(inst, SolveParams(time_limit=5, workers=1)) is None
    with pytest.raises(ModelInvalid) as caught:
        solve(inst, SolveParams(time_limit=5, workers=1))
    assert not isinstance(caught.value, ValueError)
    assert caught.value.reason and "invalid" in str(caught.value)
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


def test_tie_break_work_has_a_floor_and_grows_with_the_first_stage():
    """The tie-break's work limit: the floor for cheap first stages, a share of costly ones."""
    assert tie_break_work(0.0) == TIE_BREAK_FLOOR
    big = 100 * TIE_BREAK_FLOOR / TIE_BREAK_SHARE
    assert tie_break_work(big) == pytest.approx(TIE_BREAK_SHARE * big)


def test_tie_break_runs_with_its_work_limit_and_still_prefers(monkeypatch):
    """The second stage is run under tie_break_work's limit, and a tiny one still reaches
    the preferred candidate among equals."""
    limits = []
    real_run = model_module._run

    def run(solver, model):
        limits.append(solver.parameters.max_deterministic_time)
        return real_run(solver, model)

    monkeypatch.setattr(model_module, "_run", run)
    monkeypatch.setattr(model_module, "ALL_AT_BEST_BELOW", 0)  # the two stages
    slots = np.array([[0], [3]], dtype=np.int64)
    match = BatchMatch(
        np.array([0, 1]), 2, slots, np.array([1, 1]), np.array([2, 2]),
        np.array([0, 1]), np.array([0, 3]),
    )  # fmt: skip
    res = solve(BatchInstance([match], WEEK, weight=100), SolveParams(time_limit=5, workers=1))
    assert res.choice == [1]  # same held and attendance: the preferred one, though later
    assert len(limits) == 2
    assert limits[1] == pytest.approx(TIE_BREAK_FLOOR)
    assert limits[0] > 1e6  # the first stage has no work limit


def _values(inst, choice):
    """(held * weight + attendance, the tie-break's value) of a choice."""
    tie = model_module.tie_weight_of(inst)
    picked = [(bm, c) for bm, c in zip(inst.matches, choice, strict=True) if c is not None]
    return (
        sum(int(bm.held[c]) * inst.weight + int(bm.attendance[c]) for bm, c in picked),
        sum(int(bm.preferred[c]) * tie - int(bm.offset[c]) for bm, c in picked),
    )


@st.composite
def tie_instances(draw):
    """instances() with preferred counts and first-start offsets to break ties with."""
    inst = draw(instances())
    matches = [
        BatchMatch(
            m.people, m.k, m.slots, m.held, m.attendance,
            np.asarray(draw(st.lists(st.integers(0, 2), min_size=len(m.held),
                                     max_size=len(m.held)))),
            m.slots[:, 0] - m.slots[:, 0].min(),
        )
        for m in inst.matches
    ]  # fmt: skip
    return BatchInstance(matches, inst.week, inst.caps, inst.weight)


@settings(max_examples=80, deadline=None)
@given(tie_instances())
def test_every_match_at_its_best_gives_what_the_two_stages_give(inst):
    """The shortcut (every match at its best, one run) and the two stages reach the same
    first-stage optimum and the same tie-break value, both proven."""
    params = SolveParams(time_limit=10, workers=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_module, "ALL_AT_BEST_BELOW", 0)
        two = solve(inst, params)
    one = solve(inst, params)
    assert one.status == two.status == "optimal"
    assert one.primary == one.primary_bound == two.primary == brute_force(inst)
    assert _values(inst, one.choice) == _values(inst, two.choice)


def test_every_match_at_its_best_is_one_run_and_a_clash_falls_back(monkeypatch):
    """When every match can have its best, one CP-SAT run answers, proven; when the best
    candidates clash, that run finds no plan and the two stages follow."""
    runs = []
    real_run = model_module._run

    def run(solver, model):
        runs.append(len(model.proto.variables))
        return real_run(solver, model)

    monkeypatch.setattr(model_module, "_run", run)
    params = SolveParams(time_limit=10, workers=1)
    # Person 0 in two matches; the best (3 held) of each fit together.
    free = BatchInstance(
        [bm([0, 1], [[0, 10, 20], [1, 11, 21], [5, 15, 25]], held=[3, 3, 1]),
         bm([0, 2], [[3, 13, 23], [7, 17, 27]], held=[3, 1])],
        WEEK, weight=100,
    )  # fmt: skip
    res = solve(free, params)
    assert runs == [3]  # the best candidates only: two of match 0, one of match 1
    assert res.status == "optimal" and res.primary == res.primary_bound == 2 * (300 + 6)
    assert res.choice[1] == 0 and res.choice[0] in (0, 1)
    runs.clear()
    clash = BatchInstance(  # the best of each overlap at slot 1
        [bm([0, 1], [[0, 10, 20], [5, 15, 25]], held=[3, 1]),
         bm([0, 2], [[1, 11, 21], [8, 18, 28]], held=[3, 1])],
        WEEK, weight=100,
    )  # fmt: skip
    res = solve(clash, params)
    assert runs == [2, 4, 4]  # the shortcut (infeasible), then the two stages
    assert res.status == "optimal" and res.primary == res.primary_bound == 300 + 6 + 100 + 2
    assert ALL_AT_BEST_BELOW > 4


def test_every_match_at_its_best_needs_bests_above_zero_and_within_64_bits():
    """The shortcut's argument needs every match's best above 0 (else leaving a match out
    is as good), and its total must fit CP-SAT's 64 bits: otherwise the two stages answer
    (unscheduled where nothing holds; ModelInvalid past 64 bits), as without it."""
    params = SolveParams(time_limit=5, workers=1)
    nothing_holds = bm([0, 1], [[0], [5]], held=[0, 0], attendance=[0, 0])
    inst = BatchInstance([nothing_holds, bm([0, 2], [[0]])], WEEK, weight=100)
    assert model_module.all_at_best(inst, params) is None
    assert solve(inst, params).choice == [None, 0]
    negative = BatchInstance([bm([0, 1], [[0]], held=[1], attendance=[-200])], WEEK, weight=100)
    assert model_module.all_at_best(negative, params) is None
    assert solve(negative, params).choice == [None]
    four = [bm([i, 10 + i], [[2 * i]], held=[1], attendance=[1]) for i in range(4)]
    huge = BatchInstance(four, WEEK, weight=2**61)  # each fits 64 bits, their sum does not
    assert model_module.all_at_best(huge, params) is None
    with pytest.raises(ModelInvalid):
        solve(huge, params)


def test_a_failed_shortcut_takes_a_share_of_the_time_and_the_deadline_stays(monkeypatch):
    """The try gets at most ALL_AT_BEST_SHARE of the time limit and the tie-break's work
    floor; when it finds no plan, the two stages get what is left of the same limit."""
    limits = []
    real_run = model_module._run

    def run(solver, model):
        limits.append((solver.parameters.max_time_in_seconds,
                       solver.parameters.max_deterministic_time))  # fmt: skip
        return real_run(solver, model)

    real_try = model_module.all_at_best

    def slow_try(inst, params, hint=None):
        found = real_try(inst, params, hint)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(model_module, "_run", run)
    monkeypatch.setattr(model_module, "all_at_best", slow_try)
    clash = BatchInstance(  # the best of each overlap at slot 1
        [bm([0, 1], [[0, 10, 20], [5, 15, 25]], held=[3, 1]),
         bm([0, 2], [[1, 11, 21], [8, 18, 28]], held=[3, 1])],
        WEEK, weight=100,
    )  # fmt: skip
    res = solve(clash, SolveParams(time_limit=8, workers=1))
    assert res.status == "optimal" and len(limits) == 3
    assert limits[0][0] <= model_module.ALL_AT_BEST_SHARE * 8
    assert limits[0][1] == pytest.approx(TIE_BREAK_FLOOR)
    assert limits[1][0] <= 8 - 0.5  # the first stage: the limit less the try's time


def test_every_match_at_its_best_starts_from_the_hint(monkeypatch):
    """The hint's candidates that are among the best are the shortcut's hint; the others
    are left unhinted."""
    hints = []
    real_run = model_module._run

    def run(solver, model):
        h = model.proto.solution_hint
        hints.append(dict(zip(list(h.vars), list(h.values), strict=True)))
        return real_run(solver, model)

    monkeypatch.setattr(model_module, "_run", run)
    free = BatchInstance(
        [bm([0, 1], [[0, 10, 20], [1, 11, 21], [5, 15, 25]], held=[3, 3, 1]),
         bm([0, 2], [[3, 13, 23], [7, 17, 27]], held=[3, 1])],
        WEEK, weight=100,
    )  # fmt: skip
    solve(free, SolveParams(time_limit=5, workers=1), hint=[1, 1])
    # Variables: match 0's two best (0, 1), match 1's best (2); match 1's hint is not a best.
    assert hints == [{0: 0, 1: 1}]
