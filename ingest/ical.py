"""The iCalendar properties ingest reads, as plain values: the one module of ingest that
touches icalendar's property objects.

icalendar types a property as a union of some thirty classes (``vDDDTypes | vText | ...``)
and many of its readers as untyped. The functions here read what ``ics_source`` and
``rrule_limits`` need with the same icalendar calls those made themselves, and hand back
dates, date-times, timedeltas, strings and lists. A value icalendar could not parse is
listed in ``component.errors`` (which ``ics_source`` checks first); reading it anyway
raises icalendar's own error, as it did before.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from icalendar import Calendar, Component, InvalidCalendar, vDDDTypes
from icalendar import vRecur as Recur
from icalendar.error import GloballyUniqueTZIDGuessed
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .errors import CalendarError

__all__ = ["Calendar", "Component", "InvalidCalendar", "Property", "Recur", "as_ical",
           "duration", "iana_zone", "moment", "parse", "properties", "read_rule",
           "read_value", "recur_text", "repeated", "rule_text", "rules", "set_rules", "text",
           "value"]

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
    period). KeyError if the property is absent."""
    prop: Any = component[name]
    found: object = prop.dt
    return found


def moment(component: Component, name: str) -> date:
    """DTSTART, DTEND or RECURRENCE-ID as a date or date-time (KeyError if absent)."""
    found = value(component, name)
    if not isinstance(found, date):
        raise CalendarError("{name} is not a date or date-time: {value!r}", name=name,
                            value=found)
    return found


def duration(component: Component) -> timedelta:
    """DURATION as a timedelta (KeyError if absent)."""
    found = value(component, "DURATION")
    if not isinstance(found, timedelta):
        raise CalendarError("DURATION is not a duration: {value!r}", value=found)
    return found


def as_ical(component: Component, name: str) -> str:
    """A property's value written back as iCalendar text (to find its line for a message)."""
    prop: Any = component[name]
    written: str = prop.to_ical().decode()
    return written


class Property:
    """One occurrence (one content line) of a property, e.g. one of an event's RDATEs."""

    def __init__(self, prop: Any) -> None:
        self._prop = prop

    def param(self, name: str, default: str | None = None) -> str | list[str] | None:
        """A parameter (TZID, FBTYPE, ...): a list if it has several values."""
        found: str | list[str] | None = self._prop.params.get(name, default)
        return found

    def dates(self) -> Iterator[object]:
        """Every date or date-time it holds (a DTSTART-like value, or each of an RDATE or
        EXDATE list; both ends of a period), lazily."""
        for x in getattr(self._prop, "dts", [self._prop]):
            yield from (x.dt if isinstance(x.dt, tuple) else (x.dt,))

    def periods(self) -> list[Period]:
        """The periods of a FREEBUSY property (one or many)."""
        found: list[Period] = [x.dt for x in getattr(self._prop, "dts", [self._prop])]
        return found

    def as_ical(self) -> str:
        """Its value written back as iCalendar text."""
        written: str = self._prop.to_ical().decode()
        return written


def properties(component: Component, name: str) -> list[Property]:
    """Every occurrence of a property, in order (none if absent)."""
    found = component.get(name)
    if found is None:
        return []
    return [Property(p) for p in (list(found) if isinstance(found, list) else [found])]


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
