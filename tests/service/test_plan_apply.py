"""Issue "Trust at the edges", items 13 and 14: applying a plan never books a match twice;
each program may queue only a few plan jobs, and a queued job says what it waits for."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update

from benchmarks.generate import generate_program
from service import booking, feeds, jobs, notify, plan_apply, process
from service.config import Settings
from service.errors import Conflict, NotFound, TooMany
from service.programs import validated
from service.store import deliveries, insert_program, invite_jobs, series
from service.store import jobs as jobs_table
from tests.helpers import wait_for
from tests.service.live import LiveServer, admin_token, finished_plan
from tests.service.sample import program


def _add(engine, pid: str) -> None:
    with engine.begin() as conn:
        insert_program(conn, validated(program(pid)).model_dump(mode="json", exclude_none=True))


def _planned(engine, settings: Settings, pid: str = "p1") -> str:
    """A finished plan of ``pid``'s four matches."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        jid = jobs.submit(executor, engine, settings, pid, 10.0, None)
    assert jobs.get(engine, jid)["status"] == "done"
    return jid


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_plan_jobs_per_program_are_bounded_and_say_how_many_are_ahead(engine, tmp_path):
    """A program may have max_plan_jobs jobs queued or running (429 beyond, naming it);
    other programs still get in, and a queued job says how many jobs run before it."""
    _add(engine, "p1")
    _add(engine, "p2")
    settings = Settings(max_plan_jobs=2, outbox=tmp_path)
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(gate.wait)  # the plan thread is busy: every job waits its turn
        try:
            first = jobs.submit(executor, engine, settings, "p1", 10.0, None)
            second = jobs.submit(executor, engine, settings, "p1", 10.0, None)
            with pytest.raises(TooMany) as refused:
                jobs.submit(executor, engine, settings, "p1", 10.0, None)
            assert refused.value.status == 429
            assert refused.value.message.startswith(
                'program "p1" already has 2 plan job(s) queued or running (at most 2)'
            )
            other = jobs.submit(executor, engine, settings, "p2", 10.0, None)
            assert [jobs.get(engine, j)["message"] for j in (first, second, other)] == [
                "queued",
                "queued behind 1 plan job(s)",
                "queued behind 2 plan job(s)",
            ]
        finally:
            gate.set()
    assert {jobs.get(engine, j)["status"] for j in (first, second, other)} == {"done"}
    with ThreadPoolExecutor(max_workers=1) as executor:  # finished jobs free their places
        jobs.submit(executor, engine, settings, "p1", 10.0, None)


def test_a_match_listed_twice_is_planned_once(engine, tmp_path):
    """A plan request naming a match twice gets one series for it, not two."""
    _add(engine, "p1")
    with ThreadPoolExecutor(max_workers=1) as executor:
        jid = jobs.submit(
            executor, engine, Settings(outbox=tmp_path), "p1", 10.0, ["mia-al", "mia-al", "mia-bo"]
        )
    plan = jobs.get(engine, jid)["plan"]
    assert sorted(s["match"] for s in plan["series"]) == ["mia-al", "mia-bo"]


def _shifted(s: dict, days: int) -> dict:
    """The same series, ``days`` later."""

    def later(t: str) -> str:
        return (datetime.fromisoformat(t) + timedelta(days=days)).isoformat()

    return {
        **s,
        "first_start": later(s["first_start"]),
        "occurrences": [
            {**o, "start": later(o["start"]), "end": later(o["end"])} for o in s["occurrences"]
        ],
    }


def test_apply_refuses_a_plan_that_books_a_match_twice(engine, tmp_path):
    """A plan document listing a match twice (at times that do not collide) is refused
    with 409 naming the match, and nothing of it is booked."""
    _add(engine, "p1")
    settings = Settings(outbox=tmp_path)
    jid = _planned(engine, settings)
    with engine.begin() as conn:
        plan = json.loads(
            conn.execute(select(jobs_table.c.result).where(jobs_table.c.id == jid)).scalar_one()
        )
        twice = next(s for s in plan["series"] if s["match"] == "mia-al")
        plan["series"].append(_shifted(twice, 1))
        conn.execute(
            update(jobs_table).where(jobs_table.c.id == jid).values(result=json.dumps(plan))
        )
    with pytest.raises(Conflict) as refused:
        plan_apply.apply(engine, settings, "p1", jid)
    assert refused.value.details["repeated"] == ["mia-al"]
    assert 'match "mia-al" more than once' in refused.value.message
    assert _count(engine, series) == 0 and _count(engine, deliveries) == 0
    assert not jobs.get(engine, jid)["applied"]


def test_apply_refuses_a_match_booked_by_hand_since_planning(tmp_path):
    """A match booked by hand after the plan was made (at a time the plan leaves free) is
    not booked a second time: apply answers 409 naming it and books nothing."""
    db_url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    admin = admin_token(db_url)
    server = LiveServer(db_url, outbox=tmp_path / "outbox").start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            jid = finished_plan(api, "p1", time_limit=10)
            # A Sunday morning: the plan books working hours only, so nothing collides.
            hand = api.post(
                "/api/programs/p1/matches/mia-bo/series",
                json={"first_start": "2027-03-07T08:00:00-05:00", "frequency": "once"},
            )
            assert hand.status_code == 201, hand.text
            refused = api.post(f"/api/programs/p1/plans/{jid}/apply")
            assert refused.status_code == 409, refused.text
            body = refused.json()
            assert body["booked"] == [{"match": "mia-bo", "series": hand.json()["id"]}]
            assert body["clashes"] == []
            assert 'match "mia-bo" already booked' in body["detail"]
            assert api.get("/api/programs/p1/matches/mia-al/series").json() == []
            assert [s["id"] for s in api.get("/api/programs/p1/matches/mia-bo/series").json()] == [
                hand.json()["id"]
            ]
            assert api.get(f"/api/jobs/{jid}").json()["applied"] is False
    finally:
        server.stop()


def test_an_apply_whose_process_died_is_undone_and_applied_again_whole(engine, tmp_path):
    """Series written by an apply whose process is gone stay hidden, hold no invites, and
    are removed when the plan is applied again, which then books every series once."""
    _add(engine, "p1")
    settings = Settings(outbox=tmp_path, apply_chunk=1)
    jid = _planned(engine, settings)
    # One chunk written by "another process" that then died (a PID start time no process
    # has), as a server killed between chunks leaves it.
    document = plan_apply._claim(engine, "p1", jid)
    doc, planned = plan_apply._check(engine, "p1", jid, document)
    plan_apply._write_chunk(engine, doc, "p1", jid, planned[:1], 0)
    dead = json.dumps({**json.loads(process.identity()), "start": "1"})
    with engine.begin() as conn:
        conn.execute(update(jobs_table).where(jobs_table.c.id == jid).values(apply_owner=dead))
    assert _count(engine, series, series.c.status == "pending") == 1
    assert _count(engine, deliveries) == _count(engine, invite_jobs) == 0  # nobody is owed
    with engine.connect() as conn:  # hidden: no series page, no feed
        with pytest.raises(NotFound, match="unknown series"):
            booking.series_row(conn, "p1", conn.execute(select(series.c.id)).scalar_one())
        assert b"BEGIN:VEVENT" not in feeds.member_feed(conn, "p1", "mia", "Mia")

    out = plan_apply.apply(engine, settings, "p1", jid)
    assert out["booked"] == len(document["series"]) == 4
    with engine.connect() as conn:
        booked = conn.execute(select(series.c.match_id, series.c.status)).all()
    assert sorted(booked) == sorted((s["match"], "scheduled") for s in document["series"])
    assert notify.build_jobs(engine, settings) == 4  # the sender's work
    assert _count(engine, deliveries, deliveries.c.status != "pending") == 0
    assert _count(engine, deliveries) == 3 * 2 + 4  # an invite per member of each series


def test_bookings_of_other_programs_go_through_while_a_big_plan_applies(tmp_path):
    """While a plan of a few hundred series is applied (in small chunks), bookings in
    another program answer 201 in bounded time, and the plan's series stay hidden until
    the apply completes."""
    db_url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    admin = admin_token(db_url)
    big = generate_program({"matches": 150, "sessions": 4}, seed=1)
    pid = big["program"]["id"]
    server = LiveServer(
        db_url, outbox=tmp_path / "outbox", env={"SLOTWISE_APPLY_CHUNK": "5"}
    ).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=big).status_code == 201
            assert api.post("/api/programs", json=program("p2")).status_code == 201
            jid = finished_plan(api, pid, 120, time_limit=20)
            plan = api.get(f"/api/jobs/{jid}").json()["plan"]
            assert len(plan["series"]) > 100
            first = plan["series"][0]["match"]

            applied: list[httpx.Response] = []

            def apply() -> None:
                with server.client(admin) as slow:
                    slow.timeout = httpx.Timeout(300)
                    applied.append(slow.post(f"/api/programs/{pid}/plans/{jid}/apply"))

            applying = threading.Thread(target=apply)
            applying.start()
            assert wait_for(
                lambda: (
                    api.get(f"/api/jobs/{jid}").json()["message"].startswith("applying: ")
                    and not applied
                ),
                30,
            )
            hidden = api.get(f"/api/programs/{pid}/matches/{first}/series").json()
            still_applying = not applied
            waits: list[float] = []
            start = datetime(2027, 3, 2, 9, tzinfo=ZoneInfo("America/New_York"))
            for i in range(60):
                if applied:
                    break
                at = start + timedelta(days=i // 8, hours=i % 8)
                began = time.monotonic()
                r = api.post(
                    "/api/programs/p2/matches/mia-al/series",
                    json={"first_start": at.isoformat(), "frequency": "once"},
                )
                assert r.status_code == 201, r.text
                if not applied:  # ended while the apply ran (its invites not yet sent)
                    waits.append(time.monotonic() - began)
            applying.join(300)
    finally:
        server.stop()
    assert applied and applied[0].status_code == 200, applied
    assert applied[0].json()["booked"] == len(plan["series"])
    assert still_applying and hidden == []  # seen mid-apply: nothing of the plan shows
    assert len(waits) >= 3, waits  # the bookings really met the apply
    assert max(waits) < 3.0, waits  # each waited a chunk at most, never the whole plan


def test_apply_owes_invite_jobs_and_builds_no_invite_itself(engine, tmp_path, monkeypatch):
    """Issue 15: the apply builds no invite (one invite job per series, written as the plan
    is shown); the sender then queues exactly one REQUEST per member of each series."""
    _add(engine, "p1")
    settings = Settings(outbox=tmp_path, apply_chunk=2)
    jid = _planned(engine, settings)
    built: list[str] = []  # to whom a message was built
    original = notify._build

    def build(settings, person, *rest):
        built.append(person.email)
        return original(settings, person, *rest)

    monkeypatch.setattr(notify, "_build", build)
    out = plan_apply.apply(engine, settings, "p1", jid)
    assert out["booked"] == 4 and built == []
    assert _count(engine, deliveries) == 0
    with engine.connect() as conn:
        owed = conn.execute(
            select(invite_jobs.c.series_id, invite_jobs.c.method, invite_jobs.c.position)
        ).all()
    assert sorted(owed) == sorted((sid, "REQUEST", 1) for sid in out["series"])

    assert notify.build_jobs(engine, settings) == 4
    with engine.connect() as conn:
        queued = conn.execute(
            select(deliveries.c.series_id, deliveries.c.recipient, deliveries.c.method)
        ).all()
        members = dict(conn.execute(select(series.c.id, series.c.members)).all())
    expected = [
        (sid, f"{m}@example.org", "REQUEST")
        for sid in out["series"]
        for m in json.loads(members[sid])
    ]
    assert sorted(queued) == sorted(expected)  # each member of each series, once
    assert len(built) == len(expected) == 3 * 2 + 4
    assert _count(engine, invite_jobs) == 0


def test_an_apply_rolled_back_as_it_finishes_leaves_no_invite_job(engine, tmp_path, monkeypatch):
    """An apply that fails in its last transaction, after writing its invite jobs, keeps
    none of them (nor any series): nobody is invited to a plan that was rolled back, and
    applying again books it and owes each series' invite once."""
    _add(engine, "p1")
    settings = Settings(outbox=tmp_path, apply_chunk=1)
    jid = _planned(engine, settings)
    original = notify.enqueue_plan

    def then_fail(conn, job_id):
        original(conn, job_id)
        assert conn.execute(select(func.count()).select_from(invite_jobs)).scalar_one() == 4
        raise RuntimeError("the database went away")

    monkeypatch.setattr(notify, "enqueue_plan", then_fail)
    with pytest.raises(RuntimeError):
        plan_apply.apply(engine, settings, "p1", jid)
    assert [_count(engine, t) for t in (series, invite_jobs, deliveries)] == [0, 0, 0]
    assert not jobs.get(engine, jid)["applied"]

    monkeypatch.setattr(notify, "enqueue_plan", original)
    assert plan_apply.apply(engine, settings, "p1", jid)["booked"] == 4
    assert _count(engine, invite_jobs) == 4
