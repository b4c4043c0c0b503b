"""Issue 16 item 3: booked series written into members' CalDAV calendars (real Radicale),
kept up to date, merged over members' edits, retried while the server is down, stopped
when the calendar is gone (docs/calendars.md, "Your own calendar, written by slotwise")."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from service import caldav_write, notify
from service.config import Settings
from service.store import caldav_links, caldav_writes
from tests.helpers import free_port, wait_for
from tests.service.inprocess import admin_app, call
from tests.service.sample import program

SERIES = "/api/programs/p1/matches/mia-al/series"
LINK = "/api/programs/p1/members/al/writeback"
TUESDAY = "2027-03-02T10:00:00-05:00"
WEDNESDAY = "2027-03-03T10:00:00-05:00"
PASSWORD = "s3cret-app-pässword-Ж-7f3a"


def _calendar(base: str) -> tuple[str, str]:
    """A new calendar collection (MKCALENDAR) for a user of its own: (url, user)."""
    user = "u" + uuid.uuid4().hex[:10]
    url = f"{base.rstrip('/')}/{user}/cal/"
    made = httpx.request("MKCALENDAR", url, auth=(user, PASSWORD))
    assert made.status_code == 201, made.text
    return url, user


def _todo_list(base: str, user: str) -> str:
    """A second calendar of ``user`` that takes to-dos only (no events): its URL."""
    url = f"{base.rstrip('/')}/{user}/tasks/"
    made = httpx.request(
        "MKCALENDAR",
        url,
        auth=(user, PASSWORD),
        content=b'<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
        b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        b'<C:supported-calendar-component-set><C:comp name="VTODO"/>'
        b"</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>",
    )
    assert made.status_code == 201, made.text
    return url


def _items(url: str, user: str) -> dict[str, Calendar]:
    """Every event resource in the collection, by href, read over plain HTTP."""
    found = httpx.request(
        "PROPFIND", url, headers={"Depth": "1"}, auth=(user, PASSWORD), content=b""
    )
    assert found.status_code == 207, found.text
    hrefs = [h.split("</href>")[0] for h in found.text.split("<href>")[1:]]
    out = {}
    for href in hrefs:
        if href.endswith(".ics"):
            got = httpx.get(httpx.URL(url).copy_with(path=href), auth=(user, PASSWORD))
            out[href] = Calendar.from_ical(got.content)
    return out


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    given: dict[str, Any] = {
        "db_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "outbox": tmp_path / "out",
        "undo_seconds": 0,
        "allow_private_urls": True,  # Radicale is on 127.0.0.1
    }
    return Settings(**{**given, **extra})


def _master(cal: Calendar) -> Any:
    return next(e for e in cal.walk("VEVENT") if "RECURRENCE-ID" not in e)


class Spy:
    """Records every request the writer sends (the requests still go out)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        real = caldav_write.exchange

        def spy(method: str, url: str, **kwargs: Any) -> Any:
            self.sent.append(method)
            return real(method, url, **kwargs)

        monkeypatch.setattr(caldav_write, "exchange", spy)


def _rows(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(caldav_writes)).all())


def test_book_move_cancel_written_in_place(tmp_path, radicale_url):
    """A booking is written with the invite's UID and no METHOD; a move rewrites the same
    href with a higher SEQUENCE and the new time; a cancelled occurrence becomes an
    EXDATE; cancelling the series deletes the event."""
    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path)
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def book(api: httpx.AsyncClient) -> dict[str, Any]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            return dict(r.json())

        booked = call(app, token, book)
        assert caldav_write.flush(engine, settings) == 1
        items = _items(url, user)
        assert len(items) == 1
        href, cal = next(iter(items.items()))
        assert href.endswith(quote(booked["uid"], safe="") + ".ics")
        assert "METHOD" not in cal
        event = _master(cal)
        assert str(event["UID"]) == booked["uid"]
        assert notify.flush(engine, settings) == 2
        mail = message_from_bytes(next((tmp_path / "out").glob("*.eml")).read_bytes())
        part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
        invite = Calendar.from_ical(part.get_payload(decode=True))
        assert str(invite["METHOD"]) == "REQUEST"
        assert invite.walk("VEVENT")[0]["UID"] == booked["uid"]
        assert event["ATTENDEE"][0].params["SCHEDULE-AGENT"] == "CLIENT"
        first_sequence = int(event["SEQUENCE"])
        assert caldav_write.flush(engine, settings) == 0  # nothing more is owed
        sessions = booked["sessions"]

        async def move(api: httpx.AsyncClient) -> None:
            r = await api.patch(
                f"/api/programs/p1/sessions/{sessions[1]['id']}",
                json={"start": "2027-03-10T11:00:00-05:00"},
            )
            assert r.status_code == 200, r.text

        call(app, token, move)
        assert caldav_write.flush(engine, settings) == 1
        items = _items(url, user)
        assert list(items) == [href]
        moved = [e for e in items[href].walk("VEVENT") if "RECURRENCE-ID" in e]
        assert [e["DTSTART"].dt.isoformat() for e in moved] == ["2027-03-10T11:00:00-05:00"]
        assert int(_master(items[href])["SEQUENCE"]) > first_sequence

        async def cancel_one(api: httpx.AsyncClient) -> None:
            r = await api.patch(
                f"/api/programs/p1/sessions/{sessions[2]['id']}", json={"status": "cancelled"}
            )
            assert r.status_code == 200, r.text

        call(app, token, cancel_one)
        assert caldav_write.flush(engine, settings) == 1
        master = _master(_items(url, user)[href])
        excluded = [d.dt.isoformat() for d in master["EXDATE"].dts]
        assert excluded == [sessions[2]["start"]]

        async def cancel_all(api: httpx.AsyncClient) -> None:
            r = await api.delete(f"/api/programs/p1/series/{booked['id']}")
            assert r.status_code == 200, r.text

        call(app, token, cancel_all)
        assert caldav_write.flush(engine, settings) == 1
        assert _items(url, user) == {}
        assert _rows(engine) == []


def test_member_edits_are_merged_under_slotwise_times(tmp_path, radicale_url):
    """Someone edited the event in their calendar (an alarm added, the time changed): the
    next change writes slotwise's time over it and keeps their alarm and property; a
    member who deleted the event does not get it back on later changes."""
    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path)
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def book(api: httpx.AsyncClient) -> dict[str, Any]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            return dict(r.json())

        booked = call(app, token, book)
        assert caldav_write.flush(engine, settings) == 1
        href, cal = next(iter(_items(url, user).items()))
        master = _master(cal)
        slotwise_start = master["DTSTART"].dt
        # The member's calendar app: an alarm of their own, the time moved, a category.
        edited = cal.to_ical().decode()
        edited = edited.replace(master["DTSTART"].to_ical().decode(), "20270302T150000", 1).replace(
            "END:VEVENT",
            "CATEGORIES:mentoring\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:mine\r\n"
            "TRIGGER:-PT7M\r\nEND:VALARM\r\nEND:VEVENT",
            1,
        )
        item = str(httpx.URL(url).copy_with(path=href))
        assert httpx.put(item, content=edited, auth=(user, PASSWORD)).status_code in (201, 204)

        async def move(api: httpx.AsyncClient, n: int, start: str) -> None:
            r = await api.patch(
                f"/api/programs/p1/sessions/{booked['sessions'][n]['id']}", json={"start": start}
            )
            assert r.status_code == 200, r.text

        call(app, token, lambda api: move(api, 1, "2027-03-10T11:00:00-05:00"))
        assert caldav_write.flush(engine, settings) == 1
        merged = _master(_items(url, user)[href])
        assert merged["DTSTART"].dt == slotwise_start
        triggers = [str(a["TRIGGER"].to_ical().decode()) for a in merged.walk("VALARM")]
        assert "-PT7M" in triggers
        assert merged["CATEGORIES"].to_ical() == b"mentoring"

        # The member deletes it: later changes leave their calendar alone.
        assert httpx.delete(item, auth=(user, PASSWORD)).status_code in (200, 204)
        call(app, token, lambda api: move(api, 2, "2027-03-17T11:00:00-04:00"))
        caldav_write.flush(engine, settings)
        assert _items(url, user) == {}
        call(app, token, lambda api: move(api, 3, "2027-03-24T11:00:00-04:00"))
        caldav_write.flush(engine, settings)
        assert _items(url, user) == {}
        assert [r.removed for r in _rows(engine)] == [1]


class OwnRadicale:
    """A Radicale of the test's own on a fixed port, to stop and start again."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        """``users``: user name -> password (plain htpasswd, read on every request);
        None: any user name and password log in."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.config = folder / "config"
        self.htpasswd = folder / "htpasswd"
        auth = "type = none"
        if users is not None:
            self.set_users(users)
            auth = (
                f"type = htpasswd\nhtpasswd_filename = {self.htpasswd}\n"
                "htpasswd_encryption = plain\ndelay = 0"
            )
        self.config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n[auth]\n{auth}\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
            "[logging]\nlevel = warning\n",
            encoding="utf-8",
        )
        self.log = folder / "radicale.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                urllib.request.urlopen(self.url, timeout=1).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "radicale did not answer within 20 s"
                time.sleep(0.05)

    def set_users(self, users: dict[str, str]) -> None:
        self.htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in users.items()), "utf-8")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def own_radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRadicale]:
    """A Radicale server this test may stop and start (a free port, its own folder)."""
    server = OwnRadicale(tmp_path_factory.mktemp("own-radicale"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_server_down_then_back_lands_once(tmp_path, own_radicale, monkeypatch):
    """The CalDAV server is down: the booking succeeds, the write waits (status still ok,
    the error shown), and after the restart it lands exactly once; a move and a cancel
    made while it is down end in one DELETE, not a replay."""
    url, user = _calendar(own_radicale.url)
    # Backoff of a few milliseconds: due again at once (no sleeping in the test).
    settings = _settings(tmp_path, writeback_backoff_seconds=0.001, writeback_timeout=5)
    spy = Spy(monkeypatch)
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def connect(api: httpx.AsyncClient) -> None:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})
            assert r.status_code == 200, r.text

        call(app, token, connect)
        own_radicale.stop()

        async def book(api: httpx.AsyncClient) -> dict[str, Any]:
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            return dict(r.json())

        booked = call(app, token, book)
        assert caldav_write.flush(engine, settings) == 0
        shown = call(app, token, lambda api: api.get(LINK)).json()
        assert shown["status"] == "ok" and shown["pending"] == 1
        assert "cannot reach" in shown["last_error"]
        [row] = _rows(engine)
        assert row.attempts == 1 and row.done < row.wanted

        own_radicale.start()
        spy.sent.clear()
        assert caldav_write.flush(engine, settings) == 1
        assert caldav_write.flush(engine, settings) == 0
        assert spy.sent == ["PUT"]
        assert len(_items(url, user)) == 1
        shown = call(app, token, lambda api: api.get(LINK)).json()
        assert (shown["pending"], shown["last_error"]) == (0, None)
        assert shown["last_write"] is not None

        own_radicale.stop()

        async def move_then_cancel(api: httpx.AsyncClient) -> None:
            sid = booked["sessions"][1]["id"]
            r = await api.patch(
                f"/api/programs/p1/sessions/{sid}", json={"start": "2027-03-10T11:00:00-05:00"}
            )
            assert r.status_code == 200, r.text
            assert caldav_write.flush(engine, settings) == 0  # down: waits
            r = await api.delete(f"/api/programs/p1/series/{booked['id']}")
            assert r.status_code == 200, r.text

        call(app, token, move_then_cancel)
        assert caldav_write.flush(engine, settings) == 0
        own_radicale.start()
        spy.sent.clear()
        assert caldav_write.flush(engine, settings) == 1
        assert spy.sent == ["DELETE"]
        assert _items(url, user) == {}


def test_calendar_gone_stops_writes_not_bookings(tmp_path, radicale_url, monkeypatch):
    """The collection was deleted: the connection turns ``gone`` with the error, its
    writes stop (no more requests), bookings go on; reconnecting resumes the writes."""
    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path)
    spy = Spy(monkeypatch)
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def book(
            api: httpx.AsyncClient, match: str = "mia-al", start: str = TUESDAY
        ) -> httpx.Response:
            return await api.post(
                f"/api/programs/p1/matches/{match}/series", json={"first_start": start}
            )

        async def connect(api: httpx.AsyncClient) -> dict[str, Any]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            r = await book(api)
            assert r.status_code == 201, r.text
            return dict(r.json())

        booked = call(app, token, connect)
        assert caldav_write.flush(engine, settings) == 1
        assert httpx.delete(url, auth=(user, PASSWORD)).status_code in (200, 204)

        async def move(api: httpx.AsyncClient) -> None:
            r = await api.patch(
                f"/api/programs/p1/sessions/{booked['sessions'][1]['id']}",
                json={"start": "2027-03-10T11:00:00-05:00"},
            )
            assert r.status_code == 200, r.text

        call(app, token, move)
        assert caldav_write.flush(engine, settings) == 0
        shown = call(app, token, lambda api: api.get(LINK)).json()
        assert shown["status"] == "gone" and "gone" in shown["last_error"]
        spy.sent.clear()
        assert call(app, token, lambda api: book(api, "circle", WEDNESDAY)).status_code == 201
        assert caldav_write.flush(engine, settings) == 0
        assert spy.sent == []

        # The member makes the calendar again and reconnects: both series are written.
        httpx.request("MKCALENDAR", url, auth=(user, PASSWORD)).raise_for_status()

        async def reconnect(api: httpx.AsyncClient) -> dict[str, Any]:
            r = await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return dict(r.json())

        assert call(app, token, reconnect)["status"] == "ok"
        assert caldav_write.flush(engine, settings) == 2
        assert len(_items(url, user)) == 2


def test_connect_refusals_name_the_field(tmp_path, radicale_url):
    """Connecting checks the collection: missing, an account with more than one calendar,
    events not taken, a URL with credentials or a private address (without
    allow_private_urls), a bad password: each a 422 naming the field; only the member or
    an admin may connect."""
    url, user = _calendar(radicale_url)
    todo = _todo_list(radicale_url, user)
    work = f"{radicale_url}{user}/work/"
    assert httpx.request("MKCALENDAR", work, auth=(user, PASSWORD)).status_code == 201
    cases = [
        ({"url": f"{radicale_url}{user}/nothing/"}, "url", "no calendar"),
        # The account's address, with two calendars taking events: which one is not guessed.
        ({"url": f"{radicale_url}{user}/"}, "url", "2 calendars that take events"),
        ({"url": todo}, "url", "does not take events"),
        ({"url": url.replace("http://", f"http://{user}:x@")}, "url", "user name or password"),
        ({"url": "ftp://example.org/cal/"}, "url", "http"),
        ({"password": ""}, "password", "1 to 1,024"),
        ({"password": "a\nb"}, "password", "control"),
        ({"user": ""}, "user", ""),
    ]
    with admin_app(_settings(tmp_path)) as (app, token):

        async def steps(api: httpx.AsyncClient) -> list[tuple[int, str | None, str]]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            out = []
            for change, _, _ in cases:
                body = {"url": url, "user": user, "password": PASSWORD, **change}
                r = await api.put(LINK, json=body)
                out.append((r.status_code, r.json().get("field"), r.text))
            return out

        answers = call(app, token, steps)
    for (status, field, text), (_, want, words) in zip(answers, cases, strict=True):
        assert (status, field) == (422, want), text
        assert words in text
    with admin_app(_settings(tmp_path, allow_private_urls=False)) as (app, token):

        async def private(api: httpx.AsyncClient) -> httpx.Response:
            return await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})

        r = call(app, token, private)
        assert (r.status_code, r.json()["field"]) == (422, "url")
        assert "private or local" in r.json()["detail"]


def test_password_never_shown_or_logged(tmp_path, radicale_url, caplog):
    """The password appears in no API answer (connect, status, errors) and no log line,
    through writes, a conflict and a failure."""
    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path)
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def steps(api: httpx.AsyncClient) -> None:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            body = {"url": url, "user": user, "password": PASSWORD}
            for r in (
                await api.put(LINK, json=body),
                await api.get(LINK),
                await api.put(LINK, json={**body, "url": url + "missing/"}),
                await api.put(LINK, json={**body, "extra": 1}),
                await api.post(SERIES, json={"first_start": TUESDAY}),
                await api.get("/api/programs/p1/members/al"),
                await api.get("/api/programs/p1"),
            ):
                answers.append(r.text)

        call(app, token, steps)
        caldav_write.flush(engine, settings)
        httpx.delete(url, auth=(user, PASSWORD))
        bump = caldav_writes.update().values(wanted=caldav_writes.c.wanted + 1)
        with engine.begin() as conn:
            conn.execute(bump)
        caldav_write.flush(engine, settings)
        answers.append(call(app, token, lambda api: api.get(LINK)).text)
        openapi = call(app, token, lambda api: api.get("/openapi.json")).text
    assert '"status":"gone"' in answers[-1]
    assert PASSWORD not in openapi
    for text in answers:
        assert PASSWORD not in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "gone" in logged
    assert PASSWORD not in logged


def test_only_the_member_or_an_admin_connects(tmp_path, radicale_url):
    """Another member may not connect, see or drop a member's calendar (403); the member
    may, and disconnecting leaves the written events where they are."""
    from service.auth import create_token

    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path)
    with admin_app(settings) as (app, token):
        engine = app.state.engine
        assert call(app, token, lambda api: api.post("/api/programs", json=program())).is_success
        mia = create_token(engine, "member", program_id="p1", member_id="mia")
        al = create_token(engine, "member", program_id="p1", member_id="al")
        body = {"url": url, "user": user, "password": PASSWORD}

        async def as_mia(api: httpx.AsyncClient) -> list[int]:
            return [
                (await api.put(LINK, json=body)).status_code,
                (await api.get(LINK)).status_code,
                (await api.delete(LINK)).status_code,
            ]

        assert call(app, mia, as_mia) == [403, 403, 403]

        async def as_al(api: httpx.AsyncClient) -> list[int]:
            put = (await api.put(LINK, json=body)).status_code
            return [put, (await api.get(LINK)).status_code]

        assert call(app, al, as_al) == [200, 200]
        r = call(app, token, lambda api: api.post(SERIES, json={"first_start": TUESDAY}))
        assert r.status_code == 201
        assert caldav_write.flush(engine, settings) == 1

        async def drop(api: httpx.AsyncClient) -> list[Any]:
            return [(await api.delete(LINK)).status_code, (await api.get(LINK)).json()["status"]]

        assert call(app, al, drop) == [204, "disconnected"]
        assert len(_items(url, user)) == 1
        assert _rows(engine) == []


def test_revoked_password_stops_writes_until_reconnected(tmp_path_factory, tmp_path, monkeypatch):
    """A wrong password is refused at connect (422, field password); a password revoked
    later makes the connection ``unauthorised`` and stops its writes (bookings go on);
    reconnecting with a new one writes the member's current bookings."""
    server = OwnRadicale(tmp_path_factory.mktemp("htpasswd-radicale"), {"al": PASSWORD})
    server.start()
    try:
        url = f"{server.url}al/cal/"
        made = httpx.request("MKCALENDAR", url, auth=("al", PASSWORD))
        assert made.status_code == 201, made.text
        settings = _settings(tmp_path)
        spy = Spy(monkeypatch)
        with admin_app(settings) as (app, token):
            engine = app.state.engine

            async def connect(api: httpx.AsyncClient) -> list[httpx.Response]:
                assert (await api.post("/api/programs", json=program())).status_code == 201
                wrong = await api.put(LINK, json={"url": url, "user": "al", "password": "nope"})
                right = await api.put(LINK, json={"url": url, "user": "al", "password": PASSWORD})
                booked = await api.post(SERIES, json={"first_start": TUESDAY})
                return [wrong, right, booked]

            wrong, right, booked = call(app, token, connect)
            assert (wrong.status_code, wrong.json()["field"]) == (422, "password")
            assert right.status_code == 200 and booked.status_code == 201
            assert caldav_write.flush(engine, settings) == 1

            server.set_users({"al": "a-new-app-password"})  # the old one revoked

            async def move(api: httpx.AsyncClient) -> httpx.Response:
                return await api.patch(
                    f"/api/programs/p1/sessions/{booked.json()['sessions'][1]['id']}",
                    json={"start": "2027-03-10T11:00:00-05:00"},
                )

            assert call(app, token, move).status_code == 200
            assert caldav_write.flush(engine, settings) == 0
            shown = call(app, token, lambda api: api.get(LINK)).json()
            assert shown["status"] == "unauthorised" and "401" in shown["last_error"]
            spy.sent.clear()
            circle = call(
                app,
                token,
                lambda api: api.post(
                    "/api/programs/p1/matches/circle/series", json={"first_start": WEDNESDAY}
                ),
            )
            assert circle.status_code == 201
            assert caldav_write.flush(engine, settings) == 0
            assert spy.sent == []

            async def reconnect(api: httpx.AsyncClient) -> httpx.Response:
                body = {"url": url, "user": "al", "password": "a-new-app-password"}
                return await api.put(LINK, json=body)

            assert call(app, token, reconnect).json()["status"] == "ok"
            assert caldav_write.flush(engine, settings) == 2
        found = httpx.request(
            "PROPFIND", url, headers={"Depth": "1"}, auth=("al", "a-new-app-password")
        )
        assert found.text.count(".ics</href>") == 2
    finally:
        server.stop()


def test_undone_booking_is_never_written(tmp_path, radicale_url, monkeypatch):
    """While a new booking can be undone nothing is written; undone, it never is."""
    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path, undo_seconds=600)
    spy = Spy(monkeypatch)
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def book(api: httpx.AsyncClient) -> dict[str, Any]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            return dict(r.json())

        booked = call(app, token, book)
        assert caldav_write.flush(engine, settings) == 0
        [row] = _rows(engine)
        assert row.due_at is not None and row.due_at > time.time() + 500
        assert caldav_write.next_due(engine) == row.due_at
        undo = f"/api/programs/p1/series/{booked['id']}/undo"
        assert call(app, token, lambda api: api.post(undo)).status_code == 200
        with engine.begin() as conn:  # as if the window had closed
            conn.execute(caldav_writes.update().values(due_at=None))
        assert caldav_write.flush(engine, settings) == 0
        assert _rows(engine) == []
    assert spy.sent == []
    assert _items(url, user) == {}


def test_invite_already_taken_into_the_calendar_is_updated_not_duplicated(tmp_path, radicale_url):
    """The member's calendar app took the invite mail into the same calendar (same UID,
    another href, with an alarm of theirs): slotwise updates that event in place
    instead of failing on the UID or writing a second one."""
    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path)
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def book(api: httpx.AsyncClient) -> dict[str, Any]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            return dict(r.json())

        booked = call(app, token, book)
        assert notify.flush(engine, settings) == 2
        mail = next(
            m
            for m in map(message_from_bytes, (p.read_bytes() for p in (tmp_path / "out").iterdir()))
            if "al@example.org" in str(m["To"])
        )
        part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
        taken = Calendar.from_ical(part.get_payload(decode=True))
        del taken["METHOD"]
        _master(taken).add_component(
            Calendar.from_ical(
                "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:mine\r\n"
                "TRIGGER:-PT9M\r\nEND:VALARM\r\n"
            )
        )
        theirs = f"{url}accepted-by-my-app.ics"
        assert httpx.put(theirs, content=taken.to_ical(), auth=(user, PASSWORD)).is_success

        r = call(
            app,
            token,
            lambda api: api.put(LINK, json={"url": url, "user": user, "password": PASSWORD}),
        )
        assert r.status_code == 200, r.text
        assert caldav_write.flush(engine, settings) == 1
        items = _items(url, user)
        assert [h.rsplit("/", 1)[1] for h in items] == ["accepted-by-my-app.ics"]
        event = _master(next(iter(items.values())))
        assert str(event["UID"]) == booked["uid"]
        assert "-PT9M" in [a["TRIGGER"].to_ical().decode() for a in event.walk("VALARM")]
        assert [r.href for r in _rows(engine)] == [theirs]


class Silent:
    """A server that takes connections and the request, then answers nothing until
    :meth:`release`: a calendar server that hangs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/u/cal/"
        self.accepted = threading.Event()
        self._release = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._release.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self._held.append(conn)
            self.accepted.set()

    def release(self) -> None:
        self._release.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self.sock.close()


def test_a_hanging_calendar_server_never_holds_up_invites(tmp_path, radicale_url):
    """While the writer waits on a member's calendar server that does not answer, the
    next booking's invitations still go out: mail and calendar writes run apart."""
    url, user = _calendar(radicale_url)
    settings = _settings(tmp_path, writeback_timeout=60)
    silent = Silent()
    try:
        with admin_app(settings) as (app, token):
            engine = app.state.engine

            async def connect(api: httpx.AsyncClient) -> None:
                assert (await api.post("/api/programs", json=program())).status_code == 201
                r = await api.put(LINK, json={"url": url, "user": user, "password": PASSWORD})
                assert r.status_code == 200, r.text

            call(app, token, connect)
            # The server stops answering after the member connected it.
            with engine.begin() as conn:
                conn.execute(update(caldav_links).values(url=silent.url))
            sender = notify.RetryLoop(engine, settings)
            sender.start()
            try:

                async def book(api: httpx.AsyncClient, match: str, start: str) -> None:
                    r = await api.post(
                        f"/api/programs/p1/matches/{match}/series", json={"first_start": start}
                    )
                    assert r.status_code == 201, r.text

                call(app, token, lambda api: book(api, "mia-al", TUESDAY))
                assert silent.accepted.wait(20), "the writer never called the calendar server"
                call(app, token, lambda api: book(api, "mia-bo", WEDNESDAY))
                mails = lambda: list((tmp_path / "out").glob("*.eml"))  # noqa: E731
                # Both bookings' invitations (two members each), the writer still waiting.
                assert wait_for(lambda: len(mails()) == 4, 20), len(mails())
                assert not silent._release.is_set()
            finally:
                silent.release()
                sender.stop()
    finally:
        silent.release()


def test_the_accounts_address_finds_its_one_calendar_for_events(tmp_path, radicale_url):
    """Given the server's or the account's address instead of the calendar's, connecting
    finds the one calendar that takes events (a to-do list beside it is not one), as a
    calendar app would, stores that calendar, and the booking is written there; an
    account with no calendar for events is a 422 naming url."""
    url, user = _calendar(radicale_url)
    todo = _todo_list(radicale_url, user)
    empty = "u" + uuid.uuid4().hex[:10]  # an account with no calendar at all (Radicale
    # makes a user's principal collection when they first sign in)
    settings = _settings(tmp_path)
    with admin_app(settings) as (app, token):

        async def steps(api: httpx.AsyncClient) -> list[httpx.Response]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            out = []
            for given, who in ((radicale_url, user), (f"{radicale_url}{user}/", user)):
                r = await api.put(LINK, json={"url": given, "user": who, "password": PASSWORD})
                out.append(r)
            out.append(await api.post(SERIES, json={"first_start": TUESDAY}))
            out.append(
                await api.put(
                    "/api/programs/p1/members/bo/writeback",
                    json={"url": radicale_url, "user": empty, "password": PASSWORD},
                )
            )
            return out

        server, account, booked, nothing = call(app, token, steps)
        assert (server.status_code, server.json()["url"]) == (200, url), server.text
        assert (account.status_code, account.json()["url"]) == (200, url), account.text
        assert booked.status_code == 201, booked.text
        assert caldav_write.flush(app.state.engine, settings) == 1
    assert (nothing.status_code, nothing.json()["field"]) == (422, "url"), nothing.text
    assert "no calendar that takes events" in nothing.json()["detail"]
    [written] = _items(url, user).values()
    assert str(_master(written)["UID"]) == booked.json()["uid"]
    assert _items(todo, user) == {}
