"""One entry point for a member's calendar sources: picks the adapter for each kind."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .document import CalendarSource
from .errors import CalendarError

Busy = list[tuple[datetime, datetime]]


def calendar_busy(source: CalendarSource, zone: ZoneInfo, start: datetime, end: datetime,
                  base_dir: Path | None = None) -> Busy:
    """Busy intervals of one calendar source in ``[start, end)``; raises CalendarError."""
    from .ics_source import busy_from_ics, fetch_ics

    if source.ics_text is not None:
        return busy_from_ics(source.ics_text, zone, start, end)
    if source.ics_path is not None:
        path = Path(source.ics_path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CalendarError(f"cannot read {source.ics_path}: {exc.strerror}") from None
        return busy_from_ics(data, zone, start, end)
    if source.ics_url is not None:
        return busy_from_ics(fetch_ics(source.ics_url), zone, start, end)
    assert source.caldav is not None
    from .caldav_source import busy_from_caldav

    cd = source.caldav
    return busy_from_caldav(cd.url, zone, start, end, username=cd.username,
                            password=cd.password, calendar=cd.calendar)
