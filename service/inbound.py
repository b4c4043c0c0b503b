"""The inbound mail listener: an SMTP (or LMTP) server the service runs when
``SLOTWISE_INBOUND_PORT`` is set, so replies to invites reach :func:`replies.take_message`.

The mail server that receives mail for the sender address (``SLOTWISE_SENDER``) forwards it
here (Postfix ``transport_maps`` to ``lmtp:127.0.0.1:PORT``, or any relay to
``smtp:127.0.0.1:PORT``). It binds the loopback by default: a listener open to the world
would take mail from anyone, and a reply's only proof is its From header. Every message,
kept or ignored, is answered ``250``, so a sender learns nothing from the answer; a
database that cannot be reached is a ``451`` (try again later), so the sending server keeps
the message and retries.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from sqlalchemy import Engine

from .config import Settings
from .replies import Unreadable, take_message

log = logging.getLogger("slotwise.inbound")


class ReplyHandler:
    """aiosmtpd handler: each message's bytes go to :func:`replies.take_message`, in a
    thread (the database is not asynchronous)."""

    def __init__(self, engine: Engine, via: str) -> None:
        self.engine, self.via = engine, via

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        status = await self._take(envelope)
        if self.via == "LMTP":
            # LMTP (RFC 2033 4.2) answers DATA once per accepted recipient: one line alone
            # leaves the mail server waiting for the rest, and it delivers the message
            # again. The message is read once whoever it was for.
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status

    async def _take(self, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):  # aiosmtpd decodes only when asked to; be sure
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await asyncio.to_thread(take_message, self.engine, raw, self.via)
        except Unreadable as exc:
            log.warning("reply ignored (via %s): %s", self.via, exc)
        except Exception:
            log.exception("reply could not be read into the database; the sender will retry")
            return "451 4.3.0 Temporary failure, try again later"
        return "250 2.0.0 OK"


class _LmtpController(Controller):
    def factory(self) -> SMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


class InboundListener:
    """The listener of ``settings`` (``SLOTWISE_INBOUND_*``), run in a thread of its own
    by :meth:`start` until :meth:`stop`."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        if settings.inbound_port is None:
            raise ValueError("SLOTWISE_INBOUND_PORT: not set, so there is no listener to run")
        self.host, self.port = settings.inbound_host, settings.inbound_port
        protocol = "LMTP" if settings.inbound_lmtp else "SMTP"
        kind = _LmtpController if settings.inbound_lmtp else Controller
        self.controller = kind(
            ReplyHandler(engine, protocol),
            hostname=self.host,
            port=self.port,
            data_size_limit=settings.inbound_max_bytes,
            enable_SMTPUTF8=True,  # international addresses (RFC 6531) reply too
        )
        self.protocol = protocol

    def start(self) -> None:
        self.controller.start()
        log.info("reading replies to invites by %s on %s:%s", self.protocol, self.host, self.port)

    def stop(self) -> None:
        self.controller.stop()
