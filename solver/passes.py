"""plan()'s two passes over the component models: each model solved with a share of the
time limit, in this process or on an executor, then those not proven optimal again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .component_model import ComponentModel, absorb, component_model
from .executors import Dispatcher
from .matches import ScoredMatch
from .model import ModelResult, solve
from .progress import SCORING, SECOND_PASS, Reporter
from .prune import prune
from .tasks import SolveTask

SMALL_MODEL = 1_000  # variables; below this the first pass runs CP-SAT with one worker
POOL_FLOOR_S = 1.0  # least time of a model in the first pass on an executor


@dataclass
class Runs:
    """How CP-SAT is run, and what the runs cost."""

    workers: int
    seed: int
    runs: int = 0
    constraints: int = 0
    prune_s: float = 0.0
    build_s: float = 0.0
    solve_s: float = 0.0

    def run(self, job: ComponentModel, time_limit: float, workers: int) -> None:
        """Solve (again) from the best answer so far; keep whichever answer is better."""
        res = solve(job.inst, time_limit=time_limit, workers=workers, seed=self.seed,
                    hint=job.choice)
        absorb(job, res)
        self.count(res)

    def count(self, res: ModelResult) -> None:
        self.runs += 1
        self.constraints += res.constraints
        self.build_s += res.build_seconds
        self.solve_s += res.solve_seconds

    def workers_for(self, job: ComponentModel) -> int:
        # Small models are solved faster by one worker than by a portfolio that has to
        # start threads; what they leave unproven gets every worker later.
        size = sum(len(k) for k in job.kept.values())
        return self.workers if size >= SMALL_MODEL else 1


def component_models(matches: list[ScoredMatch], comps: list[list[int]], week: np.ndarray,
                     caps: dict[int, int], fcfs: dict[int, int | None], runs: Runs
            ) -> Iterator[tuple[list[int], ComponentModel | None]]:
    """Each component, in order, with the model it needs (None when it has a single
    match or pruning leaves every match its best)."""
    for comp in comps:
        job = None
        if len(comp) > 1:
            t = time.perf_counter()
            kept = prune(matches, comp, week, caps)
            runs.prune_s += time.perf_counter() - t
            if kept is not None:
                job = component_model(matches, comp, kept, week, caps, fcfs)
        yield comp, job


def first_pass(matches: list[ScoredMatch], comps: list[list[int]], week: np.ndarray,
               caps: dict[int, int], fcfs: dict[int, int | None], deadline: float,
               runs: Runs, report: Reporter) -> list[ComponentModel]:
    """Prune every component and solve those that need a model, largest first, each
    with half of its share of the time left. One model per component: putting small
    components together saves CP-SAT's start-up per call, but measured on L it can make
    the search far slower (one 74-match model of independent components: 14 s)."""
    total = sum(len(c) for c in comps)
    left = sum(len(c) for c in comps if len(c) > 1)  # matches that may need a model
    jobs, done = [], 0
    for comp, job in component_models(matches, comps, week, caps, fcfs, runs):
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


def second_pass(unproven: list[ComponentModel], deadline: float, runs: Runs,
                report: Reporter) -> None:
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


def first_pass_on(pool: Dispatcher[ComponentModel], matches: list[ScoredMatch],
                  comps: list[list[int]], week: np.ndarray, caps: dict[int, int],
                  fcfs: dict[int, int | None], deadline: float, runs: Runs,
                  report: Reporter) -> list[ComponentModel]:
    """``first_pass`` on an executor: every model is sent as soon as it is built, largest
    first, and the results are taken as they come. The models share half of the time left
    times the executor's slots (n models run at once), and each gets at least
    ``POOL_FLOOR_S``: a worker shares the cores with this process (and, on a busy machine,
    others), and a small model cut short of its tie-break stage would make the plan
    differ from the in-process one."""
    total = sum(len(c) for c in comps)
    models = sum(len(c) for c in comps if len(c) > 1)  # matches that may need a model
    remaining = deadline - time.perf_counter()
    jobs, done = [], 0
    for comp, job in component_models(matches, comps, week, caps, fcfs, runs):
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
        absorb(job, res)
        runs.count(res)
        done += len(job.comp)
        report(SCORING + (SECOND_PASS - SCORING) * done / max(total, 1),
               f"planned {done} of {total} schedulable matches")
    return jobs


def second_pass_on(pool: Dispatcher[ComponentModel], unproven: list[ComponentModel],
                   deadline: float, runs: Runs, report: Reporter) -> None:
    """``second_pass`` on an executor: each component not proven optimal is its own task,
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
        absorb(job, res)
        runs.count(res)
        left -= len(job.comp)
        report(SECOND_PASS + (1 - SECOND_PASS) * (1 - left / total),
               f"improving {len(unproven)} components not yet proven optimal")
