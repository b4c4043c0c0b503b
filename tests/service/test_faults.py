"""Faults: a server killed mid-write keeps all of it or none of it; invites survive an
SMTP outage and are sent exactly once when it ends."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from service.store import (
    deliveries,
    invite_jobs,
    jobs,
    make_engine,
    series,
    session_members,
    sessions,
)
from tests.helpers import free_port, wait_for
from tests.service.live import LiveServer, admin_token, finished_plan
from tests.service.sample import program
from tests.service.smtp import Collector, SmtpServer


def _counts(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (series, sessions, session_members, deliveries)
            }
    finally:
        engine.dispose()


def _integrity(db_url: str) -> str:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def _killed_mid_commit(
    db_url: str,
    tmp_path,
    admin: str,
    method: str,
    path: str,
    body: dict | None = None,
    failpoint: str = "series-commit",
    env: dict[str, str] | None = None,
    sender: str = "process",
) -> None:
    """Send one request to a server armed to stop at ``failpoint`` (by default: just
    before it commits a series), kill it there with SIGKILL, and return once it is dead."""
    mark = tmp_path / "at-commit"
    server = LiveServer(
        db_url,
        outbox=tmp_path / "outbox",
        sender=sender,
        env={
            "SLOTWISE_FAILPOINT": f"{failpoint}=pause",
            "SLOTWISE_FAILPOINT_MARK": str(mark),
            **(env or {}),
        },
    ).start()
    outcome: list[object] = []

    def send() -> None:
        try:
            with server.client(admin) as api:
                outcome.append(api.request(method, path, json=body).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert wait_for(mark.exists, 60), "the server never reached the failpoint"
        server.stop(kill=True)  # SIGKILL, right there
    finally:
        server.stop(kill=True)
        sender.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError), outcome


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'slotwise.sqlite'}"


@pytest.fixture
def admin(db_url):
    return admin_token(db_url)


# A plan is applied in chunks of series, each its own transaction (here one series each):
# killed as the first chunk commits, or between two committed chunks.
KILL_POINTS = {"at-commit": "series-commit", "between-chunks": "apply-chunk"}


@pytest.mark.parametrize("where", list(KILL_POINTS))
def test_server_killed_while_applying_a_plan_books_none_of_it(db_url, admin, tmp_path, where):
    """A server SIGKILLed mid-apply shows nothing of the plan and owes no invite: what
    it committed stays hidden, a restart removes it, and applying again books the whole
    plan exactly once."""
    server = LiveServer(db_url, outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            jid = finished_plan(api, "p1", time_limit=10)
            planned = len(api.get(f"/api/jobs/{jid}").json()["plan"]["series"])
    finally:
        server.stop()
    assert planned == 4

    _killed_mid_commit(
        db_url,
        tmp_path,
        admin,
        "POST",
        f"/api/programs/p1/plans/{jid}/apply",
        failpoint=KILL_POINTS[where],
        env={"SLOTWISE_APPLY_CHUNK": "1"},
    )

    assert _integrity(db_url) == "ok"
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(jobs.c.applied).where(jobs.c.id == jid)).scalar_one() == 0
        # Committed chunks are there, hidden, owing nobody an invite yet.
        left = {r.status for r in conn.execute(select(series.c.status))}
        owed = conn.execute(select(func.count()).select_from(invite_jobs)).scalar_one()
        queued = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    engine.dispose()
    assert (left, owed, queued) == (
        ({"pending"}, 0, 0) if where == "between-chunks" else (set(), 0, 0)
    )
    assert not list((tmp_path / "outbox").glob("*.eml"))

    server = LiveServer(db_url, outbox=tmp_path / "outbox").start()
    try:
        assert _counts(db_url) == {
            "series": 0,
            "sessions": 0,
            "session_members": 0,
            "deliveries": 0,
        }  # the restart rolled it back
        with server.client(admin) as api:
            assert (
                api.get("/api/programs/p1/members/mia/sessions.ics").text.count("BEGIN:VEVENT") == 0
            )
            applied = api.post(f"/api/programs/p1/plans/{jid}/apply")
            assert applied.status_code == 200, applied.text
            assert applied.json()["booked"] == planned
            # The background sender writes the invites a moment after the answer.
            assert wait_for(lambda: len(list((tmp_path / "outbox").glob("*.eml"))) == 10)
    finally:
        server.stop()
    counts = _counts(db_url)
    assert counts["series"] == planned
    # 3 pairs x 4 sessions + the circle's 2; an invite per member of each series.
    assert counts["sessions"] == 3 * 4 + 2
    assert counts["deliveries"] == 3 * 2 + 4
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == counts["deliveries"]


def _store_program(db_url: str, admin: str, tmp_path: Path) -> None:
    """The sample program stored through a server that is then stopped."""
    server = LiveServer(db_url, outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
    finally:
        server.stop()


def test_server_killed_while_booking_a_series_keeps_nothing_of_it(db_url, admin, tmp_path):
    _store_program(db_url, admin, tmp_path)
    body = {"first_start": "2027-03-02T10:00:00-05:00", "agenda": "Goals"}

    _killed_mid_commit(
        db_url, tmp_path, admin, "POST", "/api/programs/p1/matches/mia-al/series", body
    )

    assert _integrity(db_url) == "ok"
    assert _counts(db_url) == {"series": 0, "sessions": 0, "session_members": 0, "deliveries": 0}
    server = LiveServer(db_url, outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            booked = api.post("/api/programs/p1/matches/mia-al/series", json=body)
            assert booked.status_code == 201, booked.text
            assert len(booked.json()["sessions"]) == 4
            # The sender (a process of its own) builds and sends the invites a moment later.
            assert wait_for(lambda: len(list((tmp_path / "outbox").glob("*.eml"))) == 2)
    finally:
        server.stop()
    assert _counts(db_url) == {"series": 1, "sessions": 4, "session_members": 8, "deliveries": 2}


def test_invite_job_outlives_a_crash_between_commit_and_building(db_url, admin, tmp_path):
    """A server SIGKILLed right after a booking committed, before its invites were built:
    the booking and its invite job are kept, and the next server's sender builds and
    sends the invites, each member's once."""
    _store_program(db_url, admin, tmp_path)
    body = {"first_start": "2027-03-02T10:00:00-05:00"}

    _killed_mid_commit(
        db_url,
        tmp_path,
        admin,
        "POST",
        "/api/programs/p1/matches/mia-al/series",
        body,
        failpoint="invites-queued",
        env={"SLOTWISE_UNDO_SECONDS": "0"},
        # No sender: the failpoint pauses the web process only, and a sender process
        # (polling) could claim the job meanwhile and be killed building it, which leaves
        # a claim to go stale instead of the job this test is about.
        sender="none",
    )

    counts = _counts(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        owed = conn.execute(select(func.count()).select_from(invite_jobs)).scalar_one()
    assert (counts["series"], counts["deliveries"], owed) == (1, 0, 1)
    server = LiveServer(db_url, outbox=tmp_path / "outbox").start()
    try:
        assert wait_for(lambda: len(list((tmp_path / "outbox").glob("*.eml"))) == 2)
    finally:
        server.stop()
    with engine.connect() as conn:
        owed = conn.execute(select(func.count()).select_from(invite_jobs)).scalar_one()
        sent = [r.status for r in conn.execute(select(deliveries))]
    engine.dispose()
    assert (owed, sent) == (0, ["sent", "sent"])


def test_invites_outlive_an_smtp_outage_and_are_sent_exactly_once(db_url, admin, tmp_path):
    """SMTP is down while two series are booked on a server with two workers, each
    running a sender (``--sender threads``, as several ``slotwise send`` would): both
    bookings are kept and their invites wait. When SMTP comes back, both workers' retry
    loops race for them, and every invite arrives exactly once."""
    port = free_port()
    server = LiveServer(
        db_url,
        smtp_url=f"smtp://127.0.0.1:{port}",
        workers=2,
        sender="threads",
        env={"SLOTWISE_RETRY_SECONDS": "0.2"},
    ).start()
    smtp = SmtpServer("127.0.0.1", port)
    controller = None
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            for match, start in (
                ("mia-al", "2027-03-02T10:00:00-05:00"),
                ("mia-bo", "2027-03-03T10:00:00-05:00"),
            ):
                r = api.post(
                    f"/api/programs/p1/matches/{match}/series", json={"first_start": start}
                )
                assert r.status_code == 201, r.text
        engine = make_engine(db_url)

        def retried() -> list:
            with engine.connect() as conn:
                return conn.execute(select(deliveries)).all()

        # Several retry rounds of both workers against a closed port (polled, not slept:
        # on a loaded machine a round can take longer than its 0.2 s).
        wait_for(lambda: len(retried()) == 4 and all(r.attempts >= 2 for r in retried()), 30)
        rows = retried()
        assert len(rows) == 4
        assert "sent" not in {r.status for r in rows}  # pending, or being retried now
        assert all(r.attempts >= 2 and r.last_error for r in rows)

        controller = Controller(Collector(smtp), hostname=smtp.host, port=port)
        controller.start()  # SMTP is back
        assert wait_for(lambda: len(smtp.messages) >= 4, 30)
        time.sleep(1.5)  # more rounds of both loops: nothing may be sent again
        with engine.connect() as conn:
            assert {r.status for r in conn.execute(select(deliveries))} == {"sent"}
        engine.dispose()
        got = Counter(tuple(m.rcpt_tos) for m in smtp.messages)
        assert got == Counter(
            {("mia@example.org",): 2, ("al@example.org",): 1, ("bo@example.org",): 1}
        )
        assert len({m.message["Message-ID"] for m in smtp.messages}) == 4
    finally:
        server.stop()
        if controller is not None:
            controller.stop()
