"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1): what it received, and the
handler that keeps it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser


@dataclass
class Received:
    """One message as the SMTP server got it: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    mail_options: list[str] = field(default_factory=list)  # e.g. SMTPUTF8, BODY=8BITMIME
    peer: object = None  # the client's (host, port): one per connection


@dataclass
class SmtpServer:
    """A running aiosmtpd server: connect to ``host:port`` (``url``); ``messages`` fills
    up as mail arrives (before the server acknowledges the DATA command)."""

    host: str
    port: int
    messages: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"


class Collector:
    """aiosmtpd handler: keeps each message it is given in its ``SmtpServer``."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        with self.lock:
            self.server.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    raw,
                    parsed,
                    list(envelope.mail_options),
                    session.peer,
                )
            )
        return "250 Message accepted for delivery"
