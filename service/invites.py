"""iCalendar invites of booked series (SPEC 4, 8): iTIP REQUEST / CANCEL, CalDAV, feeds.

Pure functions over frozen dataclasses: no database, no HTTP. Times inside an invite are
wall-clock in the organizer's zone (``DTSTART;TZID=...``) with a VTIMEZONE written here
from zoneinfo, one observance per real transition, because clients that read the
VTIMEZONE (Thunderbird's ical.js) mis-handle icalendar's generated one (several dates on
one RDATE line, of which ical.js reads only the first; and an RDATE-style observance whose
DTSTART onset ical.js never applies).

A cancelled single occurrence is an ``EXDATE`` on the master in REQUEST and CalDAV
calendars, not a ``STATUS:CANCELLED`` override: EXDATE is what Outlook and Google Calendar
themselves send when one instance is deleted, and all three of Thunderbird, Google and
Outlook drop the instance on import, while a cancelled override inside a REQUEST is shown
inconsistently (kept on the grid, or struck through). The attendees are told with
:func:`occurrence_cancel` (METHOD:CANCEL with RECURRENCE-ID, RFC 5546 section 3.2.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import (
    Alarm,
    Calendar,
    Component,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vRecur,
    vUri,
)

from solver.recurrence import FREQUENCIES, occurrence_dates, rrule_text

PRODID = "-//slotwise//slotwise invites//EN"
Method = Literal["REQUEST", "CANCEL"]
REMINDERS = (timedelta(days=1), timedelta(minutes=15))
_SCAN_STEP = timedelta(hours=6)  # shorter than any gap between two transitions of a zone


@dataclass(frozen=True)
class Person:
    """A calendar user: a member id, a display name and an email address."""

    id: str
    name: str
    email: str


@dataclass(frozen=True)
class Override:
    """One occurrence changed alone: ``recurrence_id`` is its original start (aware);
    ``start`` None means this occurrence is cancelled."""

    recurrence_id: datetime
    start: datetime | None
    end: datetime | None = None
    sequence: int = 0


@dataclass(frozen=True)
class InviteSeries:
    """Everything an invite says about a booked series."""

    uid: str
    sequence: int
    summary: str
    agenda: str
    zone: str  # IANA name of the organizer's zone: recurrence is wall-clock there
    first_start: datetime  # aware
    duration_minutes: int
    frequency: str  # "once" | "weekly" | "biweekly" | "monthly"
    sessions: int
    organizer: Person
    attendees: Sequence[Person]
    required: frozenset[str] | set[str] = frozenset()
    video_url: str | None = None
    location: str | None = None
    overrides: Sequence[Override] = ()
    created: datetime | None = None
    status: str = "confirmed"  # "confirmed" | "cancelled"


@dataclass(frozen=True)
class FeedEvent:
    """One booked occurrence in a member's subscribable feed."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str | None = None
    url: str | None = None
    status: str = "confirmed"  # "confirmed" | "cancelled" | "tentative"
    sequence: int = 0
    categories: tuple[str, ...] = field(default=())


# ----------------------------------------------------------------------------- series


def series_calendar(series: InviteSeries, method: Method | None, dtstamp: datetime) -> bytes:
    """The VCALENDAR of a whole series. ``method`` REQUEST (invite or update), CANCEL (the
    series is off) or None (a resource stored on a CalDAV server: no METHOD line).

    SEQUENCE is ``series.sequence`` as given: the caller raises it on every change,
    cancelling included (RFC 5546 section 2.1.4)."""
    _check(series)
    zone = ZoneInfo(series.zone)
    nominal = _nominal_starts(series, zone)
    overrides = _overrides_by_original(series, nominal)
    cancel = method == "CANCEL"
    cal = _calendar(method)
    master = _event(series, zone, nominal[0], _end(series, nominal[0]), dtstamp,
                    cancelled=cancel or series.status == "cancelled", alarms=not cancel)
    master.add("sequence", series.sequence)
    rrule = rrule_text(nominal[0], series.frequency, series.sessions)
    if rrule:
        master.add("rrule", vRecur.from_ical(rrule))
    excluded = [nominal[i] for i, o in sorted(overrides.items()) if o.start is None]
    if excluded:
        master.add("exdate", excluded)
    events = [master]
    if not cancel:
        for i, o in sorted(overrides.items()):
            if o.start is None:
                continue
            end = o.end or o.start + timedelta(minutes=series.duration_minutes)
            moved = _event(series, zone, o.start, end, dtstamp,
                           cancelled=series.status == "cancelled", alarms=True)
            moved.add("recurrence-id", nominal[i])
            # The override repeats the master's properties, so a change of the series
            # changes it too: it never carries a lower SEQUENCE than the series.
            moved.add("sequence", max(o.sequence, series.sequence))
            events.append(moved)
    instants = [*nominal, *(o.start for o in series.overrides if o.start is not None)]
    cal.add_component(vtimezone(series.zone, min(instants), max(instants)))
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


def occurrence_cancel(series: InviteSeries, recurrence_id: datetime,
                      dtstamp: datetime) -> bytes:
    """METHOD:CANCEL of one occurrence (RFC 5546 section 3.2.5): the series' UID with the
    RECURRENCE-ID of the occurrence's original start. ``series.sequence`` should already be
    raised for this change."""
    _check(series)
    zone = ZoneInfo(series.zone)
    nominal = _nominal_starts(series, zone)
    index = _index_of(recurrence_id, nominal)
    moved = _overrides_by_original(series, nominal).get(index)
    start = moved.start if moved is not None and moved.start is not None else nominal[index]
    end = (moved.end if moved is not None and moved.end is not None
           else start + timedelta(minutes=series.duration_minutes))
    cal = _calendar("CANCEL")
    cal.add_component(vtimezone(series.zone, min(start, nominal[index]),
                                max(start, nominal[index])))
    event = _event(series, zone, start, end, dtstamp, cancelled=True, alarms=False)
    event.add("recurrence-id", nominal[index])
    event.add("sequence", series.sequence)
    cal.add_component(event)
    return cal.to_ical()


def _check(series: InviteSeries) -> None:
    if series.frequency not in FREQUENCIES:
        raise ValueError(f"frequency: unknown frequency {series.frequency!r}")
    if series.sessions < 1 or (series.frequency == "once" and series.sessions != 1):
        raise ValueError(f"sessions: {series.sessions} does not fit {series.frequency!r}")
    if series.first_start.tzinfo is None:
        raise ValueError("first_start: naive datetime, an aware one is needed")
    if series.duration_minutes <= 0:
        raise ValueError(f"duration_minutes: {series.duration_minutes} is not positive")
    if series.status not in ("confirmed", "cancelled"):
        raise ValueError(f"status: unknown status {series.status!r}")


def _nominal_starts(series: InviteSeries, zone: ZoneInfo) -> list[datetime]:
    """Every occurrence start as the RRULE names it: the wall-clock time of the first one on
    every occurrence date, in ``zone`` (fold=0). These are the RECURRENCE-ID / EXDATE values;
    as instants they equal ``solver.recurrence.occurrence_starts``."""
    first = series.first_start.astimezone(zone)
    clock = first.time().replace(tzinfo=None, fold=0)
    dates = occurrence_dates(first.date(), series.frequency, series.sessions)
    return [first] + [datetime.combine(d, clock, tzinfo=zone) for d in dates[1:]]


def _index_of(recurrence_id: datetime, nominal: list[datetime]) -> int:
    if recurrence_id.tzinfo is None:
        raise ValueError("recurrence_id: naive datetime, an aware one is needed")
    for i, start in enumerate(nominal):
        if start == recurrence_id:  # aware comparison: the same instant
            return i
    raise ValueError(f"recurrence_id: {recurrence_id.isoformat()} is not an occurrence of "
                     "the series")


def _overrides_by_original(series: InviteSeries,
                           nominal: list[datetime]) -> dict[int, Override]:
    out: dict[int, Override] = {}
    for o in series.overrides:
        index = _index_of(o.recurrence_id, nominal)
        if index in out:
            raise ValueError(f"overrides: two overrides of {o.recurrence_id.isoformat()}")
        if o.start is not None and o.start.tzinfo is None:
            raise ValueError("overrides: naive start, an aware one is needed")
        out[index] = o
    return out


def _end(series: InviteSeries, start: datetime) -> datetime:
    return start + timedelta(minutes=series.duration_minutes)


def _calendar(method: str | None) -> Calendar:
    if method not in (None, "REQUEST", "CANCEL", "PUBLISH"):
        raise ValueError(f"method: unsupported iTIP method {method!r}")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method is not None:
        cal.add("method", method)
    return cal


def _event(series: InviteSeries, zone: ZoneInfo, start: datetime, end: datetime,
           dtstamp: datetime, *, cancelled: bool, alarms: bool) -> Event:
    """The properties every component of the series carries (an override is a complete
    component: clients do not inherit anything from the master)."""
    event = Event()
    event.add("uid", series.uid)
    event.add("dtstamp", dtstamp.astimezone(UTC))
    if series.created is not None:
        event.add("created", series.created.astimezone(UTC))
    event.add("last-modified", dtstamp.astimezone(UTC))
    event.add("dtstart", _zoned(start, zone))
    event.add("dtend", _zoned(end, zone))
    event.add("summary", series.summary)
    event.add("description", _description(series))
    if series.location or series.video_url:
        event.add("location", series.location or series.video_url)
    if series.video_url:
        event.add("url", series.video_url)
        # RFC 7986 CONFERENCE. A list keeps FEATURE=AUDIO,VIDEO two values; icalendar's
        # Conference.to_uri() would quote them into one.
        event.add("conference", vUri(series.video_url, params={
            "VALUE": "URI", "FEATURE": ["AUDIO", "VIDEO"], "LABEL": "Video call"}))
    event.add("organizer", _address(series.organizer))
    for person in series.attendees:
        event.add("attendee", _attendee(series, person))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if alarms and not cancelled:
        for before in REMINDERS:
            event.add_component(_alarm(series.summary, before))
    return event


def _zoned(instant: datetime, zone: ZoneInfo) -> datetime:
    """``instant`` as wall-clock in ``zone`` (written with TZID), or in UTC when that
    wall-clock time is the second pass of a fall-back hour, which a TZID cannot name."""
    local = instant.astimezone(zone)
    if local.fold:
        return instant.astimezone(UTC)
    return local


def _description(series: InviteSeries) -> str:
    parts = [series.agenda.strip()] if series.agenda and series.agenda.strip() else []
    if series.video_url:
        parts.append(f"Join the video call: {series.video_url}")
    if series.location:
        parts.append(f"Location: {series.location}")
    return "\n\n".join(parts)


def _address(person: Person) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = person.name
    return address


def _attendee(series: InviteSeries, person: Person) -> vCalAddress:
    address = _address(person)
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = ("REQ-PARTICIPANT" if person.id in series.required
                              else "OPT-PARTICIPANT")
    # The organizer booked the series, so they have accepted it and owe no reply.
    is_organizer = person.id == series.organizer.id
    address.params["PARTSTAT"] = "ACCEPTED" if is_organizer else "NEEDS-ACTION"
    address.params["RSVP"] = "FALSE" if is_organizer else "TRUE"
    return address


def _alarm(summary: str, before: timedelta) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Reminder: {summary}")
    alarm.add("trigger", -before)
    return alarm


# ----------------------------------------------------------------------------- VTIMEZONE


def vtimezone(tzid: str, first: datetime, last: datetime) -> Timezone:
    """A VTIMEZONE for ``tzid`` valid from a year before ``first`` to a year after ``last``:
    one observance (with its own DTSTART, no RDATE) per UTC-offset transition that zoneinfo
    knows in that window, plus one for the offset in force at its start. A zone with no
    transition in the window gets a single STANDARD observance."""
    zone = ZoneInfo(tzid)
    lo = datetime.combine(date(first.astimezone(zone).year - 1, 1, 1), time(), zone)
    hi = datetime.combine(date(last.astimezone(zone).year + 2, 1, 1), time(), zone)
    lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
    tz = Timezone()
    tz.add("tzid", tzid)
    start_local = lo.astimezone(zone)
    offset = start_local.utcoffset()
    assert offset is not None
    changes = _changes(tzid, lo, hi)
    tz.add_component(_observance(bool(changes) and bool(start_local.dst()),
                                 start_local.replace(tzinfo=None), offset, offset,
                                 start_local.tzname()))
    for moment, before in changes:
        local = moment.astimezone(zone)
        after_offset, before_offset = local.utcoffset(), before.astimezone(zone).utcoffset()
        assert after_offset is not None and before_offset is not None
        onset = (moment + before_offset).replace(tzinfo=None)  # wall-clock before the change
        tz.add_component(_observance(bool(local.dst()), onset, before_offset, after_offset,
                                     local.tzname()))
    return tz


@lru_cache(maxsize=512)
def _changes(tzid: str, lo: datetime, hi: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """:func:`transitions` of a zone between two year boundaries, computed once per
    process: every invite of a program asks for the same few windows."""
    return tuple(transitions(ZoneInfo(tzid), lo, hi))


def transitions(zone: ZoneInfo, lo: datetime,
                hi: datetime) -> Iterable[tuple[datetime, datetime]]:
    """Every instant in [lo, hi) at which ``zone`` changes its UTC offset, DST flag or
    abbreviation, found by scanning UTC at a fixed step and bisecting to the second.
    Yields (transition instant, the second before it)."""
    def key(t: datetime) -> tuple:
        local = t.astimezone(zone)
        return local.utcoffset(), local.dst(), local.tzname()

    t, current = lo, key(lo)
    while t < hi:
        nxt = min(t + _SCAN_STEP, hi)
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


def _observance(daylight: bool, onset: datetime, before: timedelta, after: timedelta,
                name: str | None) -> Component:
    part = TimezoneDaylight() if daylight else TimezoneStandard()
    part.add("dtstart", onset)
    part.add("tzoffsetfrom", before)
    part.add("tzoffsetto", after)
    if name:
        part.add("tzname", name)
    return part


# ----------------------------------------------------------------------------- feeds


def feed_calendar(name: str, events: Sequence[FeedEvent], *,
                  dtstamp: datetime | None = None,
                  refresh: timedelta = timedelta(hours=1)) -> bytes:
    """A member's booked sessions as a subscribable calendar (METHOD:PUBLISH): one VEVENT
    per occurrence, times in UTC, no attendees (a feed is read-only, nobody replies)."""
    stamp = (dtstamp or datetime.now(UTC)).astimezone(UTC)
    cal = _calendar("PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", refresh)
    for item in events:
        if item.start.tzinfo is None or item.end.tzinfo is None:
            raise ValueError(f"events: {item.uid} has a naive start or end")
        if item.status not in ("confirmed", "cancelled", "tentative"):
            raise ValueError(f"events: {item.uid} has unknown status {item.status!r}")
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start.astimezone(UTC))
        event.add("dtend", item.end.astimezone(UTC))
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        if item.location or item.url:
            event.add("location", item.location or item.url)
        if item.url:
            event.add("url", item.url)
        event.add("status", item.status.upper())
        event.add("sequence", item.sequence)
        event.add("transp", "OPAQUE")
        if item.categories:
            event.add("categories", list(item.categories))
        cal.add_component(event)
    return cal.to_ical()
