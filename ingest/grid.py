"""The slot grid of a program (SPEC 1): horizon, granularity, slot <-> instant, the past."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import numpy as np

GRANULARITIES = (5, 10, 15, 20, 30, 60)


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """Read a wall-clock time in ``zone`` (SPEC 2 rounding rules) and return it in UTC.

    ``fold=0`` gives both rules at once (PEP 495): a time in a spring-forward gap takes
    the offset from before the gap, which shifts it forward by the gap, and an ambiguous
    fall-back time takes its first instant.
    """
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def as_instant(moment: datetime, zone: ZoneInfo) -> datetime:
    """An instant in UTC: aware values keep their offset, naive ones are wall-clock in ``zone``."""
    if moment.tzinfo is None:
        return local_to_utc(moment, zone)
    return moment.astimezone(UTC)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of ``day`` in ``zone``, as a UTC instant."""
    return local_to_utc(datetime.combine(day, time()), zone)


def to_epoch(instant: datetime) -> int:
    """Whole seconds since the Unix epoch of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()} where an instant is needed")
    return int(instant.timestamp())


def from_epoch(seconds: int | float) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


SCAN_STEP = timedelta(hours=6)  # shorter than any gap between two transitions of a zone


def transitions(zone: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Every instant in [lo, hi) at which ``zone`` changes its UTC offset, DST flag or
    abbreviation, found by scanning UTC at a fixed step and bisecting to the second.
    Yields (transition instant, the second before it)."""

    def key(t: datetime) -> tuple[timedelta | None, timedelta | None, str | None]:
        local = t.astimezone(zone)
        return local.utcoffset(), local.dst(), local.tzname()

    t, current = lo, key(lo)
    while t < hi:
        nxt = min(t + SCAN_STEP, hi)
        if key(nxt) != current:
            a, b = t, nxt  # key(a) == current != key(b)
            while b - a > timedelta(seconds=1):
                mid = (a + (b - a) / 2).replace(microsecond=0)
                if key(mid) == current:
                    a = mid
                else:
                    b = mid
            yield b, a
            current = key(nxt)
        t = nxt


def utc_offsets(zone: ZoneInfo, epochs: np.ndarray) -> np.ndarray:
    """The UTC offset of ``zone``, in seconds, at each instant of ``epochs`` (epoch
    seconds, ascending): the offset at the first instant and at each :func:`transitions`
    after it, spread by one ``searchsorted`` (a year of slots costs some 1,500 zone
    lookups, not one per slot)."""
    epochs = np.asarray(epochs, dtype=np.int64)
    if len(epochs) == 0:
        return np.zeros(0, dtype=np.int64)

    def offset(t: datetime) -> int:
        delta = t.astimezone(zone).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    lo = from_epoch(int(epochs[0]))
    cuts, values = [int(epochs[0])], [offset(lo)]
    for moment, _ in transitions(zone, lo, from_epoch(int(epochs[-1]) + 1)):
        cuts.append(to_epoch(moment))
        values.append(offset(moment))
    at = np.searchsorted(np.asarray(cuts, dtype=np.int64), epochs, side="right") - 1
    return np.asarray(values, dtype=np.int64)[at]


@dataclass(frozen=True)
class SlotGrid:
    """Slot ``i`` is ``[t0 + i*g, t0 + (i+1)*g)`` with ``t0`` local midnight of ``start``.

    The grid is absolute time, so a DST change does not break it.
    """

    zone: ZoneInfo
    start: date
    end: date
    granularity_minutes: int = 15
    now: datetime | None = None
    t0: datetime = field(init=False)
    n_slots: int = field(init=False)

    def __post_init__(self) -> None:
        if self.granularity_minutes not in GRANULARITIES:
            raise ValueError(f"granularity_minutes must be one of {GRANULARITIES}")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        t0 = local_midnight(self.start, self.zone)
        t_end = local_midnight(self.end, self.zone)
        object.__setattr__(self, "t0", t0)
        object.__setattr__(self, "n_slots", int((t_end - t0).total_seconds()) // self.step)

    @property
    def step(self) -> int:
        """Slot length in seconds."""
        return self.granularity_minutes * 60

    @property
    def t0_epoch(self) -> int:
        return to_epoch(self.t0)

    @property
    def t_end(self) -> datetime:
        return self.slot_start(self.n_slots)

    def slot_start(self, i: int) -> datetime:
        """Start instant (UTC) of slot ``i``; ``i == n_slots`` gives the horizon's end."""
        return self.t0 + timedelta(seconds=int(i) * self.step)

    def slot_starts_epoch(self) -> np.ndarray:
        """Start of every slot, in epoch seconds (int64)."""
        return self.t0_epoch + np.arange(self.n_slots, dtype=np.int64) * self.step

    def floor_index(self, instant: datetime) -> int:
        """Index of the slot containing ``instant`` (may lie outside ``0..n_slots``)."""
        return (to_epoch(instant) - self.t0_epoch) // self.step

    def ceil_index(self, instant: datetime) -> int:
        """Index of the first slot starting at or after ``instant``."""
        return -((self.t0_epoch - to_epoch(instant)) // self.step)

    def index_of(self, instant: datetime) -> int | None:
        """The slot starting exactly at ``instant``, or None if it is off the grid or horizon."""
        offset = to_epoch(instant) - self.t0_epoch
        if offset % self.step or not 0 <= offset // self.step < self.n_slots:
            return None
        return offset // self.step

    @cached_property
    def first_open_slot(self) -> int:
        """First slot that does not start before ``now`` (slots before it are the past)."""
        if self.now is None:
            return 0
        return int(min(max(self.ceil_index(self.now), 0), self.n_slots))
