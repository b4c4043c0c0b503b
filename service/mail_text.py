"""The plain-text part of an invite mail, for one reader (their zone, their locale).

An invitation says what the series is and lists its sessions; an update says what changed
and nothing else: an occurrence moved ("Tue 12 Jan moved from 14:00 to 15:30"), one
cancelled ("Thu 28 Jan 14:00 cancelled: <note>"), the series ended early ("The series now
ends on …") or called off. The facilitator's notice of a decline says who declined which
occurrence and the best alternative that week. Every time is in the reader's zone and
their locale's formats (:class:`service.mailtime.Reader`), with the organizer's in
brackets when their zone is another. docs/members.md shows each mail as received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .invites import InviteSeries
from .mailtime import Reader, zone_label

# An invitation lists this many sessions at most; its calendar part holds them all.
MAX_LISTED = 26


@dataclass(frozen=True)
class Moved:
    """One occurrence moved: its start as the attendees last saw it, and its new one."""

    start: datetime
    to: datetime


def invitation(inv: InviteSeries, reader: Reader, starts: Sequence[datetime]) -> str:
    """The invitation (or an update that is no single change): the first session in the
    reader's zone with the organizer's beside it, the details, and the sessions' dates."""
    organizer = _organizer(inv, reader)
    first = inv.first_start
    when = f"{organizer.long(first)} ({inv.zone})"
    if organizer != reader:
        when = f"{reader.long(first)} your time ({reader.zone}); {when}"
    lines = [
        inv.summary,
        "",
        f"First session: {when}, {inv.duration_minutes} minutes, "
        f"{inv.sessions} session(s), {inv.frequency}.",
    ]
    if inv.video_url:
        lines.append(f"Join: {inv.video_url}")
    if inv.location:
        lines.append(f"Where: {inv.location}")
    if inv.agenda:
        lines += ["", "Agenda:", inv.agenda]  # line breaks made LF by imip_body
    if len(starts) > 1:
        lines += ["", "Sessions:"]
        lines += [f"- {_at(inv, reader, t, year=True)}" for t in starts[:MAX_LISTED]]
        if len(starts) > MAX_LISTED:
            lines.append(f"- and {len(starts) - MAX_LISTED} more (the calendar has them all)")
        lines += ["", _zones(inv, reader)]
    return _end(lines, inv.note)


def moved(inv: InviteSeries, reader: Reader, change: Moved) -> str:
    """An occurrence moved: "Tue 12 Jan moved from 09:00 to 10:30 [14:00 to 15:30]."."""
    organizer = _organizer(inv, reader)
    line = f"{reader.day(change.start)} moved from {_span(reader, change)}"
    if organizer != reader:
        theirs = _span(organizer, change)
        if not _same_date(reader, organizer, change.start):
            theirs = f"{organizer.day(change.start)}: {theirs}"
        line += f" [{theirs}]"
    return _end([inv.summary, "", line + ".", "", _zones(inv, reader)], None)


def occurrence_cancelled(inv: InviteSeries, reader: Reader, start: datetime) -> str:
    """One occurrence cancelled, with the note if one was given: "Thu 28 Jan 09:00
    [14:00] cancelled: <note>"."""
    line = f"{_at(inv, reader, start)} cancelled"
    note = (inv.note or "").strip()
    if not note:
        line += "."
    elif "\n" in note:
        line += ":\n" + note
    else:
        line += ": " + note
    return _end([inv.summary, "", line, "", _zones(inv, reader)], None)


def ended(inv: InviteSeries, reader: Reader, last: datetime | None) -> str:
    """The series cut short after the sessions held: the day it now ends on."""
    organizer = _organizer(inv, reader)
    if last is None:  # no held session found: it should not happen
        lines = [inv.summary, "", "The remaining sessions of this series have been cancelled."]
    else:
        day = reader.day(last, year=True)
        if organizer != reader and not _same_date(reader, organizer, last):
            day += f" [{organizer.day(last, year=True)}]"
        lines = [
            inv.summary,
            "",
            f"The series now ends on {day}: the sessions after it are cancelled, and "
            "those already held stay in your calendar.",
            "",
            _zones(inv, reader),
        ]
    return _end(lines, inv.note)


def called_off(inv: InviteSeries) -> str:
    """The whole series cancelled before any session was held."""
    return _end(
        [inv.summary, "", "This series has been cancelled: no session of it will be held."],
        inv.note,
    )


@dataclass(frozen=True)
class Declined:
    """A member declined one occurrence, and what the match page's flag says of it
    (``replies.with_replies``): whether it still holds without them (None: not known),
    who could come, and the best start that week where it would."""

    who: str  # the decliner's name
    start: datetime
    holds: bool | None
    attending: Sequence[str]  # names
    alternative: datetime | None
    link: str  # the match page


def declined(summary: str, reader: Reader, d: Declined) -> str:
    """The facilitator's notice of a decline: who declined which occurrence, whether it
    still holds, the best alternative that week, and where to move it."""
    lines = [summary, "", f"{d.who} declined the session on {reader.day_time(d.start)}."]
    if d.holds:
        lines.append(f"It still holds without them: {', '.join(d.attending)} can come.")
    elif d.holds is not None:
        lines.append("It no longer holds without them.")
    if d.alternative is not None:
        lines.append(f"Best time that week: {reader.day_time(d.alternative)}.")
    elif d.holds is False:
        lines.append("No other time that week suits everyone.")
    lines += ["", f"Move it, or see who answered: {d.link}", "", _zones_of(reader)]
    return _end(lines, None)


# --- pieces -------------------------------------------------------------------------------


def _organizer(inv: InviteSeries, reader: Reader) -> Reader:
    """The organizer's zone in the reader's formats (the bracketed times)."""
    return Reader(inv.zone, reader.locale)


def _at(inv: InviteSeries, reader: Reader, t: datetime, *, year: bool = False) -> str:
    """A day and time, the organizer's in brackets when they read another zone:
    "Tue 12 Jan 09:00 [14:00]", "Mon 11 Jan 23:00 [Tue 12 Jan 04:00]"."""
    text = reader.day_time(t, year=year)
    organizer = _organizer(inv, reader)
    if organizer != reader:
        theirs = organizer.clock(t)
        if not _same_date(reader, organizer, t):
            theirs = organizer.day_time(t, year=year)
        text += f" [{theirs}]"
    return text


def _span(reader: Reader, change: Moved) -> str:
    """ "09:00 to 10:30", or "23:00 to Wed 13 Jan 00:30" when it moved to another day."""
    to = reader.clock(change.to)
    if not reader.same_day(change.start, change.to):
        to = reader.day_time(change.to)
    return f"{reader.clock(change.start)} to {to}"


def _same_date(a: Reader, b: Reader, t: datetime) -> bool:
    return a.at(t).date() == b.at(t).date()


def _zones(inv: InviteSeries, reader: Reader) -> str:
    """Which zone the times are in, and the organizer's in brackets when it is another."""
    mine = f"{zone_label(reader.zone)} time ({reader.zone})"
    if reader.zone == inv.zone:
        return f"Times are {mine}."
    theirs = f"{zone_label(inv.zone)} time ({inv.zone})"
    return f"Times are your time, {mine}; in brackets, the organizer's, {theirs}."


def _zones_of(reader: Reader) -> str:
    return f"Times are {zone_label(reader.zone)} time ({reader.zone})."


def _end(lines: list[str], note: str | None) -> str:
    if note and note.strip():
        lines += ["", "Note:", note.strip()]
    return "\n".join(lines) + "\n"
