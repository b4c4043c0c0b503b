"""Issue 15: a change to a series holds its program's lock only for its own writes and
one invite job; the invites are built after the commit (docs/rules.md, "Invite jobs")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from icalendar import Calendar
from sqlalchemy import func, select

import service.api.routes.series as routes
from service import notify, plan_apply
from service.config import Settings
from service.store import deliveries, invite_jobs
from tests.helpers import wait_for
from tests.service.inprocess import admin_app, call
from tests.service.sample import program

SERIES = "/api/programs/p1/matches/mia-al/series"
TUESDAY = "2027-03-02T10:00:00-05:00"
SENDER = "slotwise tests <invites@slotwise.example>"


def _count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        n: int = conn.execute(select(func.count()).select_from(table)).scalar_one()
        return n


def test_the_lock_holds_no_invite_building(tmp_path, monkeypatch):
    """Booking, moving a session, cancelling one and cancelling the series build every
    invite message outside the program's lock and outside the request: the answer comes
    with the change's invite job queued, and the background sender builds it."""
    inside = [False]
    built: list[bool] = []  # for each message built: was the lock held?
    original_locked, original_build = routes.locked, notify._build

    @contextmanager
    def flagged(engine: Any, program_id: str) -> Iterator[Any]:
        with original_locked(engine, program_id) as conn:
            inside[0] = True
            try:
                yield conn
            finally:
                inside[0] = False

    def build(*args: Any, **kwargs: Any) -> Any:
        built.append(inside[0])
        return original_build(*args, **kwargs)

    monkeypatch.setattr(routes, "locked", flagged)
    monkeypatch.setattr(notify, "_build", build)
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (app, token):

        async def steps(api: httpx.AsyncClient) -> tuple[int, int]:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            answered = (_count(app.state.engine, invite_jobs), _count(app.state.engine, deliveries))
            sessions = r.json()["sessions"]
            moved = await api.patch(
                f"/api/programs/p1/sessions/{sessions[1]['id']}",
                json={"start": "2027-03-10T11:00:00-05:00"},
            )
            assert moved.status_code == 200, moved.text
            off = await api.patch(
                f"/api/programs/p1/sessions/{sessions[2]['id']}", json={"status": "cancelled"}
            )
            assert off.status_code == 200, off.text
            gone = await api.delete(f"/api/programs/p1/series/{r.json()['id']}")
            assert gone.status_code == 200, gone.text
            return answered

        answered = call(app, token, steps)
        # The answer came with the job queued and nothing built: the background sender
        # builds every change's invites, one change after the other, outside the lock.
        notify.build_jobs(app.state.engine, settings)
        built_rows = _count(app.state.engine, deliveries)
        jobs_left = _count(app.state.engine, invite_jobs)
    assert answered == (1, 0)
    assert built_rows == 8  # two members, four changes
    assert jobs_left == 0
    assert len(built) == 8 and not any(built)


def test_book_then_cancel_before_any_invite_is_built(tmp_path, smtp_server):
    """A booking cancelled before a sender built its invite (a process that died after
    the commit, or a slow one): a fresh sender builds both jobs, in order, from the series
    as it is then, and every attendee ends with the event cancelled."""
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        smtp_url=smtp_server.url,
        sender=SENDER,
        undo_seconds=0,
    )
    with admin_app(settings) as (app, token):

        async def steps(api: httpx.AsyncClient) -> None:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            assert (await api.delete(f"/api/programs/p1/series/{r.json()['id']}")).is_success

        call(app, token, steps)
        engine = app.state.engine
        assert (_count(engine, invite_jobs), _count(engine, deliveries)) == (2, 0)
        assert notify.flush(engine, settings) == 4
        assert _count(engine, invite_jobs) == 0
    by_recipient: dict[str, list[tuple[str, str, int]]] = {}
    for received in smtp_server.messages:
        for part in received.message.walk():
            if part.get_content_type() == "text/calendar":
                cal = Calendar.from_ical(part.get_payload(decode=True))
                event = cal.walk("VEVENT")[0]
                by_recipient.setdefault(received.rcpt_tos[0], []).append(
                    (str(cal["METHOD"]), str(event["STATUS"]), int(event["SEQUENCE"]))
                )
    assert sorted(by_recipient) == ["al@example.org", "mia@example.org"]
    for got in by_recipient.values():
        # Built after the cancel, the invitation already says cancelled: in whatever order
        # they arrive, the calendar ends with the event cancelled.
        assert sorted(got) == [("CANCEL", "CANCELLED", 1), ("REQUEST", "CANCELLED", 1)]


def test_jobs_of_one_series_are_built_one_after_the_other(tmp_path):
    """While a series' earlier job is claimed (being built elsewhere), its later job cannot
    be claimed, so no worker builds a cancellation before the invitation it follows."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (app, token):

        async def steps(api: httpx.AsyncClient) -> None:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert (await api.delete(f"/api/programs/p1/series/{r.json()['id']}")).is_success

        call(app, token, steps)
        engine = app.state.engine
        with engine.connect() as conn:
            first, second = conn.execute(
                select(invite_jobs.c.id).order_by(invite_jobs.c.position)
            ).scalars()
        assert notify._claim_job(engine, second) is None
        claim = notify._claim_job(engine, first)
        assert claim is not None and notify._claim_job(engine, first) is None
        assert notify._claim_job(engine, second) is None  # the first is still being built
        assert notify._build_job(engine, settings, first, claim) == 1
        assert notify._claim_job(engine, second) is not None


def test_the_sender_works_through_a_plan_a_round_at_a_time(tmp_path, monkeypatch):
    """A plan's invite jobs, more than one sender round builds or sends, all go out
    without waiting for the retry interval: a full round is followed by the next at once."""
    monkeypatch.setattr(notify, "BUILD_PER_ROUND", 1)
    monkeypatch.setattr(notify, "SEND_PER_ROUND", 1)
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out", retry_seconds=3600
    )
    with admin_app(settings) as (app, token):
        engine = app.state.engine

        async def steps(api: httpx.AsyncClient) -> str:
            assert (await api.post("/api/programs", json=program())).status_code == 201
            r = await api.post("/api/programs/p1/plans", json={"time_limit": 10})
            jid = r.json()["job"]
            while (await api.get(f"/api/jobs/{jid}")).json()["status"] != "done":
                await asyncio.sleep(0.1)
            return jid

        jid = call(app, token, steps)
        sender = notify.RetryLoop(engine, settings)
        sender.start()
        try:
            assert plan_apply.apply(engine, settings, "p1", jid)["booked"] == 4
            notify.wake(engine)
            assert wait_for(lambda: len(list((tmp_path / "out").glob("*.eml"))) == 10, 60)
        finally:
            sender.stop()
        assert _count(engine, invite_jobs) == 0
