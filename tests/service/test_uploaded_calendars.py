"""Calendar URLs inside an uploaded program are fetched once, at upload, through the
private-address guard; never while answering a heat map."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.service.live import LiveServer, admin_token
from tests.service.test_end_to_end import TUESDAY_BUSY, program


class _Calendar(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = TUESDAY_BUSY.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def calendar_url() -> Iterator[str]:
    _Calendar.hits = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Calendar)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/mia.ics"
    httpd.shutdown()
    httpd.server_close()


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
            r = api.post("/api/programs", json=_with_calendar(
                {"caldav": {"url": "http://10.0.0.1/dav/"}}))
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
            with_cal, without = ({s for a, b in h["free"][0] for s in range(a, b)}
                                 for h in (heat, plain))
            assert with_cal < without
            assert heat["free"][1] == plain["free"][1]  # al has no calendar
    finally:
        server.stop()
