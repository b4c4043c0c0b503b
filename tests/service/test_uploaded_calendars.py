"""Calendar URLs inside an uploaded program are fetched once, at upload, through the
private-address guard; never while answering a heat map."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi import HTTPException

from ingest.errors import CalendarError
from service.config import Settings
from service.uploads import fetch_text
from tests.service.live import LiveServer, admin_token, free_slots
from tests.service.sample import TUESDAY_BUSY, program
from tests.trickle import TrickleServer, trickle_server


class _Calendar(BaseHTTPRequestHandler):
    """Answers every path with the dentist calendar, after ``delay`` seconds."""

    delay = 0.0
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        time.sleep(self.delay)
        body = TUESDAY_BUSY.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[_Calendar]) -> Iterator[str]:
    """Run ``handler`` on a free 127.0.0.1 port; yields the server's base URL."""
    handler.hits = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def calendar_url() -> Iterator[str]:
    for base in _serve(_Calendar):
        yield f"{base}/mia.ics"


def _server(tmp_path, **env: str) -> tuple[LiveServer, str]:
    url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    token = admin_token(url)
    return LiveServer(url, outbox=tmp_path / "outbox", env=env).start(), token


def _with_calendar(calendar: dict) -> dict:
    doc = program()
    doc["members"][0]["calendars"] = [calendar]  # mia
    return doc


def test_private_calendar_url_in_an_uploaded_program_is_refused(tmp_path, calendar_url):
    server, token = _server(tmp_path)
    try:
        with server.client(token) as api:
            r = api.post("/api/programs", json=_with_calendar({"ics_url": calendar_url}))
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "members[0].calendars[0].ics_url"
            assert "private or local address" in r.json()["detail"]
            r = api.post(
                "/api/programs", json=_with_calendar({"caldav": {"url": "http://10.0.0.1/dav/"}})
            )
            assert r.status_code == 422 and r.json()["field"] == "members[0].calendars[0].caldav"
            assert api.get("/api/programs").json() == []
            # The same through PUT of one member.
            assert api.post("/api/programs", json=program()).status_code == 201
            member = {**program()["members"][0], "calendars": [{"ics_url": calendar_url}]}
            r = api.put("/api/programs/p1/members/mia", json=member)
            assert r.status_code == 422 and r.json()["field"] == "calendars[0].ics_url"
        assert _Calendar.hits == 0
    finally:
        server.stop()


def test_uploaded_calendar_url_is_fetched_once_and_read_from_the_copy(tmp_path, calendar_url):
    server, token = _server(tmp_path, SLOTWISE_ALLOW_PRIVATE_URLS="1")
    try:
        with server.client(token) as api:
            r = api.post("/api/programs", json=_with_calendar({"ics_url": calendar_url}))
            assert r.status_code == 201, r.text
            assert _Calendar.hits == 1
            for _ in range(3):
                heat = api.get("/api/programs/p1/matches/mia-al/heatmap").json()
            assert _Calendar.hits == 1  # read from the stored copy, not fetched again
            # The dentist (Tue 2 Mar 2027, 10:00-11:00 New York) is busy time for mia:
            # the same program without the calendar has mia free at more start times.
            assert api.post("/api/programs", json=program("p2")).status_code == 201
            plain = api.get("/api/programs/p2/matches/mia-al/heatmap").json()
            with_cal, without = free_slots(heat, 0), free_slots(plain, 0)
            assert with_cal < without
            assert free_slots(heat, 1) == free_slots(plain, 1)  # al has no calendar
    finally:
        server.stop()


IN_FLIGHT = 45  # more than the 40 threads of the pool that answers sync routes
DEADLINE = 6


def test_slow_calendar_servers_hold_no_worker_thread(tmp_path):
    """Guards the service against slow-loris calendar servers: while 45 calendar fetches
    (from all three routes that fetch) hang on trickling headers, other requests are
    answered at once; each fetch ends at one total deadline with a 422 naming the field."""
    server, token = _server(
        tmp_path, SLOTWISE_ALLOW_PRIVATE_URLS="1", SLOTWISE_ICS_TIMEOUT=str(DEADLINE)
    )
    try:
        with server.client(token) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
        with trickle_server(interval=0.5, seconds=20) as slow:
            asyncio.run(_hang_and_probe(server.url, token, slow))
    finally:
        server.stop()


async def _hang_and_probe(base: str, token: str, slow: TrickleServer) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=IN_FLIGHT + 10)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as api:
        doc = _with_calendar({"ics_url": slow.url})
        doc["program"]["id"] = "p2"
        member = {**program()["members"][0], "calendars": [{"ics_url": slow.url}]}
        t0 = time.monotonic()
        uploads = [
            asyncio.create_task(api.post("/api/programs", json=doc)),
            asyncio.create_task(api.put("/api/programs/p1/members/mia", json=member)),
        ]
        uploads += [
            asyncio.create_task(
                api.put("/api/programs/p1/members/mia/calendar", json={"ics_url": slow.url})
            )
            for _ in range(IN_FLIGHT - 2)
        ]
        # More fetches at once than the thread pool has threads: none of them holds one.
        assert await asyncio.to_thread(slow.wait_open, 41, DEADLINE - 1), (
            f"only {slow.open} calendar fetches ran at once"
        )
        t = time.monotonic()
        me = await api.get("/api/me")
        assert me.status_code == 200 and time.monotonic() - t < 2
        assert slow.open > 40  # answered while the fetches still hang
        done = await asyncio.gather(*uploads)
        assert time.monotonic() - t0 < DEADLINE + 5
    fields = ["members[0].calendars[0].ics_url", "calendars[0].ics_url"]
    fields += ["ics_url"] * (IN_FLIGHT - 2)
    for r, field in zip(done, fields, strict=True):
        assert (r.status_code, r.json()["field"]) == (422, field), r.text
        assert f"timed out after {DEADLINE} s" in r.json()["detail"]


def test_fetches_beyond_the_bound_are_answered_503_at_once():
    """Guards SLOTWISE_ICS_MAX_FETCHES: a fetch beyond the bound is refused at once with
    503 and Retry-After, not queued behind the slow ones."""
    settings = Settings(allow_private_urls=True, ics_timeout=2, ics_max_fetches=1)

    async def scenario(slow: TrickleServer) -> None:
        first = asyncio.create_task(fetch_text(slow.url, settings))
        assert await asyncio.to_thread(slow.wait_open, 1, 2)
        t = time.monotonic()
        with pytest.raises(HTTPException) as info:
            await fetch_text(slow.url, settings)
        assert time.monotonic() - t < 0.5
        assert (info.value.status_code, info.value.headers) == (503, {"Retry-After": "2"})
        with pytest.raises(CalendarError, match="timed out after 2 s"):
            await first

    with trickle_server() as slow:
        asyncio.run(scenario(slow))


SECRET = "S3CRET"


class _Internal(BaseHTTPRequestHandler):
    """An internal service: a page that is no calendar, and an error with its own words."""

    def do_GET(self) -> None:
        if self.path == "/page":
            body = f"<html>{SECRET} admin console</html>\n".encode()
            self.send_response(200)
        else:
            body = SECRET.encode()
            self.send_response(404, f"{SECRET} is elsewhere")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def internal() -> Iterator[tuple[str, str]]:
    """(base URL of an internal HTTP service, URL of a non-HTTP service with a banner)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    banner = socket.create_server(("127.0.0.1", 0))
    banner.settimeout(0.2)
    stop = threading.Event()

    def greet() -> None:  # an SSH server, say: it speaks first, and not HTTP
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = banner.accept()
                with conn:
                    conn.sendall(f"SSH-2.0-OpenSSH_{SECRET}\r\n".encode())
                    conn.settimeout(2)
                    with contextlib.suppress(OSError):  # read the request before closing
                        conn.recv(65536)

    greeter = threading.Thread(target=greet, daemon=True)
    greeter.start()
    yield (
        f"http://127.0.0.1:{httpd.server_address[1]}",
        f"http://127.0.0.1:{banner.getsockname()[1]}/cal.ics",
    )
    stop.set()
    greeter.join(5)
    banner.close()
    httpd.shutdown()
    httpd.server_close()


def test_what_a_calendar_url_answers_is_never_echoed(tmp_path, internal):
    """Guards calendar URLs as a way to read internal services: errors about a fetched
    calendar name the field, the line's number and the problem, and quote nothing the
    server sent (page, reason phrase, protocol banner)."""
    base, banner = internal
    server, token = _server(tmp_path, SLOTWISE_ALLOW_PRIVATE_URLS="1")
    try:
        with server.client(token) as api:
            r = api.post("/api/programs", json=_with_calendar({"ics_url": f"{base}/page"}))
            assert (r.status_code, r.json()["field"]) == (422, "members[0].calendars[0].ics_url"), (
                r.text
            )
            assert "not an iCalendar file" in r.text and "(at line 1)" in r.text
            assert SECRET not in r.text
            assert api.post("/api/programs", json=program()).status_code == 201
            for url, problem in (
                (f"{base}/page", "(at line 1)"),
                (f"{base}/gone", "HTTP 404 Not Found"),
                (banner, "no valid HTTP answer"),
            ):
                r = api.put("/api/programs/p1/members/mia/calendar", json={"ics_url": url})
                assert r.status_code == 422 and problem in r.text, r.text
                assert SECRET not in r.text
    finally:
        server.stop()


class _SlowCalendar(_Calendar):
    delay = 1.5
    hits = 0


@pytest.fixture
def slow_base() -> Iterator[str]:
    yield from _serve(_SlowCalendar)


def test_a_requests_calendar_urls_are_fetched_together_and_capped(tmp_path, slow_base):
    """Five calendar URLs that each take 1.5 s are fetched together (well under 7.5 s);
    a request naming more than SLOTWISE_ICS_MAX_URLS is 422 naming the first one over,
    before anything is fetched."""
    server, token = _server(tmp_path, SLOTWISE_ALLOW_PRIVATE_URLS="1", SLOTWISE_ICS_MAX_URLS="5")
    try:
        with server.client(token) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            member = {
                **program()["members"][0],
                "calendars": [{"ics_url": f"{slow_base}/c{i}.ics"} for i in range(5)],
            }
            t = time.monotonic()
            r = api.put("/api/programs/p1/members/mia", json=member)
            assert r.status_code == 200, r.text
            assert time.monotonic() - t < 5 and _SlowCalendar.hits == 5
            doc = program("p2")
            for i, m in enumerate(doc["members"]):
                m["calendars"] = [{"ics_url": f"{slow_base}/m{i}-{j}.ics"} for j in range(2)]
            r = api.post("/api/programs", json=doc)
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "members[2].calendars[1].ics_url"
            assert "at most 5 calendar URLs" in r.json()["detail"]
            assert _SlowCalendar.hits == 5  # nothing more was fetched
    finally:
        server.stop()
    # Fewer fetches at once than URLs allowed: the request could never succeed, so it is
    # refused (422), not told to come back (503) forever.
    server, token = _server(
        tmp_path,
        SLOTWISE_ALLOW_PRIVATE_URLS="1",
        SLOTWISE_ICS_MAX_URLS="5",
        SLOTWISE_ICS_MAX_FETCHES="2",
    )
    try:
        with server.client(token) as api:
            r = api.put("/api/programs/p1/members/mia", json=member)
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "calendars[2].ics_url"
    finally:
        server.stop()
