"""fetch_ics against a real HTTP server on 127.0.0.1: status, redirects, timeout, size limit."""

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingest.errors import CalendarError
from ingest.fetch import fetch_ics
from tests.trickle import trickle_server

BODY = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\n"
    b"DTSTAMP:20261201T120000Z\r\nDTSTART:20270105T140000Z\r\nDTEND:20270105T150000Z\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path
        if path == "/cal.ics":
            self._send(200, BODY)
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[-1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{left - 1}" if left > 1 else "/cal.ics")
            self.end_headers()
        elif path == "/slow.ics":
            time.sleep(1.5)
            self._send(200, BODY)
        elif path == "/big.ics":
            self._send(200, b"X" * 3000)
        elif path == "/big-chunked.ics":
            # No Content-Length: the limit must hold while streaming.
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                chunk = b"Y" * 500
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, b"not here")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # the client may have given up (timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Base URL of a local HTTP server serving the cases above."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_returns_the_body(server):
    """Guards a plain 200 download."""
    assert fetch_ics(f"{server}/cal.ics") == BODY


def test_non_2xx_names_the_status(server):
    """Guards that a 404 is an error naming the status, not an empty (free) calendar."""
    with pytest.raises(CalendarError, match="HTTP 404"):
        fetch_ics(f"{server}/missing.ics")


def test_timeout(server):
    """Guards the timeout: a server that stalls raises CalendarError in about `timeout`."""
    t = time.perf_counter()
    with pytest.raises(CalendarError, match="timed out"):
        fetch_ics(f"{server}/slow.ics", timeout=0.3)
    assert time.perf_counter() - t < 1.4


@pytest.mark.parametrize("path", ["/big.ics", "/big-chunked.ics"])
def test_oversized_body_is_refused(server, path):
    """Guards the size limit, with and without a Content-Length header."""
    with pytest.raises(CalendarError, match="larger than 1,000 bytes"):
        fetch_ics(f"{server}{path}", max_bytes=1000)


def test_redirects_are_followed_and_guarded(server):
    """Guards redirect following and that the guard sees every URL, redirect targets included."""
    seen: list[str] = []
    assert fetch_ics(f"{server}/hop/2", guard=lambda url, _: seen.append(url)) == BODY
    assert seen == [f"{server}/hop/2", f"{server}/hop/1", f"{server}/cal.ics"]


def test_too_many_redirects(server):
    """Guards the cap of 5 redirects."""
    assert fetch_ics(f"{server}/hop/5") == BODY
    with pytest.raises(CalendarError, match="more than 5 redirects"):
        fetch_ics(f"{server}/hop/6")


def test_guard_can_refuse(server):
    """Guards that a guard raising stops the fetch before connecting."""

    def refuse(url: str, addresses: list) -> None:
        raise CalendarError(f"refused {url}")

    with pytest.raises(CalendarError, match="refused"):
        fetch_ics(f"{server}/cal.ics", guard=refuse)


def test_webcal_means_https():
    """Guards webcal:// -> https:// (seen by the guard before any connection)."""
    seen: list[str] = []

    def stop(url: str, addresses: list) -> None:
        seen.append(url)
        raise CalendarError("stop")

    with pytest.raises(CalendarError):
        fetch_ics("webcal://localhost/u/basic.ics", guard=stop)
    assert seen == ["https://localhost/u/basic.ics"]


def test_unsupported_scheme():
    """Guards that only http, https and webcal are fetched."""
    with pytest.raises(CalendarError, match="unsupported URL scheme 'file'"):
        fetch_ics("file:///etc/passwd")


def test_server_down():
    """Guards that a refused connection is a CalendarError that hides the URL's path."""
    with pytest.raises(CalendarError, match="cannot fetch") as info:
        fetch_ics("http://127.0.0.1:9/private-secret/basic.ics", timeout=2)
    assert "private-secret" not in str(info.value)


def test_one_deadline_covers_headers_that_trickle_in():
    """Guards the total deadline: a server sending a header byte every 0.5 s (each read
    is quick) is cut off at the deadline, not when it stops sending."""
    with trickle_server(interval=0.5, seconds=10) as slow:
        t = time.perf_counter()
        with pytest.raises(CalendarError, match=r"timed out after 1\.5 s fetching from http"):
            fetch_ics(slow.url, timeout=1.5)
        assert time.perf_counter() - t < 3.5


def test_the_sync_fetch_works_inside_a_running_event_loop(server):
    """Guards fetch_ics in a notebook (an event loop already runs in the thread)."""

    async def notebook_cell() -> bytes:
        return fetch_ics(f"{server}/cal.ics")

    assert asyncio.run(notebook_cell()) == BODY
