"""Dates and times as one reader of a mail reads them: in their zone, in their locale's
formats (Babel, CLDR data), and in the service's English formats without a locale.

Only the dates and times follow the locale; the words around them stay English
(docs/rules.md, "The mail reads in the reader's zone"). Nothing here fails on stored data:
a locale Babel does not know (stored before it was checked) reads as English.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time

log = logging.getLogger(__name__)


@lru_cache(maxsize=256)
def _locale(tag: str | None) -> Locale | None:
    if not tag:
        return None
    try:
        return Locale.parse(tag, sep="-")
    except (ValueError, UnknownLocaleError):
        log.warning("locale %r is unknown: its reader gets English formats", tag[:50])
        return None


@dataclass(frozen=True)
class Reader:
    """Where and how one reader reads times: an IANA ``zone`` and, where known, the BCP 47
    ``locale`` of their date and time formats."""

    zone: str
    locale: str | None = None

    def at(self, instant: datetime) -> datetime:
        """``instant`` (aware) on this reader's wall clock."""
        return instant.astimezone(ZoneInfo(self.zone))

    def long(self, instant: datetime) -> str:
        """Weekday, date and time: "Tuesday 02 March 2027, 15:00" (English), "Dienstag,
        2. März 2027, 15:00" (de-DE)."""
        t, loc = self.at(instant), _locale(self.locale)
        if loc is None:
            return f"{t:%A %d %B %Y, %H:%M}"
        return _join(loc, "full", format_date(t, "full", locale=loc), self.clock(instant))

    def short(self, instant: datetime) -> str:
        """Short weekday, date with the year, and time: "Tue 12 Jan 2027 14:00"; "Tue, Jan
        12, 2027, 2:00 PM" (en-US)."""
        return self.day_time(instant, year=True)

    def day_time(self, instant: datetime, *, year: bool = False) -> str:
        """:meth:`day` and :meth:`clock` as the locale joins them: "Tue 12 Jan 14:00";
        "Di., 12. Jan., 14:00" (de-DE)."""
        loc = _locale(self.locale)
        day, clock = self.day(instant, year=year), self.clock(instant)
        return f"{day} {clock}" if loc is None else _join(loc, "medium", day, clock)

    def day(self, instant: datetime, *, year: bool = False) -> str:
        """Short weekday and date: "Tue 12 Jan" ("Tue 12 Jan 2027" with ``year``);
        "Di., 12. Jan." (de-DE)."""
        t, loc = self.at(instant), _locale(self.locale)
        if loc is None:
            return f"{t:%a %d %b %Y}" if year else f"{t:%a %d %b}"
        return format_skeleton("yMMMEd" if year else "MMMEd", t, locale=loc)

    def clock(self, instant: datetime) -> str:
        """The time of day: "14:00"; "2:00 PM" (en-US, with CLDR's narrow space)."""
        t, loc = self.at(instant), _locale(self.locale)
        if loc is None:
            return f"{t:%H:%M}"
        return format_time(t, "short", locale=loc)

    def same_day(self, a: datetime, b: datetime) -> bool:
        return self.at(a).date() == self.at(b).date()


def _join(loc: Locale, width: str, date_text: str, time_text: str) -> str:
    """A date and a time joined as the locale joins them ("{1}, {0}" and the like)."""
    pattern = str(loc.datetime_formats.get(width) or "{1} {0}").replace("'", "")
    return pattern.replace("{1}", date_text).replace("{0}", time_text)


def zone_label(zone: str) -> str:
    """How a mail names a zone in words: its city ("America/New_York" -> "New York",
    "Australia/Lord_Howe" -> "Lord Howe"), or the name itself when it names no place
    ("UTC", "Etc/GMT+5")."""
    head, _, city = zone.rpartition("/")
    if not head or head.startswith("Etc"):
        return zone
    return city.replace("_", " ")
