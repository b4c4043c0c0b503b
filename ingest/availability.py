"""Who is available when (SPEC 2): the frozen (slots x members) boolean matrix."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from .calendars import Busy, member_busy
from .document import ProgramDocument, Window
from .errors import CalendarError
from .grid import SlotGrid, as_instant
from .raster import cover
from .windows import DAY_INDEX, Intervals, WeeklyRule, expand_weekly

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Availability:
    """``matrix[slot, j]`` is True when member ``members[j]`` is free for all of that slot."""

    grid: SlotGrid
    members: tuple[str, ...]
    matrix: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.matrix.shape != (self.grid.n_slots, len(self.members)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} does not fit "
                f"{self.grid.n_slots} slots x {len(self.members)} members"
            )
        matrix = np.asarray(self.matrix, dtype=bool)
        matrix.flags.writeable = False
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "_index", {m: j for j, m in enumerate(self.members)})

    def index(self, member: str) -> int:
        try:
            return self._index[member]
        except KeyError:
            raise KeyError(f'unknown member "{member}"') from None

    def indices(self, members: Sequence[str]) -> np.ndarray:
        return np.array([self.index(m) for m in members], dtype=np.int64)

    def column(self, member: str) -> np.ndarray:
        return self.matrix[:, self.index(member)]

    def to_frame(self) -> pd.DataFrame:
        """One row per slot (index: aware UTC slot start), one boolean column per member."""
        import pandas as pd

        index = pd.DatetimeIndex(
            pd.to_datetime(self.grid.slot_starts_epoch(), unit="s", utc=True), name="slot_start"
        )
        return pd.DataFrame(self.matrix.copy(), index=index, columns=list(self.members))

    @classmethod
    def from_frame(cls, grid: SlotGrid, frame: pd.DataFrame) -> Availability:
        """Inverse of :meth:`to_frame`; the index must be exactly the grid's slot starts."""
        import pandas as pd

        expected = pd.to_datetime(grid.slot_starts_epoch(), unit="s", utc=True)
        index = pd.DatetimeIndex(frame.index)
        if index.tz is None or len(index) != len(expected) or not (index == expected).all():
            raise ValueError("frame index must be the grid's slot starts (aware timestamps)")
        return cls(grid, tuple(str(c) for c in frame.columns), frame.to_numpy(dtype=bool))


def program_grid(doc: ProgramDocument) -> SlotGrid:
    p = doc.program
    now = as_instant(p.now, p.zone) if p.now is not None else None
    return SlotGrid(p.zone, p.start, p.end, p.granularity_minutes, now)


def _rules(member: int, windows: Sequence[Window]) -> list[WeeklyRule]:
    return [WeeklyRule(member, DAY_INDEX[d], w.start, w.end) for w in windows for d in w.days]


def calendar_span(grid: SlotGrid) -> tuple[datetime, datetime]:
    """The span calendars are read over: the horizon with a day's margin each side."""
    return grid.t0 - timedelta(days=1), grid.t_end + timedelta(days=1)


def collect_calendar_busy(
    doc: ProgramDocument, grid: SlotGrid, members: Sequence[str] | None = None
) -> dict[str, Busy]:
    """Every member's calendar busy time over :func:`calendar_span`."""
    start, end = calendar_span(grid)
    wanted = set(members) if members is not None else None
    out: dict[str, Busy] = {}
    for i, m in enumerate(doc.members):
        if wanted is not None and m.id not in wanted:
            continue
        zone = ZoneInfo(m.timezone or doc.program.timezone)
        try:
            out[m.id] = member_busy(
                m.calendars, zone, start, end, doc.base_dir, where=f"members[{i}].calendars"
            )
        except CalendarError as exc:
            raise exc.for_member(m.id) from None
    return out


def build_availability(
    doc: ProgramDocument,
    *,
    members: Sequence[str] | None = None,
    busy: Mapping[str, Busy] | None = None,
    calendars: bool = True,
) -> Availability:
    """Availability of ``members`` (default: all) under every rule of SPEC 2.

    ``busy`` adds busy intervals per member (e.g. sessions booked by the service);
    ``calendars=False`` skips reading calendar sources (they may be slow or remote).
    """
    grid = program_grid(doc)
    ids = list(members) if members is not None else [m.id for m in doc.members]
    col = {m: j for j, m in enumerate(ids)}

    rules: dict[ZoneInfo, list[WeeklyRule]] = defaultdict(list)
    open_rows: list[tuple[int, datetime, datetime]] = []
    busy_rows: list[tuple[int, datetime, datetime]] = []
    # One id -> member dict for the whole build: doc.member() rebuilds it on every call.
    by_id = {m.id: m for m in doc.members}
    for m_id in ids:
        m, j = by_id[m_id], col[m_id]
        zone = ZoneInfo(m.timezone or doc.program.timezone)
        rules[zone] += _rules(j, m.weekly or doc.program.working_hours)
        open_rows += [
            (j, as_instant(iv.start, zone), as_instant(iv.end, zone)) for iv in m.available
        ]
        busy_rows += [
            (j, as_instant(iv.start, zone), as_instant(iv.end, zone)) for iv in m.unavailable
        ]

    extra = dict(collect_calendar_busy(doc, grid, ids)) if calendars else {}
    for m_id, intervals in (busy or {}).items():
        if m_id in col:
            extra[m_id] = [*extra.get(m_id, []), *intervals]
    for m_id, intervals in extra.items():
        busy_rows += [(col[m_id], s, e) for s, e in intervals]
    busy_rows += _booking_rows(doc, col)

    windows = Intervals.concat(
        [expand_weekly(grid, z, r) for z, r in rules.items()] + [Intervals.from_rows(open_rows)]
    )
    free = cover(grid, windows, len(ids), inward=True)
    subtract_busy(grid, free, Intervals.from_rows(busy_rows))
    free[: grid.first_open_slot] = False
    return Availability(grid, tuple(ids), free)


def subtract_busy(grid: SlotGrid, free: np.ndarray, busy: Intervals) -> None:
    """Take ``busy`` (intervals per column of ``free``) out of the (slots, members)
    matrix ``free``, in place: a slot any busy interval touches is not free (SPEC 2
    rounds busy time outward)."""
    if len(busy):
        # free & ~busy, in place: for booleans that is free > busy.
        np.greater(free, cover(grid, busy, free.shape[1], inward=False), out=free)


def _booking_rows(
    doc: ProgramDocument, col: Mapping[str, int]
) -> list[tuple[int, datetime, datetime]]:
    zone = doc.program.zone
    match_members = {x.id: x.members for x in doc.matches}
    rows = []
    for b in doc.bookings:
        start, end = as_instant(b.start, zone), as_instant(b.end, zone)
        for m_id in b.members or match_members[b.match]:
            if m_id in col:
                rows.append((col[m_id], start, end))
    return rows
