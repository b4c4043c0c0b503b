"""Heat maps (SPEC 3): how many of a set of members can attend a session at each start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ingest.availability import Availability
from ingest.document import duration_problem
from ingest.grid import SlotGrid

from .attend import can_attend, row_counts
from .errors import SolverError


@dataclass(frozen=True)
class DayGrid:
    """A heat map as days x times of day in a viewer's zone.

    ``slot[d, t]`` is the slot starting at date ``dates[d]`` and time ``times[t]`` (minutes
    after local midnight), or -1 where no slot starts then (e.g. inside a DST gap).
    """

    zone: str
    dates: list[str]
    times: list[int]
    slot: np.ndarray


@dataclass(frozen=True)
class Heatmap:
    availability: Availability
    members: tuple[str, ...]
    duration_minutes: int
    attend: np.ndarray  # (slots, members) bool: who can attend a session starting here

    @property
    def counts(self) -> np.ndarray:
        return row_counts(self.attend)

    @property
    def everyone(self) -> np.ndarray:
        """Start slots where every member can attend ("everyone is free")."""
        return (
            np.flatnonzero(self.counts == len(self.members))
            if self.members
            else np.zeros(0, np.int64)
        )

    @property
    def past(self) -> int:
        """Slots before this index are in the past (greyed out)."""
        return self.availability.grid.first_open_slot

    def who(self, slot: int) -> tuple[list[str], list[str]]:
        """Members who can and cannot attend a session starting at ``slot``."""
        row = self.attend[slot]
        free = [m for m, ok in zip(self.members, row, strict=True) if ok]
        return free, [m for m, ok in zip(self.members, row, strict=True) if not ok]

    def day_grid(self, zone: ZoneInfo) -> DayGrid:
        grid = self.availability.grid
        return day_grid(grid.zone, grid.start, grid.end, grid.granularity_minutes, zone)

    def to_dict(self) -> dict[str, Any]:
        """SPEC 7's heat map JSON."""
        grid = self.availability.grid
        return {
            "start": grid.t0.isoformat(),
            "granularity_minutes": grid.granularity_minutes,
            "duration_minutes": self.duration_minutes,
            "members": list(self.members),
            "counts": self.counts.tolist(),
            "everyone": self.everyone.tolist(),
        }


@lru_cache(maxsize=64)
def day_grid(
    program_zone: ZoneInfo, start: date, end: date, granularity_minutes: int, zone: ZoneInfo
) -> DayGrid:
    """The days x times of day of a program's grid in ``zone``. It depends on neither
    ``now`` nor anybody's availability, so it is built once per grid and zone (the
    arrays are read-only)."""
    from .wallclock import wall_clock

    clock = wall_clock(SlotGrid(program_zone, start, end, granularity_minutes), zone)
    days, day_idx = np.unique(clock.day, return_inverse=True)
    times, time_idx = np.unique(clock.minute, return_inverse=True)
    slot = np.full((len(days), len(times)), -1, dtype=np.int64)
    # At a fall-back fold two slots share a wall-clock time; the first one is shown.
    order = np.arange(len(clock.day))[::-1]
    slot[day_idx[order], time_idx[order]] = order
    slot.flags.writeable = False
    return DayGrid(
        str(zone.key),
        [date.fromordinal(int(d)).isoformat() for d in days],
        [int(t) for t in times],
        slot,
    )


def heatmap(
    avail: Availability, members: list[str] | tuple[str, ...], duration_minutes: int
) -> Heatmap:
    """Heat map of ``members`` for sessions of ``duration_minutes`` (a multiple of the grid)."""
    g = avail.grid.granularity_minutes
    problem = duration_problem(duration_minutes, g)
    if problem:
        raise SolverError(f"duration {problem}", field="duration")
    cols = avail.indices(list(members))
    attend = can_attend(avail.matrix[:, cols], duration_minutes // g)
    return Heatmap(avail, tuple(members), duration_minutes, attend)
