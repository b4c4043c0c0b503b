"""plan(): many matches at once, split into independent components (SPEC 5)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from ingest.availability import Availability, build_availability
from ingest.document import ProgramDocument

from .assemble import assemble
from .candidates import Candidates
from .executors import Dispatcher
from .matches import ScoredMatch, attend_cache, program_weeks, score_matches
from .model import BatchInstance, BatchMatch, ModelResult, solve
from .peers import (
    fcfs_choice,
    first_come_first_served,
    first_come_first_served_plan,
    per_match_upper_bound,
)
from .prune import components, prune
from .result import Plan, Score, Status
from .spec import match_spec
from .tasks import SolveTask

# Re-exported: notebooks and scripts import the peers from here, next to plan().
__all__ = ["first_come_first_served", "first_come_first_served_plan", "per_match_upper_bound",
           "plan"]

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]
# Where plan()'s phases end on the progress scale: scoring, first pass, second pass.
SCORING, SECOND_PASS = 0.3, 0.9
SMALL_MODEL = 1_000  # variables; below this the first pass runs CP-SAT with one worker
POOL_FLOOR_S = 1.0  # least time of a model in the first pass on an executor


@dataclass
class _Job:
    """One component that needs the CP-SAT model, and the best answer found for it."""

    comp: list[int]
    kept: dict[int, Candidates]
    inst: BatchInstance
    choice: list[int | None]  # per match of comp: index into kept[i], or None
    status: Status = "unknown"
    bound: int = 0  # proven bound on held * weight + attendance

    @property
    def weight(self) -> int:
        return self.inst.weight


def _job(matches: list[ScoredMatch], comp: list[int], kept: dict[int, Candidates],
         week: np.ndarray, caps: dict[int, int], fcfs: dict[int, int | None]) -> _Job:
    """One model for ``comp``: the matches of one or more components, pruned."""
    weight = sum(int(kept[i].attendance.max()) for i in comp) + 1
    inst = BatchInstance(
        [BatchMatch(matches[i].people, kept[i].k, kept[i].slots, kept[i].held,
                    kept[i].attendance, kept[i].preferred,
                    kept[i].first - kept[i].first.min()) for i in comp],
        week, _caps_of(matches, comp, caps), weight)
    # Every match alone at its best bounds the model until the solver proves better.
    top = sum(int(kept[i].held[0]) * weight + int(kept[i].attendance[0]) for i in comp)
    hint = [_kept_index(matches[i].cands, kept[i], fcfs[i]) for i in comp]
    return _Job(comp, kept, inst, hint, "feasible", top)


def _value(job: _Job, choice: list[int | None]) -> int:
    return sum(int(bm.held[c]) * job.weight + int(bm.attendance[c])
               for bm, c in zip(job.inst.matches, choice, strict=True) if c is not None)


def _full_value(matches: list[ScoredMatch], job: _Job, picked: list[int | None]) -> int:
    """held * weight + attendance of a choice given as indices into each match's cands."""
    return sum(int(matches[i].cands.held[c]) * job.weight + int(matches[i].cands.attendance[c])
               for i, c in zip(job.comp, picked, strict=True) if c is not None)


def _absorb(job: _Job, res: ModelResult) -> None:
    """Take a run's answer and bound when they are better than the job's."""
    if res.status in ("optimal", "feasible"):
        job.bound = min(job.bound, res.primary_bound)
        if _value(job, res.choice) >= _value(job, job.choice):
            job.choice = res.choice
        job.status = "optimal" if _value(job, job.choice) >= job.bound else "feasible"


def plan(doc: ProgramDocument, avail: Availability | None = None, *,
         match_ids: Sequence[str] | None = None, time_limit: float = 60.0, workers: int = 2,
         seed: int = 0, progress: Progress | None = None,
         executor: Executor | None = None) -> Plan:
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
    """
    t_start = time.perf_counter()
    deadline = t_start + time_limit
    report = _Reporter(progress)
    pool = None
    if executor is not None:
        pool = Dispatcher[_Job](executor, deadline)
        pool.warm_up()  # processes start while this one scores
    avail = avail or build_availability(doc)
    grid = avail.grid
    # A match listed twice is planned once: a plan gives each match at most one series.
    wanted = [doc.match(x) for x in dict.fromkeys(match_ids)] if match_ids \
        else list(doc.matches)
    report(0.0, f"scoring the candidate series of {len(wanted)} matches")
    specs = [match_spec(doc, x, grid) for x in wanted]
    attend = attend_cache(avail)
    matches = []
    for at in range(0, len(specs), 250):  # in chunks, to report progress on large programs
        matches += score_matches(doc, avail, specs[at:at + 250], attend)
        report(SCORING * len(matches) / len(specs),
               f"scored the candidate series of {len(matches)} of {len(specs)} matches")
    t_scored = time.perf_counter()
    week = program_weeks(doc, grid)
    caps = {avail.index(m.id): m.max_sessions_per_week for m in doc.members
            if m.max_sessions_per_week is not None and m.id in avail.members}
    fcfs = fcfs_choice(matches, week, caps, grid.n_slots, len(avail.members))
    t_fcfs = time.perf_counter()

    comps = [[i for i in c if len(matches[i].cands)] for c in components(matches)]
    runs = _Runs(workers, seed)
    if pool is None:
        jobs = _first_pass(matches, comps, week, caps, fcfs, deadline, runs, report)
        unproven = [j for j in jobs if j.status != "optimal"]
        _second_pass(unproven, deadline, runs, report)
    else:
        jobs = _first_pass_on(pool, matches, comps, week, caps, fcfs, deadline, runs, report)
        unproven = [j for j in jobs if j.status != "optimal"]
        _second_pass_on(pool, unproven, deadline, runs, report)
    choice, bound = _collect(matches, comps, jobs, fcfs)
    total = sum(len(c) for c in comps)
    report(1.0, f"planned {total} of {total} schedulable matches")
    t_solved = time.perf_counter()

    series, unscheduled = assemble(doc, avail, matches, choice, caps, attend)
    objective = sum((s.score for s in series), Score())
    status: Status = "optimal" if all(j.status == "optimal" for j in jobs) else "feasible"
    pref_b = sum(int(m.cands.preferred.max()) for m in matches if len(m.cands))
    t_end = time.perf_counter()
    return Plan(status, objective, Score(*bound, pref_b),
                round(t_end - t_start, 3), tuple(series), tuple(unscheduled),
                {"score_seconds": t_scored - t_start, "fcfs_seconds": t_fcfs - t_scored,
                 "prune_seconds": runs.prune_s, "build_seconds": runs.build_s,
                 "solve_seconds": runs.solve_s, "assemble_seconds": t_end - t_solved,
                 "models": len(jobs), "solver_runs": runs.runs,
                 "unproven_after_first_pass": len(unproven), "components": len(comps),
                 "variables": sum(len(k) for j in jobs for k in j.kept.values()),
                 "constraints": runs.constraints, "total_seconds": t_end - t_start,
                 "parallel_slots": pool.slots if pool else 1,
                 "chunks": pool.chunks if pool else 0})


@dataclass
class _Runs:
    """How CP-SAT is run, and what the runs cost."""

    workers: int
    seed: int
    runs: int = 0
    constraints: int = 0
    prune_s: float = 0.0
    build_s: float = 0.0
    solve_s: float = 0.0

    def run(self, job: _Job, time_limit: float, workers: int) -> None:
        """Solve (again) from the best answer so far; keep whichever answer is better."""
        res = solve(job.inst, time_limit=time_limit, workers=workers, seed=self.seed,
                    hint=job.choice)
        _absorb(job, res)
        self.count(res)

    def count(self, res: ModelResult) -> None:
        self.runs += 1
        self.constraints += res.constraints
        self.build_s += res.build_seconds
        self.solve_s += res.solve_seconds

    def workers_for(self, job: _Job) -> int:
        # Small models are solved faster by one worker than by a portfolio that has to
        # start threads; what they leave unproven gets every worker later.
        size = sum(len(k) for k in job.kept.values())
        return self.workers if size >= SMALL_MODEL else 1


def _models(matches: list[ScoredMatch], comps: list[list[int]], week: np.ndarray,
            caps: dict[int, int], fcfs: dict[int, int | None], runs: _Runs
            ) -> Iterator[tuple[list[int], _Job | None]]:
    """Each component, in order, with the model it needs (None when it has a single
    match or pruning leaves every match its best)."""
    for comp in comps:
        job = None
        if len(comp) > 1:
            t = time.perf_counter()
            kept = prune(matches, comp, week, caps)
            runs.prune_s += time.perf_counter() - t
            if kept is not None:
                job = _job(matches, comp, kept, week, caps, fcfs)
        yield comp, job


def _first_pass(matches: list[ScoredMatch], comps: list[list[int]], week: np.ndarray,
                caps: dict[int, int], fcfs: dict[int, int | None], deadline: float,
                runs: _Runs, report: _Reporter) -> list[_Job]:
    """Prune every component and solve those that need a model, largest first, each
    with half of its share of the time left. One model per component: putting small
    components together saves CP-SAT's start-up per call, but measured on L it can make
    the search far slower (one 74-match model of independent components: 14 s)."""
    total = sum(len(c) for c in comps)
    left = sum(len(c) for c in comps if len(c) > 1)  # matches that may need a model
    jobs, done = [], 0
    for comp, job in _models(matches, comps, week, caps, fcfs, runs):
        if job is not None:
            jobs.append(job)
            remaining = deadline - time.perf_counter()
            if remaining > 0:  # past the time limit, the component keeps the FCFS choice
                share = 0.5 * remaining * len(comp) / max(left, 1)
                runs.run(job, max(share, min(0.2, remaining)), runs.workers_for(job))
        if len(comp) > 1:
            left -= len(comp)
        done += len(comp)
        report(SCORING + (SECOND_PASS - SCORING) * done / max(total, 1),
               f"planned {done} of {total} schedulable matches")
    return jobs


def _second_pass(unproven: list[_Job], deadline: float, runs: _Runs,
                 report: _Reporter) -> None:
    """Components not proven optimal share the time left, largest first, all workers."""
    left = total = sum(len(j.comp) for j in unproven)
    for job in unproven:
        remaining = deadline - time.perf_counter()
        if remaining < 0.1:
            break
        runs.run(job, remaining * len(job.comp) / max(left, 1), runs.workers)
        left -= len(job.comp)
        report(SECOND_PASS + (1 - SECOND_PASS) * (1 - left / max(total, 1)),
               f"improving {len(unproven)} components not yet proven optimal")


def _first_pass_on(pool: Dispatcher[_Job], matches: list[ScoredMatch], comps: list[list[int]],
                   week: np.ndarray, caps: dict[int, int], fcfs: dict[int, int | None],
                   deadline: float, runs: _Runs, report: _Reporter) -> list[_Job]:
    """``_first_pass`` on an executor: every model is sent as soon as it is built, largest
    first, and the results are taken as they come. The models share half of the time left
    times the executor's slots (n models run at once), and each gets at least
    ``POOL_FLOOR_S``: a worker shares the cores with this process (and, on a busy machine,
    others), and a small model cut short of its tie-break stage would make the plan
    differ from the in-process one."""
    total = sum(len(c) for c in comps)
    models = sum(len(c) for c in comps if len(c) > 1)  # matches that may need a model
    remaining = deadline - time.perf_counter()
    jobs, done = [], 0
    for comp, job in _models(matches, comps, week, caps, fcfs, runs):
        if job is not None:
            jobs.append(job)
            left = deadline - time.perf_counter()
            if left > 0:  # past the time limit, the component keeps the FCFS choice
                share = 0.5 * remaining * len(comp) / max(models, 1)
                limit = max(pool.slots * share, POOL_FLOOR_S)
                pool.add(job, SolveTask(job.inst, job.choice, min(left, limit),
                                        runs.workers_for(job), runs.seed))
                continue
        done += len(comp)
    report(SCORING + (SECOND_PASS - SCORING) * done / max(total, 1),
           f"planned {done} of {total} schedulable matches; solving {len(jobs)} models")
    for job, res in pool.completed():
        _absorb(job, res)
        runs.count(res)
        done += len(job.comp)
        report(SCORING + (SECOND_PASS - SCORING) * done / max(total, 1),
               f"planned {done} of {total} schedulable matches")
    return jobs


def _second_pass_on(pool: Dispatcher[_Job], unproven: list[_Job], deadline: float,
                    runs: _Runs, report: _Reporter) -> None:
    """``_second_pass`` on an executor: each component not proven optimal is its own task,
    with all workers and its share of the time left per slot of the executor."""
    remaining = deadline - time.perf_counter()
    if remaining < 0.1 or not unproven:
        return
    left = total = sum(len(j.comp) for j in unproven)
    for job in unproven:
        share = remaining * pool.slots * len(job.comp) / total
        pool.add(job, SolveTask(job.inst, job.choice, min(remaining, share), runs.workers,
                                runs.seed), alone=True)
    for job, res in pool.completed():
        _absorb(job, res)
        runs.count(res)
        left -= len(job.comp)
        report(SECOND_PASS + (1 - SECOND_PASS) * (1 - left / total),
               f"improving {len(unproven)} components not yet proven optimal")


def _collect(matches: list[ScoredMatch], comps: list[list[int]], jobs: list[_Job],
             fcfs: dict[int, int | None]) -> tuple[dict[int, int | None], tuple[int, int]]:
    """Each match's candidate (index into its cands) and the (held, attendance) bound."""
    choice: dict[int, int | None] = {i: 0 for comp in comps for i in comp}
    held = sum(int(matches[i].cands.held[0]) for i in choice)
    attendance = sum(int(matches[i].cands.attendance[0]) for i in choice)
    for job in jobs:
        # The job's bound replaces its matches' own best.
        held += job.bound // job.weight - sum(int(matches[i].cands.held[0]) for i in job.comp)
        attendance += job.bound % job.weight - sum(int(matches[i].cands.attendance[0])
                                                   for i in job.comp)
        picked = [None if c is None else int(
            np.flatnonzero(matches[i].cands.first == job.kept[i].first[c])[0])
            for i, c in zip(job.comp, job.choice, strict=True)]
        peer = [fcfs[i] for i in job.comp]
        if _full_value(matches, job, peer) > _full_value(matches, job, picked):
            picked = peer  # only after a time limit; FCFS may use a pruned candidate
        choice.update(zip(job.comp, picked, strict=True))
    return choice, (held, attendance)


class _Reporter:
    """Calls ``progress`` at the start, about every 5 %, and at the end, not per model."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.last = -1.0

    def __call__(self, fraction: float, message: str) -> None:
        if self.progress is None:
            return
        if fraction <= 0.0 or fraction >= 1.0 or fraction - self.last >= 0.05:
            if fraction == self.last == 1.0:
                return
            self.last = max(fraction, 0.0)
            self.progress(fraction, message)


def _caps_of(matches: list[ScoredMatch], comp: list[int], caps: dict[int, int]) -> dict[int, int]:
    """The weekly caps of the people in ``comp``."""
    people = {p for i in comp if matches[i].cap_people for p in matches[i].people.tolist()}
    return {p: caps[p] for p in people if p in caps}


def _kept_index(cands: Candidates, kept: Candidates, c: int | None) -> int | None:
    """Position in ``kept`` of candidate ``c`` of ``cands`` (None if pruned or None)."""
    if c is None:
        return None
    where = np.flatnonzero(kept.first == cands.first[c])
    return int(where[0]) if len(where) else None

