"""plan(): many matches at once, split into independent components (SPEC 5)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Executor

from ingest.availability import Availability, build_availability
from ingest.document import ProgramDocument

from .assemble import assemble
from .budget import Budget, ExecutorBudget, InProcessBudget
from .candidates import Attend
from .component_model import ComponentModel, collect
from .executors import Dispatcher, capacity
from .matches import (
    ScoredMatch,
    attend_cache,
    person_caps,
    program_weeks,
    score_matches,
)
from .model import SolveParams
from .parts import PARTS_MIN_MATCHES, plan_in_parts
from .passes import InProcess, Runner, Runs, first_pass, second_pass
from .peers import fcfs_choice
from .progress import SCORING, Progress, Reporter
from .prune import components
from .result import Plan, PlanStats, Score, Status
from .spec import match_spec

__all__ = ["SolveParams", "plan"]

log = logging.getLogger(__name__)


def plan(
    doc: ProgramDocument,
    avail: Availability | None = None,
    *,
    match_ids: Sequence[str] | None = None,
    params: SolveParams | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    time_limit: float | None = None,
    workers: int | None = None,
    seed: int | None = None,
) -> Plan:
    """Plan every match (or ``match_ids``) together: SPEC 5's lexicographic optimum.

    Independent components are solved one by one, largest first, each with a share of
    the time; components not proven optimal then share what time is left. Never worse
    than first-come-first-served: its choice is each model's starting hint, and a model
    only replaces it with a better one.

    With an ``executor`` (a local process pool, or Dask's ``Client.get_executor()``; see
    ``solver.executors.executor_for``, which also holds the rule for when a pool pays
    off), the models are solved there instead, several at once, in chunks of small
    models; scoring, pruning and the bookkeeping stay here. Each model runs with the
    same seed, hint and CP-SAT workers as in process, so the plan is the same whenever
    every model is solved to optimality within its time.

    A program of at least ``PARTS_MIN_MATCHES`` matches goes to the executor in parts
    instead (``solver.parts``): each part, a set of whole components, is planned there
    from availability to series, so that no process holds the whole program's matrix.

    ``params`` are CP-SAT's (``SolveParams()`` by default: 60 s, 2 workers, seed 0);
    ``time_limit``, ``workers`` and ``seed``, when given, replace its fields, so that
    ``plan(doc, time_limit=10)`` reads as it says.
    """
    t_start = time.perf_counter()
    params = _params(params, time_limit, workers, seed)
    deadline = t_start + params.time_limit
    report = Reporter(progress)
    wanted = list(dict.fromkeys(match_ids)) if match_ids else [x.id for x in doc.matches]
    if executor is not None and len(wanted) >= PARTS_MIN_MATCHES:
        return plan_in_parts(doc, avail, wanted, params, executor, capacity(executor), report)
    runner: Runner = InProcess()
    if executor is not None:
        runner = pool = Dispatcher[ComponentModel](executor, deadline)
        pool.warm_up()  # processes start while this one scores
    avail = avail or build_availability(doc)
    attend = attend_cache(avail)
    matches = _scored(doc, avail, match_ids, attend, report)
    t_scored = time.perf_counter()
    week = program_weeks(doc, avail.grid)
    caps = person_caps(doc, avail)
    fcfs = fcfs_choice(matches, week, caps, avail.grid.n_slots, len(avail.members))
    t_fcfs = time.perf_counter()

    comps = [[i for i in c if len(matches[i].cands)] for c in components(matches)]
    runs = Runs(params)
    budget: Budget = (
        InProcessBudget(deadline, comps)
        if executor is None
        else ExecutorBudget(deadline, comps, runner.slots)
    )
    models = first_pass(matches, comps, week, caps, fcfs, runs, runner, budget, report)
    unproven = [j for j in models if j.status != "optimal"]
    second_pass(unproven, runs, runner, budget, report)
    choice, bound = collect(matches, comps, models, fcfs)
    total = sum(len(c) for c in comps)
    report(1.0, f"planned {total} of {total} schedulable matches")
    t_solved = time.perf_counter()

    series, unscheduled = assemble(doc, avail, matches, choice, caps, attend)
    objective = sum((s.score for s in series), Score())
    status: Status = "optimal" if all(j.status == "optimal" for j in models) else "feasible"
    pref_b = sum(int(m.cands.preferred.max()) for m in matches if len(m.cands))
    t_end = time.perf_counter()
    return Plan(
        status,
        objective,
        Score(*bound, pref_b),
        round(t_end - t_start, 3),
        tuple(series),
        tuple(unscheduled),
        PlanStats(
            score_seconds=t_scored - t_start,
            fcfs_seconds=t_fcfs - t_scored,
            prune_seconds=runs.prune_s,
            build_seconds=runs.build_s,
            solve_seconds=runs.solve_s,
            assemble_seconds=t_end - t_solved,
            models=len(models),
            solver_runs=runs.runs,
            unproven_after_first_pass=len(unproven),
            components=len(comps),
            variables=sum(len(k) for j in models for k in j.kept.values()),
            constraints=runs.constraints,
            total_seconds=t_end - t_start,
            parallel_slots=runner.slots,
            chunks=runner.chunks,
        ),
    )


def _scored(
    doc: ProgramDocument,
    avail: Availability,
    match_ids: Sequence[str] | None,
    attend: Attend,
    report: Reporter,
) -> list[ScoredMatch]:
    """The matches to plan, scored in chunks (to report progress on large programs)."""
    # A match listed twice is planned once: a plan gives each match at most one series.
    wanted = [doc.match(x) for x in dict.fromkeys(match_ids)] if match_ids else list(doc.matches)
    report(0.0, f"scoring the candidate series of {len(wanted)} matches")
    specs = [match_spec(doc, x, avail.grid) for x in wanted]
    matches: list[ScoredMatch] = []
    for at in range(0, len(specs), 250):
        matches += score_matches(doc, avail, specs[at : at + 250], attend)
        report(
            SCORING * len(matches) / len(specs),
            f"scored the candidate series of {len(matches)} of {len(specs)} matches",
        )
    return matches


def _params(
    params: SolveParams | None, time_limit: float | None, workers: int | None, seed: int | None
) -> SolveParams:
    """``params`` with the fields given as keywords replaced."""
    base = params or SolveParams()
    return SolveParams(
        base.time_limit if time_limit is None else time_limit,
        base.workers if workers is None else workers,
        base.seed if seed is None else seed,
    )
