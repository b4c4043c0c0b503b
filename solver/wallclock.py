"""Wall-clock facts of every slot in a zone: weekday, minute of day, local week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from ingest.grid import SlotGrid, utc_offsets

_ORDINAL_MONDAY = date(2024, 1, 1).toordinal()  # a Monday: weeks run Monday to Sunday
_ORDINAL_EPOCH = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class WallClock:
    """Per slot start, in one zone: ``weekday`` (0 = Monday), ``minute`` of the day,
    ``day`` (proleptic ordinal of the local date) and ``week`` (Monday-based index)."""

    weekday: np.ndarray
    minute: np.ndarray
    day: np.ndarray
    week: np.ndarray


@lru_cache(maxsize=64)
def wall_clock(grid: SlotGrid, zone: ZoneInfo) -> WallClock:
    """Numpy only: each slot start plus the zone's offset there (:func:`utc_offsets`) is
    its wall-clock time as seconds of a zone-less epoch. (Not pandas: importing it took
    0.5 s of the first heat map a server process answered.)"""
    starts = grid.slot_starts_epoch()
    local = starts + utc_offsets(zone, starts)
    seconds = local % 86400
    day = local // 86400 + _ORDINAL_EPOCH  # proleptic ordinal: 1 is Monday 0001-01-01
    minute = seconds // 60
    weekday = (day - 1) % 7
    week = (day - _ORDINAL_MONDAY) // 7
    return WallClock(weekday, minute, day, week)
