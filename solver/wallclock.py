"""Wall-clock facts of every slot in a zone: weekday, minute of day, local week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from ingest.grid import SlotGrid

_ORDINAL_MONDAY = date(2024, 1, 1).toordinal()  # a Monday: weeks run Monday to Sunday


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
    import pandas as pd

    starts = pd.to_datetime(grid.slot_starts_epoch(), unit="s", utc=True).tz_convert(zone)
    naive = starts.tz_localize(None)
    minute = (naive.hour * 60 + naive.minute).to_numpy(np.int64)
    day = (naive.normalize() - pd.Timestamp("0001-01-01")).days.to_numpy(np.int64) + 1
    weekday = naive.day_of_week.to_numpy(np.int64)
    week = (day - _ORDINAL_MONDAY) // 7
    return WallClock(weekday, minute, day, week)
