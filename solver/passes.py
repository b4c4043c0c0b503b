"""plan()'s two passes over the component models: each model solved with its share of the
time limit (see ``budget``), in this process or on an executor, then those not proven
optimal again with the time left."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from .budget import Budget
from .component_model import ComponentModel, absorb, component_model
from .matches import ScoredMatch
from .model import ModelResult, SolveParams, solve
from .progress import SCORING, SECOND_PASS, Reporter
from .prune import prune
from .tasks import SolveTask

SMALL_MODEL = 1_000  # variables; below this the first pass runs CP-SAT with one worker


class Runner(Protocol):
    """Where the models are solved: ``InProcess``, or an executor's ``Dispatcher``."""

    slots: int  # models solved at once
    chunks: int  # tasks sent to an executor
    eager: bool  # ``add`` solves the model at once; else results come from ``completed``

    def add(self, key: ComponentModel, task: SolveTask, *, alone: bool = False) -> None: ...
    def completed(self) -> Iterator[tuple[ComponentModel, ModelResult]]: ...


class InProcess:
    """Solves each model in this process as it is added."""

    slots, chunks, eager = 1, 0, True

    def __init__(self) -> None:
        self._done: list[tuple[ComponentModel, ModelResult]] = []

    def add(self, key: ComponentModel, task: SolveTask, *, alone: bool = False) -> None:
        self._done.append((key, solve(task.inst, params=task.params, hint=task.hint)))

    def completed(self) -> Iterator[tuple[ComponentModel, ModelResult]]:
        done, self._done = self._done, []
        yield from done


@dataclass
class Runs:
    """How CP-SAT is run, and what the runs cost."""

    params: SolveParams  # its time limit is the plan's; each run gets its own
    runs: int = 0
    constraints: int = 0
    prune_s: float = 0.0
    build_s: float = 0.0
    solve_s: float = 0.0  # both stages
    tie_break_s: float = 0.0  # of solve_s, the second stage (preference, first start)

    def absorb(
        self, results: Iterable[tuple[ComponentModel, ModelResult]]
    ) -> Iterator[ComponentModel]:
        """Each model's run: keep whichever answer is better, count what it cost; yields the
        model as its result is taken."""
        for model, res in results:
            absorb(model, res)
            self.runs += 1
            self.constraints += res.constraints
            self.build_s += res.build_seconds
            self.solve_s += res.solve_seconds
            self.tie_break_s += res.tie_break_seconds
            yield model

    def first(self, model: ComponentModel, time_limit: float) -> SolveTask:
        """A first-pass run: small models are solved faster by one worker than by a
        portfolio that has to start threads; what they leave unproven gets every worker
        later."""
        size = sum(len(k) for k in model.kept.values())
        workers = self.params.workers if size >= SMALL_MODEL else 1
        return SolveTask(
            model.inst, model.choice, replace(self.params, time_limit=time_limit, workers=workers)
        )

    def again(self, model: ComponentModel, time_limit: float) -> SolveTask:
        """A second-pass run, with every worker, from the best answer so far."""
        return SolveTask(model.inst, model.choice, replace(self.params, time_limit=time_limit))


def component_models(
    matches: list[ScoredMatch],
    comps: list[list[int]],
    week: np.ndarray,
    caps: dict[int, int],
    fcfs: dict[int, int | None],
    runs: Runs,
) -> Iterator[tuple[list[int], ComponentModel | None]]:
    """Each component, in order, with the model it needs (None when it has a single
    match or pruning leaves every match its best)."""
    for comp in comps:
        model = None
        if len(comp) > 1:
            t = time.perf_counter()
            kept = prune(matches, comp, week, caps)
            runs.prune_s += time.perf_counter() - t
            if kept is not None:
                model = component_model(matches, comp, kept, week, caps, fcfs)
        yield comp, model


def first_pass(
    matches: list[ScoredMatch],
    comps: list[list[int]],
    week: np.ndarray,
    caps: dict[int, int],
    fcfs: dict[int, int | None],
    runs: Runs,
    runner: Runner,
    budget: Budget,
    report: Reporter,
) -> list[ComponentModel]:
    """Prune every component and solve those that need a model, largest first, each with
    its ``budget.first``. One model per component: putting small components together saves
    CP-SAT's start-up per call, but measured on L it can make the search far slower (one
    74-match model of independent components: 14 s). On an executor every model is sent
    as soon as it is built, and the results are taken as they come."""
    total = sum(len(c) for c in comps)
    models: list[ComponentModel] = []
    done = 0

    def planned(matches_done: int, note: str = "") -> None:
        nonlocal done
        done += matches_done
        report(
            SCORING + (SECOND_PASS - SCORING) * done / max(total, 1),
            f"planned {done} of {total} schedulable matches{note}",
        )

    for comp, model in component_models(matches, comps, week, caps, fcfs, runs):
        limit = None if model is None else budget.first(len(comp))
        budget.passed(len(comp))
        if model is not None:
            models.append(model)
            if limit is not None:
                runner.add(model, runs.first(model, limit))
        if runner.eager:  # solved already: the component is planned
            for _ in runs.absorb(runner.completed()):
                pass
            planned(len(comp))
        elif model is None or limit is None:
            done += len(comp)  # planned without a model; reported once the models are sent
    if not runner.eager:
        planned(0, f"; solving {len(models)} models")
    for model in runs.absorb(runner.completed()):
        planned(len(model.comp))
    return models


def second_pass(
    unproven: list[ComponentModel], runs: Runs, runner: Runner, budget: Budget, report: Reporter
) -> None:
    """Components not proven optimal share the time left (``budget.second``), largest
    first, with all workers; on an executor each is its own task."""
    left = total = sum(len(j.comp) for j in unproven)
    budget.start_second(total)

    def settle(results: Iterator[tuple[ComponentModel, ModelResult]]) -> None:
        nonlocal left
        for model in runs.absorb(results):
            left -= len(model.comp)
            report(
                SECOND_PASS + (1 - SECOND_PASS) * (1 - left / max(total, 1)),
                f"improving {len(unproven)} components not yet proven optimal",
            )

    for model in unproven:
        limit = budget.second(len(model.comp))
        if limit is None:
            break
        runner.add(model, runs.again(model, limit), alone=True)
        if runner.eager:
            settle(runner.completed())
    settle(runner.completed())
