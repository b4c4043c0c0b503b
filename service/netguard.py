"""Calendar URLs must not become a way into the server's own network.

Every URL the service fetches for a member (and every redirect target) is resolved by
``ingest.fetch.fetch_ics_async`` and this guard checks every address the host
resolves to; the fetch then connects to a checked address, never to the name again (so a
DNS answer that changes between check and connect, "DNS rebinding", cannot lead inside).
Addresses are judged by an allow-list, not a deny-list: only global unicast addresses
pass, unless the admin setting ``allow_private_urls`` is on.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from ingest.errors import CalendarError
from ingest.fetch import Guard, IPAddress

from .config import Settings

# IPv6 global unicast is 2000::/3 (RFC 4291).
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# Refused although ``is_global`` may pass them (it depends on the Python release):
# tunnels whose address embeds an IPv4 address that can be any host, private ones
# included (6to4 and its relay anycast, Teredo); shared address space (carrier-grade NAT;
# some clouds serve metadata there); IPv6 documentation space (RFC 9637).
_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in ("2002::/16", "192.88.99.0/24", "2001::/32", "100.64.0.0/10", "3fff::/20")
)


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a global unicast address (what a calendar URL may reach).

    ``is_global`` follows IANA's special-purpose registries (private, loopback,
    link-local, documentation, benchmarking, reserved, ...); multicast is not unicast;
    IPv6 outside 2000::/3 (IPv4-mapped and -compatible, NAT64, site-local, unique-local,
    link-local, multicast) never passes.
    """
    if address.is_multicast or not address.is_global:
        return False
    if any(address in net for net in _REFUSED):
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return not address.is_reserved
    return address in _GLOBAL_UNICAST_V6


def refuse_private(
    url: str, addresses: list[IPAddress], *, allowed: Callable[[IPAddress], bool] = is_public
) -> None:
    """Refuse the URL unless every address its host resolves to is ``allowed``."""
    host = urlsplit(url).hostname
    for address in addresses:
        if not allowed(address):
            raise CalendarError(
                f"{host} resolves to {address}, a private or local address; "
                "calendar URLs must be public"
            )


def guard_for(settings: Settings, allowed: Callable[[IPAddress], bool] = is_public) -> Guard | None:
    """The guard calendar fetches go through (None: any address may be reached)."""
    if settings.allow_private_urls:
        return None
    return functools.partial(refuse_private, allowed=allowed)
