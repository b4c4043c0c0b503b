"""CalDAV calendars as busy time: fetch the events of a time range, read them as ICS.

The server filters by time range; recurrences are expanded here, by ``busy_from_ics``,
not by the server. A server-side expansion (RFC 4791 9.6.5) returns every instance in
UTC, which loses what SPEC 2 needs: all-day events on the member's local day and floating
times in the member's zone. Reading the stored objects keeps every rule in one place.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .errors import CalendarError
from .extras import MissingExtra, import_extra
from .ics_source import Busy, busy_from_ics

# The server reads floating and all-day events in its own zone; ask for a wider range and
# let busy_from_ics cut it to [start, end) in the member's zone.
_MARGIN = timedelta(days=2)


def busy_from_caldav(
    url: str,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    *,
    username: str | None = None,
    password: str | None = None,
    calendar: str | None = None,
    timeout: float = 30,
) -> Busy:
    """Busy intervals (aware UTC, sorted) of a CalDAV account or calendar in ``[start, end)``.

    ``calendar`` picks one calendar of the principal by display name or URL path; without
    it, ``url`` itself is read if it is a calendar collection, else every calendar of the
    principal is. Connection, authentication and HTTP errors raise CalendarError.
    """
    try:
        import_extra("caldav", "caldav", "reading CalDAV calendars")
    except MissingExtra as exc:
        raise CalendarError(str(exc)) from None
    from caldav.davclient import DAVClient
    from caldav.lib.error import DAVError

    host = _host(url)
    try:
        with DAVClient(
            url,
            username=username,
            password=password,
            timeout=int(max(1, timeout)),
            enable_rfc6764=False,
        ) as client:
            calendars = _calendars(client, url, calendar)
            busy: Busy = []
            for cal in calendars:
                for obj in cal.search(
                    start=start - _MARGIN, end=end + _MARGIN, event=True, expand=False
                ):
                    busy += busy_from_ics(obj.data, zone, start, end)
    except CalendarError as exc:
        raise CalendarError(
            exc.problem, source=exc.source or f"CalDAV {host}", line=exc.line
        ) from None
    except DAVError as exc:
        raise CalendarError(
            f"CalDAV server {host} refused the request: {_dav_problem(exc)}"
        ) from None
    except OSError as exc:  # niquests / requests connection errors, timeouts
        raise CalendarError(
            f"cannot reach CalDAV server {host}: {exc.__class__.__name__}"
        ) from None
    return sorted(busy)


def _calendars(client: Any, url: str, name: str | None) -> list[Any]:
    """The calendars to read. (caldav's methods are untyped, or typed for its sync and
    async clients at once: its objects are Any here.)"""
    from caldav.elements import dav

    if name is None:
        here = client.calendar(url=url)
        kinds = here.get_properties([dav.ResourceType()]).get("{DAV:}resourcetype") or []
        if any(str(k).endswith("}calendar") for k in kinds):
            return [here]
        return list(client.principal().calendars())
    calendars = list(client.principal().calendars())
    wanted = name.strip("/")
    for cal in calendars:
        path = urlsplit(str(cal.url)).path.strip("/")
        if cal.get_display_name() == name or path == wanted or path.rsplit("/", 1)[-1] == wanted:
            return [cal]
    known = ", ".join(sorted(repr(c.get_display_name() or str(c.url)) for c in calendars))
    raise CalendarError(f"no calendar named {name!r} (found: {known or 'none'})")


def _dav_problem(exc: Exception) -> str:
    kind = exc.__class__.__name__
    text = " ".join(str(getattr(exc, "reason", "") or "").split())
    if kind == "AuthorizationError":
        return "authorization failed (check username and password)"
    if kind == "NotFoundError":
        return "not found (check the URL)"
    return f"{kind} {text}".strip()


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
