"""The iCalendar properties ingest reads, as plain values: the one module of ingest that
touches icalendar's property objects.

icalendar types a property as a union of some thirty classes (``vDDDTypes | vText | ...``)
and many of its readers as untyped. The functions here read what ``ics_source`` and
``rrule_limits`` need with the same icalendar calls those made themselves, and hand back
dates, date-times, timedeltas, strings and lists. A value icalendar could not parse is
listed in ``component.errors`` (which ``ics_source`` checks first; reading it gives its
text); a value it parsed as the wrong kind for its property (``RDATE:PT1H``) is found by
``Property.wrong_kind`` (which ``ics_source`` checks next).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from icalendar import Calendar, Component, InvalidCalendar, vBroken, vDDDTypes, vDuration
from icalendar import vRecur as Recur
from icalendar.error import GloballyUniqueTZIDGuessed
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .errors import CalendarError

__all__ = [
    "KINDS",
    "TRAVEL",
    "Calendar",
    "Component",
    "InvalidCalendar",
    "Property",
    "Recur",
    "as_ical",
    "duration",
    "iana_zone",
    "moment",
    "parse",
    "properties",
    "read_rule",
    "read_value",
    "recur_text",
    "repeated",
    "rule_text",
    "rules",
    "set_rules",
    "text",
    "travel",
    "value",
]

# A period: its start, and its end or its length.
Period = tuple[date, date | timedelta]


def parse(text: str) -> list[Calendar]:
    """The top-level components of an iCalendar text (icalendar's errors pass through)."""
    with warnings.catch_warnings():
        # "/vendor/Europe/Berlin" TZIDs: icalendar's guess (strip the vendor) is right.
        warnings.simplefilter("ignore", GloballyUniqueTZIDGuessed)
        return Calendar.from_ical(text, multiple=True)


def iana_zone(windows_name: str) -> str | None:
    """The IANA zone of a Windows zone name (``W. Europe Standard Time``), if known."""
    return WINDOWS_TO_OLSON.get(windows_name)


# -- properties of a component ----------------------------------------------------------


def text(component: Component, name: str) -> str:
    """A property as text, "" if absent (UID, STATUS, TRANSP, X-WR-TIMEZONE, ...)."""
    return str(component.get(name, ""))


def repeated(component: Component, name: str) -> bool:
    """Whether the property appears more than once."""
    return isinstance(component.get(name), list)


def value(component: Component, name: str) -> object:
    """What a date-time property holds: a date or date-time (DTSTART, DTEND, RECURRENCE-ID),
    a timedelta (DURATION), or what else a broken calendar put there (a bare time, a
    period, a value of another type: ``DTEND;VALUE=UTC-OFFSET:-0500``). KeyError if the
    property is absent."""
    return _held(component[name])


def _held(prop: Any) -> object:
    """The value of one property object: its ``dt`` (a date, date-time, duration, period or
    time), else the object itself (a rule, an integer, a UTC offset, a text), or the text
    of a value icalendar could not read."""
    if isinstance(prop, vBroken):  # reading any attribute of it raises
        return str(prop)
    found: object = getattr(prop, "dt", prop)
    return found


def moment(component: Component, name: str) -> date:
    """DTSTART, DTEND or RECURRENCE-ID as a date or date-time (KeyError if absent)."""
    found = value(component, name)
    if not isinstance(found, date):
        raise CalendarError("{name} is not a date or date-time: {value!r}", name=name, value=found)
    return found


def duration(component: Component) -> timedelta:
    """DURATION as a timedelta (KeyError if absent)."""
    found = value(component, "DURATION")
    if not isinstance(found, timedelta):
        raise CalendarError("DURATION is not a duration: {value!r}", value=found)
    return found


TRAVEL = "X-APPLE-TRAVEL-DURATION"


def travel(component: Component) -> timedelta | None:
    """Apple Calendar's travel time before an event (``X-APPLE-TRAVEL-DURATION``): zero if
    absent, None if it is no duration of zero or more. Apple types it
    (``;VALUE=DURATION:PT30M``); tools that copy it may not, so its text is read too."""
    if TRAVEL not in component:
        return timedelta(0)
    found = value(component, TRAVEL)
    if isinstance(found, str):
        try:
            found = vDuration.from_ical(found.strip())
        except ValueError:
            return None
    if not isinstance(found, timedelta) or found < timedelta(0):
        return None
    return found


def as_ical(component: Component, name: str) -> str:
    """A property's value written back as iCalendar text (to find its line for a message)."""
    return _written(component[name])


def _written(prop: Any) -> str:
    """A property object's value as iCalendar text (icalendar writes a TIME as a str)."""
    written: bytes | str = prop.to_ical()
    return written.decode(errors="replace") if isinstance(written, bytes) else written


# What each property that ingest (or recurring-ical-events, for it) reads may hold, by
# RFC 5545, and how a message says it. A value of another kind parses (``DURATION:20270105``,
# ``RDATE:PT1H``, ``SEQUENCE;VALUE=TEXT:x``), then fails deep inside recurring-ical-events
# or dateutil; ``Property.wrong_kind`` finds it first.
_DATE = (frozenset({"date"}), "a date or date-time")
KINDS: dict[str, tuple[frozenset[str], str]] = {
    "DTSTART": _DATE,
    "DTEND": _DATE,
    "RECURRENCE-ID": _DATE,
    "EXDATE": _DATE,
    "DURATION": (frozenset({"duration"}), "a duration"),
    "RDATE": (frozenset({"date", "period"}), "a date, date-time or period"),
    "FREEBUSY": (frozenset({"period"}), "a period"),
    "RRULE": (frozenset({"rule"}), "a recurrence rule"),
    "SEQUENCE": (frozenset({"integer"}), "an integer"),
    "UID": (frozenset({"text"}), "text"),  # recurring-ical-events groups events by it
}


def _kind(found: object) -> str | None:
    """The kind of a value ``_held`` returns (None: a time, a UTC offset, a number, ...)."""
    if isinstance(found, tuple):  # a period: its start, and its end or its length
        return (
            "period"
            if len(found) == 2
            and isinstance(found[0], date)
            and isinstance(found[1], date | timedelta)
            else None
        )
    if isinstance(found, date):  # datetime too
        return "date"
    if isinstance(found, timedelta):
        return "duration"
    if isinstance(found, Recur):
        return "rule"
    if isinstance(found, str):
        return "text"
    return "integer" if isinstance(found, int) and not isinstance(found, bool) else None


class Property:
    """One occurrence (one content line) of a property, e.g. one of an event's RDATEs."""

    def __init__(self, name: str, prop: Any) -> None:
        self.name = name.upper()
        self._prop = prop

    def param(self, name: str, default: str | None = None) -> str | list[str] | None:
        """A parameter (TZID, FBTYPE, ...): a list if it has several values."""
        found: str | list[str] | None = self._prop.params.get(name, default)
        return found

    def values(self) -> list[object]:
        """Each value it holds: one, or each of an RDATE or EXDATE list (see ``value``)."""
        listed = (
            [self._prop]
            if isinstance(self._prop, vBroken)
            else getattr(self._prop, "dts", [self._prop])
        )
        return [_held(x) for x in listed]

    def wrong_kind(self) -> str | None:
        """What the property should hold (e.g. "a duration") if a value of it is of another
        kind (``RDATE:PT1H``); None if every value is right, or it is not in :data:`KINDS`."""
        kinds, say = KINDS.get(self.name, (None, ""))
        if kinds is None or all(_kind(x) in kinds for x in self.values()):
            return None
        return say

    def dates(self) -> Iterator[object]:
        """Every date or date-time it holds (a DTSTART-like value, or each of an RDATE or
        EXDATE list; both ends of a period), lazily."""
        for x in self.values():
            yield from (x if isinstance(x, tuple) else (x,))

    def periods(self) -> list[Period]:
        """The periods of a FREEBUSY property (one or many; checked with ``wrong_kind``)."""
        found: list[Any] = self.values()
        return found

    def as_ical(self) -> str:
        """Its value written back as iCalendar text."""
        return _written(self._prop)


def properties(component: Component, name: str) -> list[Property]:
    """Every occurrence of a property, in order (none if absent)."""
    found = component.get(name)
    if found is None:
        return []
    return [Property(name, p) for p in (list(found) if isinstance(found, list) else [found])]


# -- recurrence rules ---------------------------------------------------------------------
# A Recur maps each part of a rule (FREQ, INTERVAL, BYDAY, ...) to the list of its values.


def rules(event: Component) -> list[Recur]:
    """An event's RRULEs (none if absent)."""
    found = event.get("RRULE")
    if found is None:
        return []
    listed: list[Recur] = found if isinstance(found, list) else [found]
    return listed


def set_rules(event: Component, kept: Sequence[Recur]) -> None:
    """Replace an event's RRULEs with ``kept``."""
    del event["RRULE"]
    for rule in kept:
        event.add("RRULE", rule)


def rule_text(rule: Recur) -> str:
    """A rule as iCalendar text (``FREQ=DAILY;BYDAY=MO``), for messages."""
    written: str = rule.to_ical().decode(errors="replace")
    return written


def recur_text(parts: Mapping[str, Sequence[object]]) -> str:
    """The iCalendar text of a rule made of ``parts``, for dateutil to read."""
    written: str = Recur(parts).to_ical().decode()
    return written


def read_rule(rule: str) -> Recur:
    """A rule's text (a VTIMEZONE's RRULE) as icalendar reads it (ValueError if bad)."""
    found: Recur = Recur.from_ical(rule)
    return found


def read_value(written: str) -> object:
    """A DATE, DATE-TIME, DURATION, PERIOD or TIME text (a VTIMEZONE's DTSTART) as
    icalendar reads it (ValueError if bad)."""
    found: object = vDDDTypes.from_ical(written)
    return found
