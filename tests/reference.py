"""Brute-force references for the tests: plain datetime + zoneinfo loops, no numpy.

They restate SPEC 2 slot by slot, as slowly and plainly as possible, so the vectorised
code has something independent to be compared with.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def wall(d, minutes: int, zone: ZoneInfo) -> datetime:
    """Local date + minutes after midnight (1440 allowed) -> UTC, fold=0."""
    naive = datetime.combine(d, time()) + timedelta(minutes=minutes)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def instant(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone).astimezone(UTC)
    return moment.astimezone(UTC)


def reference_slots(doc) -> list[datetime]:
    p = doc.program
    zone = ZoneInfo(p.timezone)
    t = datetime.combine(p.start, time()).replace(tzinfo=zone).astimezone(UTC)
    end = datetime.combine(p.end, time()).replace(tzinfo=zone).astimezone(UTC)
    out = []
    while t + timedelta(minutes=p.granularity_minutes) <= end:
        out.append(t)
        t += timedelta(minutes=p.granularity_minutes)
    return out


def inside_union(s: datetime, e: datetime, intervals: list[tuple[datetime, datetime]]) -> bool:
    """True if [s, e) lies inside the union of the intervals."""
    t = s
    changed = True
    while changed and t < e:
        changed = False
        for a, b in intervals:
            if a <= t < b:
                t = b
                changed = True
    return t >= e


def reference_availability(doc, busy=None) -> dict[str, list[bool]]:
    """SPEC 2, one slot and one member at a time."""
    p = doc.program
    pzone = ZoneInfo(p.timezone)
    slots = reference_slots(doc)
    g = timedelta(minutes=p.granularity_minutes)
    now = instant(p.now, pzone) if p.now else None
    booked = {}
    for b in doc.bookings:
        for m in b.members or doc.match(b.match).members:
            booked.setdefault(m, []).append((instant(b.start, pzone), instant(b.end, pzone)))
    result = {}
    for m in doc.members:
        zone = ZoneInfo(m.timezone or p.timezone)
        windows = m.weekly or p.working_hours
        opens = []
        if slots:
            d = slots[0].astimezone(zone).date() - timedelta(days=1)
            last = (slots[-1] + g).astimezone(zone).date() + timedelta(days=1)
            while d <= last:
                for w in windows:
                    if CODES[d.weekday()] in w.days:
                        opens.append((wall(d, w.start, zone), wall(d, w.end, zone)))
                d += timedelta(days=1)
        opens += [(instant(iv.start, zone), instant(iv.end, zone)) for iv in m.available]
        closed = [(instant(iv.start, zone), instant(iv.end, zone)) for iv in m.unavailable]
        closed += list((busy or {}).get(m.id, [])) + booked.get(m.id, [])
        col = []
        for s in slots:
            e = s + g
            if now is not None and s < now:
                col.append(False)
                continue
            blocked = any(a < e and s < b for a, b in closed)
            col.append(not blocked and inside_union(s, e, opens))
        result[m.id] = col
    return result
