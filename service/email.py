"""Invite delivery: iMIP messages (RFC 6047) sent over SMTP, or written to an outbox folder.

``SLOTWISE_SMTP_URL`` picks the transport: ``smtp://host:port`` (plain),
``smtp+starttls://host:port`` (STARTTLS, default port 587), ``smtps://host:port``
(implicit TLS, default port 465), each with an optional ``user:password@``. With no URL,
every message is written to ``outbox/<timestamp>-<uuid>.eml`` so the product runs on any
machine; open the files with a mail client or ``python -m email``.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .invites import Person

log = logging.getLogger(__name__)

METHODS = ("REQUEST", "CANCEL", "PUBLISH", "REPLY", "COUNTER", "DECLINECOUNTER", "REFRESH",
           "ADD")
_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
_METHOD_LINE = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)


class DeliveryError(RuntimeError):
    """A message could not be handed to the mail server (or outbox): retry later."""


def imip_message(sender: Person | str, to: Person, subject: str, text: str, ics: bytes,
                 method: str) -> EmailMessage:
    """An iMIP message: multipart/mixed holding multipart/alternative [text/plain,
    text/calendar; method=...; charset=UTF-8] and the same calendar as ``invite.ics``
    (application/ics). ``method`` must equal the calendar's METHOD (RFC 6047 section 2.4)."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"method: unknown iTIP method {method!r}")
    found = _METHOD_LINE.search(ics)
    if found is None or found.group(1).decode().upper() != method:
        named = found.group(1).decode() if found else "no METHOD"
        raise ValueError(f"method: {method} does not match the calendar's {named}")
    msg = EmailMessage()
    msg["From"] = _address(sender)
    msg["To"] = _address(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=_domain(sender))
    msg.set_content(text, subtype="plain", charset="utf-8")
    # Bytes, base64: the calendar arrives exactly as written (CRLF, folded lines).
    msg.add_alternative(ics, maintype="text", subtype="calendar", cte="base64",
                        params={"method": method, "charset": "UTF-8"})
    msg.make_mixed()
    msg.add_attachment(ics, maintype="application", subtype="ics", cte="base64",
                       filename="invite.ics", params={"name": "invite.ics"})
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # set_content adds one to every part; once is enough
    return msg


def _address(who: Person | str) -> Address | str:
    if isinstance(who, Person):
        return Address(display_name=who.name, addr_spec=who.email)
    return who


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
            raise ValueError(f"SLOTWISE_SMTP_URL: scheme {parts.scheme!r} is not one of "
                             f"{', '.join(_DEFAULT_PORTS)}")
        if not parts.hostname:
            raise ValueError(f"SLOTWISE_SMTP_URL: no host in {_redact(url)!r}")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise ValueError(f"SLOTWISE_SMTP_URL: bad port in {_redact(url)!r}") from exc
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(scheme, parts.hostname, port, user, password)


def _redact(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


class Mailer:
    """Sends messages over SMTP, or writes them to the outbox when no SMTP is configured."""

    def __init__(self, smtp: SmtpSettings | None, outbox: Path, *, timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.smtp = smtp
        self.outbox = Path(outbox)
        self.timeout = timeout
        self.ssl_context = ssl_context

    @classmethod
    def from_settings(cls, smtp_url: str | None, outbox: Path, **options) -> Mailer:
        """A mailer for ``smtp_url`` (``SLOTWISE_SMTP_URL``; None or empty = outbox)."""
        smtp = SmtpSettings.from_url(smtp_url) if smtp_url and smtp_url.strip() else None
        return cls(smtp, outbox, **options)

    def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg``; raises :class:`DeliveryError` when it could not be handed over."""
        if self.smtp is None:
            path = self._write(msg)
            log.info("mail to %s written to %s", msg["To"], path)
            return
        try:
            with self._connect(self.smtp) as client:
                client.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.smtp.host}:{self.smtp.port}: could not send "
                                f"{msg['Message-ID'] or 'message'} to {msg['To']}: "
                                f"{exc}") from exc
        log.info("mail to %s sent via %s:%s", msg["To"], self.smtp.host, self.smtp.port)

    def _connect(self, smtp: SmtpSettings) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if smtp.scheme == "smtps":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=self.timeout,
                                      context=context)
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

    def _write(self, msg: EmailMessage) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.outbox / f"{stamp}-{uuid.uuid4().hex}.eml"
        tmp = path.with_suffix(".eml.tmp")
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(msg.as_bytes())
            os.replace(tmp, path)  # readers never see half a message
        except OSError as exc:
            raise DeliveryError(f"outbox {self.outbox}: could not write message: {exc}") \
                from exc
        return path
