"""Who accepted: replies to invites (iTIP REPLY, RFC 5546 section 3.2.3) read from mail,
matched to a booked series, its occurrence and member, and kept; and what they say where
a match's sessions are listed (docs/rules.md, "Replies").

Every way a reply comes in (the inbound listener, ``service/inbound.py``; the webhook,
``api/routes/inbound.py``) hands the raw RFC 5322 message to :func:`take_message`. A reply
is kept only when all of it checks out: the From address is the ATTENDEE who answers, the
UID is a series' invite, that attendee is a member of the series' match, RECURRENCE-ID (if
any) names one of its occurrences, and it is not older than what is kept (SEQUENCE below
the series', or DTSTAMP before the kept answer's). Anything else is ignored with one log
line and nothing stored; the sender is told the same either way, so nobody can probe
which series or addresses exist.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import InvalidHeaderDefect
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from ingest import ical
from ingest.availability import Availability
from ingest.errors import CalendarError
from ingest.grid import from_epoch
from ingest.text import email_key, one_line
from solver.errors import SolverError
from solver.proposals import requested_series

from . import notify
from .cache import cached
from .store import PENDING, locked, members, now_epoch, replies, series, sessions

log = logging.getLogger("slotwise.replies")

ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")
WHOLE_SERIES = ""  # ``replies.session_id`` of an answer to the whole series


class Unreadable(ValueError):
    """The bytes are not a mail message at all (the webhook answers 400)."""


class Ignored(Exception):
    """A reply that is not kept; the message says why (logged, never sent back)."""


@dataclass(frozen=True)
class Answer:
    """One VEVENT of a REPLY: what the attendee (the message's sender) answered, to which
    version (SEQUENCE, DTSTAMP) of which event (UID, RECURRENCE-ID)."""

    uid: str
    address: str  # the ATTENDEE's address, as written
    partstat: str
    sequence: int
    dtstamp: datetime  # aware
    # The occurrence's original start; naive when the reply wrote it floating (read in the
    # series' zone); None: the whole series.
    recurrence_id: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What became of one message: how many answers were kept, or why it was ignored."""

    kept: int
    ignored: str | None = None


# ----------------------------------------------------------------------------- intake


def take_message(engine: Engine, raw: bytes, via: str) -> Outcome:
    """Read one raw RFC 5322 message and keep the answers of the REPLY in it (all or
    none). ``via`` says where it came from, for the log. Raises :class:`Unreadable` when
    ``raw`` is no message at all; every other problem is an ignored :class:`Outcome`."""
    msg = read_message(raw)
    where = f"via {via}, Message-ID {one_line(str(msg.get('Message-ID', '')))[:200] or '-'}"
    try:
        sender = _sender(msg)
        answers = read_reply(msg, sender)
        # Under the program's write lock (store.locked): two replies of one member read
        # what is kept and write in turn, so the newest stands whichever comes first. An
        # Ignored raised inside rolls every answer back.
        with locked(engine, _program_of(engine, answers[0].uid)) as conn:
            kept = keep(conn, answers, sender)
        notify.wake(engine)  # a decline owes the facilitator a mail (keep)
    except Ignored as exc:
        # A reason may quote the message (a PARTSTAT): one clean line, never a forged one.
        reason = one_line(str(exc))[:300]
        log.warning("reply ignored (%s): %s", where, reason)
        return Outcome(0, reason)
    except IntegrityError:  # pragma: no cover - the lock above orders every writer
        log.warning("reply ignored (%s): kept concurrently by another message", where)
        return Outcome(0, "kept concurrently by another message")
    log.info("reply kept (%s): %d answer(s) from %s", where, kept, sender)
    return Outcome(kept)


def read_message(raw: bytes) -> EmailMessage:
    """``raw`` parsed as a mail message; :class:`Unreadable` when it has no header."""
    if not raw.strip():
        raise Unreadable("the body is empty; send the raw mail message (message/rfc822)")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except RecursionError:  # the parser recurses once per nested multipart
        raise Unreadable("the message's parts are nested too deeply to read") from None
    if not msg.keys():
        raise Unreadable("the body is not a mail message: it has no header fields")
    return msg


def _sender(msg: EmailMessage) -> str:
    """The one From address (a header with none, or several, is not a reply).

    A From header the parser had to repair is refused, not read: what it would make of
    ``al@example.org <cy@evil.example>`` (al) or ``=?utf-8?q?al?=@example.org`` (an
    encoded word where RFC 2047 allows none) is not what the mail system that vouched for
    the sender's domain read (cy@evil.example), and the answer would be someone else's."""
    headers = msg.get_all("From") or []
    try:
        found = [a.addr_spec for h in headers for a in h.addresses]
        repaired = any(isinstance(d, InvalidHeaderDefect) for h in headers for d in h.defects)
    except (AttributeError, ValueError, IndexError):  # an unparsable From header
        found, repaired = [], False
    if len(found) != 1 or "@" not in found[0]:
        raise Ignored("From is not one address")
    if repaired:
        raise Ignored("From is not a well-formed address")
    # A UTF-8 header (RFC 6532, sent with SMTPUTF8) comes out of the parser with its bytes
    # escaped as surrogates: ``jörg@example.de`` is read back as UTF-8.
    address: str = found[0]
    return address.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_reply(msg: EmailMessage, sender: str) -> list[Answer]:
    """The answers of the iTIP REPLY in ``msg`` given by ``sender``: one per VEVENT (the
    whole series, or an occurrence by RECURRENCE-ID). :class:`Ignored` when the message
    holds no readable METHOD:REPLY calendar, or any VEVENT is not ``sender``'s answer."""
    cal = _calendar(msg)
    method = ical.text(cal, "METHOD").strip().upper()
    if method != "REPLY":
        raise Ignored(f"METHOD is {method or 'missing'}, not REPLY")
    events = cal.walk("VEVENT")
    if not events:
        raise Ignored("the calendar has no VEVENT")
    try:
        answers = [_answer(event, sender) for event in events]
    except CalendarError as exc:  # a value of the wrong kind (``DTSTAMP:PT1H``)
        raise Ignored(f"the calendar cannot be read ({exc})") from None
    if len({a.uid for a in answers}) != 1:
        raise Ignored("the reply names more than one UID")
    return answers


def _calendar(msg: EmailMessage) -> ical.Calendar:
    """The calendar of the message: its text/calendar part (iMIP, RFC 6047), else an .ics
    attachment. :class:`Ignored` when there is none, or it cannot be read."""
    parts = []
    try:
        walked = list(msg.walk())
    except RecursionError:
        raise Ignored("the message's parts are nested too deeply to read") from None
    for part in walked:
        if part.is_multipart():
            continue
        kind, name = part.get_content_type(), (part.get_filename() or "").lower()
        if kind == "text/calendar":
            parts.append((0, part))
        elif kind == "application/ics" or name.endswith(".ics"):
            parts.append((1, part))
    if not parts:
        raise Ignored("no calendar in the message")
    part = min(parts, key=lambda p: p[0])[1]
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload.strip():
        raise Ignored("the calendar part is empty")
    try:
        text = payload.decode(part.get_content_charset() or "utf-8")
    except (LookupError, UnicodeError):  # unknown, or a codec of no text (undefined, idna)
        text = payload.decode("utf-8", errors="replace")
    try:
        found = ical.parse(text)
    except Exception as exc:  # icalendar raises many kinds on garbage; none is ours
        raise Ignored(f"the calendar cannot be read ({type(exc).__name__})") from None
    if len(found) != 1 or found[0].name != "VCALENDAR":
        raise Ignored("the calendar cannot be read (it is not one VCALENDAR)")
    return found[0]


def _answer(event: ical.Component, sender: str) -> Answer:
    if event.errors:
        raise Ignored(f"the VEVENT cannot be read ({event.errors[0][0]})")
    for name in ("UID", "SEQUENCE", "DTSTAMP", "RECURRENCE-ID"):
        for prop in ical.properties(event, name):
            if prop.wrong_kind():
                raise Ignored(f"{name} is not {prop.wrong_kind()}")
    uid = ical.text(event, "UID").strip()
    if not uid:
        raise Ignored("a VEVENT has no UID")
    who = email_key(sender)
    mine = [p for p in ical.properties(event, "ATTENDEE") if email_key(_address(p)) == who]
    if not mine:
        raise Ignored("From is not the ATTENDEE of the reply")
    partstat = str(mine[0].param("PARTSTAT") or "").upper()
    if partstat not in ANSWERS:
        raise Ignored(
            f"PARTSTAT {partstat or '(none)'} is not an answer (ACCEPTED, DECLINED, TENTATIVE)"
        )
    if "DTSTAMP" not in event:
        raise Ignored("a VEVENT has no DTSTAMP")
    stamp = ical.moment(event, "DTSTAMP")
    if not isinstance(stamp, datetime):
        raise Ignored("DTSTAMP is a date, not a date-time")
    # A floating DTSTAMP breaks RFC 5545 (it is UTC); read as UTC, it orders the same.
    stamp = stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    _epoch(stamp, "DTSTAMP")
    sequence = ical.value(event, "SEQUENCE") if "SEQUENCE" in event else 0
    return Answer(
        uid=uid,
        address=_address(mine[0]),
        partstat=partstat,
        sequence=int(cast(int, sequence)),
        dtstamp=stamp,
        recurrence_id=_recurrence_id(event),
    )


def _epoch(moment: datetime, name: str) -> int:
    """``moment`` (aware) in epoch seconds; :class:`Ignored` when it has none (a year 9999
    wall-clock west of UTC is in year 10000)."""
    try:
        return int(moment.astimezone(UTC).timestamp())
    except (OverflowError, ValueError, OSError):
        raise Ignored(f"{name} is out of range") from None


def _address(prop: ical.Property) -> str:
    """A calendar address's email: ``mailto:`` (any case) taken off, %-escapes decoded."""
    text = prop.as_ical().strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return unquote(text).strip()


def _recurrence_id(event: ical.Component) -> datetime | None:
    if "RECURRENCE-ID" not in event:
        return None
    found = ical.moment(event, "RECURRENCE-ID")
    if not isinstance(found, datetime):
        raise Ignored("RECURRENCE-ID is a date; the occurrences of a series have a time")
    if found.tzinfo is None:
        # A TZID neither zoneinfo nor a VTIMEZONE of the reply knows: an Outlook name?
        tzid = ical.properties(event, "RECURRENCE-ID")[0].param("TZID")
        if isinstance(tzid, str):
            zone = ical.iana_zone(tzid.strip())
            if zone is None:
                raise Ignored(f"RECURRENCE-ID is in an unknown zone {tzid[:100]!r}")
            found = found.replace(tzinfo=ZoneInfo(zone))
    return found


def _program_of(engine: Engine, uid: str) -> str:
    """The program of the series whose invite has ``uid`` (whose write lock orders the
    replies to it); :class:`Ignored` when there is none."""
    with engine.connect() as conn:
        found = conn.execute(select(series.c.program_id).where(series.c.uid == uid)).scalar()
    if found is None:
        raise Ignored("unknown UID")
    return str(found)


def keep(conn: Connection, answers: Sequence[Answer], sender: str) -> int:
    """Match ``answers`` (one REPLY's) to a series, member and occurrences, and keep them,
    in the caller's transaction (holding the program's write lock: :func:`take_message`);
    :class:`Ignored` (and the caller rolls back) when any one does not match or is stale.
    A new decline of an occurrence queues the facilitator's mail in the same transaction
    (``notify.enqueue_decline``), so an ignored reply never mails anyone. How many were
    kept."""
    row = conn.execute(select(series).where(series.c.uid == answers[0].uid)).first()
    if row is None or row.status == PENDING:
        raise Ignored("unknown UID")
    if row.status == "cancelled":
        raise Ignored("the series is cancelled")
    member = conn.execute(
        select(members.c.id).where(
            (members.c.program_id == row.program_id) & (members.c.email_key == email_key(sender))
        )
    ).scalar()
    if member is None or member not in json.loads(row.members):
        raise Ignored("the attendee is not a member of the series' match")
    occurrences = conn.execute(
        select(
            sessions.c.id, sessions.c.original_start, sessions.c.status, sessions.c.sequence
        ).where(sessions.c.series_id == row.id)
    ).all()
    by_start = {o.original_start: o for o in occurrences}
    zone = ZoneInfo(row.timezone)
    for a in answers:
        changed = 0  # the SEQUENCE at which the occurrence answered last changed
        if a.sequence < row.sequence:
            raise Ignored(f"stale: SEQUENCE {a.sequence} is older than the series' {row.sequence}")
        session = WHOLE_SERIES
        if a.recurrence_id is not None:
            rid = a.recurrence_id
            rid = rid if rid.tzinfo is not None else rid.replace(tzinfo=zone)
            found = by_start.get(_epoch(rid, "RECURRENCE-ID"))
            if found is None:
                raise Ignored(f"RECURRENCE-ID {rid.isoformat()} is no occurrence of the series")
            if found.status == "cancelled":
                raise Ignored(f"RECURRENCE-ID {rid.isoformat()} is a cancelled occurrence")
            session, changed = found.id, found.sequence
        if _store(conn, row, member, session, a, changed):
            notify.enqueue_decline(conn, row.program_id, session, member)
    return len(answers)


def _store(conn: Connection, row: Any, member: str, session: str, a: Answer, changed: int) -> bool:
    """Keep ``a``; whether it is a new decline of an occurrence: it was not declined
    before, or that decline answered the occurrence before it last changed (``changed``,
    its SEQUENCE then: a moved occurrence is asked again). A decline sent again is not."""
    key = (
        (replies.c.series_id == row.id)
        & (replies.c.member_id == member)
        & (replies.c.session_id == session)
    )
    received = now_epoch()
    # Only what the organizer sent can be answered, and nobody answers after the answer
    # came: a SEQUENCE above the series' (attendees may not raise it, RFC 5546 2.1.4) is
    # read as the series' own, a DTSTAMP after receipt as the moment received. Kept as
    # written, either would make every later, true answer look stale, for good.
    sequence = min(a.sequence, row.sequence)
    stamp = min(_epoch(a.dtstamp, "DTSTAMP"), received)
    kept = conn.execute(
        select(replies.c.dtstamp, replies.c.sequence, replies.c.partstat).where(key)
    ).first()
    values = {
        "partstat": a.partstat,
        "sequence": sequence,
        "dtstamp": stamp,
        "received_at": received,
    }
    new_decline = (
        session != WHOLE_SERIES
        and a.partstat == "DECLINED"
        and (kept is None or kept.partstat != "DECLINED" or kept.sequence < changed)
    )
    if kept is None:
        conn.execute(
            replies.insert().values(
                series_id=row.id,
                member_id=member,
                session_id=session,
                program_id=row.program_id,
                **values,
            )
        )
        return new_decline
    # RFC 5546 2.1.5: the higher SEQUENCE is the newer answer, then the later DTSTAMP.
    if (sequence, stamp) < (kept.sequence, kept.dtstamp):
        raise Ignored("stale: an answer with a later SEQUENCE or DTSTAMP is already kept")
    conn.execute(update(replies).where(key).values(**values))
    return new_decline


# ----------------------------------------------------------------------------- shown


def with_replies(
    conn: Connection, program_id: str, listed: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """``listed`` (``booking.series_public`` dicts) with, on each session, what each member
    answered to it (``replies``) and, on a session still ahead that someone declined alone,
    a ``declined`` flag: who declined, whether it still holds without them, and the best
    start that week where it would (the solver's ``best_alternative``, as proposals give)."""
    ids = [s["id"] for s in listed]
    if not ids:
        return listed
    answers: dict[str, dict[tuple[str, str], Any]] = {}
    for r in conn.execute(select(replies).where(replies.c.series_id.in_(ids))):
        answers.setdefault(r.series_id, {})[(r.member_id, r.session_id)] = r
    occ = {
        o.id: o
        for o in conn.execute(
            select(sessions.c.id, sessions.c.sequence, sessions.c.start, sessions.c.end).where(
                sessions.c.series_id.in_(ids)
            )
        )
    }
    for s in listed:
        theirs = answers.get(s["id"], {})
        for item in s["sessions"]:
            o = occ[item["id"]]
            item["replies"] = [
                _public(found)
                for m in s["members"]
                if (found := _current(theirs, m, o.id, o.sequence)) is not None
            ]
            declined = [
                r["member"]
                for r in item["replies"]
                if r["partstat"] == "DECLINED" and r["scope"] == "occurrence"
            ]
            if declined and item["status"] == "scheduled" and o.end > now.timestamp():
                item["declined"] = _flag(conn, program_id, s, o, declined, now)
    return listed


def _current(theirs: dict[tuple[str, str], Any], member: str, session: str, changed: int) -> Any:
    """A member's answer that holds for an occurrence: to the occurrence, or to the whole
    series, whichever is newer (the occurrence's on a tie: one REPLY may carry both); only
    answers to the occurrence as it is now count (SEQUENCE at least the one at which it
    last changed: a moved occurrence is asked again)."""
    found = [
        r
        for r in (theirs.get((member, session)), theirs.get((member, WHOLE_SERIES)))
        if r is not None and r.sequence >= changed
    ]
    return max(found, key=lambda r: (r.dtstamp, r.session_id != WHOLE_SERIES), default=None)


def _public(r: Any) -> dict[str, Any]:
    return {
        "member": r.member_id,
        "partstat": r.partstat,
        "scope": "series" if r.session_id == WHOLE_SERIES else "occurrence",
        "answered_at": from_epoch(r.dtstamp).isoformat(),
    }


def _flag(
    conn: Connection,
    program_id: str,
    listed: dict[str, Any],
    o: Any,
    declined: list[str],
    now: datetime,
) -> dict[str, Any]:
    """The facilitator's flag of an occurrence ``declined`` alone: the occurrence evaluated
    as proposals evaluate one (``solver.proposals.requested_series``) on everyone's
    availability now, with its own time free (as when moving it) and the decliners busy
    then; where it no longer holds, the solver's best alternative that week."""
    out: dict[str, Any] = {"members": declined}
    doc, avail = cached(conn).availability(conn, program_id, listed["match"], now, ignore=o.id)
    grid, free = avail.grid, avail.matrix.copy()
    first = grid.index_of(from_epoch(o.start))
    if first is None:
        return out  # off today's grid (the program's dates changed): nothing to offer
    k = max(1, -(-(o.end - o.start) // grid.step))
    cols = [avail.members.index(m) for m in declined if m in avail.members]
    free[first : first + k, np.asarray(cols, dtype=np.int64)] = False
    try:
        found = requested_series(
            doc,
            listed["match"],
            [from_epoch(o.start)],
            Availability(grid, avail.members, free),
            duration_minutes=listed["duration_minutes"],
            frequency="once",
        )
    except SolverError:
        return out
    occurrence = found.occurrences[0]
    out.update(
        holds=occurrence.holds,
        attending=list(occurrence.attending),
        missing=list(occurrence.missing),
    )
    if occurrence.alternative is not None:
        out["alternative"] = occurrence.alternative.isoformat()
    return out
