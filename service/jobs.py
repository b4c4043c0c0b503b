"""Batch plans as background jobs that live in the database.

A job is a row: queued → running (progress 0-1) → done (with the plan document) or
failed (with the reason). It runs in the server process that accepted it, its owner, which
beats the job's heartbeat while it is queued or running. A job whose owner stopped
mid-plan is reported failed (``store.fail_orphaned_jobs``: when any process starts, and
when the job is read), so no job is left running forever; a job whose owner still runs is
never failed because another worker or machine started.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from concurrent.futures import Executor
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from ingest.availability import build_availability
from ingest.errors import IngestError
from ingest.grid import from_epoch
from solver.executors import SchedulerUnreachable, executor_for
from solver.planner import plan

from . import booking, notify, worker
from .config import Settings
from .documents import plan_dict
from .errors import Conflict, NotFound
from .programs import document_now, find_match, solving_document
from .store import (
    ACTIVE_JOB,
    JOB_HEARTBEAT_SECONDS,
    dump_json,
    fail_orphaned_jobs,
    jobs,
    locked,
    now_epoch,
    series,
)

log = logging.getLogger("slotwise.jobs")


class Heartbeat:
    """While this process owns queued or running jobs, touches their ``updated_at`` every
    JOB_HEARTBEAT_SECONDS, so other processes can tell that their owner is alive. The
    thread runs only while there is a job to beat for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Engine] = {}
        self._thread: threading.Thread | None = None

    def add(self, engine: Engine, jid: str) -> None:
        with self._lock:
            self._jobs[jid] = engine
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="job-heartbeat",
                                                daemon=True)
                self._thread.start()

    def remove(self, jid: str) -> None:
        with self._lock:
            self._jobs.pop(jid, None)

    def _run(self) -> None:
        while True:
            time.sleep(JOB_HEARTBEAT_SECONDS)
            with self._lock:
                if not self._jobs:
                    self._thread = None
                    return
                by_engine: dict[Engine, list[str]] = {}
                for jid, engine in self._jobs.items():
                    by_engine.setdefault(engine, []).append(jid)
            for engine, ids in by_engine.items():
                try:
                    with engine.begin() as conn:
                        conn.execute(update(jobs).where(
                            jobs.c.id.in_(ids) & jobs.c.status.in_(ACTIVE_JOB))
                            .values(updated_at=now_epoch()))
                except Exception:  # the next beat may work; a long silence fails the job
                    log.warning("job heartbeat failed", exc_info=True)


heartbeat = Heartbeat()


def submit(executor: Executor, engine: Engine, settings: Settings, program_id: str,
           time_limit: float, match_ids: list[str] | None) -> str:
    jid = "j" + secrets.token_hex(8)
    with engine.begin() as conn:
        conn.execute(jobs.insert().values(
            id=jid, program_id=program_id, status="queued", progress=0.0, message="queued",
            params=dump_json({"time_limit": time_limit, "matches": match_ids}),
            created_at=now_epoch(), updated_at=now_epoch(), owner=worker.identity()))
    heartbeat.add(engine, jid)
    future = executor.submit(run, engine, jid, settings)
    # Also called when the job is cancelled before it starts (a worker shutting down).
    future.add_done_callback(lambda _: heartbeat.remove(jid))
    return jid


def _set(engine: Engine, jid: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == jid).values(updated_at=now_epoch(),
                                                                  **values))


def run(engine: Engine, jid: str, settings: Settings | None = None) -> None:
    """Plan the job's program: every match without a live series (or the chosen ones).
    The models are solved where ``settings`` say: on the Dask cluster of
    ``settings.scheduler``, or in local processes when the plan is large enough."""
    settings = settings or Settings()
    try:
        with engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == jid)).one()
            params = json.loads(row.params)
            doc = solving_document(conn, row.program_id)
            booked = set(conn.execute(select(series.c.match_id).where(
                (series.c.program_id == row.program_id) & (series.c.status == "scheduled"))
            ).scalars())
        wanted = [x.id for x in doc.matches if x.id not in booked]
        if params.get("matches"):
            wanted = [x for x in params["matches"] if x in set(wanted)]
        _set(engine, jid, status="running", progress=0.02, message="reading availability")
        avail = build_availability(doc)

        def progress(fraction: float, message: str) -> None:
            _set(engine, jid, progress=round(0.05 + 0.9 * fraction, 3), message=message)

        result = None
        if wanted:
            with executor_for(settings.scheduler, settings.plan_processes,
                              matches=len(wanted)) as executor:
                result = plan(doc, avail, match_ids=wanted, time_limit=params["time_limit"],
                              progress=progress, executor=executor)
        document = plan_dict(result) if result else {
            "status": "optimal", "objective": {"held": 0, "attendance": 0, "preferred": 0},
            "bound": {"held": 0, "attendance": 0}, "solve_seconds": 0.0, "series": [],
            "unscheduled": []}
        _set(engine, jid, status="done", progress=1.0, message=document["status"],
             result=dump_json(document))
    except (IngestError, SchedulerUnreachable) as exc:
        _set(engine, jid, status="failed", error=str(exc), message="failed")
    except Exception as exc:  # a job must end in a state a person can read
        log.exception("plan job %s failed", jid)
        _set(engine, jid, status="failed", error=f"internal error: {exc}", message="failed")


def get(engine: Engine, jid: str) -> dict[str, Any]:
    """The job as the API shows it; one whose owner is gone is reported failed."""
    with engine.begin() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == jid)).first()
        if row is not None and row.status in ACTIVE_JOB and fail_orphaned_jobs(conn, jid):
            row = conn.execute(select(jobs).where(jobs.c.id == jid)).first()
    if row is None:
        raise NotFound(f'unknown job "{jid}"')
    out: dict[str, Any] = {"id": row.id, "program": row.program_id, "status": row.status,
                           "progress": row.progress, "message": row.message,
                           "applied": bool(row.applied)}
    if row.result:
        out["plan"] = json.loads(row.result)
    if row.error:
        out["error"] = row.error
    return out


def apply(engine: Engine, settings: Settings, program_id: str, jid: str) -> dict[str, Any]:
    """Book every series of a finished plan in one transaction: all of them or none."""
    with locked(engine, program_id) as conn:
        row = conn.execute(select(jobs).where((jobs.c.id == jid)
                                              & (jobs.c.program_id == program_id))).first()
        if row is None:
            raise NotFound(f'unknown plan job "{jid}"')
        if row.status != "done":
            raise Conflict(f"the plan is {row.status}; only a finished plan can be applied")
        if row.applied:
            raise Conflict("this plan was already applied")
        document = json.loads(row.result)
        # Sessions booked here are checked by booking.clashes itself, once each.
        doc = solving_document(conn, program_id, sessions=False)
        now = document_now(doc)
        booked: list[str] = []
        clashes: list[dict[str, Any]] = []
        planned: list[tuple[str, list[tuple[int, int]]]] = []
        for s in document["series"]:
            match = find_match(doc, s["match"])
            req = booking.request_for(doc, match, {
                "first_start": datetime.fromisoformat(s["first_start"]),
                "duration_minutes": s["duration_minutes"], "frequency": s["frequency"],
                "sessions": len(s["occurrences"])})
            wanted = booking.occurrences(doc, match, req, now)
            found = booking.clashes(conn, doc, program_id, list(match.members), wanted)
            # Series of the same plan must not collide with each other either.
            for other, times in planned:
                shared = sorted(set(doc.match(other).members) & set(match.members))
                found += [{"member": m, "start": from_epoch(a).isoformat(),
                           "busy_start": from_epoch(c).isoformat(),
                           "busy_end": from_epoch(d).isoformat(), "session": f"plan:{other}"}
                          for a, b in wanted for c, d in times if a < d and c < b
                          for m in shared]
            clashes += [{**c, "match": match.id} for c in found]
            planned.append((match.id, wanted))
            if not found:
                sid = booking.insert_series(conn, doc, program_id, match, req, wanted,
                                            plan_job=jid)
                notify.queue_series(conn, settings, program_id, sid, "REQUEST")
                booked.append(sid)
        if clashes:
            # Raising rolls the whole transaction back: nothing of the plan is booked.
            raise Conflict(f"{len(clashes)} occurrence(s) of the plan now collide with "
                           "sessions booked since it was made; plan again",
                           details={"clashes": clashes[:100]})
        conn.execute(update(jobs).where(jobs.c.id == jid).values(applied=1,
                                                                  updated_at=now_epoch()))
    return {"job": jid, "booked": len(booked), "series": booked}
