"""Calendar URLs reach only global unicast addresses, and only the address that was checked."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest import fetch
from ingest.errors import CalendarError
from ingest.fetch import fetch_ics
from service.config import Settings
from service.netguard import guard_for, is_public

ADDRESSES = [
    # (address, may a calendar URL reach it)
    ("8.8.8.8", True),
    ("1.1.1.1", True),
    ("2606:4700::1", True),
    ("2001:4860:4860::8888", True),
    ("100.64.0.1", False),  # shared address space (CGNAT)
    ("100.100.100.200", False),  # a cloud metadata address inside it
    ("169.254.169.254", False),  # link-local metadata address
    ("127.0.0.1", False),
    ("0.0.0.0", False),
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("192.0.0.170", False),  # IETF protocol assignments
    ("192.0.2.1", False),  # documentation
    ("198.18.0.1", False),  # benchmarking
    ("192.88.99.1", False),  # 6to4 relay anycast
    ("224.0.0.1", False),  # multicast
    ("240.0.0.1", False),  # reserved
    ("255.255.255.255", False),
    ("::1", False),
    ("::", False),
    ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ("fec0::1", False),  # site-local
    ("fd00::1", False),  # unique local
    ("fe80::1", False),  # link-local
    ("ff0e::1", False),  # global-scope multicast
    ("::ffff:10.0.0.1", False),  # IPv4-mapped private
    ("::ffff:8.8.8.8", False),  # IPv4-mapped: not global unicast either
    ("::10.0.0.1", False),  # IPv4-compatible
    ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
    ("2001:db8::1", False),  # documentation
    ("3fff::1", False),  # documentation (RFC 9637)
    ("100::1", False),  # discard-only
]


@pytest.mark.parametrize(("address", "public"), ADDRESSES)
def test_only_global_unicast_addresses_are_public(address, public):
    """Guards the allow-list: CGNAT, 6to4, Teredo, site-local, mapped forms... are refused."""
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_guard_refuses_a_url_if_any_address_is_private():
    """Guards that one private address among the answers is enough to refuse."""
    guard = guard_for(Settings())
    assert guard is not None
    addresses = [ipaddress.ip_address(a) for a in ("8.8.8.8", "100.64.0.1")]
    with pytest.raises(CalendarError, match=r"100\.64\.0\.1, a private or local address"):
        guard("https://cal.example.org/x.ics", addresses)
    guard("https://cal.example.org/x.ics", addresses[:1])
    assert guard_for(Settings(allow_private_urls=True)) is None


class _Named(BaseHTTPRequestHandler):
    """Answers with the address it listens on (so the test sees which one was reached) and
    the Host header it was sent."""

    def do_GET(self) -> None:
        if self.path.startswith("/to/"):  # a redirect to the URL after /to/
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/") :])
            self.end_headers()
            return
        body = f"{self.server.server_address[0]} {self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _servers(hosts: tuple[str, ...]) -> Iterator[int]:
    """One server on each loopback address in ``hosts``, all on the same port."""
    for _ in range(20):  # the first server's port may be taken on the other addresses
        first = ThreadingHTTPServer((hosts[0], 0), _Named)
        port = first.server_address[1]
        servers = [first]
        try:
            servers += [ThreadingHTTPServer((h, port), _Named) for h in hosts[1:]]
        except OSError:
            for s in servers:
                s.server_close()
            continue
        break
    else:
        pytest.fail("no port free on every address")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield port
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_dns_rebinding_cannot_redirect_the_connection(monkeypatch):
    """Guards against DNS rebinding: the fetch connects to the address the guard checked,
    even when the name resolves elsewhere the next time it is asked."""
    answers = iter(["127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.3"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # the resolver seam: one name flips
        if host not in ("rebind.test", b"rebind.test"):  # anyio passes it IDNA-encoded
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # Test-only allow rule: of everything, only 127.0.0.2 may be reached.
    guard = guard_for(Settings(), allowed=lambda a: a == ipaddress.ip_address("127.0.0.2"))
    with _servers(("127.0.0.2", "127.0.0.3")) as port:
        body = fetch_ics(f"http://rebind.test:{port}/cal.ics", guard=guard, timeout=5)
    assert body == f"127.0.0.2 rebind.test:{port}".encode()


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[int, Path, list[str]]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for calendar.test:
    (port, certificate file, server names clients asked for)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-subj",
                "/CN=calendar.test",
                "-addext",
                "subjectAltName=DNS:calendar.test",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a certificate here: {exc}")
    names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Named)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], cert, names
    httpd.shutdown()
    httpd.server_close()


def test_a_pinned_https_fetch_still_checks_the_certificate_for_the_name(tls_server, monkeypatch):
    """Guards TLS under pinning: the connection goes to the checked address, but the TLS
    server name and the certificate check are the URL's host, not the address."""
    port, cert, names = tls_server
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):  # both names lead to the test server
        if host not in (b"calendar.test", b"other.test"):
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(fetch, "_tls_context", lambda: ssl.create_default_context(cafile=str(cert)))
    guard = guard_for(Settings(), allowed=lambda a: a == ipaddress.ip_address("127.0.0.1"))
    body = fetch_ics(f"https://calendar.test:{port}/cal.ics", guard=guard, timeout=10)
    assert body == f"127.0.0.1 calendar.test:{port}".encode()
    assert names == ["calendar.test"]
    with pytest.raises(
        CalendarError, match=r"cannot fetch from https://other\.test.*CERTIFICATE_VERIFY_FAILED"
    ):
        fetch_ics(f"https://other.test:{port}/cal.ics", guard=guard, timeout=10)


def test_a_redirect_target_is_checked_like_the_url(monkeypatch):
    """Guards redirects: the target's host is resolved and checked too, so an allowed
    server cannot send the fetch to an address that is not."""
    guard = guard_for(Settings(), allowed=lambda a: a == ipaddress.ip_address("127.0.0.2"))
    with _servers(("127.0.0.2", "127.0.0.3")) as port:
        url = f"http://127.0.0.2:{port}/to/http://127.0.0.2:{port}/cal.ics"
        assert fetch_ics(url, guard=guard, timeout=5) == f"127.0.0.2 127.0.0.2:{port}".encode()
        with pytest.raises(CalendarError, match=r"127\.0\.0\.3, a private or local address"):
            fetch_ics(
                f"http://127.0.0.2:{port}/to/http://127.0.0.3:{port}/cal.ics",
                guard=guard,
                timeout=5,
            )
