"""Invites out of the database: build them, queue them, deliver them, retry them.

Sign-in links (``service/signin.py``, method ``SIGNIN``) take the same path.

A booking writes its invite emails into ``deliveries`` in the same transaction as the
sessions, so a booking is never kept without its invites nor an invite sent for a booking
that was rolled back. After the commit the request wakes the background sender
(:class:`RetryLoop`), which sends them; what fails for now (SMTP down) stays pending and is
retried, what can never be delivered is marked failed with the reason. A delivery is
claimed before sending, so two workers never send the same one.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.errors import MessageError
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select, update

from ingest.grid import from_epoch
from ingest.text import address_problem

from .booking import TOO_LATE_TO_UNDO
from .config import Settings
from .email import DeliveryError, Mailer, imip_message
from .errors import Conflict
from .invites import (
    InviteSeries,
    Method,
    Override,
    Person,
    occurrence_cancel,
    series_calendar,
)
from .store import (
    deliveries,
    matches_data,
    members_data,
    now_epoch,
    program_row,
    series,
    sessions,
)

log = logging.getLogger("slotwise.notify")
STALE_CLAIM = timedelta(minutes=10)


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
            mid, m.get("name") or mid, m.get("email") or "", m.get("timezone") or header["timezone"]
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


def queue_series(
    conn: Connection,
    settings: Settings,
    program_id: str,
    series_id: str,
    method: Method,
    note: str | None = None,
) -> int:
    """Queue the series' invite (REQUEST) or cancellation (CANCEL, with the canceller's
    ``note`` if any) for every member."""
    inv = replace(invite_series(conn, program_id, series_id, sender=settings.sender), note=note)
    method = _method(inv, method) or method
    ics = series_calendar(inv, method, datetime.now(UTC))
    if inv.ends_after is not None:
        subject = f"Series ended: {inv.summary}"
    else:
        verb = {
            "REQUEST": "Invitation" if inv.sequence == 0 else "Updated invitation",
            "CANCEL": "Cancelled",
        }[method]
        subject = f"{verb}: {inv.summary}"
    return _queue(conn, settings, program_id, series_id, inv, ics, method, subject)


def queue_occurrence_cancel(
    conn: Connection,
    settings: Settings,
    program_id: str,
    session_id: str,
    note: str | None = None,
) -> int:
    """Tell every member that one occurrence is cancelled (METHOD:CANCEL + RECURRENCE-ID),
    with the canceller's ``note`` if any."""
    o = conn.execute(select(sessions).where(sessions.c.id == session_id)).one()
    inv = replace(invite_series(conn, program_id, o.series_id, sender=settings.sender), note=note)
    # Named by its original start (RECURRENCE-ID), shown at the time the attendees last
    # saw: where it was moved to, if it was.
    ics = occurrence_cancel(
        inv,
        from_epoch(o.original_start),
        datetime.now(UTC),
        start=from_epoch(o.start),
        end=from_epoch(o.end),
    )
    when = from_epoch(o.start).astimezone(ZoneInfo(inv.zone))
    return _queue(
        conn,
        settings,
        program_id,
        o.series_id,
        inv,
        ics,
        "CANCEL",
        f"Cancelled: {inv.summary} on {when:%a %d %b %Y %H:%M} ({inv.zone})",
    )


def _queue(
    conn: Connection,
    settings: Settings,
    program_id: str,
    series_id: str,
    inv: InviteSeries,
    ics: bytes,
    method: str,
    subject: str,
) -> int:
    # While a new booking can still be undone, everything about it waits with its invites
    # (an update must not arrive before the invitation it updates).
    undo_until = conn.execute(select(series.c.undo_until).where(series.c.id == series_id)).scalar()
    not_before = undo_until if undo_until is not None and undo_until > now_epoch() else None
    rows = []
    texts: dict[str | None, str] = {}  # one text per zone the attendees read in
    for person in inv.attendees:
        if person.zone not in texts:
            texts[person.zone] = _text(inv, method, person.zone)
        message, problem = _build(settings, person, subject, texts[person.zone], ics, method)
        rows.append(
            {
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
        )
    if rows:
        conn.execute(deliveries.insert(), rows)
    return len(rows)


def _build(
    settings: Settings, person: Person, subject: str, text: str, ics: bytes, method: str
) -> tuple[str, str | None]:
    """The message for one attendee, or ("", why not). Stored data may predate today's
    validation (ingest/text.py): an unusable address fails this one delivery with its
    reason, and never the booking or the plan apply it belongs to."""
    problem = address_problem(person.email)
    if problem is not None:
        return (
            "",
            f"recipient {person.email[:200]!r} ({person.id}) is not an email address: {problem}",
        )
    try:
        return imip_message(settings.sender, person, subject, text, ics, method).as_string(), None
    except (ValueError, TypeError, UnicodeError, MessageError) as exc:
        # A message the email package will not build (it should not happen after the
        # checks above): the delivery fails with the reason; the others still go out.
        log.warning("invite to %s could not be built: %s", person.id, exc)
        return "", f"the message could not be built: {exc}"


def _text(inv: InviteSeries, method: str, reader_zone: str | None = None) -> str:
    """The plain-text part: what the invite says, with times in the reader's own zone and,
    when it is another, the organizer's beside them."""
    zone = ZoneInfo(inv.zone)
    lines = [inv.summary, ""]
    if inv.ends_after is not None:
        lines.append(
            "The remaining sessions of this series have been cancelled; the "
            "sessions already held stay in your calendar."
        )
    elif method == "CANCEL":
        lines.append("This session (or series) has been cancelled.")
    else:
        first = inv.first_start.astimezone(zone)
        when = f"{first:%A %d %B %Y, %H:%M} ({inv.zone})"
        if reader_zone and reader_zone != inv.zone:
            mine = inv.first_start.astimezone(ZoneInfo(reader_zone))
            when = f"{mine:%A %d %B %Y, %H:%M} your time ({reader_zone}); {when}"
        lines.append(
            f"First session: {when}, {inv.duration_minutes} minutes, "
            f"{inv.sessions} session(s), {inv.frequency}."
        )
        if inv.video_url:
            lines.append(f"Join: {inv.video_url}")
        if inv.location:
            lines.append(f"Where: {inv.location}")
        if inv.agenda:
            lines += ["", "Agenda:", inv.agenda]  # line breaks made LF by imip_message
    if inv.note and inv.note.strip():
        lines += ["", "Note:", inv.note.strip()]
    return "\n".join(lines) + "\n"


def flush(
    engine: Engine, settings: Settings, limit: int = 500, stop: threading.Event | None = None
) -> int:
    """Send pending deliveries; returns how many were sent. What failed for now stays
    pending; what can never be delivered becomes ``failed`` with the reason. When the
    server did not answer in time the round ends there: the rest would only wait out the
    same timeout, one by one. Runs in the background sender, never in a request."""
    mailer = Mailer.from_settings(settings.smtp_url, settings.outbox)
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(deliveries.c.id)
                .where((deliveries.c.status == "pending") & _due(now_epoch()))
                .order_by(deliveries.c.created_at)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    sent = 0
    for did in ids:
        if stop is not None and stop.is_set():
            break
        message = _claim(engine, did)
        if message is None:
            continue
        try:
            mailer.send(message_from_string(message, policy=policy.SMTP))
        except DeliveryError as exc:
            _settle(engine, did, "failed" if exc.permanent else "pending", str(exc))
            log.warning(
                "invite delivery %s failed%s: %s", did, "" if exc.permanent else ", will retry", exc
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
    return sent


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
    """A worker that died while sending leaves a claim; after a while it is retried."""
    cutoff = now_epoch() - int(STALE_CLAIM.total_seconds())
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where((deliveries.c.status == "sending") & (deliveries.c.sent_at < cutoff))
            .values(status="pending")
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
    """The invite sender: a daemon thread that sends pending deliveries as soon as it is
    woken (:func:`wake`, after a request commits invites) and retries what is left every
    ``settings.retry_seconds``."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invite-sender", daemon=True)

    def start(self) -> None:
        with _senders_lock:
            _senders.setdefault(self.engine, set()).add(self)
        self._wake.set()  # what an earlier run left pending goes out now
        self._thread.start()

    def stop(self) -> None:
        with _senders_lock:
            _senders.get(self.engine, set()).discard(self)
            if not _senders.get(self.engine):
                _senders.pop(self.engine, None)
        self._stop.set()
        self._wake.set()
        # A send in progress may hang up to the SMTP timeout; the thread is a daemon and
        # its claim is released after STALE_CLAIM, so shutting down does not wait for it.
        self._thread.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        wait = self.settings.retry_seconds
        while not self._stop.is_set():
            self._wake.wait(wait)
            self._wake.clear()  # before the round: a wake during it means one more round
            if self._stop.is_set():
                break
            wait = self.settings.retry_seconds
            try:
                release_stale(self.engine)
                flush(self.engine, self.settings, stop=self._stop)
                # Invites held for an undo window go out when it closes, not a retry later.
                due = next_due(self.engine)
                if due is not None:
                    wait = min(wait, max(due - time.time(), 0.05))
            except Exception:  # keep going; the next round may work
                log.exception("invite send round failed")
