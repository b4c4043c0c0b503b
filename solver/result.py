"""What the solver returns: series, occurrences, scores and plans, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["optimal", "feasible", "infeasible", "unknown"]


@dataclass(frozen=True, order=True)
class Score:
    """SPEC 5's criteria in order; tuples of Scores compare lexicographically."""

    held: int = 0
    attendance: int = 0
    preferred: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(
            self.held + other.held,
            self.attendance + other.attendance,
            self.preferred + other.preferred,
        )


@dataclass(frozen=True)
class Occurrence:
    slot: int
    start: datetime  # aware, organizer's zone
    end: datetime
    holds: bool
    attending: tuple[str, ...]
    missing: tuple[str, ...]
    alternative: datetime | None = None


@dataclass(frozen=True)
class Series:
    match: str
    timezone: str
    frequency: str
    rrule: str | None
    first_slot: int
    duration_minutes: int
    occurrences: tuple[Occurrence, ...]
    score: Score

    @property
    def first_start(self) -> datetime:
        return self.occurrences[0].start


@dataclass(frozen=True)
class Unscheduled:
    match: str
    reason: str


@dataclass(frozen=True)
class PlanStats:
    """Where plan()'s time went and how big its models were, for benchmarks and tuning.
    Seconds are wall-clock; ``parallel_slots`` and ``chunks`` are 1 and 0 in process."""

    score_seconds: float = 0.0
    fcfs_seconds: float = 0.0
    prune_seconds: float = 0.0
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    assemble_seconds: float = 0.0
    models: int = 0  # components that needed a CP-SAT model
    solver_runs: int = 0
    unproven_after_first_pass: int = 0
    components: int = 0
    variables: int = 0
    constraints: int = 0
    total_seconds: float = 0.0
    parallel_slots: int = 0  # models solved at once
    chunks: int = 0  # tasks sent to an executor

    def to_dict(self) -> dict[str, float]:
        """Every field by name, in this order, as plain numbers (ints stay ints), for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    status: Status
    objective: Score
    bound: Score
    solve_seconds: float
    series: tuple[Series, ...]
    unscheduled: tuple[Unscheduled, ...]
    stats: PlanStats = field(default_factory=PlanStats, compare=False)  # zero unless from plan()
