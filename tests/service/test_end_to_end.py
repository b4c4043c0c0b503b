"""SPEC 8 end to end: a real uvicorn server, a real SMTP server, and the database on a
SQLite file (one worker) or PostgreSQL (several workers; see ``backend``)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email import policy
from email.parser import BytesParser

import pytest
from icalendar import Calendar
from sqlalchemy import select

from benchmarks.generate import generate_program
from service.store import jobs, make_engine
from tests.helpers import wait_for
from tests.service.clock import program_now
from tests.service.live import admin_token, finished_plan
from tests.service.sample import TUESDAY_BUSY, program

# Tests that add nothing on PostgreSQL beyond what the others show there (time is short).
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def admin(backend):
    """A site-admin token in a fresh database."""
    return admin_token(backend.db_url)


def _calendar_of(message):
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_param("method"), Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no text/calendar part")


def test_facilitator_journey_survives_a_restart(backend, admin, smtp_server, tmp_path):
    """Create, add a calendar, heat map, proposals, book, email, feed, complete, cancel,
    restart: everything is still there."""
    server = backend.server(smtp_url=smtp_server.url, outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            before = api.get("/api/programs/p1/matches/mia-cy/heatmap").json()
            r = api.put(
                "/api/programs/p1/members/cy/calendar",
                content=TUESDAY_BUSY,
                headers={"Content-Type": "text/calendar"},
            )
            assert r.status_code == 200, r.text
            after = api.get("/api/programs/p1/matches/mia-cy/heatmap?tz=Europe/London").json()
            # Tuesday 2027-03-02 10:00-11:00 New York: slots 40..43 of the second day.
            busy = {
                s for s in range(len(before["counts"])) if before["counts"][s] != after["counts"][s]
            }
            day = 24 * 4
            assert busy == set(range(day + 40 - 3, day + 44))  # 60-minute starts touching it
            assert after["view"]["timezone"] == "Europe/London"

            props = api.post("/api/programs/p1/matches/mia-al/proposals", json={"limit": 3}).json()
            best = props["proposals"][0]
            assert best["score"]["held"] == 4
            r = api.post(
                "/api/programs/p1/matches/mia-al/series",
                json={
                    "first_start": best["first_start"],
                    "conferencing": {"video_url": "https://meet.example.org/x"},
                    "agenda": "Goals",
                },
            )
            assert r.status_code == 201, r.text
            booked = r.json()
            assert [s["start"] for s in booked["sessions"]] == [
                o["start"] for o in best["occurrences"]
            ]
            assert wait_for(lambda: len(smtp_server.messages) == 2)
            rcpt = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
            assert rcpt == ["al@example.org", "mia@example.org"]
            method, cal = _calendar_of(smtp_server.messages[0].message)
            assert method == "REQUEST"
            event = next(c for c in cal.walk("VEVENT"))
            assert str(event["UID"]) == booked["uid"]

            feed = api.get("/api/programs/p1/members/al/sessions.ics").text
            # The series as one recurring event, under the invite's UID.
            assert feed.count("BEGIN:VEVENT") == 1 and "RRULE:FREQ=WEEKLY;COUNT=4" in feed
            assert f"UID:{booked['uid']}" in feed
            first = booked["sessions"][0]["id"]
            # The program's time moves past the first session: it can be marked held.
            with program_now(backend.db_url, "p1", booked["sessions"][0]["end"]):
                done = api.post(f"/api/programs/p1/sessions/{first}/complete").json()
                assert done["progress"] == {"completed": 1, "planned": 4}
                gone = api.delete(f"/api/programs/p1/series/{booked['id']}").json()
            assert gone["status"] == "cancelled"
            assert [s["status"] for s in gone["sessions"]] == ["completed"] + ["cancelled"] * 3
            assert wait_for(lambda: len(smtp_server.messages) == 4)
            # A session was held: the series ends after it instead of being called off.
            assert {_calendar_of(m.message)[0] for m in smtp_server.messages[2:]} == {"REQUEST"}
            assert {str(m.message["Subject"]).split(":")[0] for m in smtp_server.messages[2:]} == {
                "Series ended"
            }
        server.stop()
        server.start()
        with server.client(admin) as api:
            again = api.get(f"/api/programs/p1/series/{booked['id']}").json()
            assert [s["status"] for s in again["sessions"]] == ["completed"] + ["cancelled"] * 3
            assert api.get("/api/programs/p1").json()["members"][3]["calendars"][0]["ics_text"]
    finally:
        server.stop()


def _clients_on_each_worker(server, token, per_worker):
    """Keep-alive connections, ``per_worker`` to each worker process of the server (a
    connection stays with the worker that accepted it)."""
    pinned: dict[str, list] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(pinned) == server.workers and all(len(c) == per_worker for c in pinned.values()):
            return [c for cs in pinned.values() for c in cs]
        client = server.client(token)
        name = client.get("/api/me").headers["x-slotwise-worker"]
        if len(pinned.setdefault(name, [])) < per_worker:
            pinned[name].append(client)
        else:
            client.close()
    for client in (c for cs in pinned.values() for c in cs):
        client.close()
    raise AssertionError(f"reached {len(pinned)} of {server.workers} workers")


def test_parallel_clashing_bookings_have_exactly_one_winner(backend, admin, tmp_path):
    """Twelve requests book the shared mentor at the same time, sent to every worker
    process alike: one 201, eleven 409, and the database holds exactly one series;
    non-clashing bookings all land."""
    server = backend.server(outbox=tmp_path / "outbox").start()
    clients = []
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
        start = "2027-03-02T10:00:00-05:00"
        clients = _clients_on_each_worker(server, admin, 12 // backend.workers)
        together = threading.Barrier(len(clients))

        def book(i: int, first: str = start) -> tuple[int, str]:
            match = ("mia-al", "mia-bo", "mia-cy")[i % 3]
            together.wait(timeout=30)
            r = clients[i].post(
                f"/api/programs/p1/matches/{match}/series", json={"first_start": first}
            )
            return r.status_code, r.headers["x-slotwise-worker"]

        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(book, range(len(clients))))
        assert sorted(code for code, _ in answers) == [201] + [409] * 11
        # Clashing bookings really were decided by different processes.
        assert len({worker for _, worker in answers}) == backend.workers
        with server.client(admin) as api:
            total = sum(
                len(api.get(f"/api/programs/p1/matches/{m}/series").json())
                for m in ("mia-al", "mia-bo", "mia-cy")
            )
        assert total == 1
        times = [
            "2027-03-03T10:00:00-05:00",
            "2027-03-03T12:00:00-05:00",
            "2027-03-04T10:00:00-05:00",
        ]
        together = threading.Barrier(3)
        with ThreadPoolExecutor(3) as pool:
            codes = [code for code, _ in pool.map(book, range(3), times)]
        assert codes == [201, 201, 201]  # different times: nothing is lost
    finally:
        for client in clients:
            client.close()
        server.stop()


@SQLITE_ONLY
def test_idempotency_key_books_once(backend, admin, tmp_path):
    """A retried booking with the same Idempotency-Key returns the first series."""
    server = backend.server(outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            api.post("/api/programs", json=program())
            body = {"first_start": "2027-03-02T10:00:00-05:00"}
            headers = {"Idempotency-Key": "retry-1"}
            a = api.post("/api/programs/p1/matches/mia-bo/series", json=body, headers=headers)
            b = api.post("/api/programs/p1/matches/mia-bo/series", json=body, headers=headers)
            assert a.status_code == b.status_code == 201
            assert a.json()["id"] == b.json()["id"]
            assert len(api.get("/api/programs/p1/matches/mia-bo/series").json()) == 1
            other = api.post(
                "/api/programs/p1/matches/mia-bo/series",
                headers=headers,
                json={"first_start": "2027-03-03T10:00:00-05:00"},
            )
            assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
            # The background sender writes them a moment after the booking answered.
            assert wait_for(lambda: len(list((tmp_path / "outbox").glob("*.eml"))) == 2)
    finally:
        server.stop()


@SQLITE_ONLY
def test_idempotency_key_is_scoped_to_caller_route_and_match(backend, admin, tmp_path):
    """A key reused on another match is refused (it never returns the first match's
    series, video link included); another caller's same key is a key of its own."""
    server = backend.server(outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            api.post("/api/programs", json=program())
            body = {
                "first_start": "2027-03-02T10:00:00-05:00",
                "conferencing": {"video_url": "https://meet.example.org/private-al"},
            }
            headers = {"Idempotency-Key": "k-1"}
            first = api.post("/api/programs/p1/matches/mia-al/series", json=body, headers=headers)
            assert first.status_code == 201, first.text
            other = api.post(
                "/api/programs/p1/matches/mia-bo/series",
                headers=headers,
                json={"first_start": "2027-03-03T10:00:00-05:00"},
            )
            assert other.status_code == 422, other.text
            assert other.json()["field"] == "Idempotency-Key"
            assert "private-al" not in other.text
            assert api.get("/api/programs/p1/matches/mia-bo/series").json() == []
        second_admin = admin_token(backend.db_url)
        with server.client(second_admin) as api:
            mine = api.post(
                "/api/programs/p1/matches/mia-bo/series",
                headers=headers,
                json={"first_start": "2027-03-03T10:00:00-05:00"},
            )
            assert mine.status_code == 201, mine.text
            assert mine.json()["id"] != first.json()["id"]
            assert mine.json()["match"] == "mia-bo"
    finally:
        server.stop()


def test_batch_plan_job_reports_progress_and_applies_all_or_nothing(backend, admin, tmp_path):
    """A plan runs as a job, finishes with a plan document, and applies in one go; applying
    it twice is refused."""
    server = backend.server(outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            api.post("/api/programs", json=program())
            job = api.post("/api/programs/p1/plans", json={"time_limit": 10})
            assert job.status_code == 202
            jid = job.json()["job"]
            assert wait_for(lambda: api.get(f"/api/jobs/{jid}").json()["status"] == "done", 60)
            done = api.get(f"/api/jobs/{jid}").json()
            assert done["progress"] == 1.0 and done["plan"]["status"] == "optimal"
            planned = {s["match"] for s in done["plan"]["series"]}
            assert planned == {"mia-al", "mia-bo", "mia-cy", "circle"}
            applied = api.post(f"/api/programs/p1/plans/{jid}/apply")
            assert applied.status_code == 200 and applied.json()["booked"] == 4
            assert api.post(f"/api/programs/p1/plans/{jid}/apply").status_code == 409
    finally:
        server.stop()


@SQLITE_ONLY
def test_plan_that_now_clashes_books_nothing(backend, admin, tmp_path):
    """If a plan's series collide with a booking made after it was planned, applying it
    books none of its series."""
    server = backend.server(outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            api.post("/api/programs", json=program())
            jid = finished_plan(api, "p1", time_limit=10)
            plan = api.get(f"/api/jobs/{jid}").json()["plan"]
            s = next(x for x in plan["series"] if x["match"] == "mia-al")
            # Someone books mia with bo right on top of the plan's mia-al series.
            r = api.post(
                "/api/programs/p1/matches/mia-bo/series",
                json={"first_start": s["first_start"], "sessions": 1, "frequency": "once"},
            )
            assert r.status_code == 201, r.text
            refused = api.post(f"/api/programs/p1/plans/{jid}/apply")
            assert refused.status_code == 409
            clashes = refused.json()["clashes"]
            keys = [(c["match"], c["member"], c["start"], c["session"]) for c in clashes]
            assert len(keys) == len(set(keys))  # each clash listed once
            first = datetime.fromisoformat(s["first_start"])
            at_first = [
                c
                for c in clashes
                if c["match"] == "mia-al" and datetime.fromisoformat(c["start"]) == first
            ]
            assert [c["member"] for c in at_first] == ["mia"]  # bo is not in mia-al
            for m in ("mia-al", "mia-cy", "circle"):
                assert api.get(f"/api/programs/p1/matches/{m}/series").json() == []
    finally:
        server.stop()


def test_plan_job_killed_mid_run_is_failed_after_a_restart(backend, admin, tmp_path):
    """A job whose server is killed (SIGKILL, every worker) while it plans is reported
    failed with the reason after a restart, never "running"; while its worker lives, the
    other workers report it running."""
    server = backend.server(outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            # Big enough to plan for a second or more (the test program takes 0.1 s).
            doc = generate_program({"matches": 1000}, seed=1)
            assert api.post("/api/programs", json=doc).status_code == 201
            pid = doc["program"]["id"]
            jid = api.post(f"/api/programs/{pid}/plans", json={"time_limit": 60}).json()["job"]
            assert wait_for(lambda: api.get(f"/api/jobs/{jid}").json()["status"] == "running", 30)
        clients = _clients_on_each_worker(server, admin, 1)
        try:  # every worker sees that the job's owner is alive
            assert [c.get(f"/api/jobs/{jid}").json()["status"] for c in clients] == [
                "running"
            ] * backend.workers
        finally:
            for client in clients:
                client.close()
        server.stop(kill=True)
        engine = make_engine(backend.db_url)
        with engine.connect() as conn:  # the kill came mid-plan: nobody finished the job
            assert conn.execute(select(jobs.c.status).where(jobs.c.id == jid)).scalar() == "running"
        engine.dispose()
        server.start()
        with server.client(admin) as api:
            job = api.get(f"/api/jobs/{jid}").json()
        assert job["status"] == "failed"
        assert job["error"] == (
            "interrupted: the server process running it stopped; start the plan again"
        )
    finally:
        server.stop()


def _eml(path):
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())
