"""Writing booked series into members' CalDAV calendars (RFC 4791): the check of a
collection when a member connects it, and the writes the background sender makes.

Each series is one calendar object resource, ``{collection}{uid}.ics``: the invite's
VEVENTs (same UID and SEQUENCE) without a METHOD line. A new one is written with
``If-None-Match: *``, an update and a removal with ``If-Match`` and the ETag of our last
write. A 412 means the member edited the event in their calendar: their copy is read,
slotwise's scheduling properties are put over it (their alarms and whatever else slotwise
does not own stay) and written with their ETag. Every request goes through the same
address guard, pinning and deadline as a calendar URL fetch (``ingest.fetch.exchange``),
from the sender's thread: never in a request, never inside a program's lock.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit
from xml.sax.saxutils import escape

from icalendar import Calendar, Component
from sqlalchemy import Engine, and_, select, update

from ingest.errors import CalendarError
from ingest.fetch import Answer, exchange, exchange_async

from .config import Settings
from .errors import Invalid
from .invites import series_calendar
from .netguard import guard_for
from .notify import invite_series
from .store import PENDING, caldav_links, caldav_writes, now_epoch, series
from .writeback import GONE, OK, UNAUTHORISED

log = logging.getLogger("slotwise.caldav")

STALE_CLAIM_SECONDS = 600
MAX_BACKOFF_SECONDS = 6 * 3600
MAX_ANSWER_BYTES = 5_000_000
WRITES_PER_ROUND = 100
DAV, CALDAV = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}"
PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>'
    b"<d:resourcetype/><c:supported-calendar-component-set/><d:displayname/>"
    b"<d:current-user-principal/><c:calendar-home-set/></d:prop></d:propfind>"
)
XML = "application/xml; charset=utf-8"
ICS = "text/calendar; charset=utf-8"
# What slotwise owns in an event it wrote: on a conflict these come from slotwise, the
# rest (the member's alarms, categories, X- properties...) from the member's copy.
OWNED = frozenset(
    {
        "UID",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "EXRULE",
        "RECURRENCE-ID",
        "SEQUENCE",
        "SUMMARY",
        "LOCATION",
        "DESCRIPTION",
        "ATTENDEE",
        "ORGANIZER",
        "STATUS",
        "URL",
        "COMMENT",
        "CONFERENCE",
        "CREATED",
        "LAST-MODIFIED",
    }
)


# --- connecting: is it a calendar collection that takes events? ------------------------


async def probe(settings: Settings, url: str, user: str, password: str) -> str:
    """Check, before a connection is stored, that ``url`` is a calendar collection these
    credentials may open and that it takes VEVENTs (PROPFIND, Depth 0); Invalid naming the
    field otherwise. Runs on the event loop (the request waits on no worker thread).

    The collection's URL, which is ``url`` itself, or, when ``url`` is the account (the
    server's address, the user's principal or calendar home: what most people know), the
    one calendar of the account that takes events, found as a calendar app finds it
    (RFC 4791 6.2.1: ``current-user-principal``, ``calendar-home-set``, the calendars in
    it), always on the same server. Several such calendars: Invalid listing them."""
    answer = await _propfind(settings, url, user, password, "0")
    found = _responses(answer.body, url)
    _, kinds, components, _, pointers = found[0] if found else (url, set(), set(), "", {})
    if f"{CALDAV}calendar" not in kinds:
        return await _discover(settings, url, user, password, pointers)
    if components and "VEVENT" not in components:
        raise Invalid(
            f"url: this calendar does not take events (it takes {', '.join(sorted(components))})",
            field="url",
        )
    return url


async def _propfind(settings: Settings, url: str, user: str, password: str, depth: str) -> Answer:
    """A PROPFIND of what connecting needs, its failures as Invalid naming the field."""
    try:
        answer = await exchange_async(
            "PROPFIND",
            url,
            headers={"Depth": depth, "Content-Type": XML, "Accept": "application/xml"},
            content=PROPFIND,
            auth=(user, password),
            timeout=settings.writeback_timeout,
            max_bytes=1_000_000,
            guard=guard_for(settings),
        )
    except CalendarError as exc:
        raise Invalid(f"url: {exc}", field="url") from None
    status = answer.status
    if status in (401, 403):
        raise Invalid(
            f"password: the server refused this user name and password (HTTP {status})",
            field="password",
        )
    if status in (404, 410):
        raise Invalid(f"url: no calendar at this address (HTTP {status})", field="url")
    if status != 207:
        raise Invalid(
            f"url: not a CalDAV calendar collection (PROPFIND answered HTTP {status})",
            field="url",
        )
    return answer


async def _discover(
    settings: Settings, url: str, user: str, password: str, pointers: dict[str, str]
) -> str:
    """The one calendar taking events that the account at ``url`` has (see :func:`probe`);
    ``pointers``: what ``url`` answered of the principal and the calendar home."""
    home = pointers.get("home")
    if home is None and "principal" in pointers:
        answer = await _propfind(settings, pointers["principal"], user, password, "0")
        found = _responses(answer.body, pointers["principal"])
        home = found[0][4].get("home") if found else None
    if home is None:
        raise Invalid(
            "url: not a calendar collection, and the server names no calendars for this "
            "account (give the calendar's own URL)",
            field="url",
        )
    answer = await _propfind(settings, home, user, password, "1")
    calendars = [
        (href, name)
        for href, kinds, components, name, _ in _responses(answer.body, home)
        if f"{CALDAV}calendar" in kinds and (not components or "VEVENT" in components)
    ]
    if len(calendars) == 1:
        href = calendars[0][0]
        return href if href.endswith("/") else f"{href}/"  # a collection, as stored
    if not calendars:
        raise Invalid(
            "url: this account has no calendar that takes events (make one in your "
            "calendar app, or give the calendar's own URL)",
            field="url",
        )
    listed = "; ".join(f"{name or 'unnamed'}: {href}" for href, name in calendars[:10])
    raise Invalid(
        f"url: this account has {len(calendars)} calendars that take events; give the "
        f"address of the one to write into ({listed})",
        field="url",
    )


def _responses(body: bytes, base: str) -> list[tuple[str, set[str], set[str], str, dict[str, str]]]:
    """Per resource a PROPFIND answered (the asked one first): its URL, resource types,
    supported components (empty: any), display name, and where its principal and
    calendar home are (``principal``, ``home``). Every URL is made absolute against
    ``base``, and one on another server is left out: the member's password goes with
    each request."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise Invalid("url: the server's PROPFIND answer is not XML", field="url") from None
    out = []
    for response in root.iter(f"{DAV}response"):
        href = _same_server(base, (response.findtext(f"{DAV}href") or "").strip())
        if href is None:
            continue
        kinds: set[str] = set()
        components: set[str] = set()
        name = ""
        pointers: dict[str, str] = {}
        for propstat in response.iter(f"{DAV}propstat"):
            status = propstat.findtext(f"{DAV}status") or ""
            if " 200 " not in f"{status} ":
                continue
            for kind in propstat.iter(f"{DAV}resourcetype"):
                kinds.update(child.tag for child in kind)
            for comp in propstat.iter(f"{CALDAV}comp"):
                components.add((comp.get("name") or "").upper())
            name = name or (propstat.findtext(f".//{DAV}displayname") or "").strip()[:100]
            for key, tag in (
                ("principal", f"{DAV}current-user-principal"),
                ("home", f"{CALDAV}calendar-home-set"),
            ):
                found = propstat.find(f".//{tag}/{DAV}href")
                target = (
                    _same_server(base, (found.text or "").strip()) if found is not None else None
                )
                if target is not None:
                    pointers[key] = target
        out.append((href, kinds, components, name, pointers))
    return out


def _same_server(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base``, if on the same scheme, host and port."""
    if not href:
        return None
    target = urljoin(base, href)
    a, b = urlsplit(base), urlsplit(target)
    return target if (a.scheme, a.netloc) == (b.scheme, b.netloc) else None


# --- the writes ---------------------------------------------------------------------


class _Later(Exception):
    """The server did not take the write for now (down, timed out, 5xx): try again."""


class _Failed(Exception):
    """The server will not take this write (a 4xx other than the ones handled)."""


class _Stopped(Exception):
    """The calendar itself is gone or the credentials no longer work."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Target:
    """One member's collection and how to talk to it."""

    url: str
    auth: tuple[str, str]
    settings: Settings

    def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None = None
    ) -> Answer:
        try:
            return exchange(
                method,
                url,
                headers=headers,
                content=content,
                auth=self.auth,
                timeout=self.settings.writeback_timeout,
                max_bytes=MAX_ANSWER_BYTES,
                guard=guard_for(self.settings),
            )
        except CalendarError as exc:
            raise _Later(str(exc)) from None

    def judge(self, answer: Answer, what: str) -> Exception:
        """What a status no step handled means for the write."""
        status = answer.status
        if status in (401, 403):
            return _Stopped(
                UNAUTHORISED,
                f"HTTP {status} to {what}: the server refused the user name and password "
                "(was the app password revoked?)",
            )
        if status in (404, 409, 410) and self.collection_gone():
            return _Stopped(GONE, f"the calendar is gone (HTTP {status} to {what})")
        if status >= 500 or status in (408, 423, 429):
            return _Later(f"HTTP {status} to {what}")
        return _Failed(f"HTTP {status} to {what}")

    def collection_gone(self) -> bool:
        answer = self.send("PROPFIND", self.url, {"Depth": "0", "Content-Type": XML}, PROPFIND)
        if answer.status in (401, 403):
            raise self.judge(answer, "the calendar")
        return answer.status in (404, 410)


@dataclass(frozen=True)
class _Written:
    href: str | None
    etag: str | None
    removed: bool = False
    sent: bool = True  # False: nothing needed writing (never written, or deleted there)


def flush(
    engine: Engine,
    settings: Settings,
    stop: threading.Event | None = None,
    most: int = WRITES_PER_ROUND,
) -> int:
    """One round of CalDAV writes (at most ``most``): every (member, series) owed a write
    whose connection works and whose backoff is over. Returns how many were written. A
    server that did not answer is not asked again this round."""
    now = now_epoch()
    owed = (
        (caldav_writes.c.wanted > caldav_writes.c.done)
        & (caldav_writes.c.attempts < settings.writeback_attempts)
        & (caldav_writes.c.due_at.is_(None) | (caldav_writes.c.due_at <= now))
        & (
            caldav_writes.c.claim.is_(None)
            | (caldav_writes.c.claimed_at < now - STALE_CLAIM_SECONDS)
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(caldav_writes.c.program_id, caldav_writes.c.member_id, caldav_writes.c.series_id)
            .join(
                caldav_links,
                and_(
                    caldav_links.c.program_id == caldav_writes.c.program_id,
                    caldav_links.c.member_id == caldav_writes.c.member_id,
                ),
            )
            .where(owed & (caldav_links.c.status == OK))
            .limit(most)
        ).all()
    down: set[tuple[str, str]] = set()
    written = 0
    for pid, mid, sid in rows:
        if stop is not None and stop.is_set():
            break
        if (pid, mid) in down:
            continue
        try:
            written += _write(engine, settings, pid, mid, sid)
        except _Later:
            down.add((pid, mid))
    return written


def next_due(engine: Engine) -> int | None:
    """When (epoch seconds) the next write waiting out its backoff becomes due."""
    with engine.connect() as conn:
        due: int | None = conn.execute(
            select(caldav_writes.c.due_at)
            .where(
                (caldav_writes.c.wanted > caldav_writes.c.done)
                & (caldav_writes.c.due_at > now_epoch())
            )
            .order_by(caldav_writes.c.due_at)
            .limit(1)
        ).scalar()
    return due


def _write(engine: Engine, settings: Settings, pid: str, mid: str, sid: str) -> int:
    """Write one (member, series) as it is now; 1 when a write (or removal) landed."""
    key = (
        (caldav_writes.c.program_id == pid)
        & (caldav_writes.c.member_id == mid)
        & (caldav_writes.c.series_id == sid)
    )
    claim, now = secrets.token_hex(8), now_epoch()
    free = caldav_writes.c.claim.is_(None) | (
        caldav_writes.c.claimed_at < now - STALE_CLAIM_SECONDS
    )
    with engine.begin() as conn:
        took = conn.execute(
            update(caldav_writes).where(key & free).values(claim=claim, claimed_at=now)
        ).rowcount
    if not took:
        return 0
    mine = key & (caldav_writes.c.claim == claim)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(caldav_writes).where(mine)).one_or_none()
            if row is None:  # reconnected (or disconnected) since the claim: not ours now
                return 0
            link = conn.execute(
                select(caldav_links).where(
                    (caldav_links.c.program_id == pid) & (caldav_links.c.member_id == mid)
                )
            ).one_or_none()
            ics, wait = _desired(conn, settings, pid, mid, sid)
        if link is None or link.status != OK:
            _settle(engine, mine, {})
            return 0
        if wait is not None:
            _settle(engine, mine, {"due_at": wait})
            return 0
        target = _Target(link.url, (link.username, link.password), settings)
        result = _remove(target, row) if ics is None else _put(target, row, ics, mid)
    except _Later as exc:
        _retry(engine, settings, mine, pid, mid, str(exc))
        log.warning("CalDAV write of %s for %s failed, will retry: %s", sid, mid, exc)
        raise
    except _Failed as exc:
        _give_up(engine, settings, mine, pid, mid, str(exc))
        log.warning("CalDAV write of %s for %s refused: %s", sid, mid, exc)
        return 0
    except _Stopped as exc:
        _stop(engine, mine, pid, mid, exc.status, str(exc))
        log.warning("CalDAV calendar of %s is %s: %s", mid, exc.status, exc)
        return 0
    except Exception as exc:  # a series this code cannot write: that write alone fails
        log.exception("CalDAV write of %s for %s failed", sid, mid)
        _give_up(engine, settings, mine, pid, mid, f"internal error: {type(exc).__name__}")
        return 0
    _done(engine, mine, pid, mid, row.wanted, result, keep=ics is not None)
    return int(result.sent)


def _desired(
    conn: Any, settings: Settings, pid: str, mid: str, sid: str
) -> tuple[bytes | None, int | None]:
    """(the resource the member's calendar should hold now, or None: none; when to look
    again instead, while a new booking can still be undone)."""
    row = conn.execute(
        select(series.c.members, series.c.status, series.c.undo_until).where(series.c.id == sid)
    ).one_or_none()
    if row is None or mid not in _members(row.members):
        return None, None
    now = now_epoch()
    if row.status == PENDING:  # a plan still being applied: its last step marks it again
        return None, now + 60
    if row.undo_until is not None and row.undo_until > now:
        return None, int(row.undo_until)
    inv = invite_series(conn, pid, sid, sender=settings.sender)
    if inv.status == "cancelled":
        return None, None
    return _resource(series_calendar(inv, None, datetime.now(UTC))), None


def _members(stored: str) -> list[str]:
    found = json.loads(stored)
    return [str(m) for m in found] if isinstance(found, list) else []


def _resource(ics: bytes) -> bytes:
    """The invite's calendar as a resource on the member's server: ORGANIZER and ATTENDEE
    marked ``SCHEDULE-AGENT=CLIENT`` (RFC 6638), so a server that schedules does not mail
    the attendees a second invitation: slotwise already did."""
    cal = Calendar.from_ical(ics)
    for event in cal.walk("VEVENT"):
        for name in ("ORGANIZER", "ATTENDEE"):
            value = event.get(name)
            for prop in value if isinstance(value, list) else [value] if value else []:
                prop.params["SCHEDULE-AGENT"] = "CLIENT"
    return bytes(cal.to_ical())


def _href(target: _Target, row: Any) -> str:
    return str(row.href or f"{target.url}{quote(row.uid, safe='')}.ics")


def _inside(collection: str, href: str) -> bool:
    """Whether ``href`` is a resource of ``collection``: same scheme, host and port, under
    its path. The member's credentials go with every request, so only there."""
    a, b = urlsplit(collection), urlsplit(href)
    return (
        (a.scheme, a.netloc) == (b.scheme, b.netloc)
        and b.path.startswith(a.path)
        and b.path.rstrip("/") != a.path.rstrip("/")
        and "/../" not in f"{b.path}/"
    )


def _put(target: _Target, row: Any, ics: bytes, mid: str) -> _Written:
    if row.removed:
        return _Written(row.href, row.etag, removed=True, sent=False)  # they deleted it
    href = _href(target, row)
    known = bool(row.href and row.etag)
    condition = {"If-Match": row.etag} if known else {"If-None-Match": "*"}
    answer = target.send("PUT", href, {"Content-Type": ICS, **condition}, ics)
    if answer.is_ok:
        return _Written(href, _etag(target, href, answer))
    if answer.status == 404 and known and not target.collection_gone():
        return _Written(href, None, removed=True)
    if answer.status == 409 and not known and b"no-uid-conflict" in answer.body:
        # The calendar holds the series already, elsewhere: the member's calendar app
        # took the invite mail into it. That copy is the one to keep up to date.
        found = _find_uid(target, row.uid)
        if found is None:
            raise target.judge(answer, "the event")
        href = found
    elif answer.status != 412:
        raise target.judge(answer, "the event")
    # Edited (or deleted) in the member's calendar since our last write, or there already.
    theirs = target.send("GET", href, {"Accept": "text/calendar"})
    if theirs.status in (404, 410):
        if known:
            log.info(
                "CalDAV event %s was deleted in %s's calendar: not written again", row.uid, mid
            )
            return _Written(href, None, removed=True)
        raise _Later("the event changed while it was being written")
    if theirs.status != 200:
        raise target.judge(theirs, "the event")
    etag = theirs.headers.get("etag")
    if not etag:
        raise _Failed("the server gives no ETag for the event")
    merged = merge(ics, theirs.body)
    again = target.send("PUT", href, {"Content-Type": ICS, "If-Match": etag}, merged)
    if again.status == 412:
        raise _Later("the event was edited again while it was being written")
    if not again.is_ok:
        raise target.judge(again, "the event")
    log.info(
        "CalDAV event %s in %s's calendar was edited there; slotwise's times written over it, "
        "the rest of their copy kept",
        row.uid,
        mid,
    )
    return _Written(href, _etag(target, href, again))


def _find_uid(target: _Target, uid: str) -> str | None:
    """The URL of the collection's event with this UID (REPORT calendar-query, RFC 4791
    7.8), or None."""
    query = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
        "<d:prop><d:getetag/></d:prop><c:filter>"
        '<c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
        '<c:prop-filter name="UID"><c:text-match collation="i;octet">'
        f"{escape(uid)}</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter>"
        "</c:filter></c:calendar-query>"
    )
    answer = target.send(
        "REPORT", target.url, {"Depth": "1", "Content-Type": XML}, query.encode("utf-8")
    )
    if answer.status != 207:
        return None
    try:
        root = ET.fromstring(answer.body)
    except ET.ParseError:
        return None
    for response in root.iter(f"{DAV}response"):
        href = response.findtext(f"{DAV}href")
        # An href elsewhere (another host, outside the collection) is not the member's
        # event, whatever the server says: their credentials are not sent there.
        if href and _inside(target.url, urljoin(target.url, href.strip())):
            return urljoin(target.url, href.strip())
    return None


def _remove(target: _Target, row: Any) -> _Written:
    if row.href is None or row.removed:
        return _Written(None, None, sent=False)  # never written, or deleted there already
    headers = {"If-Match": row.etag} if row.etag else {}
    answer = target.send("DELETE", row.href, headers)
    if answer.status == 412:  # edited there since: it goes all the same
        theirs = target.send("GET", row.href, {"Accept": "text/calendar"})
        if theirs.status == 200 and theirs.headers.get("etag"):
            answer = target.send("DELETE", row.href, {"If-Match": theirs.headers["etag"]})
        else:
            answer = theirs
        if answer.status == 412:
            raise _Later("the event was edited again while it was being removed")
    if answer.is_ok or answer.status in (404, 410):
        return _Written(None, None)
    raise target.judge(answer, "the event")


def _etag(target: _Target, href: str, answer: Answer) -> str | None:
    """The ETag of what we just wrote: from the answer, else read back (a server may
    change the resource as it stores it and then not send one, RFC 4791 5.3.4)."""
    etag = answer.headers.get("etag")
    if etag:
        return str(etag)
    back = target.send("GET", href, {"Accept": "text/calendar"})
    found = back.headers.get("etag") if back.status == 200 else None
    return str(found) if found else None


def merge(ours: bytes, theirs: bytes) -> bytes:
    """``ours`` with what the member's copy ``theirs`` holds that slotwise does not own:
    per VEVENT (matched by RECURRENCE-ID), their alarms (they replace ours: they may have
    removed ours) and their properties outside OWNED; their other components (not
    VEVENT, not VTIMEZONE) and calendar properties. Events they added for single
    occurrences are dropped: the schedule is slotwise's."""
    try:
        mine, copy = Calendar.from_ical(ours), Calendar.from_ical(theirs)
    except ValueError:
        return ours  # their copy is unreadable: ours replaces it
    their_events = {_occurrence(e): e for e in copy.subcomponents if e.name == "VEVENT"}
    for event in mine.subcomponents:
        if event.name != "VEVENT":
            continue
        found = their_events.get(_occurrence(event))
        if found is None:
            continue
        owned = OWNED | {name.upper() for name in event}
        for name in found:
            if name.upper() not in owned:
                event[name] = found[name]
        event.subcomponents = [c for c in event.subcomponents if c.name != "VALARM"] + list(
            found.subcomponents
        )
    for name in copy:
        if name.upper() not in {n.upper() for n in mine} and name.upper() != "METHOD":
            mine[name] = copy[name]
    for component in copy.subcomponents:
        if component.name not in ("VEVENT", "VTIMEZONE"):
            mine.add_component(component)
    return bytes(mine.to_ical())


def _occurrence(event: Component) -> str:
    """Which occurrence a VEVENT is: "" for the master, else its RECURRENCE-ID in UTC."""
    rid = event.get("RECURRENCE-ID")
    if rid is None:
        return ""
    when = rid.dt
    if isinstance(when, datetime) and when.tzinfo is not None:
        return when.astimezone(UTC).isoformat()
    return str(when.isoformat())


# --- recording what happened ----------------------------------------------------------


def _settle(engine: Engine, mine: Any, values: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(update(caldav_writes).where(mine).values(claim=None, **values))


def _done(
    engine: Engine, mine: Any, pid: str, mid: str, wanted: int, result: _Written, keep: bool
) -> None:
    """The write of ``wanted`` landed. A removal leaves nothing to track, unless the
    series changed again meanwhile."""
    link = (caldav_links.c.program_id == pid) & (caldav_links.c.member_id == mid)
    with engine.begin() as conn:
        ours = 0
        if not keep:
            ours = conn.execute(
                caldav_writes.delete().where(mine & (caldav_writes.c.wanted == wanted))
            ).rowcount
        ours += conn.execute(
            update(caldav_writes)
            .where(mine)
            .values(
                done=wanted,
                href=result.href,
                etag=result.etag,
                removed=int(result.removed),
                attempts=0,
                due_at=None,
                last_error=None,
                claim=None,
            )
        ).rowcount
        if result.sent and ours:  # else the member reconnected meanwhile: not the link's
            conn.execute(
                update(caldav_links).where(link).values(last_write_at=now_epoch(), last_error=None)
            )


def _retry(engine: Engine, settings: Settings, mine: Any, pid: str, mid: str, error: str) -> None:
    """Try again after the backoff (doubling), unless the attempts are used up."""
    with engine.begin() as conn:
        attempts = (conn.execute(select(caldav_writes.c.attempts).where(mine)).scalar() or 0) + 1
        wait = min(settings.writeback_backoff_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
        if attempts >= settings.writeback_attempts:
            error = f"gave up after {attempts} attempts: {error}"
        ours = conn.execute(
            update(caldav_writes)
            .where(mine)
            .values(
                claim=None,
                attempts=attempts,
                due_at=now_epoch() + int(wait),
                last_error=error[:500],
            )
        ).rowcount
        if ours:
            _link_error(conn, pid, mid, error)


def _give_up(engine: Engine, settings: Settings, mine: Any, pid: str, mid: str, error: str) -> None:
    with engine.begin() as conn:
        ours = conn.execute(
            update(caldav_writes)
            .where(mine)
            .values(claim=None, attempts=settings.writeback_attempts, last_error=error[:500])
        ).rowcount
        if ours:
            _link_error(conn, pid, mid, error)


def _stop(engine: Engine, mine: Any, pid: str, mid: str, status: str, error: str) -> None:
    """The calendar is gone or refuses us: no more writes until the member reconnects
    (the write stays owed, uncounted). Not when they reconnected while this write was
    under way: the old calendar's answer says nothing of the new one."""
    with engine.begin() as conn:
        if not conn.execute(update(caldav_writes).where(mine).values(claim=None)).rowcount:
            return
        conn.execute(
            update(caldav_links)
            .where((caldav_links.c.program_id == pid) & (caldav_links.c.member_id == mid))
            .values(status=status, last_error=error[:500])
        )


def _link_error(conn: Any, pid: str, mid: str, error: str) -> None:
    conn.execute(
        update(caldav_links)
        .where((caldav_links.c.program_id == pid) & (caldav_links.c.member_id == mid))
        .values(last_error=error[:500])
    )
