"""Issue 16 item 4, who accepted, attacked: replies that try to answer for someone else,
freeze later answers, crash the reader, forge log lines or race each other, sent to the
webhook and the SMTP/LMTP listener (docs/rules.md, "Replies")."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from service.replies import take_message
from service.store import replies
from tests.service.inprocess import call
from tests.service.test_replies import HEADER, _event, answers, booked, listening, reply

ACCEPT = "ATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org"


def calendar(uid: str, *lines: str) -> str:
    return _event(f"UID:{uid}", *lines)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# From headers whose reading by Python's parser (after repairs) is not the address a
# mail system checked: each would be read as al@example.org.
FORGED_FROM = {
    "address then angle address": "al@example.org <cy@evil.example>",
    "tab then angle address": "al@example.org\t<cy@evil.example>",
    "encoded word as local part": "=?utf-8?q?al?=@example.org",
    "comment trick": "al@example.org)<cy@evil.example>",
}


@pytest.mark.parametrize("how", FORGED_FROM)
def test_a_from_header_the_parser_must_repair_answers_for_nobody(tmp_path, how):
    """A From header read as al@example.org only after the parser repaired it (other mail
    software reads cy@evil.example there) keeps nothing."""
    with booked(tmp_path) as b:
        assert (
            b.post(reply("thunderbird", b.series["uid"], sender=FORGED_FROM[how])).status_code
            == 202
        )
        assert b.kept() == 0


@pytest.mark.parametrize(
    "sender",
    ["=?utf-8?q?A=C3=B1l?= <al@example.org>", '"Al, A." <al@example.org>', "al@example.org"],
)
def test_a_well_formed_from_still_answers(tmp_path, sender):
    """The measure of the case above: encoded display names and bare addresses are read."""
    with booked(tmp_path) as b:
        assert b.post(reply("thunderbird", b.series["uid"], sender=sender)).status_code == 202
        assert b.kept() == 1


def test_a_future_dtstamp_does_not_freeze_later_answers(tmp_path):
    """A reply stamped in 2099 is read as stamped when it came, so the member's next
    answer (stamped now) replaces it instead of being stale for good."""
    with booked(tmp_path) as b:
        uid = b.series["uid"]
        assert b.post(reply("thunderbird", uid, dtstamp="20990101T000000Z")).status_code == 202
        now = stamp(datetime.now(UTC))
        assert (
            b.post(reply("thunderbird", uid, partstat="DECLINED", dtstamp=now)).status_code == 202
        )
        assert answers(b.session(0)) == {"al": ("DECLINED", "series")}


def test_a_sequence_above_the_series_does_not_outlive_a_move(tmp_path):
    """A reply with SEQUENCE 99 (above any invite sent) answers the series as it is: once
    the session moves it is asked again, and the answer to the move (SEQUENCE 1) is kept."""
    with booked(tmp_path) as b:
        uid, oid = b.series["uid"], b.series["sessions"][2]["id"]
        raw = reply("thunderbird", uid, sequence=99, occurrence="20270316T100000")
        assert b.post(raw).status_code == 202
        assert answers(b.session(2)) == {"al": ("ACCEPTED", "occurrence")}
        b.patch(oid, {"start": "2027-03-16T14:00:00-04:00"})
        assert answers(b.session(2)) == {}
        now = stamp(datetime.now(UTC))
        again = reply(
            "thunderbird", uid, sequence=1, partstat="DECLINED", dtstamp=now,
            occurrence="20270316T100000",
        )  # fmt: skip
        assert b.post(again).status_code == 202
        assert answers(b.session(2)) == {"al": ("DECLINED", "occurrence")}


def test_a_cancelled_occurrence_takes_no_answer(tmp_path):
    """A RECURRENCE-ID naming an occurrence that was cancelled keeps nothing."""
    with booked(tmp_path) as b:
        b.patch(b.series["sessions"][2]["id"], {"status": "cancelled"})
        raw = reply("outlook", b.series["uid"], sequence=1, occurrence="20270316T100000")
        assert b.post(raw).status_code == 202
        assert b.kept() == 0


def _nested(depth: int) -> bytes:
    head = "From: Al <al@example.org>\r\nMIME-Version: 1.0\r\n"
    for i in range(depth):
        head += f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
    return (head + "Content-Type: text/plain\r\n\r\nx\r\n").encode()


def _charset(uid: str, name: str) -> bytes:
    return reply("thunderbird", uid).replace(b"charset=UTF-8", f"charset={name}".encode())


# Messages that crashed the reader (a 500 from the webhook, a 451 from the listener: the
# sending server would retry the same message for days).
CRASHES = {
    "RECURRENCE-ID in year 10000 UTC": lambda uid: reply(
        "thunderbird",
        uid,
        ics=calendar(
            uid,
            "DTSTAMP:20260301T000000Z",
            "RECURRENCE-ID;TZID=America/New_York:99991231T235959",
            ACCEPT,
        ),
    ),
    "DTSTAMP in year 10000 UTC": lambda uid: reply(
        "thunderbird",
        uid,
        ics=calendar(uid, "DTSTAMP;TZID=America/New_York:99991231T235959", ACCEPT),
    ),
    "charset undefined": lambda uid: _charset(uid, "undefined"),
    "charset punycode": lambda uid: _charset(uid, "punycode"),
    "3000 nested parts": lambda uid: _nested(3000),
}


@pytest.mark.parametrize("case", CRASHES)
def test_a_hostile_message_is_answered_never_a_500(tmp_path, case):
    """Each message is answered (202, or 400 for one nested too deeply to read), never a
    500, and keeps no wrong answer."""
    with booked(tmp_path) as b:
        r = b.post(CRASHES[case](b.series["uid"]))
        assert r.status_code in (202, 400), r.text
        if r.status_code == 400:
            assert "nested too deeply" in r.text
        with b.app.state.engine.connect() as conn:
            kept = conn.execute(select(replies.c.dtstamp)).scalars().all()
        assert all(s <= datetime.now(UTC).timestamp() for s in kept)


def test_a_partstat_cannot_forge_a_log_line(tmp_path, caplog):
    """A PARTSTAT carrying a line break (RFC 6868 ``^n``) is logged on one line."""
    with booked(tmp_path) as b:
        caplog.set_level(logging.INFO, logger="slotwise.replies")
        forged = 'ATTENDEE;PARTSTAT="X^nreply kept (via SMTP)":mailto:al@example.org'
        uid = b.series["uid"]
        raw = reply("thunderbird", uid, ics=calendar(uid, "DTSTAMP:20260301T000000Z", forged))
        assert b.post(raw).status_code == 202
    lines = [r.getMessage() for r in caplog.records if r.name == "slotwise.replies"]
    assert len(lines) == 1 and "\n" not in lines[0] and "is not an answer" in lines[0]


def test_one_forged_event_among_real_ones_keeps_nothing(tmp_path):
    """A REPLY whose second VEVENT answers for Mia (From is Al) keeps none of its answers."""
    with booked(tmp_path) as b:
        uid = b.series["uid"]
        mia = "ATTENDEE;PARTSTAT=DECLINED:mailto:mia@example.org"
        ics = calendar(uid, "DTSTAMP:20260301T000000Z", ACCEPT).replace(
            "END:VEVENT\r\n",
            f"END:VEVENT\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260301T000000Z\r\n"
            f"RECURRENCE-ID;TZID=America/New_York:20270316T100000\r\n{mia}\r\nEND:VEVENT\r\n",
        )
        assert b.post(reply("thunderbird", uid, ics=ics)).status_code == 202
        assert b.kept() == 0


def test_two_replies_at_once_keep_the_newer(tmp_path):
    """Two replies of one member to one series, let read what is kept together (a hook
    on the engine holds each there until both are), the older then committing first: both
    are answered, and the newer DTSTAMP stands."""
    with booked(tmp_path) as b:
        engine, uid = b.app.state.engine, b.series["uid"]
        meet, older_done = threading.Barrier(2, timeout=2), threading.Event()

        def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "FROM replies" in statement:
                # Broken: the other one waits for the lock, so there is nothing to meet.
                with contextlib.suppress(threading.BrokenBarrierError):
                    meet.wait()
                if threading.current_thread().name == "newer":
                    older_done.wait(5)

        older = reply("thunderbird", uid, partstat="ACCEPTED", dtstamp="20260301T110000Z")
        newer = reply("thunderbird", uid, partstat="DECLINED", dtstamp="20260301T120000Z")
        outcomes: list[Any] = []

        def send(raw: bytes) -> None:
            try:
                outcomes.append(take_message(engine, raw, "test"))
            except Exception as exc:  # the failure under test
                outcomes.append(exc)
            finally:
                if threading.current_thread().name == "older":
                    older_done.set()

        event.listen(engine, "after_cursor_execute", hold)
        try:
            threads = [
                threading.Thread(target=send, args=(raw,), name=name)
                for name, raw in (("older", older), ("newer", newer))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            event.remove(engine, "after_cursor_execute", hold)
        assert all(not isinstance(o, Exception) for o in outcomes), outcomes
        assert answers(b.session(0)) == {"al": ("DECLINED", "series")}


def _lines(sock: socket.socket, n: int) -> list[str]:
    """The next ``n`` reply lines of an SMTP/LMTP server (multi-line replies whole)."""
    buf, out = b"", []
    while len(out) < n:
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed after {out}"
            buf += chunk
        line, buf = buf.split(b"\r\n", 1)
        text = line.decode()
        if text[3:4] != "-":
            out.append(text)
    return out


def test_lmtp_answers_data_once_per_recipient(tmp_path):
    """LMTP with two recipients in one transaction: DATA is answered twice (RFC 2033 4.2),
    so the mail server does not wait, time out and deliver the reply again."""
    with booked(tmp_path, inbound_lmtp=True) as b, listening(b) as port:
        raw = reply("outlook", b.series["uid"])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            _lines(s, 1)
            s.sendall(b"LHLO mx.example\r\n")
            _lines(s, 1)
            s.sendall(b"MAIL FROM:<al@example.org>\r\n")
            s.sendall(b"RCPT TO:<invites@slotwise.example>\r\nRCPT TO:<other@slotwise.example>\r\n")
            s.sendall(b"DATA\r\n")
            assert [x[:3] for x in _lines(s, 4)] == ["250", "250", "250", "354"]
            s.sendall(raw + b"\r\n.\r\n")
            assert [x[:3] for x in _lines(s, 2)] == ["250", "250"]
        assert b.kept() == 1


def test_smtp_pipelined_and_oversized_messages(tmp_path):
    """A client writing a whole SMTP session at once is answered in order and its reply
    kept; a message above SLOTWISE_INBOUND_MAX_BYTES is refused with 552, kept nowhere."""
    with booked(tmp_path, inbound_max_bytes=8000) as b, listening(b) as port:
        raw = reply("thunderbird", b.series["uid"])
        big = raw.replace(b"has accepted", b"has accepted" + b"\r\nreally" * 2000)
        session = b"EHLO mx.example\r\n"
        for body in (big, raw):
            session += b"MAIL FROM:<al@example.org>\r\nRCPT TO:<invites@slotwise.example>\r\n"
            session += b"DATA\r\n" + body + b"\r\n.\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            _lines(s, 1)
            s.sendall(session + b"QUIT\r\n")
            got = [x[:3] for x in _lines(s, 10)]
        assert got == ["250", "250", "250", "354", "552", "250", "250", "354", "250", "221"]
        assert b.kept() == 1


def test_the_webhook_refuses_a_chunked_body_over_the_limit(tmp_path):
    """A body sent chunked (no Content-Length) is cut off at SLOTWISE_INBOUND_MAX_BYTES: 413."""
    with booked(tmp_path, inbound_max_bytes=4000) as b:

        async def body() -> Any:
            for _ in range(100):
                yield b"X-Padding: " + b"x" * 990 + b"\r\n"

        async def steps(api: httpx.AsyncClient) -> httpx.Response:
            return await api.post("/api/inbound/mail", content=body(), headers=HEADER)

        r = call(b.app, b.token, steps)
        assert r.status_code == 413 and "at most 4000 bytes" in r.text
        assert b.kept() == 0
