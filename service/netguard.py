"""Calendar URLs must not become a way into the server's own network.

Every URL the service fetches for a member (and every redirect target) is resolved first;
loopback, link-local, private, reserved and multicast addresses are refused unless the
admin setting ``allow_private_urls`` is on.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from ingest.errors import CalendarError

from .config import Settings


def refuse_private(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise CalendarError(f"not a URL with a host: {url}")
    port = parts.port or (443 if parts.scheme in ("https", "webcal") else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise CalendarError(f"cannot resolve host {host!r}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (address.is_private or address.is_loopback or address.is_link_local
                or address.is_reserved or address.is_multicast or address.is_unspecified):
            raise CalendarError(f"{host} resolves to {address}, a private or local address; "
                                "calendar URLs must be public")


def guard_for(settings: Settings) -> Callable[[str], None] | None:
    return None if settings.allow_private_urls else refuse_private
