"""Fetch a program document from a running slotwise service, for notebooks and scripts."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from ingest.document import ProgramDocument, parse_program

from .errors import Forbidden, NotFound, Unauthorized


def fetch_program(
    base_url: str,
    program_id: str,
    token: str,
    *,
    timeout: float = 30.0,
    client: httpx.Client | None = None,
) -> ProgramDocument:
    """``GET /api/programs/{program_id}`` with a bearer token, validated (SPEC 6).

    It is the document as stored: sessions the service has booked since are not in
    ``bookings``, and a facilitator's or member's token sees only their own matches and
    the names and zones of the people in them. Raises ``Unauthorized`` (401),
    ``Forbidden`` (403) or ``NotFound`` (404) from ``service.errors`` (all ValueErrors)
    with the service's own explanation, ``httpx.HTTPStatusError`` for any other error
    status, ``httpx.TransportError`` when the service cannot be reached, and
    ``ingest.errors.DocumentError`` when what comes back is not a valid document.
    ``client`` (a configured ``httpx.Client``, with its own timeout) is used instead of
    a new one.
    """
    url = f"{base_url.rstrip('/')}/api/programs/{quote(program_id, safe='')}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if client is None:
        with httpx.Client(timeout=timeout) as own:
            response = own.get(url, headers=headers)
    else:
        response = client.get(url, headers=headers)
    if response.status_code == 401:
        raise Unauthorized(
            f"{url}: the service refused the token ({_detail(response)}); "
            "ask an admin for one (`slotwise token create`)"
        )
    if response.status_code == 403:
        raise Forbidden(
            f'{url}: this token may not read program "{program_id}" ({_detail(response)})'
        )
    if response.status_code == 404:
        raise NotFound(
            f'{url}: no program "{program_id}" there ({_detail(response)}); '
            "check the program id and the base URL"
        )
    response.raise_for_status()
    return parse_program(response.content)


def _detail(response: httpx.Response) -> str:
    """The error body's ``detail`` (the service's message), else the start of its text."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200].strip()}"
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return f"HTTP {response.status_code}: {body['detail']}"
    return f"HTTP {response.status_code}"
