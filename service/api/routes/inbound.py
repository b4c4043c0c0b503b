"""The inbound-mail webhook: hosted mail providers post each message received for the
sender address here, and replies to invites are read from it (service/replies.py).

No API token: the provider proves itself with the shared secret
(``SLOTWISE_INBOUND_SECRET``) in a header, compared in constant time. A message kept and a
message ignored get the same 202, so the answer says nothing about which series or
addresses exist; only a body that is no mail message at all is a 400.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from ...errors import NotFound, ServiceError, Unauthorized, error_responses
from ...replies import Unreadable, take_message
from ...schemas import InboundAccepted
from ..deps import Config, Db

router = APIRouter(tags=["inbound"])

SECRET_HEADER = "X-Slotwise-Inbound-Secret"
MEDIA_TYPE = "message/rfc822"


class TooLarge(ServiceError):
    status = 413


class BadMessage(ServiceError):
    status = 400


@router.post(
    "/inbound/mail",
    status_code=202,
    response_model=InboundAccepted,
    responses=error_responses(400, 404),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def inbound_mail(
    request: Request,
    db: Db,
    cfg: Config,
    secret: Annotated[str | None, Header(alias=SECRET_HEADER, include_in_schema=False)] = None,
) -> dict[str, Any]:
    """One raw mail message (RFC 5322, ``Content-Type: message/rfc822``) received for the
    invites' sender address, from a hosted mail provider. A reply to an invite in it
    (iTIP REPLY) records what the member answered; anything else is ignored and logged.
    Needs the header ``X-Slotwise-Inbound-Secret`` (401 without it, 404 while
    ``SLOTWISE_INBOUND_SECRET`` is unset). 202 for every message read, kept or not; 400 for
    a body that is no mail message (or not sent as message/rfc822), 413 above
    ``SLOTWISE_INBOUND_MAX_BYTES``."""
    if cfg.inbound_secret is None:
        raise NotFound("the inbound mail webhook is off (SLOTWISE_INBOUND_SECRET is not set)")
    if secret is None or not hmac.compare_digest(
        secret.encode("utf-8", "surrogateescape"), cfg.inbound_secret.encode()
    ):
        raise Unauthorized(f"missing or wrong {SECRET_HEADER} header", field=SECRET_HEADER)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != MEDIA_TYPE:
        raise BadMessage(
            f"send the raw message as {MEDIA_TYPE}, not {kind or 'no type'}",
            field="Content-Type",
        )
    limit = cfg.inbound_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"a message may be at most {limit} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise TooLarge(f"a message may be at most {limit} bytes")
    try:
        await run_in_threadpool(take_message, db, bytes(raw), "webhook")
    except Unreadable as exc:
        raise BadMessage(str(exc), field="body") from None
    return {"status": "accepted"}
