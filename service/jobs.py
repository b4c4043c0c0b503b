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
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from ingest.availability import build_availability
from ingest.errors import IngestError

from . import process
from .config import Settings
from .errors import NotFound, TooMany
from .programs import solving_document
from .serialize import plan_dict
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
                self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
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
                        conn.execute(
                            update(jobs)
                            .where(jobs.c.id.in_(ids) & jobs.c.status.in_(ACTIVE_JOB))
                            .values(updated_at=now_epoch())
                        )
                except Exception:  # the next beat may work; a long silence fails the job
                    log.warning("job heartbeat failed", exc_info=True)


heartbeat = Heartbeat()


def submit(
    executor: Executor,
    engine: Engine,
    settings: Settings,
    program_id: str,
    time_limit: float,
    match_ids: list[str] | None,
) -> str:
    """Queue a plan of ``program_id`` on this process's plan executor. A program may have
    at most ``settings.max_plan_jobs`` jobs queued or running (TooMany beyond), so one
    program cannot fill the queue that every program's plans wait in."""
    jid = "j" + secrets.token_hex(8)
    # Under the program's lock: two requests at once cannot both take the last place.
    with locked(engine, program_id) as conn:
        fail_orphaned_jobs(conn, program_id=program_id)  # a dead process's jobs wait no more
        active = conn.execute(
            select(func.count())
            .select_from(jobs)
            .where((jobs.c.program_id == program_id) & jobs.c.status.in_(ACTIVE_JOB))
        ).scalar_one()
        if active >= settings.max_plan_jobs:
            raise TooMany(
                f'program "{program_id}" already has {active} plan job(s) queued or '
                f"running (at most {settings.max_plan_jobs}); wait for one to "
                "finish"
            )
        conn.execute(
            jobs.insert().values(
                id=jid,
                program_id=program_id,
                status="queued",
                progress=0.0,
                message="queued",
                params=dump_json({"time_limit": time_limit, "matches": match_ids}),
                created_at=now_epoch(),
                updated_at=now_epoch(),
                owner=process.identity(),
                queued_at=time.time(),
            )
        )
    heartbeat.add(engine, jid)
    future = executor.submit(run, engine, jid, settings)
    # Also called when the job is cancelled before it starts (a worker shutting down).
    future.add_done_callback(lambda _: heartbeat.remove(jid))
    return jid


def _ahead(conn: Connection, row: Any) -> int:
    """How many jobs its owner's queue runs before this queued one: those of the same
    process (one plan executor per process, shared by every program) queued earlier and
    not finished."""
    return conn.execute(
        select(func.count())
        .select_from(jobs)
        .where(
            (jobs.c.owner == row.owner)
            & jobs.c.status.in_(ACTIVE_JOB)
            & (jobs.c.queued_at < row.queued_at)
        )
    ).scalar_one()


def _set(engine: Engine, jid: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == jid).values(updated_at=now_epoch(), **values))


def run(engine: Engine, jid: str, settings: Settings | None = None) -> None:
    """Plan the job's program: every match without a live series (or the chosen ones).
    The models are solved where ``settings`` say: on the Dask cluster of
    ``settings.scheduler``, or in local processes when the plan is large enough."""
    # Here, not at the top: the planner brings OR-Tools and pandas (~0.8 s), which a
    # server start does not need.
    from solver.executors import SchedulerUnreachable, executor_for
    from solver.planner import SolveParams, plan

    settings = settings or Settings()
    try:
        with engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == jid)).one()
            params = json.loads(row.params)
            doc = solving_document(conn, row.program_id)
            booked = set(
                conn.execute(
                    select(series.c.match_id).where(
                        (series.c.program_id == row.program_id) & (series.c.status == "scheduled")
                    )
                ).scalars()
            )
        wanted = [x.id for x in doc.matches if x.id not in booked]
        if params.get("matches"):
            wanted = [x for x in params["matches"] if x in set(wanted)]
        _set(engine, jid, status="running", progress=0.02, message="reading availability")
        avail = build_availability(doc)

        def progress(fraction: float, message: str) -> None:
            _set(engine, jid, progress=round(0.05 + 0.9 * fraction, 3), message=message)

        result = None
        if wanted:
            with executor_for(
                settings.scheduler, settings.plan_processes, matches=len(wanted)
            ) as executor:
                result = plan(
                    doc,
                    avail,
                    match_ids=wanted,
                    params=SolveParams(time_limit=params["time_limit"]),
                    progress=progress,
                    executor=executor,
                )
        document = (
            plan_dict(result)
            if result
            else {
                "status": "optimal",
                "objective": {"held": 0, "attendance": 0, "preferred": 0},
                "bound": {"held": 0, "attendance": 0},
                "solve_seconds": 0.0,
                "series": [],
                "unscheduled": [],
            }
        )
        _set(
            engine,
            jid,
            status="done",
            progress=1.0,
            message=document["status"],
            result=dump_json(document),
        )
    except (IngestError, SchedulerUnreachable) as exc:
        _set(engine, jid, status="failed", error=str(exc), message="failed")
    except Exception as exc:  # a job must end in a state a person can read
        log.exception("plan job %s failed", jid)
        _set(engine, jid, status="failed", error=f"internal error: {exc}", message="failed")


def get(engine: Engine, jid: str) -> dict[str, Any]:
    """The job as the API shows it; one whose owner is gone is reported failed."""
    with engine.begin() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == jid)).first()
        if row is None:
            raise NotFound(f'unknown job "{jid}"')
        if row.status in ACTIVE_JOB and fail_orphaned_jobs(conn, jid):
            row = conn.execute(select(jobs).where(jobs.c.id == jid)).one()
        ahead = _ahead(conn, row) if row.status == "queued" and row.queued_at else 0
    out: dict[str, Any] = {
        "id": row.id,
        "program": row.program_id,
        "status": row.status,
        "progress": row.progress,
        "message": row.message,
        "applied": bool(row.applied),
    }
    if ahead:
        out["message"] = f"queued behind {ahead} plan job(s)"
    if row.result:
        out["plan"] = json.loads(row.result)
        if row.apply_owner is not None and not row.applied:
            out["message"] = (
                f"applying: {row.apply_done or 0} of {len(out['plan']['series'])} series written"
            )
    if row.error:
        out["error"] = row.error
    return out
