"""CP-SAT model runs as picklable tasks, for executors in other processes or on a cluster.

``solve_tasks`` is what an executor runs: a pure, module-level function of plain values
(``BatchInstance`` arrays in, ``ModelResult`` out), so local process pools and Dask
workers can import and call it. The bookkeeping of the plan stays with ``plan()``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .model import BatchInstance, ModelResult, SolveParams, solve


@dataclass(frozen=True)
class SolveTask:
    """One CP-SAT run of one model: its instance, starting hint and parameters."""

    inst: BatchInstance
    hint: list[int | None] | None
    params: SolveParams

    @property
    def variables(self) -> int:
        return sum(len(bm.held) for bm in self.inst.matches)


def skipped(task: SolveTask) -> ModelResult:
    """The result of a task that did not run (the plan's deadline had passed)."""
    return ModelResult("unknown", [None] * len(task.inst.matches), 0, 0, 0.0, 0.0, 0)


def solve_tasks(tasks: Sequence[SolveTask], deadline: float) -> list[ModelResult]:
    """Solve ``tasks`` one after another, each within its time limit and all before
    ``deadline`` (wall clock, ``time.time()``, so that it means the same on every host
    of a cluster whose clocks are synchronised). A task reached after the deadline is
    ``skipped``: the plan keeps its first-come-first-served choice."""
    out = []
    for task in tasks:
        left = deadline - time.time()
        if left <= 0.0:
            out.append(skipped(task))
            continue
        params = replace(task.params, time_limit=min(task.params.time_limit, left))
        out.append(solve(task.inst, params, hint=task.hint))
    return out


def warm_up() -> int:
    """Nothing but importing this module (numpy, OR-Tools) in a fresh worker, so that a
    pool starts its processes while ``plan()`` is still scoring. Returns the worker's pid."""
    return os.getpid()
