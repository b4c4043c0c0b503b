"""Invites stored ready to send (issue 15): the body built once per reader zone, the header
lines per recipient, the stored bytes sent as they are over one SMTP connection a round.
What a recipient gets is what the EmailMessage path (imip_message, parsed again and sent
by smtplib) gave before, header for header and part for part."""

from __future__ import annotations

import re
import secrets
from email import message_from_string, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from sqlalchemy import select

from service import notify
from service.config import Settings
from service.email import DeliveryError, Mailer, imip_body, imip_message, wire_message
from service.invites import Person, series_calendar
from service.store import deliveries, init_db, make_engine, now_epoch
from tests.helpers import free_port
from tests.service.mail_sample import SENDER, SERIES, STAMP
from tests.service.smtp import Collector, Received, SmtpServer

TEXT = "Ana invites you to 8 weekly sessions.\nGrüße, Ελένη, 李小龍\nJoin: https://meet.example.org/x\n"
RECIPIENTS = {
    "ascii": Person("ben", "Ben Okafor", "ben@example.org"),
    "utf8-name": Person("li", "李小龍 Ελένη Ünal-Łukasz", "li@example.org"),
    "utf8-address": Person("jorg", "Jörg Müller", "jörg@example.de"),
    "idna-domain": Person("zoe", "Zoë", "jörg.müller@bücher.example"),
    "punycode-domain": Person("anna", "Anna", "anna@xn--bcher-kva.example"),
    "specials": Person("al", 'Al "Bcc: e@example.org" (x), y', "al@example.org"),
}
_RANDOM = [
    (re.compile(rb"^Date: [^\r]*\r\n", re.M), b"Date: *\r\n"),
    (re.compile(rb"^Message-ID: <[^@]*@", re.M), b"Message-ID: <*@"),
    # Parsing a message again and writing it out puts a space after a header name whose
    # value the policy folded whole onto the next line ("To: \r\n =?utf-8?b?...").
    (re.compile(rb"^([A-Za-z-]+): \r\n", re.M), rb"\1:\r\n"),
]


def _normal(raw: bytes) -> bytes:
    """``raw`` without what is new in every message (Date, Message-ID, the boundaries) or
    a blank the old path added at the end of a folded header's first line."""
    for pattern, fixed in _RANDOM:
        raw = pattern.sub(fixed, raw)
    named: dict[bytes, bytes] = {}
    return re.sub(
        rb"===============\d+==", lambda m: named.setdefault(m.group(0), b"B%d" % len(named)), raw
    )


def _shape(msg: EmailMessage) -> list[tuple[object, ...]]:
    """Every header (Date and Message-ID by form) and every part as a reader sees it."""
    out: list[tuple[object, ...]] = []
    for part in msg.walk():
        for name, value in part.items():
            if name == "Date":
                assert part["Date"].datetime is not None
            elif name == "Message-ID":
                assert re.fullmatch(r"<[^@]+@[^@]+>", str(value))
            elif name == "Content-Type":
                params = {k: v for k, v in part["Content-Type"].params.items() if k != "boundary"}
                out.append((name, part.get_content_type(), sorted(params.items())))
            elif name in ("From", "To"):
                out.append((name, [(a.display_name, a.addr_spec) for a in value.addresses]))
            else:
                out.append((name, str(value)))
        if not part.is_multipart():
            out.append(("payload", part.get_content_disposition(), part.get_content()))
    return out


def _options(got: Received) -> list[str]:
    """The MAIL options but SIZE (the Message-ID is a digit longer or shorter)."""
    return [o for o in got.mail_options if not o.startswith("SIZE=")]


def _smtp(**options: object) -> tuple[SmtpServer, Controller]:
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(Collector(server), hostname=server.host, port=server.port, **options)
    controller.start()
    return server, controller


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
@pytest.mark.parametrize("who", RECIPIENTS)
def test_a_ready_to_send_invite_arrives_as_the_email_message_did(
    smtp_server, tmp_path, who, method
):
    """Sent as stored bytes or as before (imip_message, as_string, parsed again, smtplib's
    send_message), the SMTP server gets the same envelope and SMTPUTF8, the same headers,
    parts and calendar, and the same bytes but for Date, Message-ID and the boundaries."""
    to = RECIPIENTS[who]
    ics = series_calendar(SERIES, method, STAMP)  # type: ignore[arg-type]
    subject = f"Invitation: {SERIES.summary} — Grüße"
    before = imip_message(SENDER, to, subject, TEXT, ics, method).as_string()
    wire = wire_message(SENDER, to, subject, imip_body(TEXT, ics, method)).encode()
    mailer = Mailer.from_settings(smtp_server.url, tmp_path)
    mailer.send(message_from_string(before, policy=policy.SMTP))  # type: ignore[arg-type]
    mailer.send(wire)
    old, new = smtp_server.messages
    assert new.raw == wire  # handed over as it stands
    assert (
        (new.mail_from, new.rcpt_tos)
        == (old.mail_from, old.rcpt_tos)
        == (
            "invites@slotwise.example",
            [to.email],
        )
    )
    assert _options(new) == _options(old)
    assert ("SMTPUTF8" in _options(new)) == (not to.email.isascii())
    assert _shape(new.message) == _shape(old.message)
    assert _normal(new.raw) == _normal(old.raw)
    for got in (old, new):
        calendars = [p for p in got.message.walk() if p.get_content_type().endswith("ics")]
        calendars += [p for p in got.message.walk() if p.get_content_type() == "text/calendar"]
        assert [p.get_payload(decode=True) for p in calendars] == [ics, ics]
        assert Calendar.from_ical(calendars[0].get_payload(decode=True))["METHOD"] == method


names = st.text(st.characters(codec="utf-8"), max_size=120)


@settings(max_examples=150, deadline=None)
@given(
    name=names,
    subject=names,
    address=st.sampled_from([p.email for p in RECIPIENTS.values()]),
    sender=st.sampled_from(
        [SENDER, "Slötwise <invites@bücher.example>", "p@" + "long-" * 16 + "example.org"]
    ),
)
def test_wire_header_lines_are_the_email_message_lines(name, subject, address, sender):
    """For any stored name and subject, the ready-to-send header lines are the lines
    imip_message's as_string() gave (with CRLF), folding and encoded words included; a
    message one cannot build, the other cannot either."""
    ics = series_calendar(SERIES, "REQUEST", STAMP)
    to = Person("x", name, address)
    try:
        before = imip_message(sender, to, subject, "x", ics, "REQUEST").as_string()
    except ValueError as exc:
        with pytest.raises(ValueError) as caught:
            wire_message(sender, to, subject, imip_body("x", ics, "REQUEST"))
        assert str(caught.value) == str(exc)
        return
    wire = wire_message(sender, to, subject, imip_body("x", ics, "REQUEST"))
    head_before = before.split("\nMIME-Version:", 1)[0].replace("\n", "\r\n")
    head_wire = wire.split("\r\nMIME-Version:", 1)[0]
    assert _normal(head_wire.encode()) == _normal(head_before.encode())


def _queue(engine, message: str, recipient: str) -> str:
    did = "d" + secrets.token_hex(8)
    with engine.begin() as conn:
        conn.execute(
            deliveries.insert(),
            {
                "id": did,
                "program_id": "p1",
                "series_id": "s1",
                "recipient": recipient,
                "method": "REQUEST",
                "message": message,
                "status": "pending",
                "attempts": 0,
                "created_at": now_epoch(),
            },
        )
    return did


class Refusing(Collector):
    """Refuses one recipient for good (550), takes the others."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address == "gone@example.org":
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_round_sends_over_one_connection_and_a_new_one_after_a_failure(tmp_path):
    """The sender's round hands its invites over one SMTP connection; a recipient refused
    for good fails that delivery alone, and the rest go over a new connection, an invite
    stored the old way (as_string, LF) among them."""
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(Refusing(server), hostname=server.host, port=server.port)
    controller.start()
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    init_db(engine)
    ics = series_calendar(SERIES, "REQUEST", STAMP)
    body = imip_body(TEXT, ics, "REQUEST")
    people = [
        RECIPIENTS["ascii"],
        RECIPIENTS["utf8-address"],
        Person("g", "Gone", "gone@example.org"),
    ]
    people += [RECIPIENTS["utf8-name"]]
    ids = [_queue(engine, wire_message(SENDER, p, "Invitation", body), p.email) for p in people]
    legacy = RECIPIENTS["specials"]
    old = imip_message(SENDER, legacy, "Invitation", TEXT, ics, "REQUEST").as_string()
    ids.append(_queue(engine, old, legacy.email))
    try:
        sent = notify.flush(engine, Settings(smtp_url=server.url, sender=SENDER, outbox=tmp_path))
    finally:
        controller.stop()
    with engine.connect() as conn:
        status = dict(conn.execute(select(deliveries.c.id, deliveries.c.status)).all())
    engine.dispose()
    assert sent == 4
    assert [status[d] for d in ids] == ["sent", "sent", "failed", "sent", "sent"]
    got: list[Received] = server.messages
    assert [m.rcpt_tos for m in got] == [[p.email] for p in (*people[:2], people[3], legacy)]
    assert got[0].peer == got[1].peer != got[2].peer == got[3].peer
    assert _shape(got[3].message)[:2] == [
        ("From", [("Slotwise", "invites@slotwise.example")]),
        ("To", [(legacy.name, legacy.email)]),
    ]


def test_a_kept_connection_the_server_dropped_is_opened_anew(tmp_path):
    """A connection kept for the next message that the server has closed meanwhile (it
    restarted) is found out before the message is handed over: the message goes over a
    new one, and only one server got it."""
    port = free_port()
    first = SmtpServer("127.0.0.1", port)
    controller = Controller(Collector(first), hostname=first.host, port=port)
    controller.start()
    ics = series_calendar(SERIES, "REQUEST", STAMP)
    body = imip_body(TEXT, ics, "REQUEST")
    mailer = Mailer.from_settings(first.url, tmp_path, timeout=5)
    second = SmtpServer("127.0.0.1", port)
    try:
        with mailer:
            mailer.send(wire_message(SENDER, RECIPIENTS["ascii"], "One", body).encode())
            controller.stop()
            controller = Controller(Collector(second), hostname=second.host, port=port)
            controller.start()
            mailer.send(wire_message(SENDER, RECIPIENTS["utf8-address"], "Two", body).encode())
    finally:
        controller.stop()
    assert [m.message["Subject"] for m in first.messages] == ["One"]
    assert [m.message["Subject"] for m in second.messages] == ["Two"]


def test_ready_to_send_bytes_keep_their_smtputf8_rule(tmp_path):
    """A server without SMTPUTF8 cannot take a ready-to-send invite to jörg@example.de: a
    permanent DeliveryError naming SMTPUTF8, while an ASCII one goes through."""
    server, controller = _smtp(enable_SMTPUTF8=False)
    ics = series_calendar(SERIES, "REQUEST", STAMP)
    body = imip_body(TEXT, ics, "REQUEST")
    try:
        with Mailer.from_settings(server.url, tmp_path) as mailer:
            with pytest.raises(DeliveryError, match="SMTPUTF8") as caught:
                mailer.send(wire_message(SENDER, RECIPIENTS["utf8-address"], "x", body).encode())
            assert caught.value.permanent
            mailer.send(wire_message(SENDER, RECIPIENTS["utf8-name"], "x", body).encode())
    finally:
        controller.stop()
    assert [m.rcpt_tos for m in server.messages] == [["li@example.org"]]


def test_the_outbox_gets_the_ready_to_send_bytes(tmp_path):
    """With no SMTP, the outbox file holds the stored bytes as they are."""
    ics = series_calendar(SERIES, "REQUEST", STAMP)
    wire = wire_message(SENDER, RECIPIENTS["utf8-address"], "x", imip_body(TEXT, ics, "REQUEST"))
    Mailer.from_settings(None, tmp_path / "outbox").send(wire.encode())
    (written,) = (tmp_path / "outbox").iterdir()
    assert written.read_bytes() == wire.encode()
