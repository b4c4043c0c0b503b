"""Invites out of the database: build them, queue them, deliver them, retry them.

Sign-in links (``service/signin.py``, method ``SIGNIN``) take the same path, and so does
the facilitator's notice of a member's decline (:func:`enqueue_decline`, method
``DECLINED``).

A change to a series (a booking, a move, a cancellation) writes one small invite job
(``invite_jobs``) in its own transaction, inside the program's lock, so a change is never
kept without what it owes its attendees nor anything sent for a change that was rolled
back. Building the invites (the iCalendar once, the text once per reader zone and
locale, a message per attendee) happens after the commit, outside the lock: the request
only wakes the background sender on its way out (:func:`queued`), and the sender
(:class:`RetryLoop`) builds the job and then sends it (and builds whatever is left: a
process that died after its commit, a job another worker held up). A plan's apply
writes its series' jobs in the transaction that shows them (:func:`enqueue_plan`). The
sender then sends the deliveries; what fails for now (SMTP down) stays pending and is retried,
what can never be delivered is marked failed with the reason. Jobs and deliveries are
claimed before they are built or sent, so two workers never do the same one.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, exists, func, literal, select, true, update

from ingest.grid import from_epoch
from ingest.text import address_problem

from . import failpoints, mail_text, writeback
from .booking import TOO_LATE_TO_UNDO, program_now, series_public
from .config import Settings
from .email import DeliveryError, Mailer, MimeBody, imip_body, text_message, wire_message
from .errors import Conflict
from .invites import (
    InviteSeries,
    Method,
    Override,
    Person,
    occurrence_cancel,
    series_calendar,
)
from .mail_text import Declined, Moved
from .mailtime import Reader, zone_label
from .store import (
    PENDING,
    deliveries,
    invite_jobs,
    matches_data,
    members_data,
    now_epoch,
    program_row,
    series,
    sessions,
)

log = logging.getLogger("slotwise.notify")
# The method of an invite job (and its delivery) telling the facilitator that a member
# declined an occurrence (:func:`enqueue_decline`): a plain-text mail, no calendar.
DECLINED = "DECLINED"
STALE_CLAIM = timedelta(minutes=10)
# How often the sender looks for stale claims: a write transaction, so not at every wake
# (each booking wakes it), where it would queue behind or ahead of the requests' writes.
STALE_SWEEP_SECONDS = 60.0
JOB_ATTEMPTS = 5  # an invite job that fails to build this often is marked failed


def invite_series(
    conn: Connection, program_id: str, series_id: str, sender: str = ""
) -> InviteSeries:
    """The InviteSeries of a stored series (sessions moved or cancelled alone become
    overrides). Reads only the series' match and members, whatever the program's size.

    A cancelled series some of whose sessions were held (completed, or past when it was
    cancelled) is not called off: it ends after the last one held, so those stay in
    everyone's calendar; open sessions before that are cancelled occurrences."""
    row = conn.execute(select(series).where(series.c.id == series_id)).one()
    header = json.loads(program_row(conn, program_id).header)
    match = matches_data(conn, program_id, {row.match_id}).get(row.match_id, {})
    members = json.loads(row.members)
    people = {
        m["id"]: m for m in members_data(conn, program_id, {*members, *match.get("members", [])})
    }

    def person(mid: str) -> Person:
        m = people.get(mid, {"id": mid})
        # A member without a zone of their own reads times in the program's (SPEC 6).
        return Person(
            mid,
            m.get("name") or mid,
            m.get("email") or "",
            m.get("timezone") or header["timezone"],
            m.get("locale") or None,
        )

    sender_address = parseaddr(sender)[1]
    # With no organizer the program itself invites, from the service's sender address.
    organizer = (
        person(match["organizer"])
        if match.get("organizer")
        else Person(
            "slotwise", header.get("name") or header["id"], sender_address or "slotwise@localhost"
        )
    )
    occ = conn.execute(
        select(sessions).where(sessions.c.series_id == series_id).order_by(sessions.c.position)
    ).all()
    held = [o.position for o in occ if o.status != "cancelled"]
    ended = row.status == "cancelled" and bool(held)
    called_off = row.status == "cancelled" and not ended
    overrides = []
    for o in occ:
        if o.status == "cancelled" and not called_off:
            overrides.append(Override(from_epoch(o.original_start), None, None, o.sequence))
        elif o.start != o.original_start:
            overrides.append(
                Override(
                    from_epoch(o.original_start), from_epoch(o.start), from_epoch(o.end), o.sequence
                )
            )
    zone = ZoneInfo(row.timezone)
    return InviteSeries(
        uid=row.uid,
        sequence=row.sequence,
        summary=row.summary,
        agenda=row.agenda or "",
        zone=row.timezone,
        first_start=from_epoch(row.first_start).astimezone(zone),
        duration_minutes=row.duration_minutes,
        frequency=row.frequency,
        sessions=row.sessions,
        organizer=organizer,
        attendees=[person(m) for m in members if people.get(m, {}).get("email")],
        video_url=row.video_url,
        location=row.location,
        overrides=overrides,
        created=from_epoch(row.created_at),
        status="cancelled" if called_off else "confirmed",
        sent_by=sender_address or None,
        ends_after=max(held) if ended else None,
    )


def _method(inv: InviteSeries, method: Method | None) -> Method | None:
    """A series that ends after its held sessions is updated (REQUEST with UNTIL), not
    cancelled: a CANCEL would take the held sessions out of everyone's calendar."""
    return "REQUEST" if method == "CANCEL" and inv.ends_after is not None else method


def series_ics(
    conn: Connection, settings: Settings, program_id: str, series_id: str, method: Method | None
) -> bytes:
    inv = invite_series(conn, program_id, series_id, sender=settings.sender)
    return series_calendar(inv, _method(inv, method), datetime.now(UTC))


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    if rows:
        conn.execute(deliveries.insert(), rows)
    return len(rows)


def _series_rows(
    conn: Connection,
    settings: Settings,
    program_id: str,
    series_id: str,
    method: Method,
    note: str | None = None,
    moved: Moved | None = None,
) -> list[dict[str, Any]]:
    """The delivery rows of the series' invite or cancellation, as it is stored now; with
    ``moved``, the update after one occurrence moved, whose text says only that."""
    inv = replace(invite_series(conn, program_id, series_id, sender=settings.sender), note=note)
    method = _method(inv, method) or method
    ics = series_calendar(inv, method, datetime.now(UTC))
    held = conn.execute(
        select(sessions.c.position, sessions.c.start, sessions.c.status)
        .where(sessions.c.series_id == series_id)
        .order_by(sessions.c.start)
    ).all()
    ends_on = next((from_epoch(o.start) for o in held if o.position == inv.ends_after), None)
    listed = [from_epoch(o.start) for o in held if o.status != "cancelled"]

    def compose(reader: Reader) -> tuple[str, str]:
        if inv.ends_after is not None:
            return f"Series ended: {inv.summary}", mail_text.ended(inv, reader, ends_on)
        if method == "CANCEL" or inv.status == "cancelled":
            return f"Cancelled: {inv.summary}", mail_text.called_off(inv)
        if moved is not None:
            return (
                f"Moved: {inv.summary} on {reader.short(moved.start)} "
                f"({zone_label(reader.zone)} time)",
                mail_text.moved(inv, reader, moved),
            )
        verb = "Invitation" if inv.sequence == 0 else "Updated invitation"
        return f"{verb}: {inv.summary}", mail_text.invitation(inv, reader, listed)

    return _rows(conn, settings, program_id, series_id, inv, ics, method, compose)


def _occurrence_rows(
    conn: Connection,
    settings: Settings,
    program_id: str,
    session_id: str,
    note: str | None = None,
) -> list[dict[str, Any]]:
    """The delivery rows telling every member that one occurrence is cancelled."""
    o = conn.execute(select(sessions).where(sessions.c.id == session_id)).one()
    inv = replace(invite_series(conn, program_id, o.series_id, sender=settings.sender), note=note)
    # Named by its original start (RECURRENCE-ID), shown at the time the attendees last
    # saw: where it was moved to, if it was.
    start = from_epoch(o.start)
    ics = occurrence_cancel(
        inv, from_epoch(o.original_start), datetime.now(UTC), start=start, end=from_epoch(o.end)
    )

    def compose(reader: Reader) -> tuple[str, str]:
        return (
            f"Cancelled: {inv.summary} on {reader.short(start)} ({zone_label(reader.zone)} time)",
            mail_text.occurrence_cancelled(inv, reader, start),
        )

    return _rows(conn, settings, program_id, o.series_id, inv, ics, "CANCEL", compose)


def _rows(
    conn: Connection,
    settings: Settings,
    program_id: str,
    series_id: str,
    inv: InviteSeries,
    ics: bytes,
    method: str,
    compose: Callable[[Reader], tuple[str, str]],
) -> list[dict[str, Any]]:
    """One delivery row per attendee; ``compose`` gives the subject and text a reader
    gets (their zone, their locale), built once for all who read alike."""
    not_before = _not_before(conn, series_id)
    rows = []
    # One subject and body per way of reading (zone and locale: the text in that zone and
    # those formats, the calendar, the MIME parts), or why it could not be built; each
    # attendee adds only their headers.
    bodies: dict[Reader, tuple[str, MimeBody | str]] = {}
    for person in inv.attendees:
        reader = Reader(person.zone or inv.zone, person.locale)
        if reader not in bodies:
            subject, text = compose(reader)
            bodies[reader] = (subject, _body(text, ics, method))
        subject, body = bodies[reader]
        message, problem = _build(settings, person, subject, body)
        rows.append(_delivery(program_id, series_id, person, method, message, problem, not_before))
    return rows


def _delivery(
    program_id: str,
    series_id: str,
    person: Person,
    method: str,
    message: str,
    problem: str | None,
    not_before: int | None,
) -> dict[str, Any]:
    """One ``deliveries`` row: ``message`` to ``person``, or failed with ``problem``."""
    return {
        "id": "d" + secrets.token_hex(8),
        "program_id": program_id,
        "series_id": series_id,
        "recipient": person.email,
        "method": method,
        "message": message,
        "status": "failed" if problem else "pending",
        "last_error": problem,
        "attempts": 0,
        "created_at": now_epoch(),
        "not_before": not_before,
    }


def _not_before(conn: Connection, series_id: str) -> int | None:
    """While a new booking can still be undone, everything about it waits with its invites
    (an update must not arrive before the invitation it updates)."""
    undo_until = conn.execute(select(series.c.undo_until).where(series.c.id == series_id)).scalar()
    return undo_until if undo_until is not None and undo_until > now_epoch() else None


def _decline_rows(
    conn: Connection, settings: Settings, program_id: str, session_id: str, note: str | None
) -> list[dict[str, Any]]:
    """The mail telling the match's facilitator (:func:`_facilitators`) that a member
    declined one occurrence, with what the match page's flag says of it
    (``replies.with_replies``: whether it holds without them, the best alternative that
    week), in each facilitator's zone and locale. Nothing when the decline no longer
    stands as the job is built (answered again, the occurrence moved, cancelled or past)."""
    from .replies import with_replies  # replies enqueues through this module

    try:
        member = str(json.loads(note or "")["declined"])
    except (ValueError, TypeError, KeyError):
        return []
    o = conn.execute(select(sessions.c.series_id).where(sessions.c.id == session_id)).first()
    if o is None:
        return []
    listed = [series_public(conn, program_id, o.series_id)]
    shown = with_replies(conn, program_id, listed, program_now(conn, program_id))[0]
    item = next(s for s in shown["sessions"] if s["id"] == session_id)
    flag = item.get("declined")
    if flag is None or member not in flag["members"]:
        return []
    inv = invite_series(conn, program_id, o.series_id, sender=settings.sender)
    people = {p.id: p for p in (inv.organizer, *inv.attendees)}

    def name(mid: str) -> str:
        return people[mid].name if mid in people else mid

    found = Declined(
        who=name(member),
        start=datetime.fromisoformat(item["start"]),
        holds=flag.get("holds"),
        attending=[name(m) for m in flag.get("attending", [])],
        alternative=(
            datetime.fromisoformat(flag["alternative"]) if flag.get("alternative") else None
        ),
        link=f"{settings.public_url}/matches/{quote(shown['match'], safe='')}",
    )
    rows = []
    not_before = _not_before(conn, o.series_id)
    for mid in _facilitators(conn, program_id, shown["match"], member):
        person = people.get(mid)
        if person is None or not person.email:
            continue
        reader = Reader(person.zone or inv.zone, person.locale)
        subject = f"Declined: {inv.summary} on {reader.short(found.start)} by {found.who}"
        text = mail_text.declined(inv.summary, reader, found)
        message, problem = _text_mail(settings, person, subject, text)
        rows.append(
            _delivery(program_id, o.series_id, person, DECLINED, message, problem, not_before)
        )
    return rows


def _facilitators(conn: Connection, program_id: str, match_id: str, member: str) -> list[str]:
    """Who is told of ``member``'s decline: the match's organizer (its facilitator); in a
    pair without one, who books for themselves, the other member. Never the decliner."""
    match = matches_data(conn, program_id, {match_id}).get(match_id, {})
    people = list(dict.fromkeys(match.get("members", [])))
    if match.get("organizer"):
        people = [match["organizer"]]
    elif len(people) != 2:
        people = []  # a group without a facilitator: its admins see the flag on the page
    return [m for m in people if m != member]


def _unaddressable(person: Person) -> str | None:
    """Why no mail can go to ``person`` (stored data may predate today's validation:
    ingest/text.py), or None."""
    problem = address_problem(person.email)
    if problem is None:
        return None
    return f"recipient {person.email[:200]!r} ({person.id}) is not an email address: {problem}"


def _text_mail(
    settings: Settings, person: Person, subject: str, text: str
) -> tuple[str, str | None]:
    """A plain-text message to ``person``, stored as a sign-in link is; or ("", why not)."""
    problem = _unaddressable(person)
    if problem is not None:
        return "", problem
    try:
        return text_message(settings.sender, person, subject, text).as_string(), None
    except (ValueError, TypeError, UnicodeError, MessageError) as exc:
        log.warning("a decline notice to %s could not be built: %s", person.id, exc)
        return "", f"the message could not be built: {exc}"


# --- invite jobs: what a change owes its attendees, built after its commit -----------------


def enqueue_series(
    conn: Connection, program_id: str, series_id: str, method: Method, note: str | None = None
) -> None:
    """Record, in the caller's (locked) transaction, that the series' invite (REQUEST) or
    cancellation (CANCEL, with ``note``) is owed to its members. One small row: the
    invites are built from the series as it is then, after the commit
    (:func:`build_jobs`), so the program's lock is never held while building them."""
    _enqueue(conn, program_id, series_id, None, method, note)


def enqueue_plan(conn: Connection, job_id: str) -> None:
    """Record, in the caller's (locked) transaction, that the invitation (REQUEST) is owed
    to the members of every series the apply of plan ``job_id`` wrote and has not shown
    yet (``PENDING``): one statement, whatever the plan's size. A hidden series was owed
    nothing before, so each gets its first job."""
    hidden = (series.c.plan_job == job_id) & (series.c.status == PENDING)
    owed = select(
        literal("j") + series.c.id,  # "j" and the series id: unique, like a job's own
        series.c.program_id,
        series.c.id,
        literal("REQUEST"),
        literal(1),
        literal("pending"),
        literal(0),
        literal(now_epoch()),
    ).where(hidden)
    conn.execute(
        invite_jobs.insert().from_select(
            [
                "id",
                "program_id",
                "series_id",
                "method",
                "position",
                "status",
                "attempts",
                "created_at",
            ],
            owed,
        )
    )
    writeback.mark_plan(conn, job_id)


def enqueue_occurrence_cancel(
    conn: Connection, program_id: str, session_id: str, note: str | None = None
) -> None:
    """Record that one occurrence's cancellation is owed (see :func:`enqueue_series`)."""
    sid = conn.execute(select(sessions.c.series_id).where(sessions.c.id == session_id)).scalar_one()
    _enqueue(conn, program_id, sid, session_id, "CANCEL", note)


def enqueue_move(conn: Connection, program_id: str, session_id: str, moved_from: int) -> None:
    """Record, after an occurrence was moved (in the same transaction), that the series'
    update (REQUEST) is owed, its text saying what moved: from ``moved_from`` (epoch
    seconds, the start the attendees last saw) to the session's start now. The job names
    the session, and its ``note`` holds the two starts (:func:`_moved`): a move has no
    note of its own, and later moves of the same session each keep their own."""
    row = conn.execute(
        select(sessions.c.series_id, sessions.c.start).where(sessions.c.id == session_id)
    ).one()
    change = json.dumps({"moved": [moved_from, row.start]})
    _enqueue(conn, program_id, row.series_id, session_id, "REQUEST", change)


def enqueue_decline(conn: Connection, program_id: str, session_id: str, member_id: str) -> None:
    """Record, in the transaction that keeps a reply (under the program's lock), that the
    match's facilitator is owed a mail saying ``member_id`` declined occurrence
    ``session_id``: built after the commit like an invite (:func:`_decline_rows`), from the
    flag as it is then."""
    sid = conn.execute(select(sessions.c.series_id).where(sessions.c.id == session_id)).scalar_one()
    _enqueue(conn, program_id, sid, session_id, DECLINED, json.dumps({"declined": member_id}))


def _moved(note: str | None) -> Moved | None:
    """The move a job of :func:`enqueue_move` records, or None (not one, or unreadable:
    the update then goes out as a plain updated invitation)."""
    try:
        old, new = json.loads(note or "")["moved"]
        return Moved(from_epoch(int(old)), from_epoch(int(new)))
    except (ValueError, TypeError, KeyError, OverflowError):
        return None


def _enqueue(
    conn: Connection,
    program_id: str,
    series_id: str,
    session_id: str | None,
    method: str,
    note: str | None,
) -> None:
    # The caller holds the program's lock: no other job of this series is being enqueued.
    last = conn.execute(
        select(func.max(invite_jobs.c.position)).where(invite_jobs.c.series_id == series_id)
    ).scalar()
    conn.execute(
        invite_jobs.insert(),  # parameters, not .values(): built and keyed once
        {
            "id": "j" + secrets.token_hex(8),
            "program_id": program_id,
            "series_id": series_id,
            "session_id": session_id,
            "method": method,
            "note": note,
            "position": (last or 0) + 1,
            "status": "pending",
            "attempts": 0,
            "created_at": now_epoch(),
        },
    )
    # Members who connected a CalDAV calendar are owed the series as it is now, too; a
    # decline notice changes nothing in the series.
    if method != DECLINED:
        writeback.mark(conn, program_id, series_id)


def queued(engine: Engine, settings: Settings, series_id: str) -> None:
    """After a change committed its invite job (the program's lock released): wake the
    background sender, which builds the invites and sends them. The request builds
    nothing itself: building a series' invites (the iCalendar, the text per reader, a
    message per attendee) is CPU time the answer would wait for and that, in a process of
    several request threads, every other request would wait for too."""
    failpoints.reached("invites-queued")
    wake(engine)


def build_jobs(
    engine: Engine,
    settings: Settings,
    series_id: str | None = None,
    limit: int = 200,
    stop: threading.Event | None = None,
    most: int | None = None,
) -> int:
    """Turn pending invite jobs (of ``series_id``, or all; at most ``most``) into delivery
    rows; returns how many jobs were built. Each job is claimed first, and only when no
    earlier job of its series is left, so a series' invites are built one change after the
    other, each from the series as it is then, whichever worker builds them."""
    built = 0
    tried: set[str] = set()
    while True:
        query = select(invite_jobs.c.id).where(invite_jobs.c.status == "pending")
        if series_id is not None:
            query = query.where(invite_jobs.c.series_id == series_id)
        with engine.connect() as conn:
            ids = (
                conn.execute(
                    query.order_by(
                        invite_jobs.c.created_at, invite_jobs.c.series_id, invite_jobs.c.position
                    ).limit(limit)
                )
                .scalars()
                .all()
            )
        progress = False
        for jid in ids:
            if stop is not None and stop.is_set():
                return built
            if jid in tried:
                continue  # failed once this round: the next round retries it
            claim = _claim_job(engine, jid)
            if claim is None:
                continue  # another worker's, or an earlier job of its series is not built
            tried.add(jid)
            progress = True
            built += _build_job(engine, settings, jid, claim)
            if most is not None and built >= most:
                return built
        if not progress:
            return built


def _claim_job(engine: Engine, jid: str) -> str | None:
    """Mark a job as being built by us; our claim, or None (another worker's, or an
    earlier job of the same series is still to be built)."""
    earlier = invite_jobs.alias("earlier")
    claim = secrets.token_hex(8)
    with engine.begin() as conn:
        claimed = conn.execute(
            update(invite_jobs)
            .where(
                (invite_jobs.c.id == jid)
                & (invite_jobs.c.status == "pending")
                & ~exists()
                .where(
                    (earlier.c.series_id == invite_jobs.c.series_id)
                    & (earlier.c.position < invite_jobs.c.position)
                    & (earlier.c.status != "failed")
                )
                .correlate(invite_jobs)
            )
            .values(
                status="building",
                claim=claim,
                claimed_at=now_epoch(),
                attempts=invite_jobs.c.attempts + 1,
            )
        ).rowcount
    return claim if claimed else None


def _build_job(engine: Engine, settings: Settings, jid: str, claim: str) -> int:
    """Build a claimed job's deliveries (reading only: no lock, no write transaction open
    while building), then write them and drop the job in one transaction, if the job is
    still ours (an undo deletes it with its series). 1 when built, else 0."""
    mine = (invite_jobs.c.id == jid) & (invite_jobs.c.claim == claim)
    try:
        with engine.connect() as conn:
            job = conn.execute(select(invite_jobs).where(mine)).one_or_none()
            if job is None:
                return 0
            there = conn.execute(select(series.c.id).where(series.c.id == job.series_id)).first()
            if there is None:
                rows: list[dict[str, Any]] = []  # withdrawn: nothing is owed
            elif job.method == DECLINED:
                rows = _decline_rows(conn, settings, job.program_id, job.session_id, job.note)
            elif job.session_id is not None and job.method == "CANCEL":
                rows = _occurrence_rows(conn, settings, job.program_id, job.session_id, job.note)
            elif job.session_id is not None:  # a move (enqueue_move)
                rows = _series_rows(
                    conn,
                    settings,
                    job.program_id,
                    job.series_id,
                    job.method,
                    moved=_moved(job.note),
                )
            else:
                rows = _series_rows(
                    conn, settings, job.program_id, job.series_id, job.method, job.note
                )
    except Exception as exc:
        log.exception("invite job %s could not be built", jid)
        with engine.begin() as conn:
            attempts = conn.execute(select(invite_jobs.c.attempts).where(mine)).scalar() or 0
            conn.execute(
                update(invite_jobs)
                .where(mine)
                .values(
                    status="failed" if attempts >= JOB_ATTEMPTS else "pending",
                    claim=None,
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                )
            )
        return 0
    with engine.begin() as conn:
        # Deleting first takes the write lock: an undo either ran before (nothing left to
        # delete: the rows are dropped) or waits and then recalls these deliveries.
        if not conn.execute(invite_jobs.delete().where(mine)).rowcount:
            return 0
        _insert(conn, rows)
    return 1


def _body(text: str, ics: bytes, method: str) -> MimeBody | str:
    try:
        return imip_body(text, ics, method)
    except (ValueError, TypeError, UnicodeError, MessageError) as exc:
        # A body the email package will not build (it should not happen): every delivery
        # that reads it fails with the reason, and never the change it belongs to.
        log.warning("an invite body could not be built: %s", exc)
        return f"the message could not be built: {exc}"


def _build(
    settings: Settings, person: Person, subject: str, body: MimeBody | str
) -> tuple[str, str | None]:
    """The message for one attendee, ready to send (:func:`service.email.wire_message`),
    or ("", why not). Stored data may predate today's validation (ingest/text.py): an
    unusable address fails this one delivery with its reason, and never the booking or the
    plan apply it belongs to."""
    problem = _unaddressable(person)
    if problem is not None:
        return "", problem
    if isinstance(body, str):
        return "", body
    try:
        return wire_message(settings.sender, person, subject, body), None
    except (ValueError, TypeError, UnicodeError, MessageError) as exc:
        # A message the email package will not build (it should not happen after the
        # checks above): the delivery fails with the reason; the others still go out.
        log.warning("invite to %s could not be built: %s", person.id, exc)
        return "", f"the message could not be built: {exc}"


# What one round of the sender does at most: a plan's hundreds of invite jobs are built
# and sent a round at a time, so other programs' invites go out between its rounds.
BUILD_PER_ROUND = 100  # invite jobs built
SEND_PER_ROUND = 500  # deliveries sent


def flush(
    engine: Engine,
    settings: Settings,
    limit: int | None = None,
    stop: threading.Event | None = None,
) -> int:
    """One round of the sender: build invite jobs left (:func:`build_jobs`, at most
    BUILD_PER_ROUND), then send pending deliveries (at most ``limit``, by default
    SEND_PER_ROUND); returns how many were sent. See :func:`_round`."""
    return _round(engine, settings, limit or SEND_PER_ROUND, stop)[0]


def _round(
    engine: Engine,
    settings: Settings,
    limit: int,
    stop: threading.Event | None,
    retry: bool = True,
) -> tuple[int, bool]:
    """(how many were sent, whether more may be waiting: the round built or sent all it
    may). What failed for now stays
    pending; what can never be delivered becomes ``failed`` with the reason. When the
    server did not answer in time the round ends there: the rest would only wait out the
    same timeout, one by one. Runs in the background sender, never in a request. Without
    ``retry`` only deliveries never tried are sent: a wake (or a sender process's poll)
    is for new work; what failed waits for the retry interval."""
    # Invites owed by changes committed meanwhile.
    built = build_jobs(engine, settings, stop=stop, most=BUILD_PER_ROUND)
    mailer = Mailer.from_settings(settings.smtp_url, settings.outbox)
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(deliveries.c.id)
                .where(
                    (deliveries.c.status == "pending")
                    & _due(now_epoch())
                    & (true() if retry else deliveries.c.attempts == 0)
                )
                .order_by(deliveries.c.created_at)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    sent = 0
    with mailer:  # one SMTP connection for the round
        for did in ids:
            if stop is not None and stop.is_set():
                break
            message = _claim(engine, did)
            if message is None:
                continue
            try:
                mailer.send(_outgoing(message))
            except DeliveryError as exc:
                _settle(engine, did, "failed" if exc.permanent else "pending", str(exc))
                log.warning(
                    "invite delivery %s failed%s: %s",
                    did,
                    "" if exc.permanent else ", will retry",
                    exc,
                )
                if exc.timed_out:
                    break
                continue
            except Exception as exc:  # a stored message this code cannot send: fail it alone
                log.exception("invite delivery %s failed", did)
                _settle(engine, did, "failed", f"internal error: {exc}")
                continue
            _settle(engine, did, "sent")
            sent += 1
    return sent, built >= BUILD_PER_ROUND or sent >= limit


def _outgoing(message: str) -> bytes | EmailMessage:
    """A stored message as the mailer takes it. An invite is stored ready to send (wire
    form, CRLF: :func:`service.email.wire_message`) and goes out as its UTF-8 bytes; a
    message stored as ``as_string()`` (LF: a sign-in link, or an invite queued before
    invites were stored ready to send) is parsed and generated again, as it always was."""
    if message.partition("\n")[0].endswith("\r"):
        return message.encode("utf-8")
    parsed: EmailMessage = message_from_string(message, policy=policy.SMTP)
    return parsed


def _due(now: int) -> Any:
    """Deliveries whose undo window (``not_before``) is over, or that never had one."""
    return deliveries.c.not_before.is_(None) | (deliveries.c.not_before <= now)


def next_due(engine: Engine) -> int | None:
    """When (epoch seconds) the next delivery still in an undo window becomes due."""
    with engine.connect() as conn:
        due: int | None = conn.execute(
            select(func.min(deliveries.c.not_before)).where(
                (deliveries.c.status == "pending") & (deliveries.c.not_before > now_epoch())
            )
        ).scalar()
    return due


def recall(conn: Connection, series_id: str) -> int:
    """Take back a series' invites before any went out (undo): delete those still
    waiting; ``Conflict`` when any was claimed or sent already. In the caller's
    transaction, which a Conflict rolls back. Returns how many were deleted.

    Deleting first and looking after is what makes this safe against a sender claiming
    at the same moment: once deleted a row cannot be claimed, and a row claimed before is
    no longer ``pending``, so it is still there to be seen."""
    # Invites owed but not built yet (or being built: the builder then finds its job gone).
    conn.execute(invite_jobs.delete().where(invite_jobs.c.series_id == series_id))
    writeback.bump(conn, series_id)  # nothing was written yet: the writer drops its rows
    never_tried = (deliveries.c.series_id == series_id) & (deliveries.c.attempts == 0)
    deleted = conn.execute(
        deliveries.delete().where(never_tried & (deliveries.c.status == "pending"))
    ).rowcount
    # Failed before any attempt (an unusable address) is the one thing left that nobody
    # got; anything else was claimed, tried or sent.
    went = conn.execute(
        select(func.count())
        .select_from(deliveries)
        .where(
            (deliveries.c.series_id == series_id)
            & ((deliveries.c.status != "failed") | (deliveries.c.attempts > 0))
        )
    ).scalar_one()
    if went:
        raise Conflict(TOO_LATE_TO_UNDO)
    conn.execute(deliveries.delete().where(deliveries.c.series_id == series_id))
    return int(deleted)


def _claim(engine: Engine, did: str) -> str | None:
    """Mark a delivery as being sent (so no other worker sends it too); its message, or
    None when another worker got it first (or it is not due: undo took it back)."""
    with engine.begin() as conn:
        claimed = conn.execute(
            update(deliveries)
            .where(
                (deliveries.c.id == did) & (deliveries.c.status == "pending") & _due(now_epoch())
            )
            .values(status="sending", attempts=deliveries.c.attempts + 1, sent_at=now_epoch())
        ).rowcount
        if not claimed:
            return None
        message: str = conn.execute(
            select(deliveries.c.message).where(deliveries.c.id == did)
        ).scalar_one()
        return message


def _settle(engine: Engine, did: str, status: str, error: str | None = None) -> None:
    values: dict[str, Any] = {"status": status}
    if status == "sent":
        values["sent_at"] = now_epoch()
    else:
        values["last_error"] = (error or "")[:500]
    with engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == did).values(**values))
        if status != "pending":
            # A sign-in message holds a working link: kept only until it is handed over.
            conn.execute(
                update(deliveries)
                .where((deliveries.c.id == did) & (deliveries.c.method == "SIGNIN"))
                .values(message="")
            )


def release_stale(engine: Engine) -> None:
    """A worker that died while sending (or building an invite job) leaves a claim; after
    a while it is retried."""
    cutoff = now_epoch() - int(STALE_CLAIM.total_seconds())
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where((deliveries.c.status == "sending") & (deliveries.c.sent_at < cutoff))
            .values(status="pending")
        )
        conn.execute(
            update(invite_jobs)
            .where((invite_jobs.c.status == "building") & (invite_jobs.c.claimed_at < cutoff))
            .values(status="pending", claim=None)
        )


# The running senders of this process, by the engine they read: wake() finds them.
_senders: dict[Engine, set[RetryLoop]] = {}
_senders_lock = threading.Lock()


def wake(engine: Engine) -> None:
    """Tell this process's sender for ``engine`` that deliveries were committed. Returns at
    once: a request never waits for SMTP (docs/rules.md, "Names, addresses and mail")."""
    with _senders_lock:
        running = list(_senders.get(engine, ()))
    for sender in running:
        sender.wake()


class RetryLoop:
    """The background sender: two daemon threads woken by :func:`wake` (after a request
    commits invites or calendar writes) and every ``settings.retry_seconds``.

    ``invite-sender`` builds and sends invites; ``calendar-writer`` writes booked series
    into members' CalDAV calendars (``service/caldav_write.py``). Two threads, so that a
    member's slow or silent calendar server (up to ``writeback_timeout`` a request, for
    every series owed to it) never holds up anyone's invitation mail. A round that did all
    one round may (a plan's invites) is followed by the next at once.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._wake_writer = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invite-sender", daemon=True)
        self._writer = threading.Thread(
            target=self._run_writes, name="calendar-writer", daemon=True
        )

    def start(self) -> None:
        with _senders_lock:
            _senders.setdefault(self.engine, set()).add(self)
        self.wake()  # what an earlier run left pending goes out now
        self._thread.start()
        self._writer.start()

    def stop(self) -> None:
        with _senders_lock:
            _senders.get(self.engine, set()).discard(self)
            if not _senders.get(self.engine):
                _senders.pop(self.engine, None)
        self._stop.set()
        self.wake()
        # A send in progress may hang up to the SMTP timeout (a write, up to the write-back
        # timeout); the threads are daemons and their claims are released after a while,
        # so shutting down does not wait for them.
        self._thread.join(timeout=5)
        self._writer.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()
        self._wake_writer.set()

    def _loop(self, wake: threading.Event, work: Callable[[], tuple[bool, int | None]]) -> None:
        """Run ``work`` (whether a full round was done, when work next falls due) each
        time ``wake`` is set, every retry interval, or when work falls due."""
        wait = self.settings.retry_seconds
        while not self._stop.is_set():
            wake.wait(wait)
            wake.clear()  # before the round: a wake during it means one more round
            if self._stop.is_set():
                break
            wait = self.settings.retry_seconds
            try:
                full, due = work()
                if full:
                    wait = 0  # a full round: the next one at once, not a retry later
                if due is not None:
                    wait = min(wait, max(due - time.time(), 0.05))
            except Exception:  # keep going; the next round may work
                log.exception("%s round failed", threading.current_thread().name)

    def _run(self) -> None:
        swept = retried = float("-inf")  # what failed is tried again every retry_seconds

        def send() -> tuple[bool, int | None]:
            nonlocal swept, retried
            began = time.monotonic()
            if began - swept >= STALE_SWEEP_SECONDS:
                release_stale(self.engine)
                swept = time.monotonic()
            retry = began - retried >= self.settings.retry_seconds
            _, more = _round(self.engine, self.settings, SEND_PER_ROUND, self._stop, retry)
            if retry and not more:  # a full retry round goes on in the next one
                retried = began
            # Invites held for an undo window go out when it closes, not a retry later.
            return more, next_due(self.engine)

        self._loop(self._wake, send)

    def _run_writes(self) -> None:
        # Imported here: the writer builds its events with invite_series above.
        from . import caldav_write

        def write() -> tuple[bool, int | None]:
            written = caldav_write.flush(self.engine, self.settings, self._stop)
            # Writes whose backoff (or a booking's undo window) ends before the next retry.
            return written >= caldav_write.WRITES_PER_ROUND, caldav_write.next_due(self.engine)

        self._loop(self._wake_writer, write)
