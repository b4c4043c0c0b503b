"""Issue 14, the booking wizard's server side: review before booking (preview), undo within
a short window, cancelling with a note, and marking a session complete only once it has
started. Through the API in process; mail through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import func, select, update

from service.config import Settings
from service.notify import RetryLoop, build_jobs
from service.store import deliveries, series, sessions
from tests.helpers import wait_for
from tests.service.clock import program_now
from tests.service.inprocess import admin_app, call
from tests.service.sample import program
from tests.service.smtp import SmtpServer

SERIES = "/api/programs/p1/matches/{}/series"
TUESDAY = "2027-03-02T10:00:00-05:00"  # mia-al's first session in most tests
SENDER = "slotwise tests <invites@slotwise.example>"


def _program_al_away() -> dict:
    """The sample program with Al (London) away all of Tuesday 9 March 2027."""
    doc = program()
    al = next(m for m in doc["members"] if m["id"] == "al")
    al["unavailable"] = [{"start": "2027-03-09T00:00", "end": "2027-03-10T00:00"}]
    return doc


@contextmanager
def _app(
    tmp_path: Path, smtp: SmtpServer | None = None, doc: dict | None = None, **settings: Any
) -> Iterator[tuple[Any, str, Callable[..., Any]]]:
    """The app on a SQLite file with the sample program (or ``doc``) stored, mailing to
    ``smtp`` through a running invite sender when given: (app, admin token, run) where
    ``run(steps)`` runs async ``steps(api)``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "db_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "outbox": tmp_path / "outbox",
        "retry_seconds": 3600,  # mail that waits for an undo window is not a retry's luck
        **settings,
    }
    if smtp is not None:
        options.update(smtp_url=smtp.url, sender=SENDER)
    with admin_app(Settings(**options)) as (app, token):
        sender = RetryLoop(app.state.engine, app.state.settings) if smtp is not None else None
        if sender is not None:
            sender.start()
        try:

            def run(steps: Callable[[httpx.AsyncClient], Any]) -> Any:
                return call(app, token, steps)

            async def create(api: httpx.AsyncClient) -> None:
                r = await api.post("/api/programs", json=doc or program())
                assert r.status_code == 201, r.text

            run(create)
            yield app, token, run
        finally:
            if sender is not None:
                sender.stop()


def _post(run: Callable[..., Any], path: str, body: Any = None) -> httpx.Response:
    async def steps(api: httpx.AsyncClient) -> httpx.Response:
        return await api.post(path, json=body)

    r: httpx.Response = run(steps)
    return r


def _request(run: Callable[..., Any], method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def steps(api: httpx.AsyncClient) -> httpx.Response:
        return await api.request(method, path, **kwargs)

    r: httpx.Response = run(steps)
    return r


def _count(app: Any, table: Any) -> int:
    with app.state.engine.connect() as conn:
        n: int = conn.execute(select(func.count()).select_from(table)).scalar_one()
        return n


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _calendar_of(message: EmailMessage) -> Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no text/calendar part")


# --- preview --------------------------------------------------------------------------


def test_preview_shows_who_is_missing_and_the_alternative(tmp_path):
    """Al is away on the second Tuesday: the preview says that occurrence does not hold,
    Al is missing and Mia attending, offers an alternative that week on another day, gives
    each member's zone, and writes nothing (no series, no session, no mail queued)."""
    with _app(tmp_path, doc=_program_al_away()) as (app, _, run):
        r = _post(run, SERIES.format("mia-al") + "/preview", {"first_start": TUESDAY})
        assert r.status_code == 200, r.text
        got = r.json()
        assert (_count(app, series), _count(app, sessions), _count(app, deliveries)) == (0, 0, 0)
    occ = got["occurrences"]
    assert [o["holds"] for o in occ] == [True, False, True, True]
    assert (occ[1]["missing"], occ[1]["attending"]) == (["al"], ["mia"])
    alternative = datetime.fromisoformat(occ[1]["alternative"])
    assert alternative.date().isoformat() != "2027-03-09"
    assert abs((alternative - datetime.fromisoformat(occ[1]["start"])).days) < 7
    assert all("alternative" not in o for o in occ if o["holds"])
    assert got["members"] == [
        {"id": "mia", "name": "Mia", "timezone": "America/New_York"},
        {"id": "al", "name": "Al", "timezone": "Europe/London"},
    ]
    assert (got["bookable"], got["clashes"]) == (True, [])
    assert got["rrule"] == "FREQ=WEEKLY;COUNT=4" and got["sessions"] == 4
    assert got["summary"] == "Mentoring: Mia & Al"


def test_preview_is_what_booking_then_stores(tmp_path):
    """The same body previewed and then booked: the booking's sessions are the preview's
    occurrences (start and end), and its details are those the preview showed."""
    body = {
        "first_start": "2027-03-08T21:00:00-05:00",  # across the US DST change (14 March)
        "duration_minutes": 45,
        "frequency": "weekly",
        "sessions": 3,
        "conferencing": {"location": "Café Łódź, 2º andar"},
        "agenda": "目標と進捗\nGoals",
    }
    with _app(tmp_path) as (_, _, run):
        preview = _post(run, SERIES.format("mia-al") + "/preview", body).json()
        booked = _post(run, SERIES.format("mia-al"), body)
        assert booked.status_code == 201, booked.text
    stored = booked.json()
    assert [(s["start"], s["end"]) for s in stored["sessions"]] == [
        (o["start"], o["end"]) for o in preview["occurrences"]
    ]
    for key in ("first_start", "rrule", "timezone", "duration_minutes", "agenda", "summary"):
        assert stored[key] == preview[key], key
    assert stored["conferencing"] == preview["conferencing"]


def test_preview_lists_the_clashes_booking_refuses(tmp_path):
    """Mia is booked with Al at that time: previewing Mia and Bo there lists the same
    clashes the booking's 409 lists, and says it is not bookable."""
    with _app(tmp_path) as (_, _, run):
        assert _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).status_code == 201
        preview = _post(run, SERIES.format("mia-bo") + "/preview", {"first_start": TUESDAY})
        refused = _post(run, SERIES.format("mia-bo"), {"first_start": TUESDAY})
    assert preview.status_code == 200 and refused.status_code == 409
    got = preview.json()
    assert got["bookable"] is False
    assert got["clashes"] == refused.json()["clashes"]
    assert {c["member"] for c in got["clashes"]} == {"mia"} and len(got["clashes"]) == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"first_start": "2027-02-23T10:00:00-05:00"}, "first_start"),  # before the program's now
        ({"first_start": "2027-03-02T10:05:00-05:00"}, "first_start"),  # off the 15-minute grid
        ({"first_start": TUESDAY, "duration_minutes": 50}, "duration_minutes"),
        ({"first_start": TUESDAY, "frequency": "once", "sessions": 3}, "sessions"),
    ],
)
def test_preview_refuses_what_booking_refuses(tmp_path, body, field):
    """A body booking refuses with 422 naming a field is refused by the preview the same."""
    with _app(tmp_path) as (_, _, run):
        preview = _post(run, SERIES.format("mia-al") + "/preview", body)
        booked = _post(run, SERIES.format("mia-al"), body)
    assert preview.status_code == booked.status_code == 422, preview.text
    assert preview.json()["field"] == booked.json()["field"] == field


# --- undo -----------------------------------------------------------------------------


def test_undo_in_time_sends_nothing_and_frees_the_time(tmp_path, smtp_server):
    """Booked with a 2-second window and undone at once: 200 "withdrawn", the series is
    gone from the match's list, Mia and Al can be booked at that time again, and once that
    second booking's window is over its invites arrive and none of the first's ever do."""
    with _app(tmp_path, smtp_server, undo_seconds=2) as (app, _, run):
        asked = time.time()
        first = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY})
        assert first.status_code == 201, first.text
        booked = first.json()
        until = datetime.fromisoformat(booked["undo_until"]).timestamp()
        assert asked + 2 <= until <= time.time() + 3  # at least the window, whole seconds
        r = _post(run, f"/api/programs/p1/series/{booked['id']}/undo")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "withdrawn" and r.json()["undo_until"] is None
        assert _request(run, "GET", SERIES.format("mia-al")).json() == []
        gone = _request(run, "GET", f"/api/programs/p1/series/{booked['id']}")
        assert gone.status_code == 404
        again = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY})
        assert again.status_code == 201, again.text
        assert wait_for(lambda: len(smtp_server.messages) == 2, seconds=15)
        time.sleep(0.5)  # anything else the sender had would have come with them
        assert _count(app, deliveries) == 2
    uids = {str(_calendar_of(m.message).walk("VEVENT")[0]["UID"]) for m in smtp_server.messages}
    assert uids == {again.json()["uid"]}


def test_invites_wait_for_the_window_then_go_out_unprompted(tmp_path, smtp_server):
    """Nothing is sent while a booking can be undone; when its window closes the sender
    wakes by itself (retries are an hour apart here) and the invites arrive."""
    with _app(tmp_path, smtp_server, undo_seconds=2) as (_, _, run):
        booked = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).json()
        until = datetime.fromisoformat(booked["undo_until"]).timestamp()
        time.sleep(1)
        assert smtp_server.messages == []
        assert wait_for(lambda: len(smtp_server.messages) == 2, seconds=10)
        assert time.time() >= until
        got = _request(run, "GET", f"/api/programs/p1/series/{booked['id']}").json()
        assert got["undo_until"] is None  # the window is over


def test_undo_too_late_is_refused(tmp_path, smtp_server):
    """Once the window is over and the invites went out, undo is 409 telling to cancel
    instead, and the series stays booked; with SLOTWISE_UNDO_SECONDS=0 there is no window
    at all (undo_until null, undo 409)."""
    with _app(tmp_path, smtp_server, undo_seconds=1) as (_, _, run):
        booked = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).json()
        assert wait_for(lambda: len(smtp_server.messages) == 2, seconds=10)
        r = _post(run, f"/api/programs/p1/series/{booked['id']}/undo")
        assert r.status_code == 409, r.text
        assert r.json()["detail"] == "the invites have gone out; cancel the series instead"
        still = _request(run, "GET", f"/api/programs/p1/series/{booked['id']}").json()
        assert still["status"] == "scheduled"
    with _app(tmp_path / "none", undo_seconds=0) as (_, _, run):
        booked = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).json()
        assert booked["undo_until"] is None
        r = _post(run, f"/api/programs/p1/series/{booked['id']}/undo")
        assert r.status_code == 409, r.text


def test_undo_is_refused_when_an_invite_already_went(tmp_path):
    """Inside the window but with one invite already sent (a sender that claimed it at the
    last moment): 409, and nothing is removed, not the series, not its other invites."""
    with _app(tmp_path, undo_seconds=60) as (app, _, run):
        booked = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).json()
        build_jobs(app.state.engine, app.state.settings)  # the background sender's part
        with app.state.engine.begin() as conn:
            one = conn.execute(select(deliveries.c.id).limit(1)).scalar_one()
            conn.execute(
                update(deliveries).where(deliveries.c.id == one).values(status="sent", attempts=1)
            )
        r = _post(run, f"/api/programs/p1/series/{booked['id']}/undo")
        assert r.status_code == 409, r.text
        assert (_count(app, series), _count(app, sessions), _count(app, deliveries)) == (1, 4, 2)


# --- cancel with a note ---------------------------------------------------------------

NOTE = "Désolé — Mia est malade.\nПеренесём на следующую неделю. 来週また 🙏"


def test_cancel_note_reaches_the_mail_and_the_calendar(tmp_path, smtp_server):
    """POST …/cancel with a note in several scripts: every member's cancellation mail has
    it in its text and as the calendar's COMMENT; cancelling one session with PATCH and a
    note does the same. The cancelled series and session stay listed."""
    with _app(tmp_path, smtp_server, undo_seconds=0) as (_, _, run):
        pair = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).json()
        group = _post(
            run, SERIES.format("circle"), {"first_start": "2027-03-03T10:00:00-05:00"}
        ).json()
        assert wait_for(lambda: len(smtp_server.messages) == 6)
        r = _post(run, f"/api/programs/p1/series/{pair['id']}/cancel", {"note": NOTE})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        assert wait_for(lambda: len(smtp_server.messages) == 8)
        one = group["sessions"][1]["id"]
        r = _request(
            run,
            "PATCH",
            f"/api/programs/p1/sessions/{one}",
            json={"status": "cancelled", "note": "Feriado — 祝日"},
        )
        assert r.status_code == 200, r.text
        assert wait_for(lambda: len(smtp_server.messages) == 12)
        listed = _request(run, "GET", SERIES.format("mia-al")).json()
        circle = _request(run, "GET", SERIES.format("circle")).json()
    assert [s["status"] for s in listed] == ["cancelled"]
    assert [s["status"] for s in listed[0]["sessions"]] == ["cancelled"] * 4
    assert [s["status"] for s in circle[0]["sessions"]] == ["scheduled", "cancelled"]
    for m in smtp_server.messages[6:8]:
        assert NOTE in _text_of(m.message).replace("\r\n", "\n")
        event = _calendar_of(m.message).walk("VEVENT")[0]
        assert str(event["COMMENT"]) == NOTE
    for m in smtp_server.messages[8:]:
        assert "Feriado — 祝日" in _text_of(m.message)
        assert str(_calendar_of(m.message).walk("VEVENT")[0]["COMMENT"]) == "Feriado — 祝日"
    assert all(
        "COMMENT" not in _calendar_of(m.message).walk("VEVENT")[0] for m in smtp_server.messages[:6]
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/programs/p1/series/{sid}/cancel", {"note": "x" * 2001}, "note"),
        ("POST", "/api/programs/p1/series/{sid}/cancel", {"note": "a\x07b"}, "note"),
        ("POST", "/api/programs/p1/series/{sid}/cancel", {"reason": "typo"}, "reason"),
        ("PATCH", "/api/programs/p1/sessions/{oid}", {"start": TUESDAY, "note": "x"}, "note"),
    ],
)
def test_bad_cancel_notes_are_refused(tmp_path, method, path, body, field):
    """A note too long, with a control character, an unknown key, or a note with a move:
    422 naming the field, and nothing is cancelled."""
    with _app(tmp_path) as (_, _, run):
        booked = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).json()
        url = path.format(sid=booked["id"], oid=booked["sessions"][0]["id"])
        r = _request(run, method, url, json=body)
        after = _request(run, "GET", f"/api/programs/p1/series/{booked['id']}").json()
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert after["status"] == "scheduled" and after["sequence"] == 0


# --- complete -------------------------------------------------------------------------


def test_complete_only_once_the_session_has_started(tmp_path):
    """Before the session starts (by the program's now) completing it is 409 saying when
    it starts; once the program's now has passed its start, 200."""
    with _app(tmp_path) as (app, _, run):
        booked = _post(run, SERIES.format("mia-al"), {"first_start": TUESDAY}).json()
        first = booked["sessions"][0]["id"]
        early = _post(run, f"/api/programs/p1/sessions/{first}/complete")
        with program_now(app.state.engine, "p1", "2027-03-02T15:00:00Z"):  # 10:00 New York
            done = _post(run, f"/api/programs/p1/sessions/{first}/complete")
    assert early.status_code == 409, early.text
    detail = early.json()["detail"]
    assert "2027-03-02 at 10:00 (America/New_York)" in detail
    assert "once it has started" in detail
    assert done.status_code == 200, done.text
    assert done.json()["progress"] == {"completed": 1, "planned": 4}
