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

A wall-clock time that is not unique (in a spring-forward gap, or in a fall-back hour) is
where clients part ways: RFC 5545 shifts a gap time forward and takes the first pass of an
ambiguous one, but ical.js (Thunderbird) puts such an occurrence an hour off, and vobject
(Radicale) one in a gap. So every such start or end is written in UTC, and every
occurrence of the RRULE that lands there is pinned by an override whose DTSTART is in
UTC. Its RECURRENCE-ID stays the TZID wall-clock time of the RRULE: that is the key all
three readers match an instance by (ical.js by the local text, Radicale and
recurring-ical-events by the instant they computed for it, the same reading of the same
text); a RECURRENCE-ID in UTC would match nothing in ical.js.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    vDuration,
    vRecur,
    vUri,
)

from ingest.document import sessions_problem
from ingest.grid import transitions
from ingest.text import one_line
from solver.recurrence import FREQUENCIES, occurrence_dates, rrule_text

PRODID = "-//slotwise//slotwise invites//EN"
Method = Literal["REQUEST", "CANCEL"]
REMINDERS = (timedelta(days=1), timedelta(minutes=15))


@dataclass(frozen=True)
class Person:
    """A calendar user: a member id, a display name, an email address and, where known,
    the IANA zone they read times in and the BCP 47 locale of their date and time formats
    (their mail gives times there, so: service/mailtime.py)."""

    id: str
    name: str
    email: str
    zone: str | None = None
    locale: str | None = None


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
    # Members invited as optional are those left out of ``required``; None: every attendee
    # is required (a member of the match is expected at every session, group or pair).
    required: frozenset[str] | set[str] | None = None
    video_url: str | None = None
    location: str | None = None
    overrides: Sequence[Override] = ()
    created: datetime | None = None
    status: str = "confirmed"  # "confirmed" | "cancelled"
    # The address that sends the invite for the organizer (the service's sender): it goes
    # into ORGANIZER;SENT-BY when it is not the organizer's own.
    sent_by: str | None = None
    # A series cut short after some of it was held: the index of the last occurrence kept.
    # The RRULE then ends with UNTIL, and no later occurrence is written.
    ends_after: int | None = None
    # What the person who cancelled wrote to the attendees: a COMMENT of every component
    # (RFC 5545 3.8.1.4; RFC 5546 allows it in a CANCEL and a REQUEST).
    note: str | None = None


# ----------------------------------------------------------------------------- series


def series_calendar(series: InviteSeries, method: Method | None, dtstamp: datetime) -> bytes:
    """The VCALENDAR of a whole series. ``method`` REQUEST (invite or update), CANCEL (the
    series is off) or None (a resource stored on a CalDAV server: no METHOD line).

    SEQUENCE is ``series.sequence`` as given: the caller raises it on every change,
    cancelling included (RFC 5546 section 2.1.4)."""
    cal = _calendar(method)
    events, span = _series_events(series, dtstamp, cancel=method == "CANCEL", feed=False)
    cal.add_component(vtimezone(series.zone, *span))
    for event in events:
        cal.add_component(event)
    return bytes(cal.to_ical())


def _series_events(
    series: InviteSeries, dtstamp: datetime, *, cancel: bool, feed: bool
) -> tuple[list[Event], tuple[datetime, datetime]]:
    """The master VEVENT of a series and its overrides (moved occurrences, and those whose
    wall-clock start is not unique, pinned in UTC), with the first and last instant they
    name. ``cancel``: the series is called off (master only); ``feed``: for a read-only
    feed, without attendees or alarms."""
    _check(series)
    zone = ZoneInfo(series.zone)
    nominal = _nominal_starts(series, zone)
    kept = len(nominal) if series.ends_after is None else series.ends_after + 1
    overrides = {i: o for i, o in _overrides_by_original(series, nominal).items() if i < kept}
    cancelled = cancel or series.status == "cancelled"
    rrule = _rrule(series, nominal, kept, zone)
    # The RRULE repeats DTSTART's wall-clock time, so a recurring master keeps its TZID
    # even in a fall-back hour (first pass); its instance is pinned below.
    master = _event(
        series,
        zone,
        nominal[0],
        _end(series, nominal[0]),
        dtstamp,
        cancelled=cancelled,
        alarms=not cancel and not feed,
        people=not feed,
        wall_clock=rrule is not None,
    )
    master.add("sequence", series.sequence)
    if rrule:
        master.add("rrule", vRecur.from_ical(rrule))
    excluded = [nominal[i] for i, o in sorted(overrides.items()) if o.start is None]
    if excluded:
        master.add("exdate", excluded)
    events = [master]
    if not cancel:
        for i in range(kept):
            o = overrides.get(i)
            if o is not None and o.start is None:
                continue
            if o is None and (rrule is None or not _ambiguous(nominal[i])):
                continue  # the master says it, and every reader agrees on when
            start = nominal[i] if o is None else o.start
            assert start is not None
            end = o.end if o is not None and o.end is not None else _end(series, start)
            pinned = _event(
                series,
                zone,
                start,
                end,
                dtstamp,
                cancelled=cancelled,
                alarms=not feed,
                people=not feed,
            )
            pinned.add("recurrence-id", nominal[i])
            # The override repeats the master's properties, so a change of the series
            # changes it too: it never carries a lower SEQUENCE than the series.
            pinned.add("sequence", max(o.sequence if o else 0, series.sequence))
            events.append(pinned)
    instants = [t.astimezone(UTC) for t in nominal[:kept]]
    instants += [o.start.astimezone(UTC) for o in overrides.values() if o.start is not None]
    return events, (min(instants), max(instants))


def occurrence_cancel(
    series: InviteSeries,
    recurrence_id: datetime,
    dtstamp: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> bytes:
    """METHOD:CANCEL of one occurrence (RFC 5546 section 3.2.5): the series' UID with the
    RECURRENCE-ID of the occurrence's original start. ``series.sequence`` should already be
    raised for this change. ``start`` / ``end``: when the attendees last saw it (an
    occurrence moved before); by default its override's time, else the RRULE's."""
    _check(series)
    zone = ZoneInfo(series.zone)
    nominal = _nominal_starts(series, zone)
    index = _index_of(recurrence_id, nominal)
    moved = _overrides_by_original(series, nominal).get(index)
    if start is None:
        start = moved.start if moved is not None and moved.start is not None else nominal[index]
        end = moved.end if moved is not None and moved.start is not None else None
    end = end or _end(series, start)
    cal = _calendar("CANCEL")
    span = sorted(t.astimezone(UTC) for t in (start, nominal[index]))
    cal.add_component(vtimezone(series.zone, *span))
    event = _event(series, zone, start, end, dtstamp, cancelled=True, alarms=False, people=True)
    event.add("recurrence-id", nominal[index])
    event.add("sequence", series.sequence)
    cal.add_component(event)
    return bytes(cal.to_ical())


def _check(series: InviteSeries) -> None:
    if series.frequency not in FREQUENCIES:
        raise ValueError(f"frequency: unknown frequency {series.frequency!r}")
    if series.sessions < 1 or sessions_problem(series.frequency, series.sessions):
        raise ValueError(f"sessions: {series.sessions} does not fit {series.frequency!r}")
    if series.first_start.tzinfo is None:
        raise ValueError("first_start: naive datetime, an aware one is needed")
    if series.first_start.astimezone(ZoneInfo(series.zone)).fold:
        # DTSTART;TZID names the first pass of an ambiguous hour, and the RRULE repeats
        # DTSTART's wall-clock time: the second pass cannot start a series.
        raise ValueError("first_start: the second pass of a fall-back hour cannot start a series")
    if series.duration_minutes <= 0:
        raise ValueError(f"duration_minutes: {series.duration_minutes} is not positive")
    if series.status not in ("confirmed", "cancelled"):
        raise ValueError(f"status: unknown status {series.status!r}")
    if series.ends_after is not None and not 0 <= series.ends_after < series.sessions:
        raise ValueError(f"ends_after: {series.ends_after} is not an occurrence index")


def _nominal_starts(series: InviteSeries, zone: ZoneInfo) -> list[datetime]:
    """Every occurrence start as the RRULE names it: the wall-clock time of the first one on
    every occurrence date, in ``zone`` (fold=0). These are the RECURRENCE-ID / EXDATE values;
    as instants they equal ``solver.recurrence.occurrence_starts``."""
    first = series.first_start.astimezone(zone)
    clock = first.time().replace(tzinfo=None, fold=0)
    dates = occurrence_dates(first.date(), series.frequency, series.sessions)
    return [first] + [datetime.combine(d, clock, tzinfo=zone) for d in dates[1:]]


def _ambiguous(local: datetime) -> bool:
    """True when the wall-clock time of the aware ``local`` is in a gap or a fold of its
    zone: the two readings (fold=0, fold=1) are different instants."""
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def _rrule(series: InviteSeries, nominal: list[datetime], kept: int, zone: ZoneInfo) -> str | None:
    """The RRULE; a series ended early ends with UNTIL the last second of the local day of
    its last kept occurrence, as Google and Outlook write "this and following" (the next
    occurrence is days later, so a reader an hour off still keeps and drops the same)."""
    rule = rrule_text(nominal[0], series.frequency, series.sessions)
    if rule is None or series.ends_after is None:
        return rule
    last_day = nominal[kept - 1].date()
    until = datetime.combine(last_day + timedelta(days=1), time(), zone).astimezone(
        UTC
    ) - timedelta(seconds=1)
    return rule.replace(f"COUNT={series.sessions}", f"UNTIL={until:%Y%m%dT%H%M%SZ}")


def _index_of(recurrence_id: datetime, nominal: list[datetime]) -> int:
    if recurrence_id.tzinfo is None:
        raise ValueError("recurrence_id: naive datetime, an aware one is needed")
    # Instants, in UTC: Python never finds an aware time in a gap or fold equal to one in
    # another zone (PEP 495), so comparing the zoned values would miss those occurrences.
    wanted = recurrence_id.astimezone(UTC)
    for i, start in enumerate(nominal):
        if start.astimezone(UTC) == wanted:
            return i
    raise ValueError(
        f"recurrence_id: {recurrence_id.isoformat()} is not an occurrence of the series"
    )


def _overrides_by_original(series: InviteSeries, nominal: list[datetime]) -> dict[int, Override]:
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
    # In UTC: aware arithmetic in a zone adds wall-clock time and drops ``fold``, so a start
    # in the second pass of a fall-back hour would end before it began.
    return start.astimezone(UTC) + timedelta(minutes=series.duration_minutes)


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


def _event(
    series: InviteSeries,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    dtstamp: datetime,
    *,
    cancelled: bool,
    alarms: bool,
    people: bool,
    wall_clock: bool = False,
) -> Event:
    """The properties every component of the series carries (an override is a complete
    component: clients do not inherit anything from the master). ``people``: ORGANIZER and
    ATTENDEEs (not in a read-only feed); ``wall_clock``: DTSTART with TZID even in a
    fall-back hour (a recurring master: the RRULE repeats that wall-clock time)."""
    event = Event()
    event.add("uid", series.uid)
    event.add("dtstamp", dtstamp.astimezone(UTC))
    if series.created is not None:
        event.add("created", series.created.astimezone(UTC))
    event.add("last-modified", dtstamp.astimezone(UTC))
    local = start.astimezone(zone)
    if wall_clock and _ambiguous(local):
        # Readers disagree on which pass this DTSTART names, so DTEND - DTSTART would give
        # them different lengths; a DURATION is exact for every instance.
        event.add("dtstart", local)
        event.add("duration", end - start)
    else:
        event.add("dtstart", _zoned(start, zone))
        event.add("dtend", _zoned(end, zone))
    event.add("summary", series.summary)
    event.add("description", _description(series))
    if series.note and series.note.strip():
        event.add("comment", series.note.strip())
    # A stored link may predate the checks on entry: URI values are not escaped, so a line
    # break in one would make icalendar refuse the whole invite.
    video_url = one_line(series.video_url) if series.video_url else None
    if series.location or video_url:
        event.add("location", series.location or video_url)
    if video_url:
        event.add("url", video_url)
        # RFC 7986 CONFERENCE. A list keeps FEATURE=AUDIO,VIDEO two values; icalendar's
        # Conference.to_uri() would quote them into one.
        event.add(
            "conference",
            vUri(
                video_url,
                params={"VALUE": "URI", "FEATURE": ["AUDIO", "VIDEO"], "LABEL": "Video call"},
            ),
        )
    if people:
        event.add("organizer", _organizer(series))
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
    wall-clock time is in a fall-back hour: a TZID time there names the first pass by
    RFC 5545, and ical.js reads it as the second."""
    local = instant.astimezone(zone)
    if _ambiguous(local):
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
    # Stored data may predate the checks on entry: a line break in an address or name
    # would make icalendar refuse the whole invite (that recipient's mail fails instead).
    address = vCalAddress(f"mailto:{one_line(person.email or '')}")
    address.params["CN"] = one_line(person.name)
    return address


def _organizer(series: InviteSeries) -> vCalAddress:
    """ORGANIZER, with SENT-BY when the mail comes from another address than the
    organizer's (RFC 5545 3.2.18): clients then show who sent it for whom, and do not take
    the sender's From for a forged organizer."""
    address = _address(series.organizer)
    if series.sent_by and series.sent_by.lower() != series.organizer.email.lower():
        address.params["SENT-BY"] = f"mailto:{series.sent_by}"
    return address


def _attendee(series: InviteSeries, person: Person) -> vCalAddress:
    address = _address(person)
    address.params["CUTYPE"] = "INDIVIDUAL"
    required = series.required is None or person.id in series.required
    address.params["ROLE"] = "REQ-PARTICIPANT" if required else "OPT-PARTICIPANT"
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
    tz.add_component(
        _observance(
            bool(changes) and bool(start_local.dst()),
            start_local.replace(tzinfo=None),
            offset,
            offset,
            start_local.tzname(),
        )
    )
    for moment, before in changes:
        local = moment.astimezone(zone)
        after_offset, before_offset = local.utcoffset(), before.astimezone(zone).utcoffset()
        assert after_offset is not None and before_offset is not None
        onset = (moment + before_offset).replace(tzinfo=None)  # wall-clock before the change
        tz.add_component(
            _observance(bool(local.dst()), onset, before_offset, after_offset, local.tzname())
        )
    return tz


@lru_cache(maxsize=512)
def _changes(tzid: str, lo: datetime, hi: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """:func:`transitions` of a zone between two year boundaries, computed once per
    process: every invite of a program asks for the same few windows."""
    return tuple(transitions(ZoneInfo(tzid), lo, hi))


def _observance(
    daylight: bool, onset: datetime, before: timedelta, after: timedelta, name: str | None
) -> Component:
    part = TimezoneDaylight() if daylight else TimezoneStandard()
    part.add("dtstart", onset)
    part.add("tzoffsetfrom", before)
    part.add("tzoffsetto", after)
    if name:
        part.add("tzname", name)
    return part


# ----------------------------------------------------------------------------- feeds


def feed_calendar(
    name: str,
    series: Sequence[InviteSeries],
    *,
    dtstamp: datetime | None = None,
    refresh: timedelta = timedelta(hours=1),
) -> bytes:
    """A member's booked series as a subscribable calendar (METHOD:PUBLISH). Each series
    is the same recurring VEVENT as its invite, with the same UID, RECURRENCE-IDs and
    SEQUENCE, so a member who accepted the invite and subscribes sees one event, not two;
    it has no ORGANIZER, attendees or alarms (a feed is read-only and nobody replies; the
    invite already reminds)."""
    stamp = (dtstamp or datetime.now(UTC)).astimezone(UTC)
    cal = _calendar("PUBLISH")
    cal.add("name", one_line(name))  # a stored name may predate the checks on entry
    cal.add("x-wr-calname", one_line(name))
    cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(refresh))  # an X- property is text unless typed
    spans: dict[str, tuple[datetime, datetime]] = {}
    events: list[Event] = []
    for item in series:
        parts, (lo, hi) = _series_events(item, stamp, cancel=False, feed=True)
        events += parts
        old = spans.get(item.zone, (lo, hi))
        spans[item.zone] = (min(old[0], lo), max(old[1], hi))
    for tzid, (lo, hi) in sorted(spans.items()):
        cal.add_component(vtimezone(tzid, lo, hi))
    for event in events:
        cal.add_component(event)
    return bytes(cal.to_ical())
