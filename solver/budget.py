"""How much of plan()'s time limit each CP-SAT run gets: the one place for the rule, in
this process (models one after another) and on an executor (``slots`` models at once).

Both budgets answer the same questions, pass by pass: ``first(size)`` is the time limit
of the first-pass model of a component of ``size`` matches, ``second(size)`` that of a
second-pass run of a component not yet proven optimal; None means there is no time left
for it and the component keeps its answer so far. Times are on ``time.perf_counter``.
"""

from __future__ import annotations

import time
from typing import Protocol

FIRST_PASS_SHARE = 0.5  # of the time left: the rest is for the second pass
IN_PROCESS_FLOOR_S = 0.2  # least time of a first-pass model in process, if there is any
POOL_FLOOR_S = 1.0  # least time of a model in the first pass on an executor
SECOND_PASS_MIN_S = 0.1  # less time left than this: no second pass


class Budget(Protocol):
    def first(self, size: int) -> float | None: ...
    def passed(self, size: int) -> None: ...
    def start_second(self, total: int) -> None: ...
    def second(self, size: int) -> float | None: ...


class InProcessBudget:
    """Models are solved one after another, largest first: each gets its share of the
    time left when it starts, in proportion to its matches among those still to come."""

    def __init__(self, deadline: float, comps: list[list[int]]) -> None:
        self.deadline = deadline
        self.left = sum(len(c) for c in comps if len(c) > 1)  # matches that may need a model

    def first(self, size: int) -> float | None:
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:  # past the time limit, the component keeps the FCFS choice
            return None
        if size >= self.left:
            # The last component that may need a model: a second pass would start its
            # search again from scratch, so it gets all the time left at once.
            return remaining
        share = FIRST_PASS_SHARE * remaining * size / max(self.left, 1)
        return max(share, min(IN_PROCESS_FLOOR_S, remaining))

    def passed(self, size: int) -> None:
        """A component of ``size`` matches is done with (solved or not)."""
        if size > 1:
            self.left -= size

    def start_second(self, total: int) -> None:
        """The second pass starts, for components of ``total`` matches in all."""
        self.left = total

    def second(self, size: int) -> float | None:
        remaining = self.deadline - time.perf_counter()
        if remaining < SECOND_PASS_MIN_S:
            return None
        limit = remaining * size / max(self.left, 1)
        self.left -= size
        return limit


class ExecutorBudget:
    """Models run ``slots`` at once: each is sent as soon as it is built, with its share of
    the time left at the start of the pass times ``slots``. In the first pass each gets at
    least ``POOL_FLOOR_S``: a worker shares the cores with this process (and, on a busy
    machine, others), and a small model cut short of its tie-break stage would make the
    plan differ from the in-process one."""

    def __init__(self, deadline: float, comps: list[list[int]], slots: int) -> None:
        self.deadline = deadline
        self.slots = slots
        self.models = sum(len(c) for c in comps if len(c) > 1)  # matches that may need a model
        self.total = self.models
        self.start = deadline - time.perf_counter()

    def first(self, size: int) -> float | None:
        left = self.deadline - time.perf_counter()
        if left <= 0:  # past the time limit, the component keeps the FCFS choice
            return None
        share = FIRST_PASS_SHARE * self.start * size / max(self.models, 1)
        return min(left, max(self.slots * share, POOL_FLOOR_S))

    def passed(self, size: int) -> None:
        """Nothing to count: every share was fixed when the pass started."""

    def start_second(self, total: int) -> None:
        """The second pass starts, for components of ``total`` matches in all."""
        self.total = total
        self.start = self.deadline - time.perf_counter()

    def second(self, size: int) -> float | None:
        if self.start < SECOND_PASS_MIN_S:
            return None
        return min(self.start, self.start * self.slots * size / self.total)
