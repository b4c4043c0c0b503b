"""Recurring series on the slot grid (SPEC 4): wall-clock in the organizer's zone.

A series "every Tuesday at 09:00 America/New_York" keeps 09:00 local across DST, so
its occurrences are computed as local dates and times and only then turned into
instants. Monthly series repeat the n-th weekday of the first occurrence
(``BYDAY=2TU``); a first occurrence in the 5th week repeats the last one (``-1TU``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import get_args
from zoneinfo import ZoneInfo

import numpy as np

from ingest.document import DAYS, Frequency
from ingest.grid import SlotGrid, local_to_utc, to_epoch

from .wallclock import wall_clock

FREQUENCIES: tuple[str, ...] = get_args(Frequency)  # as the program document has them


def nth_of_month(day: date) -> int:
    """Which weekday-of-month ``day`` is: 1..4, or -1 for a 5th (= the last) one."""
    nth = (day.day - 1) // 7 + 1
    return -1 if nth == 5 else nth


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The ``nth`` (1..4, or -1 for the last) ``weekday`` (0 = Monday) of a month."""
    if nth == -1:
        last = date(year, month, calendar.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def occurrence_dates(first: date, frequency: str, sessions: int) -> list[date]:
    """Local dates of every occurrence of a series whose first occurrence is on ``first``."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {frequency!r}")
    if frequency in ("once", "weekly", "biweekly"):
        step = 14 if frequency == "biweekly" else 7
        return [first + timedelta(days=step * j) for j in range(sessions)]
    nth = nth_of_month(first)
    out = []
    for j in range(sessions):
        y, m = divmod(first.month - 1 + j, 12)
        out.append(nth_weekday(first.year + y, m + 1, first.weekday(), nth))
    return out


def occurrence_starts(first: datetime, frequency: str, sessions: int) -> list[datetime]:
    """Start instants (UTC) of a series whose first occurrence starts at the aware ``first``;
    the wall-clock time is kept in ``first``'s zone (fold=0, gaps shift forward)."""
    zone = first.tzinfo
    if not isinstance(zone, ZoneInfo):
        raise ValueError("first must carry a ZoneInfo time zone")
    local = first.astimezone(zone)
    clock = local.time().replace(tzinfo=None, fold=0)
    out = [
        local_to_utc(datetime.combine(d, clock), zone)
        for d in occurrence_dates(local.date(), frequency, sessions)
    ]
    out[0] = first.astimezone(out[0].tzinfo)
    return out


def rrule_text(first: datetime, frequency: str, sessions: int) -> str | None:
    """The RFC 5545 RRULE of a series (None for a one-off session)."""
    if frequency == "once":
        return None
    if frequency == "weekly":
        return f"FREQ=WEEKLY;COUNT={sessions}"
    if frequency == "biweekly":
        return f"FREQ=WEEKLY;INTERVAL=2;COUNT={sessions}"
    local = first.astimezone(first.tzinfo)
    nth = nth_of_month(local.date())
    return f"FREQ=MONTHLY;BYDAY={nth}{DAYS[local.weekday()]};COUNT={sessions}"


def first_period_end(earliest: datetime, zone: ZoneInfo, frequency: str) -> datetime:
    """End (UTC) of the window in which a first occurrence may start (SPEC 4): 7 days for
    weekly and once, 14 for biweekly, one calendar month for monthly, wall-clock."""
    local = earliest.astimezone(zone).replace(tzinfo=None)
    if frequency == "monthly":
        y, m = divmod(local.month, 12)
        y, m = local.year + y, m + 1
        end = local.replace(year=y, month=m, day=min(local.day, calendar.monthrange(y, m)[1]))
    else:
        end = local + timedelta(days=14 if frequency == "biweekly" else 7)
    return local_to_utc(end, zone)


@dataclass(frozen=True)
class CandidateTable:
    """Every candidate series: ``first[c]`` is its first slot, ``slots[c, j]`` the start
    slot of occurrence j. Read-only arrays, shared through a cache."""

    first: np.ndarray  # (C,) int64
    slots: np.ndarray  # (C, n) int64

    def __len__(self) -> int:
        return len(self.first)


def candidate_table(
    grid: SlotGrid,
    zone: ZoneInfo,
    frequency: str,
    sessions: int,
    duration_slots: int,
    earliest: datetime,
) -> CandidateTable:
    return _candidate_table(grid, zone, frequency, sessions, duration_slots, to_epoch(earliest))


@lru_cache(maxsize=256)
def _candidate_table(
    grid: SlotGrid, zone: ZoneInfo, frequency: str, sessions: int, k: int, earliest_epoch: int
) -> CandidateTable:
    if sessions < 1:
        raise ValueError("sessions must be at least 1")
    earliest = datetime.fromtimestamp(earliest_epoch, grid.t0.tzinfo)
    lo = max(grid.ceil_index(earliest), grid.first_open_slot, 0)
    hi = min(grid.ceil_index(first_period_end(earliest, zone, frequency)), grid.n_slots)
    first = np.arange(lo, max(hi, lo), dtype=np.int64)
    if not len(first):
        return _freeze(first, np.zeros((0, sessions), np.int64))
    clock = wall_clock(grid, zone)
    day, minute = clock.day[first], clock.minute[first]
    # Local dates of every occurrence, per distinct first date (at most a month of them).
    days = np.unique(day)
    per_day = np.array(
        [
            [o.toordinal() for o in occurrence_dates(date.fromordinal(int(d)), frequency, sessions)]
            for d in days.tolist()
        ],
        np.int64,
    ).reshape(len(days), sessions)
    occ_day = per_day[np.searchsorted(days, day)]
    epoch = _local_to_epoch(occ_day, np.broadcast_to(minute[:, None], occ_day.shape), zone)
    offset = epoch - grid.t0_epoch
    slots = offset // grid.step
    ok = (offset % grid.step == 0) & (slots >= 0) & (slots + k <= grid.n_slots)
    # The first occurrence is the wall-clock time read back (fold=0); a slot in the second
    # pass of a fall-back hour cannot be written as a DTSTART, so it is not a candidate.
    ok[:, 0] &= slots[:, 0] == first
    keep = ok.all(axis=1)
    return _freeze(first[keep], slots[keep])


def _freeze(first: np.ndarray, slots: np.ndarray) -> CandidateTable:
    first.setflags(write=False)
    slots.setflags(write=False)
    return CandidateTable(first, slots)


def _local_to_epoch(day: np.ndarray, minute: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Wall-clock (proleptic ordinal day, minute of day) in ``zone`` to epoch seconds, with
    SPEC 2's rules. Days with one UTC offset from midnight to midnight take a subtraction;
    days on which the offset changes go through zoneinfo one value at a time."""
    unique = np.unique(day)
    base = date(1970, 1, 1).toordinal()
    midnights = np.array(
        [
            to_epoch(local_to_utc(datetime.combine(date.fromordinal(int(d)), time()), zone))
            for d in np.concatenate([unique, unique + 1])
        ],
        np.int64,
    )
    naive = (unique - base) * 86400
    offset = naive - midnights[: len(unique)]
    steady = offset == naive + 86400 - midnights[len(unique) :]
    pos = np.searchsorted(unique, day)
    out: np.ndarray = (day - base) * 86400 + minute * 60 - offset[pos]
    for idx in zip(*np.nonzero(~steady[pos]), strict=True):
        wall = datetime.combine(date.fromordinal(int(day[idx])), time()) + timedelta(
            minutes=int(minute[idx])
        )
        out[idx] = to_epoch(local_to_utc(wall, zone))
    return out
