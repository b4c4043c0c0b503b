"""ICS calendars (text, files, URLs) as busy time (SPEC 2); fetching them is ``fetch.py``.

Rules, in one place for every calendar source (CalDAV feeds its data through here too):

- A VEVENT is busy unless ``TRANSP:TRANSPARENT``, ``STATUS:CANCELLED`` or Outlook's
  ``X-MICROSOFT-CDO-BUSYSTATUS:FREE``; every other busy status (BUSY, TENTATIVE, OOF,
  WORKINGELSEWHERE) is busy. Each occurrence is judged on its own, so an override that
  cancels one occurrence frees just that one.
- RRULE, RDATE, EXDATE and RECURRENCE-ID overrides are expanded (recurring-ical-events).
- All-day (DATE) events cover the member's local day(s); floating times are read in the
  member's zone; Google's ``X-WR-TIMEZONE`` is honoured (x-wr-timezone); Windows zone
  names in TZID (Outlook) are mapped to IANA zones by icalendar.
- An event without DTEND and DURATION lasts one day if it starts on a DATE, no time
  (and so is not busy) if it starts at a date-time.
- Apple's travel time (``X-APPLE-TRAVEL-DURATION``, zero or more) is busy before the
  event: the member is on the road then.
- VFREEBUSY: every FREEBUSY period of type BUSY, BUSY-TENTATIVE, BUSY-UNAVAILABLE (or with
  no FBTYPE) is busy; FREE is not.

A calendar that cannot be read raises CalendarError; it never counts as free. Neither
does one that would take too long to read: recurrence rules are checked first
(``ingest/rrule_limits.py``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
import x_wr_timezone

from . import ical
from .errors import CalendarError
from .grid import as_instant
from .rrule_limits import Budget, limit_entries, limit_events, limit_timezones

Busy = list[tuple[datetime, datetime]]

FREE_TYPES = frozenset({"FREE"})
# Properties whose parse errors change busy time (SEQUENCE decides which of two versions of
# an event counts); errors in others (DESCRIPTION, ATTENDEE, ...) do not, and a calendar is
# not rejected for them.
TIME_PROPERTIES = frozenset(
    {
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "EXRULE",
        "RECURRENCE-ID",
        "FREEBUSY",
        "TZOFFSETFROM",
        "TZOFFSETTO",
        "STATUS",
        "TRANSP",
        "SEQUENCE",
    }
)
# Properties read from each component, whose values must be of their kind (ical.KINDS).
READ = {
    "VEVENT": (
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RECURRENCE-ID",
        "RRULE",
        "RDATE",
        "EXDATE",
        "SEQUENCE",
    ),
    "VFREEBUSY": ("FREEBUSY",),
}
ZONED_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")
# Properties RFC 5545 allows once per component; a second one leaves the meaning open.
ONCE = {
    "VCALENDAR": ("X-WR-TIMEZONE",),
    "VEVENT": (
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RECURRENCE-ID",
        "SEQUENCE",
        "STATUS",
        "TRANSP",
        "X-MICROSOFT-CDO-BUSYSTATUS",
        ical.TRAVEL,
    ),
    "VFREEBUSY": ("UID", "DTSTART", "DTEND"),
}
# Floating and all-day times are local to the member, up to 14 h from UTC either way; the
# expansion is asked for a wider window and the result is cut to [start, end) exactly.
_MARGIN = timedelta(days=2)
_FOLD = re.compile(r"\r?\n[ \t]")
# A TZID parameter (quoted or not) or a VTIMEZONE's TZID property line.
_TZID = re.compile(r';TZID=(?:"([^"]*)"|([^;:]*))|^TZID:([^\r\n]*)', re.MULTILINE)


def busy_from_ics(
    data: str | bytes, zone: ZoneInfo, start: datetime, end: datetime, budget: Budget | None = None
) -> Busy:
    """Busy intervals (aware UTC, sorted) of an iCalendar text that overlap ``[start, end)``.

    ``budget`` is what recurrence rules may still cost; pass one across calendars that
    share a limit (all of one member's, see ``ingest.calendars.member_busy``). A
    CalendarError names the line (and its number) where the problem is."""
    decoded = _decode(data)
    try:
        return _busy(decoded, zone, start, end, Budget() if budget is None else budget)
    except CalendarError as exc:
        raise exc.at_line(_line_number(decoded, exc.line)) from None


def _busy(decoded: str, zone: ZoneInfo, start: datetime, end: datetime, budget: Budget) -> Busy:
    text = _windows_zones_to_iana(_FOLD.sub("", decoded))
    limit_entries(text, budget)
    limit_timezones(text, end + _MARGIN, budget)
    busy: Busy = []
    for calendar in _parse(text):
        _check(calendar, text)
        limit_events(calendar, start - _MARGIN, end + _MARGIN, budget)
        busy += _event_busy(calendar, zone, start, end, text)
        busy += _freebusy_busy(calendar, zone, start, end, text)
    return sorted(busy)


# -- reading ---------------------------------------------------------------------------


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalendarError(
            "not UTF-8 text (bad byte at offset {offset})", offset=exc.start
        ) from None


def _windows_zones_to_iana(text: str) -> str:
    """Outlook's Windows zone names (``W. Europe Standard Time``) -> IANA names, as text.

    icalendar maps them too, but it prefers the file's own VTIMEZONE under a Windows name
    and reads it through dateutil, which walks its rules from 1601 on every conversion
    (about 100x slower than zoneinfo) and caches it process-wide by name.
    """

    def iana(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g is not None)
        olson = ical.iana_zone(name.strip())
        if olson is None:
            return match.group(0)
        return f";TZID={olson}" if match.group(0).startswith(";") else f"TZID:{olson}"

    return _TZID.sub(iana, text)


def _parse(text: str) -> list[ical.Calendar]:
    if "BEGIN:VCALENDAR" not in text.upper():
        raise CalendarError("not an iCalendar file (no BEGIN:VCALENDAR)", line=_first_line(text))
    _check_nesting(text)
    try:
        calendars = ical.parse(text)
    except ValueError as exc:
        raise CalendarError(
            "not a valid iCalendar file: {error}",
            error=str(exc),
            line=_line_with(text, _quoted(str(exc))),
        ) from None
    except OverflowError:
        raise CalendarError(
            "not a valid iCalendar file: a date or period is out of range (year 1 or 9999?)"
        ) from None
    except TypeError as exc:  # icalendar's own checks, e.g. of a PERIOD's end
        raise CalendarError("not a valid iCalendar file: {error}", error=str(exc)) from None
    except (AttributeError, KeyError, IndexError):  # icalendar trips over what it read
        raise CalendarError(
            "not a valid iCalendar file: a property has a value of the wrong "
            "kind, or appears twice (e.g. a VTIMEZONE's TZID)"
        ) from None
    except OSError:  # a TZID too long to be a zone file's name
        name = max(_tzids(text), key=len, default="")
        raise CalendarError(
            'unknown time zone "{name}"', name=name[:60], line=_line_with(text, name)
        ) from None
    calendars = [c for c in calendars if c.name == "VCALENDAR"]
    if not calendars and "END:VCALENDAR" not in text.upper():
        raise CalendarError(
            "incomplete iCalendar file (no END:VCALENDAR: cut off?)",
            line=text.strip().splitlines()[-1].strip(),
        )
    if not calendars:
        raise CalendarError(
            "not an iCalendar file (no VCALENDAR component)", line=_first_line(text)
        )
    return calendars


def _check_nesting(text: str) -> None:
    """Every END closes the component opened last (icalendar closes whichever is open,
    and then fails inside, e.g. on ``END:VTIMEZONE`` closing a VCALENDAR)."""
    opened: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().upper(), value.strip().upper()
        if key == "BEGIN":
            opened.append(value)
        elif key == "END":
            closes = opened.pop() if opened else None
            if closes != value:
                raise CalendarError(
                    "END:{value} closes " + ("BEGIN:{closes}" if closes else "nothing"),
                    value=value,
                    closes=closes,
                    line=line.strip(),
                )


def _check(calendar: ical.Calendar, text: str) -> None:
    """Reject what would otherwise be read wrong or silently skipped."""
    for component in calendar.walk():
        for name, message in component.errors:
            if name is not None and name in TIME_PROPERTIES:
                raise CalendarError(
                    "{component} has a bad {name}: {message}",
                    component=component.name,
                    name=name,
                    message=message,
                    line=_line_with(text, name, ical.text(component, name)),
                )
        for name in ONCE.get(component.name or "", ()):
            if ical.repeated(component, name):
                raise CalendarError(
                    "{component} has {name} more than once",
                    component=component.name,
                    name=name,
                    line=_line_with(text, name + ":") or _line_with(text, name),
                )
        if component.name not in ("VEVENT", "VFREEBUSY"):
            continue
        _check_kinds(component, text)
        for name in ZONED_PROPERTIES:
            for prop in ical.properties(component, name):
                tzid = prop.param("TZID")
                if tzid and any(
                    isinstance(dt, datetime) and dt.tzinfo is None for dt in prop.dates()
                ):
                    raise CalendarError(
                        'unknown time zone "{tzid}" in {name}',
                        tzid=tzid,
                        name=name,
                        line=_line_with(text, name, f"TZID={tzid}"),
                    )
        if component.name == "VEVENT":
            _check_event(component, text)
    if "X-WR-TIMEZONE" in calendar:
        zone_name = ical.text(calendar, "X-WR-TIMEZONE")
        try:
            ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: name too long
            raise CalendarError(
                'unknown time zone "{zone}" in X-WR-TIMEZONE',
                zone=zone_name,
                line=f"X-WR-TIMEZONE:{zone_name}",
            ) from None


def _check_kinds(component: ical.Component, text: str) -> None:
    """Every value read from the component is of its property's kind (a DURATION holds a
    duration, not a date; an RDATE no duration; a SEQUENCE an integer)."""
    for name in READ.get(component.name or "", ()):  # UID first: the others' messages name it
        for prop in ical.properties(component, name):
            kind = prop.wrong_kind()
            if kind is not None:  # e.g. DTSTART:100000, a bare time
                uid = ical.text(component, "UID") if name != "UID" else ""
                # The kind is the service's word, not the calendar's: put in before the
                # template is filled.
                raise CalendarError(
                    ("{component} {uid!r}" if uid else "{component}")
                    + f" has a bad {{name}}: not {kind}",
                    component=component.name,
                    uid=uid,
                    name=name,
                    line=_line_with(text, name, prop.as_ical())
                    or _line_with(text, name + ":")
                    or _line_with(text, name),
                )


def _check_event(event: ical.Component, text: str) -> None:
    uid = ical.text(event, "UID")
    if "DTSTART" not in event:
        raise CalendarError(
            "VEVENT {uid!r} has no DTSTART", uid=uid, line=f"UID:{uid}" if uid else None
        )
    begin = ical.moment(event, "DTSTART")
    if "DTEND" in event and _sort_key(ical.moment(event, "DTEND")) < _sort_key(begin):
        raise CalendarError(
            "VEVENT {uid!r} ends before it starts",
            uid=uid,
            line=_line_with(text, "DTEND", ical.as_ical(event, "DTEND")),
        )
    length = ical.value(event, "DURATION") if "DURATION" in event else None
    if isinstance(length, timedelta) and length < timedelta(0):
        raise CalendarError(
            "VEVENT {uid!r} has a negative DURATION",
            uid=uid,
            line=_line_with(text, "DURATION", ical.as_ical(event, "DURATION")),
        )
    if ical.travel(event) is None:
        raise CalendarError(
            "VEVENT {uid!r} has a bad X-APPLE-TRAVEL-DURATION: not a duration of zero or more",
            uid=uid,
            line=_line_with(text, ical.TRAVEL, ical.as_ical(event, ical.TRAVEL))
            or _line_with(text, ical.TRAVEL),
        )


def _event_busy(
    calendar: ical.Calendar, zone: ZoneInfo, start: datetime, end: datetime, text: str
) -> Busy:
    try:
        standard = x_wr_timezone.to_standard(calendar)
        query = recurring_ical_events.CalendarQuery(standard, components=("VEVENT",))
        occurrences = query.between(start - _MARGIN, end + _MARGIN)
    except recurring_ical_events.BadRuleStringFormat as exc:
        raise CalendarError(
            "bad RRULE: {error}", error=exc.message, line=_line_with(text, "RRULE", exc.rule)
        ) from None
    except (recurring_ical_events.InvalidCalendar, ical.InvalidCalendar) as exc:
        raise CalendarError("cannot expand the calendar: {error}", error=str(exc)) from None
    except OverflowError:
        raise CalendarError("cannot expand the calendar: a date is out of range") from None
    busy: Busy = []
    for event in occurrences:
        if not is_busy(event):
            continue
        try:
            s, e = _span(event, zone)
        except OverflowError:  # year 1 or 9999, shifted by a zone or a DURATION
            uid = ical.text(event, "UID")
            raise CalendarError(
                "VEVENT {uid!r} has a date out of range",
                uid=uid,
                line=f"UID:{uid}" if uid else None,
            ) from None
        if s < e and s < end and e > start:
            busy.append((s, e))
    return busy


def is_busy(event: ical.Component) -> bool:
    """Whether an event (one occurrence) blocks time."""
    if ical.text(event, "STATUS").upper() == "CANCELLED":
        return False
    if ical.text(event, "TRANSP").upper() == "TRANSPARENT":
        return False
    return ical.text(event, "X-MICROSOFT-CDO-BUSYSTATUS").upper() != "FREE"


def _span(event: ical.Component, zone: ZoneInfo) -> tuple[datetime, datetime]:
    begin = ical.moment(event, "DTSTART")
    if "DTEND" in event:
        finish = ical.moment(event, "DTEND")
    elif "DURATION" in event:
        finish = begin + ical.duration(event)
    elif isinstance(begin, datetime):
        finish = begin
    else:
        finish = begin + timedelta(days=1)
    # Checked in _check_event; the time on the road before the event is busy too.
    on_the_road = ical.travel(event) or timedelta(0)
    return _instant(begin, zone) - on_the_road, _instant(finish, zone)


def _freebusy_busy(
    calendar: ical.Calendar, zone: ZoneInfo, start: datetime, end: datetime, text: str
) -> Busy:
    busy: Busy = []
    for component in calendar.walk("VFREEBUSY"):
        for prop in ical.properties(component, "FREEBUSY"):
            if str(prop.param("FBTYPE", "BUSY")).upper() in FREE_TYPES:
                continue
            for first, last in prop.periods():
                try:
                    s = _instant(first, zone)
                    e = _instant(last, zone) if not isinstance(last, timedelta) else s + last
                except OverflowError:
                    raise CalendarError(
                        "VFREEBUSY has a period out of range",
                        line=_line_with(text, "FREEBUSY", prop.as_ical()),
                    ) from None
                if s < e and s < end and e > start:
                    busy.append((s, e))
    return busy


# -- small helpers ---------------------------------------------------------------------


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """Aware UTC instant: dates are the member's local midnight, floating times local."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return as_instant(value, zone)


def _sort_key(value: date | datetime) -> datetime:
    """Comparable form of a DTSTART/DTEND value (floating and dates read as UTC)."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _tzids(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _TZID.finditer(text)]


def _first_line(text: str) -> str | None:
    return next((line.strip() for line in text.splitlines() if line.strip()), None)


def _quoted(message: str) -> str:
    """The offending value icalendar quotes at the end of a parse error ("...: value")."""
    tail = message.rsplit(": ", 1)[-1].strip().strip("'\"")
    return tail.split("'")[0] if tail else ""


def _line_number(decoded: str, line: str | None) -> int | None:
    """The number (from 1) of the file's line where the unfolded content line ``line``
    (as error messages quote it) starts."""
    if not line:
        return None
    starts: list[tuple[int, str]] = []  # (number of its first line, unfolded content line)
    for number, raw in enumerate(decoded.split("\n"), 1):
        raw = raw.removesuffix("\r")
        if raw[:1] in (" ", "\t") and starts:  # a folded continuation (RFC 5545 3.1)
            starts[-1] = (starts[-1][0], starts[-1][1] + raw[1:])
        else:
            starts.append((number, raw))
    return next(
        (
            number
            for number, content in starts
            if line in (content.strip(), _windows_zones_to_iana(content).strip())
        ),
        None,
    )


def _line_with(text: str, *needles: str) -> str | None:
    """The first unfolded content line containing every needle (for error messages)."""
    needles = tuple(n for n in needles if n)
    if not needles:
        return None
    for line in text.replace("\r\n ", "").replace("\n ", "").replace("\r\n\t", "").splitlines():
        if all(n in line for n in needles):
            return line.strip()
    return None
