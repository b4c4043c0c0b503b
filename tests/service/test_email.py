"""SPEC 8: invites delivered as iMIP email (RFC 6047) over a real SMTP server, or to the
outbox folder when no SMTP is configured."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from icalendar import Calendar

from service.email import DeliveryError, Mailer, SmtpSettings, imip_message
from service.invites import series_calendar
from tests.helpers import free_port
from tests.service.mail_sample import BEN, SENDER, SERIES, STAMP, invite
from tests.service.smtp import Collector, SmtpServer


def check_imip(msg: EmailMessage, ics: bytes, method: str) -> None:
    """The RFC 6047 shape: mixed[alternative[text/plain, text/calendar; method], .ics]."""
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, calendar = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert "8 weekly sessions" in plain.get_content()
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == method
    assert calendar.get_content_charset() == "utf-8"
    assert calendar.get_payload(decode=True) == ics
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == ics
    for part in (calendar, attachment):
        parsed = Calendar.from_ical(part.get_payload(decode=True))
        assert parsed["METHOD"] == method
        assert parsed.walk("VEVENT")[0]["UID"] == SERIES.uid


def test_imip_message_structure():
    """An invite is multipart/mixed with text/plain and text/calendar; method=REQUEST
    alternatives and the same calendar attached as invite.ics (application/ics)."""
    ics, msg = invite()
    check_imip(msg, ics, "REQUEST")
    assert msg["To"].addresses[0].display_name == "Bén Okafor"
    assert msg["To"].addresses[0].addr_spec == "ben@example.org"
    assert msg["Message-ID"].endswith("@slotwise.example>")
    assert msg["Date"]


def test_imip_method_must_match_the_calendar():
    """RFC 6047 2.4: the Content-Type method equals the calendar's METHOD; a mismatch or a
    calendar without METHOD (a CalDAV resource) is refused."""
    ics = series_calendar(SERIES, "REQUEST", STAMP)
    with pytest.raises(ValueError, match="method"):
        imip_message(SENDER, BEN, "x", "x", ics, "CANCEL")
    with pytest.raises(ValueError, match="method"):
        imip_message(SENDER, BEN, "x", "x", series_calendar(SERIES, None, STAMP), "REQUEST")


def test_send_invite_over_smtp(smtp_server: SmtpServer, tmp_path):
    """Over a real SMTP server: one message reaches the attendee, and what the server got
    parses as the same iMIP invite (parts, content types, method, attachment)."""
    ics, msg = invite()
    mailer = Mailer.from_settings(smtp_server.url, tmp_path / "outbox")
    mailer.send(msg)
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ["ben@example.org"]
    assert received.mail_from == "invites@slotwise.example"
    check_imip(received.message, ics, "REQUEST")
    assert received.message["Subject"] == "Invitation: Mentoring: Ana & Ben"
    assert not (tmp_path / "outbox").exists()


def test_send_cancel_over_smtp(smtp_server: SmtpServer, tmp_path):
    """A cancellation travels as text/calendar; method=CANCEL with the series' UID."""
    ics, msg = invite("CANCEL")
    Mailer.from_settings(smtp_server.url, tmp_path).send(msg)
    (received,) = smtp_server.messages
    check_imip(received.message, ics, "CANCEL")


def test_outbox_when_no_smtp(tmp_path):
    """With no SLOTWISE_SMTP_URL the message is written to outbox/<timestamp>-<uuid>.eml and
    parses back as the same invite."""
    ics, msg = invite()
    outbox = tmp_path / "outbox"
    Mailer.from_settings(None, outbox).send(msg)
    Mailer.from_settings("", outbox).send(invite()[1])
    files = sorted(outbox.iterdir())
    assert len(files) == 2
    assert all(
        f.suffix == ".eml" and f.name[:8].isdigit() and len(f.stem.split("-")) == 2 for f in files
    )
    parsed = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    check_imip(parsed, ics, "REQUEST")


def test_smtp_down_raises_delivery_error(tmp_path):
    """A server that does not answer (closed port) is a DeliveryError, for the caller to
    retry later; nothing is written to the outbox instead."""
    mailer = Mailer.from_settings(f"smtp://127.0.0.1:{free_port()}", tmp_path, timeout=5)
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1"):
        mailer.send(invite()[1])
    assert list(tmp_path.iterdir()) == []


def test_outbox_unwritable_raises_delivery_error(tmp_path):
    """An outbox that cannot be written is a DeliveryError too."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DeliveryError, match="outbox"):
        Mailer.from_settings(None, blocker / "outbox").send(invite()[1])


def test_smtp_login_with_credentials(tmp_path):
    """user:password@ in the URL logs in (AUTH) with the percent-decoded credentials."""
    seen: list[tuple[str, bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p@ss word", handled=False)

    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(
        Collector(server),
        hostname=server.host,
        port=server.port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        url = f"smtp://mailer:p%40ss%20word@{server.host}:{server.port}"
        Mailer.from_settings(url, tmp_path).send(invite()[1])
        bad = f"smtp://mailer:wrong@{server.host}:{server.port}"
        with pytest.raises(DeliveryError):
            Mailer.from_settings(bad, tmp_path).send(invite()[1])
    finally:
        controller.stop()
    assert seen[0][1:] == (b"mailer", b"p@ss word")
    assert len(server.messages) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org:2525", SmtpSettings("smtp", "mail.example.org", 2525)),
        ("smtp://mail.example.org", SmtpSettings("smtp", "mail.example.org", 25)),
        (
            "smtps://u:secret@mail.example.org",
            SmtpSettings("smtps", "mail.example.org", 465, "u", "secret"),
        ),
        (
            "smtp+starttls://me%40example.org:p%2Fw@mail.example.org",
            SmtpSettings("smtp+starttls", "mail.example.org", 587, "me@example.org", "p/w"),
        ),
    ],
)
def test_smtp_url_parsing(url, expected):
    """SLOTWISE_SMTP_URL schemes, default ports and percent-encoded credentials."""
    assert SmtpSettings.from_url(url) == expected
    assert Mailer.from_settings(url, "outbox").smtp == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["http://mail.example.org", "smtp://", "smtp://h:99999", "mail.example.org:25"]
)
def test_bad_smtp_url_rejected(url):
    """A malformed SLOTWISE_SMTP_URL fails at start-up with a message naming the setting,
    without echoing a password."""
    with pytest.raises(ValueError, match="SLOTWISE_SMTP_URL") as info:
        Mailer.from_settings(url.replace("//", "//u:hunter2@", 1), "outbox")  # type: ignore
    assert "hunter2" not in str(info.value)
