"""Batch jobs live in the database, owned by the process that runs them: a job is reported
failed when its owner is gone, never because another worker or server started."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time

from sqlalchemy import Column, MetaData, Table, inspect, select

from service import jobs as job_runner
from service import process
from service.store import JOB_STALE_SECONDS, init_db, jobs, make_engine, now_epoch
from tests.service.live import ROOT


def _job(engine, owner: str | None, *, age: int = 0, status: str = "running") -> str:
    jid = "j" + secrets.token_hex(6)
    with engine.begin() as conn:
        conn.execute(
            jobs.insert().values(
                id=jid,
                program_id="p1",
                status=status,
                progress=0.5,
                message="planning",
                params="{}",
                created_at=now_epoch() - age,
                updated_at=now_epoch() - age,
                owner=owner,
            )
        )
    return jid


def _status(engine, jid: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(jobs.c.status, jobs.c.error).where(jobs.c.id == jid)).one()
    return row.status, row.error


def _elsewhere(**changes) -> str:
    return json.dumps({**json.loads(process.identity()), **changes})


def test_job_of_a_live_process_survives_another_start_and_fails_once_it_dies(engine):
    """Another process starting (init_db, as every uvicorn worker does) leaves a job whose
    owner runs alone; once the owner is killed, reading the job reports it failed."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from service import process; print(process.identity(), "
            "flush=True); import time; time.sleep(60)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        jid = _job(engine, owner.stdout.readline().strip())
        init_db(engine)
        assert job_runner.get(engine, jid)["status"] == "running"
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()
    job = job_runner.get(engine, jid)
    assert job["status"] == "failed"
    assert job["error"] == (
        "interrupted: the server process running it stopped; start the plan again"
    )


def test_owner_is_recognised_by_start_time_not_pid():
    """A PID reused by another process is not the owner; another machine cannot tell."""
    assert process.owner_alive(process.identity()) is True
    assert process.owner_alive(_elsewhere(start="1")) is False
    assert process.owner_alive(_elsewhere(host="other-machine")) is None
    assert process.owner_alive(_elsewhere(boot="another-boot")) is None
    assert process.owner_alive("not json") is None


def test_owner_elsewhere_is_trusted_until_its_heartbeat_is_stale(engine):
    """An owner this machine cannot see is alive while it beats, orphaned once silent for
    JOB_STALE_SECONDS; legacy jobs without an owner are orphaned at once."""
    fresh = _job(engine, _elsewhere(host="other-machine"), age=JOB_STALE_SECONDS - 5)
    silent = _job(engine, _elsewhere(host="other-machine"), age=JOB_STALE_SECONDS + 5)
    legacy = _job(engine, None, status="queued")
    done = _job(engine, None, status="done")
    init_db(engine)
    assert _status(engine, fresh) == ("running", None)
    status, error = _status(engine, silent)
    assert status == "failed" and f"not reported on it for over {JOB_STALE_SECONDS} s" in error
    assert _status(engine, legacy)[0] == "failed"
    assert _status(engine, done) == ("done", None)


def test_heartbeat_beats_while_the_job_is_here(engine, monkeypatch):
    """The owner touches its queued or running jobs, and stops when it has none."""
    monkeypatch.setattr(job_runner, "JOB_HEARTBEAT_SECONDS", 0.02)
    jid = _job(engine, process.identity(), age=JOB_STALE_SECONDS + 5)
    beat = job_runner.Heartbeat()
    beat.add(engine, jid)

    def touched() -> bool:
        with engine.connect() as conn:
            updated = conn.execute(select(jobs.c.updated_at).where(jobs.c.id == jid)).scalar()
        return updated >= now_epoch() - 1

    deadline = time.monotonic() + 10
    while not touched() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert touched()
    beat.remove(jid)
    deadline = time.monotonic() + 10
    while beat._thread is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert beat._thread is None


def test_old_database_gets_the_owner_column(db_url):
    """A database made before jobs had owners is upgraded; its running job is failed, as
    a restart always did."""
    old = MetaData()
    Table(
        "jobs",
        old,
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in jobs.c
            if c.name != "owner"
        ),
    )
    engine = make_engine(db_url)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            old.tables["jobs"]
            .insert()
            .values(
                id="j1",
                program_id="p1",
                status="running",
                progress=0.5,
                params="{}",
                applied=0,
                created_at=now_epoch(),
                updated_at=now_epoch(),
            )
        )
    init_db(engine)
    assert "owner" in {c["name"] for c in inspect(engine).get_columns("jobs")}
    assert _status(engine, "j1")[0] == "failed"
    engine.dispose()


def test_workers_starting_together_create_the_schema_once(db_url):
    """Several processes run init_db on an empty database at the same moment (uvicorn
    workers do): none of them fails on a table another one is creating."""
    engines = [make_engine(db_url) for _ in range(4)]
    together = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def start(engine) -> None:
        together.wait(timeout=30)
        try:
            init_db(engine)
        except BaseException as exc:  # collected: a thread's exception is lost otherwise
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for e in engines:
        e.dispose()
    assert errors == []
