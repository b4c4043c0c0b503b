"""Limits on recurrence rules, checked before a calendar is expanded (docs/rules.md).

dateutil, under recurring-ical-events and icalendar's VTIMEZONE support, walks a rule
period by period from its DTSTART, and a rule whose BY parts never match (``FREQ=DAILY;
BYMONTH=2;BYMONTHDAY=30``) walks on to the year 9999. So before expanding a calendar:

- an event's rule that never occurs is dropped: the event happens at DTSTART only, as
  RFC 5545 says (at most :data:`MAX_NEVER` such rules per calendar, as finding one costs
  a walk of up to 800 years); a VTIMEZONE's rule that never occurs is refused;
- a calendar whose rules would walk more than :data:`MAX_STEPS` periods up to the end of
  the window (``FREQ=SECONDLY``, a ``FREQ=MINUTELY`` DTSTART from 1900) or put more than
  :data:`MAX_OCCURRENCES` occurrences into it is refused, naming the rule;
- an ``INTERVAL`` below 1 is refused (dateutil would loop forever).

VTIMEZONE rules are checked in the text, before icalendar reads it: icalendar turns each
VTIMEZONE into a zone as it reads it, and keeps it for the rest of the process.
Counts are estimates from above (a month counts as 28 days), cheap to compute.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from . import ical
from .document import DAYS
from .errors import CalendarError

MAX_STEPS = 1_000_000
MAX_OCCURRENCES = 20_000  # about 1.5 s of expansion
MAX_NEVER = 5
# Events, RDATE dates and FREEBUSY periods in one member's calendars: about 7 s to read.
MAX_ENTRIES = 10_000
# Content lines (unfolded) of one member's calendars: about 8 s to read, whatever they say.
MAX_LINES = 100_000
_EVENT = re.compile(r"^BEGIN:VEVENT\r?$", re.IGNORECASE | re.MULTILINE)
_LISTS = re.compile(r"^(?:RDATE|FREEBUSY)[;:][^\r\n]*", re.IGNORECASE | re.MULTILINE)
# An occurrence in a zone icalendar built from a VTIMEZONE costs about ten in an IANA zone:
# dateutil looks its offset up by walking the zone's transitions from their DTSTART.
CUSTOM_ZONE_COST = 10
_FIRST_DAY = datetime(1, 1, 2, tzinfo=UTC)
# dateutil zones built from a VTIMEZONE know no transitions after 2038 (icalendar).
_ZONE_RULES_END = datetime(2039, 1, 1, tzinfo=UTC)
# Shortest length of one period, in seconds, so that period counts are upper bounds.
PERIOD = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 604800,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
# Time parts finer than each frequency: they multiply the occurrences of one period.
_FINER = {
    "SECONDLY": (),
    "MINUTELY": ("BYSECOND",),
    "HOURLY": ("BYMINUTE", "BYSECOND"),
    "DAILY": ("BYHOUR", "BYMINUTE", "BYSECOND"),
}
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
# Parts that choose days: with any of them a rule may match rarely, or never.
DAY_PARTS = ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYSETPOS")
# The Gregorian calendar repeats every 400 years (weekdays and leap days alike), so a day
# pattern that occurs at all occurs within 400 years. Probes run there: dateutil stops at
# the year 9999, so a probe of a rule that never occurs ends after at most 800 years.
_CYCLE = 400
_PROBE_YEARS = (9999 - 2 * _CYCLE, 9999 - _CYCLE)


@dataclass
class Budget:
    """What the calendars read so far cost (one member's share one budget)."""

    steps: int = 0
    occurrences: int = 0
    never: int = 0
    entries: int = 0
    lines: int = 0


def limit_entries(text: str, budget: Budget) -> None:
    """Refuse (before icalendar reads ``text``, unfolded) more than :data:`MAX_LINES`
    content lines or :data:`MAX_ENTRIES` events, RDATE dates and FREEBUSY periods in all:
    each costs parsing time whether or not it falls in the horizon, and no recurrence rule
    counts them."""
    budget.lines += text.count("\n") + 1
    if budget.lines > MAX_LINES:
        raise CalendarError(
            f"more than {MAX_LINES:,} lines in all; share a calendar of "
            "fewer events (e.g. only the coming months)"
        )
    budget.entries += len(_EVENT.findall(text)) + sum(
        line.count(",") + 1 for line in _LISTS.findall(text)
    )
    if budget.entries > MAX_ENTRIES:
        raise CalendarError(
            f"more than {MAX_ENTRIES:,} events, RDATE dates and FREEBUSY "
            "periods in all; share a calendar of fewer (e.g. only the "
            "coming months)"
        )


def limit_timezones(text: str, end: datetime, budget: Budget) -> None:
    """Refuse (before icalendar reads ``text``) VTIMEZONE rules that never occur or walk
    too far; icalendar's zones walk their rules from DTSTART to the date asked about."""
    last = max(end, _ZONE_RULES_END)
    for zone, first_text, rule_text in _timezone_rules(text):
        try:
            first = ical.read_value(first_text)
            rule = ical.read_rule(rule_text)
        except (ValueError, TypeError):
            continue  # icalendar reports it when it reads the calendar
        what = f"VTIMEZONE {zone!r}"
        if _never(what, rule, first, last, last, budget, timedelta(0), 1):
            raise CalendarError(
                "{what} has an RRULE that never occurs", what=what, line=f"RRULE:{rule_text}"
            )


def limit_events(calendar: ical.Calendar, start: datetime, end: datetime, budget: Budget) -> None:
    """Check every event rule of ``calendar`` against the window ``[start, end)`` (aware),
    dropping the rules that never occur."""
    for event in calendar.walk("VEVENT"):
        if "RRULE" not in event or "DTSTART" not in event:
            continue
        rules = ical.rules(event)
        what = f"VEVENT {ical.text(event, 'UID')!r}"
        first = ical.value(event, "DTSTART")
        # Occurrences that started before the window but last into it count too.
        length = _length(event, first)
        zone = first.tzinfo if isinstance(first, datetime) else None
        cost = 1 if zone in (None, UTC) or isinstance(zone, ZoneInfo) else CUSTOM_ZONE_COST
        kept = [r for r in rules if not _never(what, r, first, start, end, budget, length, cost)]
        if len(kept) != len(rules):
            ical.set_rules(event, kept)


def _timezone_rules(text: str) -> list[tuple[str, str, str]]:
    """(TZID, DTSTART, RRULE) texts of every STANDARD and DAYLIGHT rule of every VTIMEZONE
    (``text`` is unfolded)."""
    out: list[tuple[str, str, str]] = []
    zone: str | None = None
    first = ""
    rules: list[str] = []
    for raw in text.splitlines():
        head, _, value = raw.partition(":")
        key, value = head.split(";")[0].strip().upper(), value.strip()
        if key == "BEGIN" and value.upper() == "VTIMEZONE":
            zone = ""
        elif zone is None:
            continue
        elif key == "END" and value.upper() == "VTIMEZONE":
            zone = None
        elif key == "TZID":
            zone = value
        elif key == "BEGIN":
            first, rules = "", []
        elif key == "DTSTART":
            first = value
        elif key == "RRULE":
            rules.append(value)
        elif key == "END" and first:
            out += [(zone, first, rule) for rule in rules]
    return out


def _length(event: ical.Component, first: object) -> timedelta:
    try:
        if "DTEND" in event:
            return max(_instant(ical.value(event, "DTEND")) - _instant(first), timedelta(0))
        length = ical.value(event, "DURATION") if "DURATION" in event else None
        if isinstance(length, timedelta):
            return max(length, timedelta(0))
    except (CalendarError, AttributeError, TypeError):
        pass  # read (and refused, if need be) by the expansion
    return timedelta(days=1)


def _never(
    what: str,
    rule: ical.Recur,
    first: object,
    start: datetime,
    end: datetime,
    budget: Budget,
    length: timedelta,
    cost: int,
) -> bool:
    """Whether ``rule`` never occurs; adds what it costs to ``budget`` (raising if over)."""
    freq = str(_one(rule, "FREQ", "")).upper()
    line = "RRULE:" + ical.rule_text(rule)
    if not freq:
        raise CalendarError("{what} has a bad RRULE: no FREQ", what=what, line=line)
    if freq not in PERIOD or not isinstance(first, date):
        return False  # the expansion refuses it, naming the rule
    interval = _one(rule, "INTERVAL", 1)
    if not isinstance(interval, int) or interval < 1:
        raise CalendarError(
            "{what} has a bad RRULE: INTERVAL must be at least 1", what=what, line=line
        )
    step = PERIOD[freq] * interval
    begin = _instant(first)
    until = _one(rule, "UNTIL", None)
    last = min(end, _instant(until)) if until is not None else end
    per_period = math.prod(len(rule.get(p, [])) or 1 for p in _FINER.get(freq, _TIME_PARTS))
    steps = _periods(begin, last, step) * per_period
    reach = start - length if length < start - _FIRST_DAY else _FIRST_DAY
    inside = (
        _periods(max(begin, reach), last, step) * per_period * _days(rule, freq) * cost
        if last >= reach
        else 0
    )
    count = _one(rule, "COUNT", None)
    if isinstance(count, int) and not any(p in rule for p in (*DAY_PARTS, *_TIME_PARTS)):
        steps, inside = min(steps, count), min(inside, count)  # every period occurs
    budget.steps += steps
    budget.occurrences += inside
    never = False
    if any(p in rule for p in DAY_PARTS):
        gap = _first_after(rule, freq, first, end)
        never = gap is None or (freq in _FINER and _weekday_locked(rule, first, step))
        if never:
            budget.never += 1
        elif gap is not None:  # dateutil walks on past the window to the next occurrence
            budget.steps += int(gap // step) * per_period
    if budget.never > MAX_NEVER:
        raise CalendarError(
            "more than {limit} recurrence rules never occur (the last in {what})",
            limit=MAX_NEVER,
            what=what,
            line=line,
        )
    if budget.steps > MAX_STEPS:
        # Limits and dates are the service's, not the calendar's: put in before the
        # template is filled ({{what}} stays a field).
        raise CalendarError(
            f"{{what}}: RRULE repeats too often: the calendar's rules repeat "
            f"more than {MAX_STEPS:,} times from their start to "
            f"{end:%Y-%m-%d}",
            what=what,
            line=line,
        )
    if budget.occurrences > MAX_OCCURRENCES:
        raise CalendarError(
            f"{{what}}: RRULE repeats too often: the calendar has more than "
            f"{MAX_OCCURRENCES:,} occurrences before {end:%Y-%m-%d}",
            what=what,
            line=line,
        )
    return never


def _first_after(rule: ical.Recur, freq: str, first: date, after: datetime) -> float | None:
    """Seconds from ``after`` to the next day the rule's day pattern allows (INTERVAL,
    COUNT and UNTIL aside, so a lower bound), or None if it allows none, ever.

    Probed with dateutil itself, 400·k years later, where the year 9999 bounds the walk.
    """
    local = first if isinstance(first, datetime) else datetime.combine(first, time())
    parts = _probe_parts(rule, freq, local)
    if parts is None:
        return 0.0  # cannot tell: assume it occurs soon
    year = after.year + (_PROBE_YEARS[1] - after.year) // _CYCLE * _CYCLE
    probe_start = datetime.combine(
        after.date().replace(year=year), local.time().replace(tzinfo=None)
    )
    return _probe(ical.recur_text(parts), probe_start)


@lru_cache(maxsize=4096)
def _probe(text: str, probe_start: datetime) -> float | None:
    try:
        found = next(iter(rrulestr(text, dtstart=probe_start)), None)
    except (ValueError, TypeError, OverflowError):
        return 0.0  # dateutil refuses the rule; so will the expansion, naming it
    return None if found is None else (found - probe_start).total_seconds()


def _probe_parts(rule: ical.Recur, freq: str, local: datetime) -> dict[str, list[object]] | None:
    """The rule's day-choosing parts as a rule dateutil reads the same way from any start:
    monthly and yearly rules keep their frequency; finer ones become yearly (their day
    parts only filter days, which a yearly rule with the same parts lists)."""
    if any(
        k not in (*DAY_PARTS, *_TIME_PARTS, "FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST")
        for k in rule
    ):
        return None  # an extension (BYEASTER, X-...): do not guess
    parts = {k: list(v) for k, v in rule.items() if k in DAY_PARTS or k == "WKST"}
    chosen = any(k in parts for k in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"))
    if freq in ("MONTHLY", "YEARLY"):
        parts.update({k: list(v) for k, v in rule.items() if k in _TIME_PARTS})
        if not chosen:  # what dateutil would take from DTSTART
            parts["BYMONTHDAY"] = [local.day]
            if freq == "YEARLY":
                parts.setdefault("BYMONTH", [local.month])
    else:
        if "BYSETPOS" in parts and min(abs(p) for p in parts.pop("BYSETPOS")) > _set_size(
            rule, freq
        ):
            return {"FREQ": ["YEARLY"], "BYMONTH": [2], "BYMONTHDAY": [30]}  # never
        if "BYDAY" in parts:  # ordinals mean nothing below monthly
            parts["BYDAY"] = sorted({str(d)[-2:].upper() for d in parts["BYDAY"]})
        elif freq == "WEEKLY":
            parts["BYDAY"] = [DAYS[local.weekday()]]
        elif not chosen:
            parts["BYDAY"] = list(DAYS)
        freq = "YEARLY"
    ordinal = any(str(d)[:-2] for d in parts.get("BYDAY", []))
    if freq == "YEARLY" and "BYMONTHDAY" in parts and "BYMONTH" not in parts and not ordinal:
        # Every month, whether or not this dateutil takes the month from DTSTART.
        parts["BYMONTH"] = list(range(1, 13))
    return {"FREQ": [freq], **parts}


def _set_size(rule: ical.Recur, freq: str) -> int:
    """Most occurrences one period of a rule finer than monthly can hold (for BYSETPOS)."""
    size = math.prod(len(rule.get(p, [])) or 1 for p in _FINER.get(freq, _TIME_PARTS))
    return size * (len(rule.get("BYDAY", [])) or 1 if freq == "WEEKLY" else 1)


def _weekday_locked(rule: ical.Recur, first: date, step: int) -> bool:
    """A daily or finer rule stepping whole weeks stays on DTSTART's weekday; it never
    occurs if BYDAY leaves that weekday out."""
    days = {str(d)[-2:].upper() for d in rule.get("BYDAY", [])}
    return bool(days) and step % PERIOD["WEEKLY"] == 0 and DAYS[first.weekday()] not in days


def _days(rule: ical.Recur, freq: str) -> int:
    """Most days one period can hold (an upper bound; 1 at daily and finer)."""
    days = len(rule.get("BYDAY", []))
    if freq == "WEEKLY":
        return days or 1
    if freq == "MONTHLY":
        return max(len(rule.get("BYMONTHDAY", [])) + 5 * days, 1)
    if freq == "YEARLY":
        month = max(len(rule.get("BYMONTHDAY", [])) + 5 * days, 1)
        return max(
            len(rule.get("BYYEARDAY", []))
            + 7 * len(rule.get("BYWEEKNO", []))
            + (len(rule.get("BYMONTH", [])) or 12) * month,
            1,
        )
    return 1


def _periods(begin: datetime, last: datetime, step: int) -> int:
    return max(0, int((last - begin).total_seconds() // step)) + 1


def _one(rule: ical.Recur, key: str, default: object) -> object:
    values = rule.get(key)
    return values[0] if values else default


def _instant(value: object) -> datetime:
    """Comparable UTC form of a DTSTART or UNTIL (floating times and dates read as UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    raise CalendarError("not a date or date-time: {value!r}", value=value)
