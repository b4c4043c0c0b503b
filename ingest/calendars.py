"""One entry point for a member's calendar sources: picks the adapter for each kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .document import CalendarSource
from .errors import CalendarError
from .rrule_limits import Budget

Busy = list[tuple[datetime, datetime]]


def calendar_busy(
    source: CalendarSource,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    base_dir: Path | None = None,
    budget: Budget | None = None,
) -> Busy:
    """Busy intervals of one calendar source in ``[start, end)``; raises CalendarError.

    ``budget`` bounds what ICS recurrence rules may cost (shared by a member's calendars).
    """
    from .fetch import fetch_ics
    from .ics_source import busy_from_ics

    if source.ics_text is not None:
        return busy_from_ics(source.ics_text, zone, start, end, budget)
    if source.ics_path is not None:
        path = Path(source.ics_path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CalendarError(f"cannot read {source.ics_path}: {exc.strerror}") from None
        return busy_from_ics(data, zone, start, end, budget)
    if source.ics_url is not None:
        return busy_from_ics(fetch_ics(source.ics_url), zone, start, end, budget)
    assert source.caldav is not None
    from .caldav_source import busy_from_caldav

    cd = source.caldav
    return busy_from_caldav(
        cd.url, zone, start, end, username=cd.username, password=cd.password, calendar=cd.calendar
    )


def member_busy(
    sources: Sequence[CalendarSource],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    base_dir: Path | None = None,
    where: str = "calendars",
) -> Busy:
    """Busy intervals of all of one member's calendars, sorted.

    One recurrence budget covers them all: the cost of reading a member's calendars is
    bounded per member, not per calendar (a member may list several). An error names the
    source as ``{where}[j] (kind)``.
    """
    budget = Budget()
    busy: Busy = []
    for j, source in enumerate(sources):
        try:
            busy += calendar_busy(source, zone, start, end, base_dir, budget)
        except CalendarError as exc:
            raise exc.placed(f"{where}[{j}] ({source.kind})", f"{where}[{j}]") from None
    return sorted(busy)
