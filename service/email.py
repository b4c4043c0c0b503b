"""Invite delivery: iMIP messages (RFC 6047) sent over SMTP, or written to an outbox folder.

``SLOTWISE_SMTP_URL`` picks the transport: ``smtp://host:port`` (plain),
``smtp+starttls://host:port`` (STARTTLS, default port 587), ``smtps://host:port``
(implicit TLS, default port 465), each with an optional ``user:password@``. With no URL,
every message is written to ``outbox/<timestamp>-<uuid>.eml`` so the product runs on any
machine; open the files with a mail client or ``python -m email``.

Building a message never fails on stored data: header texts are made one line
(:func:`header_text`), and an address that is international (``jörg@example.de``) makes the
message UTF-8 throughout, sent with SMTPUTF8 (RFC 6531). A delivery that can never succeed
(the server lacks SMTPUTF8, refuses the recipient for good) raises a *permanent*
:class:`DeliveryError`; one that failed because the server did not answer in time says so
(``timed_out``), and the sender ends its round there instead of waiting out the timeout
for every message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import errors as email_errors
from email import message_from_string
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from ingest.text import is_international, one_line

from .invites import Person
from .redact import redact_url

log = logging.getLogger(__name__)

METHODS = ("REQUEST", "CANCEL", "PUBLISH", "REPLY", "COUNTER", "DECLINECOUNTER", "REFRESH", "ADD")
_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
_METHOD_LINE = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)


class DeliveryError(RuntimeError):
    """A message could not be handed to the mail server (or outbox).

    ``permanent``: retrying cannot help (record it as failed); ``timed_out``: the server
    did not answer within the timeout, so the next messages would each wait as long."""

    def __init__(self, message: str, *, permanent: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        self.permanent, self.timed_out = permanent, timed_out


# The header text limit: a subject or name longer than this is cut (with an ellipsis).
MAX_HEADER_TEXT = 300


def header_text(value: str) -> str:
    """``value`` as one header line: control characters and line or paragraph separators
    become spaces (a stored name or summary from before validation may hold them; the email
    package refuses CR/LF and splits headers at U+2028), runs of spaces one space."""
    text = one_line(value)
    return text if len(text) <= MAX_HEADER_TEXT else text[: MAX_HEADER_TEXT - 1] + "…"


def body_text(value: str) -> str:
    """``value`` with every kind of line break as LF and no other control character."""
    text = re.sub(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", "\n", value)
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )


def imip_message(
    sender: Person | str, to: Person, subject: str, text: str, ics: bytes, method: str
) -> EmailMessage:
    """An iMIP message: multipart/mixed holding multipart/alternative [text/plain,
    text/calendar; method=...; charset=UTF-8] and the same calendar as ``invite.ics``
    (application/ics). ``method`` must equal the calendar's METHOD (RFC 6047 section 2.4).

    Names and the subject are cleaned (:func:`header_text`), so any stored text builds a
    message; ``to.email`` must be an address (ingest.text.address_problem is None): a
    ValueError naming ``to`` otherwise. An international address makes the message UTF-8
    (RFC 6532), to be sent with SMTPUTF8."""
    _check_method(ics, method)
    msg = text_message(sender, to, subject, text)
    _add_calendar(msg, ics, method.upper())
    return msg


def _check_method(ics: bytes, method: str) -> None:
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"method: unknown iTIP method {method!r}")
    found = _METHOD_LINE.search(ics)
    if found is None or found.group(1).decode().upper() != method:
        named = found.group(1).decode() if found else "no METHOD"
        raise ValueError(f"method: {method} does not match the calendar's {named}")


def _add_calendar(msg: EmailMessage, ics: bytes, method: str) -> None:
    """Turn a text message into an iMIP one (see :func:`imip_message`)."""
    # Bytes, base64: the calendar arrives exactly as written (CRLF, folded lines).
    msg.add_alternative(
        ics,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"method": method, "charset": "UTF-8"},
    )
    msg.make_mixed()
    msg.add_attachment(
        ics,
        maintype="application",
        subtype="ics",
        cte="base64",
        filename="invite.ics",
        params={"name": "invite.ics"},
    )
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # set_content adds one to every part; once is enough


# --- ready-to-send messages: the body built once, the headers per recipient ----------------

_WIRE = "\r\n"  # the line ending on the wire (RFC 5321), and in a stored message
_POLICIES = {utf8: email_policy.default.clone(utf8=utf8, linesep=_WIRE) for utf8 in (False, True)}


@dataclass(frozen=True)
class MimeBody:
    """The MIME-Version and Content-Type header lines and the body of a message, in wire
    form (CRLF): the same for every recipient who reads the same text, so it is built once
    and each recipient's message is only its own header lines before it
    (:func:`wire_message`)."""

    wire: str


def imip_body(text: str, ics: bytes, method: str) -> MimeBody:
    """The body of :func:`imip_message`, built once for every recipient of ``text``; the
    same ValueError when ``method`` is not the calendar's."""
    _check_method(ics, method)
    msg = EmailMessage(policy=_POLICIES[False])
    msg.set_content(body_text(text), subtype="plain", charset="utf-8")
    _add_calendar(msg, ics, method.upper())
    # The string generator, as text_message's as_string() did: it writes a UTF-8 text
    # part as base64, where a bytes generator would send it as 8bit.
    return MimeBody(msg.as_string())


def wire_message(sender: Person | str, to: Person, subject: str, body: MimeBody) -> str:
    """The message :func:`text_message` (and :func:`imip_message`) make, ready to send as
    it stands: the same header lines, folded by the same policy (UTF-8 when an address is
    international), before ``body``. Nothing is parsed again on the way out
    (:meth:`Mailer.send` of its UTF-8 bytes). ValueError naming ``to`` when its address
    is none."""
    utf8 = any(is_international(_email(who)) for who in (sender, to))
    try:
        to_line = _address_line("To", to, utf8)
    except (ValueError, email_errors.HeaderParseError) as exc:
        raise ValueError(f"to: {to.email!r} is not an address: {exc}") from None
    return "".join(
        (
            _address_line("From", sender, utf8),
            to_line,
            _text_line("Subject", header_text(subject), utf8),
            f"Date: {format_datetime(datetime.now(UTC))}{_WIRE}",
            _message_id_line(make_msgid(domain=_domain(sender)), utf8),
            body.wire,
        )
    )


_PLAIN_MSGID = re.compile(r"<[0-9.]+@[A-Za-z0-9.-]+>")


def _message_id_line(msgid: str, utf8: bool) -> str:
    """The Message-ID line, new for every message: a plain ASCII one that fits on a line
    is written as the policy would write it, anything else is folded by the policy."""
    line = f"Message-ID: {msgid}"
    if len(line) <= 78 and _PLAIN_MSGID.fullmatch(msgid):
        return line + _WIRE
    return _fold("Message-ID", msgid, utf8)


# Header lines kept once folded: a program's members get many invites, all from the same
# sender, and a series' subject is the same for all its readers.
@lru_cache(maxsize=4096)
def _address_line(name: str, who: Person | str, utf8: bool) -> str:
    return _fold(name, _address(who), utf8)


@lru_cache(maxsize=4096)
def _text_line(name: str, value: str, utf8: bool) -> str:
    return _fold(name, value, utf8)


def _fold(name: str, value: Address | str, utf8: bool) -> str:
    """One header line as a message holding it would write it: the policy's header object
    and its folding (RFC 2047 encoded words unless ``utf8``), CRLF line endings."""
    policy = _POLICIES[utf8]
    line: str = policy.fold(*policy.header_store_parse(name, value))
    return line


def text_message(sender: Person | str, to: Person, subject: str, text: str) -> EmailMessage:
    """A plain-text message (a sign-in link), with the same address handling as an
    invite: names and subject cleaned, an international address made UTF-8 (SMTPUTF8).
    ValueError naming ``to`` when its address is none."""
    international = any(is_international(_email(who)) for who in (sender, to))
    # Policy default, but with UTF-8 headers when an address needs it: RFC 2047 encoded
    # words are not allowed in an address, and Address() refuses a non-ASCII local part.
    msg = EmailMessage(
        policy=email_policy.default.clone(utf8=True) if international else email_policy.default
    )
    msg["From"] = _address(sender)
    try:
        msg["To"] = _address(to)
    except (ValueError, email_errors.HeaderParseError) as exc:
        raise ValueError(f"to: {to.email!r} is not an address: {exc}") from None
    msg["Subject"] = header_text(subject)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=_domain(sender))
    msg.set_content(body_text(text), subtype="plain", charset="utf-8")
    return msg


def _address(who: Person | str) -> Address | str:
    if not isinstance(who, Person):
        return header_text(who)
    name = header_text(who.name)
    if who.email.isascii():
        return Address(display_name=name, addr_spec=who.email)
    # Address() refuses a non-ASCII local part; the header parser takes it (RFC 6532).
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{who.email}>' if name else who.email


def _email(who: Person | str) -> str:
    return who.email if isinstance(who, Person) else parseaddr(who)[1]


def _domain(who: Person | str) -> str:
    email = who.email if isinstance(who, Person) else who
    return email.rpartition("@")[2].strip("> ") or "slotwise.invalid"


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP server (parsed from ``SLOTWISE_SMTP_URL``)."""

    scheme: str  # "smtp" | "smtp+starttls" | "smtps"
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(
                f"SLOTWISE_SMTP_URL: scheme {parts.scheme!r} is not one of "
                f"{', '.join(_DEFAULT_PORTS)}"
            )
        if not parts.hostname:
            raise ValueError(f"SLOTWISE_SMTP_URL: no host in {redact_url(url)!r}")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise ValueError(f"SLOTWISE_SMTP_URL: bad port in {redact_url(url)!r}") from exc
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(scheme, parts.hostname, port, user, password)


def needs_smtputf8(msg: EmailMessage) -> bool:
    """Whether an address of ``msg`` is international (then it is written in UTF-8)."""
    return any(
        not str(msg.get(name, "")).isascii()
        and any(is_international(address) for _, address in getaddresses([str(msg[name])]))
        for name in ("From", "To", "Sender")
    )


class Mailer:
    """Sends messages over SMTP, or writes them to the outbox when no SMTP is configured.

    A message is an EmailMessage, or a ready-to-send one (:func:`wire_message`, as UTF-8
    bytes), handed over as it stands. Each send opens its own connection, except inside
    ``with mailer:``, where the messages share one (the sender's round): it is checked
    (NOOP) before it is used again, opened anew after any failure, and closed at the end."""

    def __init__(
        self,
        smtp: SmtpSettings | None,
        outbox: Path,
        *,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.smtp = smtp
        self.outbox = Path(outbox)
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._keep = False  # inside ``with``: keep the connection for the next message
        self._client: smtplib.SMTP | None = None

    @classmethod
    def from_settings(cls, smtp_url: str | None, outbox: Path, **options: Any) -> Mailer:
        """A mailer for ``smtp_url`` (``SLOTWISE_SMTP_URL``; None or empty = outbox)."""
        smtp = SmtpSettings.from_url(smtp_url) if smtp_url and smtp_url.strip() else None
        return cls(smtp, outbox, **options)

    def __enter__(self) -> Mailer:
        self._keep = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._keep = False
        self._hang_up()

    def send(self, msg: EmailMessage | bytes) -> None:
        """Deliver ``msg``; raises :class:`DeliveryError` when it could not be handed over."""
        head = _Head(msg)
        if self.smtp is None:
            path = self._write(msg)
            log.info("mail to %s written to %s", head.to, path)
            return
        where = f"SMTP {self.smtp.host}:{self.smtp.port}"
        what = f"{head.message_id or 'message'} to {head.to}"
        client = self._connection(self.smtp, where, what)
        try:
            self._hand_over(client, msg, head, where, what)
        except BaseException:
            self._client = None
            client.close()  # no QUIT to a server that just failed: it may not answer at all
            raise
        if self._keep:
            self._client = client
        else:
            with contextlib.suppress(OSError):  # sent: a lost goodbye changes nothing
                client.quit()
        log.info("mail to %s sent via %s:%s", head.to, self.smtp.host, self.smtp.port)

    def _connection(self, smtp: SmtpSettings, where: str, what: str) -> smtplib.SMTP:
        """The kept connection when the server still answers on it, else a new one."""
        client, self._client = self._client, None
        if client is not None:
            try:
                if client.noop()[0] == 250:
                    return client
            except OSError:
                pass
            client.close()  # gone (an idle timeout, a limit per connection): open anew
        try:
            return self._connect(smtp)
        except OSError as exc:  # smtplib's errors are OSErrors too
            raise DeliveryError(
                f"{where}: could not send {what}: {exc}", timed_out=isinstance(exc, TimeoutError)
            ) from exc

    def _hang_up(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.quit()
            client.close()

    @staticmethod
    def _hand_over(
        client: smtplib.SMTP, msg: EmailMessage | bytes, head: _Head, where: str, what: str
    ) -> None:
        # smtplib sends with SMTPUTF8 by itself when an address is not ASCII (and raises
        # SMTPNotSupportedError when the server does not offer it); ready-to-send bytes get
        # the same envelope and options from their own headers.
        try:
            if isinstance(msg, bytes):
                _send_bytes(client, msg, head)
            else:
                client.send_message(msg)
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"{where}: cannot send {what}: the mail server does not "
                f"support SMTPUTF8 (RFC 6531), which this international "
                f"address needs",
                permanent=True,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"{where}: recipient refused for {what}: {exc.recipients}",
                permanent=all(code >= 500 for code in codes),
            ) from exc
        except OSError as exc:  # a reply refused, a reset connection, a timeout
            raise DeliveryError(
                f"{where}: could not send {what}: {exc}", timed_out=isinstance(exc, TimeoutError)
            ) from exc
        except (ValueError, UnicodeError, LookupError, email_errors.MessageError) as exc:
            raise DeliveryError(f"{where}: cannot encode {what}: {exc}", permanent=True) from exc

    def _connect(self, smtp: SmtpSettings) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if smtp.scheme == "smtps":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout)
        try:
            if smtp.scheme == "smtp+starttls":
                client.starttls(context=context)
            if smtp.username is not None:
                client.login(smtp.username, smtp.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _write(self, msg: EmailMessage | bytes) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.outbox / f"{stamp}-{uuid.uuid4().hex}.eml"
        tmp = path.with_suffix(".eml.tmp")
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            if isinstance(msg, bytes):
                tmp.write_bytes(msg)
            elif needs_smtputf8(msg):
                tmp.write_bytes(msg.as_bytes(policy=cast(EmailPolicy, msg.policy).clone(utf8=True)))
            else:
                tmp.write_bytes(msg.as_bytes())
            os.replace(tmp, path)  # readers never see half a message
        except OSError as exc:
            raise DeliveryError(f"outbox {self.outbox}: could not write message: {exc}") from exc
        return path


class _Head:
    """What the mailer reads of a message's headers: the envelope smtplib's send_message
    would take from them (Sender or From; To, Cc and Bcc), and To and Message-ID for the
    log. Of ready-to-send bytes only the header block is read (compat32: no header
    objects, no folding), never the body."""

    def __init__(self, msg: EmailMessage | bytes) -> None:
        if isinstance(msg, bytes):
            block = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8")
            fields = message_from_string(block + "\r\n\r\n", policy=email_policy.compat32)
        else:
            fields = msg
        self.to = _unfold(fields.get("To", ""))
        self.message_id = _unfold(fields.get("Message-ID", ""))
        sender = fields.get("Sender", fields.get("From", ""))
        self.mail_from = getaddresses([_unfold(sender)])[0][1]
        self.rcpt_to = [
            address
            for _, address in getaddresses(
                [_unfold(v) for name in ("To", "Bcc", "Cc") for v in fields.get_all(name, [])]
            )
        ]


def _unfold(value: object) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", str(value))


def _send_bytes(client: smtplib.SMTP, raw: bytes, head: _Head) -> None:
    """smtplib's send_message for a message already in wire form: the same envelope and
    options (SMTPUTF8 and BODY=8BITMIME when an address is not ASCII), the bytes as they
    are."""
    client.ehlo_or_helo_if_needed()
    options: tuple[str, ...] = ()
    if not "".join([head.mail_from, *head.rcpt_to]).isascii():
        if not client.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "One or more source or delivery addresses require internationalized email "
                "support, but the server does not advertise the required SMTPUTF8 capability"
            )
        options = ("SMTPUTF8", "BODY=8BITMIME")
    client.sendmail(head.mail_from, head.rcpt_to, raw, options)
