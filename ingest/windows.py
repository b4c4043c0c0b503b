"""Weekly wall-clock windows expanded to absolute intervals, vectorised per time zone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from .document import DAYS
from .grid import SlotGrid, local_to_utc, to_epoch

DAY_INDEX = {day: i for i, day in enumerate(DAYS)}
_EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True)
class Intervals:
    """Half-open absolute intervals ``[start, end)`` in epoch seconds, each owned by a member."""

    member: np.ndarray  # int64 member column index
    start: np.ndarray  # int64 epoch seconds
    end: np.ndarray  # int64 epoch seconds

    @staticmethod
    def empty() -> Intervals:
        z = np.zeros(0, dtype=np.int64)
        return Intervals(z, z, z)

    @staticmethod
    def concat(parts: Iterable[Intervals]) -> Intervals:
        parts = list(parts)
        if not parts:
            return Intervals.empty()
        return Intervals(
            *(
                np.concatenate([getattr(p, f) for p in parts]).astype(np.int64)
                for f in ("member", "start", "end")
            )
        )

    @staticmethod
    def from_rows(rows: Iterable[tuple[int, datetime, datetime]]) -> Intervals:
        rows = list(rows)
        if not rows:
            return Intervals.empty()
        m, s, e = zip(*rows, strict=True)
        return Intervals(
            np.asarray(m, np.int64),
            np.asarray([to_epoch(x) for x in s], np.int64),
            np.asarray([to_epoch(x) for x in e], np.int64),
        )

    def __len__(self) -> int:
        return len(self.member)


@dataclass(frozen=True)
class WeeklyRule:
    """One member's window on one weekday: minutes after local midnight, end may be 1440."""

    member: int
    weekday: int
    start_min: int
    end_min: int


def expand_weekly(grid: SlotGrid, zone: ZoneInfo, rules: list[WeeklyRule]) -> Intervals:
    """Absolute intervals of weekly rules in one zone over the horizon.

    On ordinary days local time is a fixed offset, so the conversion is one addition
    over arrays (each rule's days of its weekday at once: a request rasterises a few
    members, so the number of numpy calls, not their size, is the cost); only the few
    days with a DST change go through zoneinfo one by one.
    """
    if not rules:
        return Intervals.empty()
    days, utc_midnight, changing, by_weekday = _local_days(grid.t0, grid.t_end, zone)
    of_rule = [by_weekday[r.weekday] for r in rules]
    d = np.concatenate(of_rule)
    r = np.repeat(np.arange(len(rules)), [len(x) for x in of_rule])
    member = np.array([x.member for x in rules], np.int64)[r]
    midnight = utc_midnight[d]
    starts = midnight + np.array([x.start_min * 60 for x in rules], np.int64)[r]
    ends = midnight + np.array([x.end_min * 60 for x in rules], np.int64)[r]
    for i in np.flatnonzero(changing[d]):
        rule = rules[r[i]]
        starts[i], ends[i] = _exact(days[d[i]], rule.start_min, rule.end_min, zone)
    return Intervals(member, starts, ends)


@lru_cache(maxsize=256)
def _local_days(
    t0: datetime, t_end: datetime, zone: ZoneInfo
) -> tuple[tuple[date, ...], np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Every local date in ``zone`` that touches the horizon, with a day's margin each
    side; their midnights (UTC epoch seconds, as the day's offset at midnight gives them),
    which days change offset, and the dates of each weekday (indices, Monday first). The
    same for every member in that zone, whatever the request: built once per horizon and
    zone (arrays read-only)."""
    first = t0.astimezone(zone).date() - timedelta(days=1)
    last = t_end.astimezone(zone).date() + timedelta(days=1)
    days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    naive_midnight = np.array([(d - _EPOCH_DAY).days * 86400 for d in days], np.int64)
    utc_midnight = np.array(
        [
            to_epoch(local_to_utc(datetime.combine(d, time()), zone))
            for d in [*days, days[-1] + timedelta(days=1)]
        ],
        np.int64,
    )
    offset = np.concatenate([naive_midnight, [naive_midnight[-1] + 86400]]) - utc_midnight
    changing = offset[:-1] != offset[1:]
    weekday = np.array([d.weekday() for d in days])
    by_weekday = tuple(np.flatnonzero(weekday == w) for w in range(7))
    midnight = utc_midnight[:-1].copy()
    for a in (midnight, changing, *by_weekday):
        a.flags.writeable = False
    return days, midnight, changing, by_weekday


def _exact(day: date, start_min: int, end_min: int, zone: ZoneInfo) -> tuple[int, int]:
    """A window on a DST-change day, converted by zoneinfo (gap shifts forward, fold=0)."""
    midnight = datetime.combine(day, time())
    start = local_to_utc(midnight + timedelta(minutes=start_min), zone)
    end = local_to_utc(midnight + timedelta(minutes=end_min), zone)
    return to_epoch(start), to_epoch(end)
