"""CalDAV write-back against calendar servers that misbehave and members who change their
connection mid-write: credentials stay with the calendar the member gave, every write lands
there, and a strange answer is an error named for the field, never a 500
(docs/calendars.md, "Your own calendar, written by slotwise")."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from ingest.errors import CalendarError
from ingest.fetch import fetch_ics
from service import caldav_write, writeback
from service.config import Settings
from service.store import caldav_writes
from tests.service.inprocess import admin_app, call
from tests.service.sample import program

LINK = "/api/programs/p1/members/al/writeback"
SERIES = "/api/programs/p1/matches/mia-al/series"
TUESDAY = "2027-03-02T10:00:00-05:00"
PASSWORD = "пароль-jörg-7f3a"
COLLECTION = (
    b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" '
    b'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/u/cal/</d:href>'
    b"<d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype>"
    b"</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    b"</d:multistatus>"
)
Reply = tuple[int, dict[str, bytes], bytes]
Handler = Callable[[str, str, dict[str, str]], Reply]


class Scripted:
    """A calendar server whose every answer ``handler(method, path, headers)`` gives (header
    values as raw bytes); it records each request it gets."""

    def __init__(self, handler: Handler) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Answer(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                self.rfile.read(size)
                headers = dict(self.headers)
                outer.seen.append((self.command, self.path, headers))
                status, extra, body = handler(self.command, self.path, headers)
                self.send_response_only(status)
                for name, value in {**extra, "Content-Length": str(len(body)).encode()}.items():
                    self.send_header(name, value.decode("latin-1"))  # sent as these bytes
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = handle_one

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/u/cal/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def scripted(handler: Handler) -> Iterator[Scripted]:
    """A :class:`Scripted` server for the test's duration."""
    server = Scripted(handler)
    try:
        yield server
    finally:
        server.close()


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        outbox=tmp_path / "out",
        undo_seconds=0,
        allow_private_urls=True,  # the scripted servers are on 127.0.0.1
    )


def _connect_and_book(app: Any, token: str, url: str) -> None:
    async def steps(api: httpx.AsyncClient) -> None:
        assert (await api.post("/api/programs", json=program())).status_code == 201
        r = await api.put(LINK, json={"url": url, "user": "jörg", "password": PASSWORD})
        assert r.status_code == 200, r.text
        assert (await api.post(SERIES, json={"first_start": TUESDAY})).status_code == 201

    call(app, token, steps)


def _rows(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(caldav_writes)).all())


def _bump(engine: Any) -> None:
    """The series changed (as a move would): every calendar is owed it again."""
    with engine.begin() as conn:
        conn.execute(update(caldav_writes).values(wanted=caldav_writes.c.wanted + 1))


def test_an_href_on_another_host_gets_no_credentials(tmp_path):
    """A server that says the event is already there, at an href on another host: the
    member's user name and password never go to that host, and no write is recorded there."""
    with (
        scripted(lambda m, p, h: (200, {"ETag": b'"x"'}, b"")) as elsewhere,
        scripted(
            lambda m, p, h: {
                "PROPFIND": (207, {}, COLLECTION),
                "PUT": (409, {}, b"<d:error xmlns:d='DAV:'><c:no-uid-conflict/></d:error>"),
                "REPORT": (
                    207,
                    {},
                    b'<d:multistatus xmlns:d="DAV:"><d:response><d:href>'
                    + f"http://127.0.0.1:{elsewhere.port}/steal.ics".encode()
                    + b"</d:href></d:response></d:multistatus>",
                ),
            }.get(m, (404, {}, b""))
        ) as calendar,
    ):
        settings = _settings(tmp_path)
        with admin_app(settings) as (app, token):
            _connect_and_book(app, token, calendar.url)
            caldav_write.flush(app.state.engine, settings)
            rows = _rows(app.state.engine)
    assert elsewhere.seen == []
    assert rows[0].done == 0 and rows[0].href is None
    assert "HTTP 409" in (rows[0].last_error or "")


def test_reconnecting_during_a_write_sends_nothing_to_the_old_calendar(tmp_path):
    """The member connects another calendar while a write to the old one is under way: the
    new credentials never reach the old server, and the new calendar gets the series."""
    context: dict[str, Any] = {}
    with scripted(
        lambda m, p, h: (207, {}, COLLECTION) if m == "PROPFIND" else (201, {"ETag": b'"n"'}, b"")
    ) as new:

        def old_server(method: str, path: str, headers: dict[str, str]) -> Reply:
            if method == "PROPFIND":
                return 207, {}, COLLECTION
            if method == "PUT" and "switched" not in context:
                context["switched"] = True  # the member reconnects while this PUT is served
                writeback.connect(context["engine"], "p1", "al", new.url, "new-user", "new-pw")
            return 201, {"ETag": b'"o"'}, b""

        with scripted(old_server) as old:
            settings = _settings(tmp_path)
            with admin_app(settings) as (app, token):
                context["engine"] = app.state.engine
                _connect_and_book(app, token, old.url)
                for _ in range(3):
                    caldav_write.flush(app.state.engine, settings)
                rows = _rows(app.state.engine)
    assert context.get("switched")
    to_old = [h.get("Authorization", "") for _, _, h in old.seen]
    assert httpx.BasicAuth("new-user", "new-pw")._auth_header not in to_old
    assert [m for m, _, _ in new.seen].count("PUT") == 1
    assert rows[0].href.startswith(new.url) and rows[0].done == rows[0].wanted


def test_an_etag_with_non_ascii_bytes_is_sent_back_as_given(tmp_path):
    """RFC 9110 lets an ETag hold bytes 0x80-0xFF: the update's If-Match carries the very
    bytes the server sent, and the update lands (it used to fail for good)."""
    etag = b'"\xe9t\xe9-\xff"'

    def server(method: str, path: str, headers: dict[str, str]) -> Reply:
        if method == "PROPFIND":
            return 207, {}, COLLECTION
        return (
            204 if method == "PUT" and "if-match" in map(str.lower, headers) else 201,
            {"ETag": etag},
            b"",
        )

    with scripted(server) as calendar:
        settings = _settings(tmp_path)
        with admin_app(settings) as (app, token):
            _connect_and_book(app, token, calendar.url)
            assert caldav_write.flush(app.state.engine, settings) == 1
            _bump(app.state.engine)
            assert caldav_write.flush(app.state.engine, settings) == 1
            rows = _rows(app.state.engine)
    puts = [h for m, _, h in calendar.seen if m == "PUT"]
    assert len(puts) == 2
    matched = {k.lower(): v for k, v in puts[1].items()}["if-match"]
    assert matched.encode("latin-1") == etag
    assert rows[0].done == rows[0].wanted and rows[0].last_error is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999/u/cal/", "http://xn--/u/cal/", "http://127.0.0.1:65536/"]
)
def test_a_bad_port_or_host_is_a_422_even_without_the_address_guard(tmp_path, url):
    """With ``allow_private_urls`` (no guard resolves the host first), a port out of range
    or a host IDNA refuses is a 422 naming the url, not a 500; and an ICS fetch of it a
    CalendarError."""
    with admin_app(_settings(tmp_path)) as (app, token):

        async def steps(api: httpx.AsyncClient) -> httpx.Response:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            return await api.put(LINK, json={"url": url, "user": "u", "password": "p"})

        r = call(app, token, steps)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "url"
    with pytest.raises(CalendarError):
        fetch_ics(url, timeout=5)
