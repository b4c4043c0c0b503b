"""What the solver returns: series, occurrences, scores and plans, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
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
        return Score(self.held + other.held, self.attendance + other.attendance,
                     self.preferred + other.preferred)


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
class Plan:
    status: Status
    objective: Score
    bound: Score
    solve_seconds: float
    series: tuple[Series, ...]
    unscheduled: tuple[Unscheduled, ...]
    stats: dict[str, float] = field(default_factory=dict, compare=False)
