"""Fetching ICS calendars over HTTP: redirects, one deadline, size limits, TLS, and a
guard that checks every address a host resolves to before connecting."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from .errors import CalendarError

MAX_REDIRECTS = 5
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Network policy: called with each URL to fetch (redirect targets too) and every address
# its host resolves to, before connecting; raises CalendarError to refuse.
Guard = Callable[[str, list[IPAddress]], None]
T = TypeVar("T")


def fetch_ics(
    url: str, *, timeout: float = 10, max_bytes: int = 5_000_000, guard: Guard | None = None
) -> bytes:
    """:func:`fetch_ics_async` for synchronous callers (the CLI, notebooks, threads)."""
    return _run(
        functools.partial(fetch_ics_async, url, timeout=timeout, max_bytes=max_bytes, guard=guard)
    )


def _run(coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run ``coroutine`` to its end from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(coroutine)
    # An event loop runs in this thread (a notebook): ours runs in a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, coroutine).result()


async def fetch_ics_async(
    url: str, *, timeout: float = 10, max_bytes: int = 5_000_000, guard: Guard | None = None
) -> bytes:
    """The body of an ICS URL (http, https, webcal): redirects followed (at most 5).

    ``timeout`` is one deadline for the whole fetch: resolving, connecting, headers and
    body, redirects included (a server that trickles bytes cannot hold it longer). A
    body over ``max_bytes`` is refused while streaming. With a ``guard``, each host is
    resolved here, the guard checks every address, and the connection goes to a checked
    address, never to the name again (a DNS answer that changes in between cannot lead
    elsewhere); the Host header and TLS (server name, certificate) still use the name,
    and proxies from the environment are not used. Messages name the host only: private
    calendar URLs carry their secret in the path.
    """
    where = [url]  # the URL being fetched, for the timeout message
    try:
        with anyio.fail_after(timeout):
            return await _follow(url, max_bytes, guard, where)
    except (TimeoutError, httpx.TimeoutException):
        raise CalendarError(
            f"timed out after {timeout:g} s fetching from {_host(where[-1])}"
        ) from None


async def _follow(url: str, max_bytes: int, guard: Guard | None, where: list[str]) -> bytes:
    current = _http_url(url)
    # A guarded fetch must reach the checked address itself: no proxy from the environment.
    async with httpx.AsyncClient(
        follow_redirects=False, trust_env=guard is None, timeout=None, verify=_tls_context()
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            where.append(current)
            addresses: list[IPAddress | None] = [None]
            if guard is not None:
                found = await _resolve(current)
                guard(current, found)
                addresses = list(found)
            try:
                response = await _connect(client, current, addresses)
                try:
                    if response.is_redirect and "location" in response.headers:
                        current = _http_url(urljoin(current, response.headers["location"]))
                        continue
                    if not response.is_success:  # the standard phrase, not the server's
                        status = response.status_code
                        raise CalendarError(
                            f"HTTP {status} {httpx.codes.get_reason_phrase(status)}"
                            f" from {_host(current)}"
                        )
                    return await _read_limited(response, max_bytes, current)
                finally:
                    await response.aclose()
            except httpx.TimeoutException:
                raise
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise CalendarError(f"cannot fetch from {_host(current)}: {_why(exc)}") from None
    raise CalendarError(f"more than {MAX_REDIRECTS} redirects fetching from {_host(url)}")


@dataclass(frozen=True)
class Answer:
    """What a server answered to one :func:`exchange`: status, headers, body."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def is_ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300


def exchange(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 10,
    max_bytes: int = 5_000_000,
    guard: Guard | None = None,
) -> Answer:
    """:func:`exchange_async` for synchronous callers (the background sender's thread)."""
    return _run(
        functools.partial(
            exchange_async,
            method,
            url,
            headers=headers,
            content=content,
            auth=auth,
            timeout=timeout,
            max_bytes=max_bytes,
            guard=guard,
        )
    )


async def exchange_async(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 10,
    max_bytes: int = 5_000_000,
    guard: Guard | None = None,
) -> Answer:
    """One HTTP request (a CalDAV PUT, DELETE, PROPFIND...) under the same guard, address
    pinning, deadline and size limit as :func:`fetch_ics_async`, whatever its status.

    No redirect is followed: the request carries credentials (``auth``, HTTP Basic), which
    must not be sent on to another host. An answer is returned whatever its status; a
    CalendarError means none came (refused by the guard, unreachable, timed out), naming
    the host only."""
    target = _http_url(url)
    try:
        with anyio.fail_after(timeout):
            addresses: list[IPAddress | None] = [None]
            if guard is not None:
                found = await _resolve(target)
                guard(target, found)
                addresses = list(found)
            async with httpx.AsyncClient(
                follow_redirects=False,
                trust_env=guard is None,
                timeout=None,
                verify=_tls_context(),
                auth=auth,
            ) as client:
                try:
                    response = await _connect(client, target, addresses, method, headers, content)
                    try:
                        body = await _read_limited(response, max_bytes, target)
                    finally:
                        await response.aclose()
                except httpx.TimeoutException:
                    raise
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    raise CalendarError(f"cannot reach {_host(target)}: {_why(exc)}") from None
    except (TimeoutError, httpx.TimeoutException):
        raise CalendarError(f"timed out after {timeout:g} s talking to {_host(target)}") from None
    # Header values read as ISO-8859-1, byte for byte (_request sends them so): an ETag may
    # hold bytes 0x80-0xFF (RFC 9110 8.8.3), and a precondition must send back those bytes.
    return Answer(response.status_code, httpx.Headers(response.headers.raw, "iso-8859-1"), body)


def _why(exc: Exception) -> str:
    """What went wrong, quoting nothing the server sent: the messages of network errors
    come from the system or TLS; those of protocol errors quote the bytes received (an
    SSH banner, say), so only their kind is told."""
    if isinstance(exc, httpx.NetworkError | httpx.InvalidURL):
        return f"{exc.__class__.__name__} {exc}".rstrip()
    if isinstance(exc, httpx.RemoteProtocolError):
        return "no valid HTTP answer (RemoteProtocolError)"
    return exc.__class__.__name__


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every fetch (CA bundle: certifi, or SSL_CERT_FILE/SSL_CERT_DIR):
    loading it takes ~0.1 s of CPU, which would stall the event loop for each fetch (and
    every other request with it)."""
    return httpx.create_ssl_context(trust_env=True)


async def _resolve(url: str) -> list[IPAddress]:
    """Every address the URL's host resolves to (resolved off the event loop's thread)."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise CalendarError(f"bad port in URL to {_host(url)}") from None
    if not host:
        raise CalendarError("not a URL with a host")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        raise CalendarError(f"cannot resolve host {host!r}") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def _connect(
    client: httpx.AsyncClient,
    url: str,
    addresses: list[IPAddress | None],
    method: str = "GET",
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """Send ``method`` to ``url`` (streamed answer) at the first of ``addresses`` that takes
    the connection (None: let the client resolve the name)."""
    for i, address in enumerate(addresses):
        request = _request(client, url, address, method, headers, content)
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError:
            if i == len(addresses) - 1:
                raise
    raise CalendarError(f"no address to connect to for {_host(url)}")


def _request(
    client: httpx.AsyncClient,
    url: str,
    address: IPAddress | None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Request:
    """A request for ``url`` sent to ``address``: the URL names the address, the Host
    header and the TLS server name (SNI, and so the certificate check) the host."""
    headers = {"Accept": "text/calendar", **(headers or {})}
    if address is not None:
        headers["Host"] = httpx.URL(url).netloc.decode("ascii")
    # ISO-8859-1, HTTP's own charset for field values (httpx would take ASCII only).
    raw = {k.encode("latin-1"): v.encode("latin-1") for k, v in headers.items()}
    if address is None:
        return client.build_request(method, url, headers=raw, content=content)
    named = httpx.URL(url)
    extensions = {"sni_hostname": named.raw_host.decode("ascii")} if named.scheme == "https" else {}
    return client.build_request(
        method,
        named.copy_with(host=str(address)),
        headers=raw,
        content=content,
        extensions=extensions,
    )


async def _read_limited(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise CalendarError(f"calendar from {_host(url)} is larger than {max_bytes:,} bytes")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise CalendarError(f"calendar from {_host(url)} is larger than {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _http_url(url: str) -> str:
    """``url`` as http(s), its port and host checked: without a guard nothing else reads
    them before the connection, and an out-of-range port or a host IDNA refuses raises
    there outside httpx's own errors."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        raise CalendarError("not a valid URL: its host cannot be read") from None
    try:
        parts.port  # noqa: B018 (raises ValueError when out of range or not a number)
    except ValueError:
        raise CalendarError(f"bad port in URL to {_host(url)}") from None
    scheme = parts.scheme.lower()
    if scheme == "webcal":
        url = "https" + url[len("webcal") :]
    elif scheme not in ("http", "https"):
        raise CalendarError(
            f"unsupported URL scheme {scheme or '(none)'!r} (http, https or webcal)"
        )
    try:
        httpx.URL(url).host  # noqa: B018 (IDNA-decodes the host)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise CalendarError(f"not a valid host name in URL to {_host(url)}") from None
    return url


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
