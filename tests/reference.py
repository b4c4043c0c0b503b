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


def nth_weekday(year: int, month: int, weekday: int, n: int):
    """The n-th (1-4) or last (n = -1) given weekday of a month."""
    import calendar
    from datetime import date

    if n == -1:
        last = date(year, month, calendar.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def reference_occurrence_naives(local_first: datetime, frequency: str, n: int) -> list:
    """Wall-clock (naive) starts of a series, by calendar arithmetic."""
    naive = local_first.replace(tzinfo=None, fold=0)  # wall-clock text, as a DTSTART reads
    if frequency in ("once", "weekly", "biweekly"):
        step = 14 if frequency == "biweekly" else 7
        return [naive + timedelta(days=step * j) for j in range(n)]
    nth = (naive.day - 1) // 7 + 1
    nth = -1 if nth == 5 else nth
    out = []
    for j in range(n):
        y, m = divmod(naive.month - 1 + j, 12)
        d = nth_weekday(naive.year + y, m + 1, naive.weekday(), nth)
        out.append(datetime.combine(d, naive.time()))
    return out


def reference_period_end(earliest: datetime, zone: ZoneInfo, frequency: str) -> datetime:
    import calendar

    local = earliest.astimezone(zone).replace(tzinfo=None)
    if frequency == "monthly":
        y, m = divmod(local.month, 12)
        y, m = local.year + y, m + 1
        day = min(local.day, calendar.monthrange(y, m)[1])
        end = local.replace(year=y, month=m, day=day)
    else:
        end = local + timedelta(days=14 if frequency == "biweekly" else 7)
    return end.replace(tzinfo=zone).astimezone(UTC)


def reference_candidates(doc, match_id: str, avail: dict[str, list[bool]]):
    """Every candidate of one match with its score, by brute force (SPEC 4-5).

    Returns a list of (first slot, held, attendance, preferred) in no particular order.
    """
    p = doc.program
    match = doc.match(match_id)
    slots = reference_slots(doc)
    index = {s: i for i, s in enumerate(slots)}
    g = p.granularity_minutes
    k = match.duration_minutes // g
    zone = (
        ZoneInfo(doc.member(match.organizer).timezone or p.timezone)
        if match.organizer
        else ZoneInfo(p.timezone)
    )
    pzone = ZoneInfo(p.timezone)
    earliest = slots[0] if slots else None
    if earliest is None:
        return []
    if p.now is not None:
        earliest = max(earliest, instant(p.now, pzone))
    if match.earliest_start is not None:
        earliest = max(earliest, instant(match.earliest_start, zone))
    end = reference_period_end(earliest, zone, match.frequency)
    if match.required is not None:
        required = list(match.required)
    elif len(match.members) == 2:
        required = list(match.members)
    else:
        required = [match.organizer] if match.organizer else []
    quorum = 0 if required else 2
    out = []
    for i, s in enumerate(slots):
        if not earliest <= s < end:
            continue
        occ = []
        for naive in reference_occurrence_naives(
            s.astimezone(zone), match.frequency, match.sessions
        ):
            t = naive.replace(tzinfo=zone).astimezone(UTC)
            if t not in index or index[t] + k > len(slots):
                occ = None
                break
            occ.append(index[t])
        # The first occurrence is the first slot's wall-clock time read back (fold=0): the
        # second pass of a fall-back hour cannot start a series.
        if occ is None or occ[0] != i:
            continue
        held = attendance = preferred = 0
        for o in occ:
            who = [m for m in match.members if all(avail[m][o + d] for d in range(k))]
            holds = all(r in who for r in required) and len(who) >= quorum
            if not holds:
                continue
            held += 1
            attendance += len(who)
            pref = match.preferred
            if pref is not None:
                local = slots[o].astimezone(zone)
                minute = local.hour * 60 + local.minute
                preferred += (
                    (pref.days is None or CODES[local.weekday()] in pref.days)
                    and (pref.start is None or minute >= pref.start)
                    and (pref.end is None or minute + k * g <= pref.end)
                )
        out.append((i, held, attendance, preferred))
    return out


def reference_best(doc, match_id: str, avail: dict[str, list[bool]]):
    """SPEC 5's best candidate of one match: (first slot, held, attendance, preferred)."""
    cands = [c for c in reference_candidates(doc, match_id, avail) if c[1] > 0]
    if not cands:
        return None
    return max(cands, key=lambda c: (c[1], c[2], c[3], -c[0]))
