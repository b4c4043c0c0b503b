"""Routes for batch plans: start one for a program, follow its job, apply it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ... import jobs, notify, plan_apply
from ...errors import NotFound, error_responses
from ...programs import find_match, solving_document
from ...schemas import JobPublic, JobStarted, PlanApplied, PlanCreate
from ..deps import READ, WRITE, Config, Db, Who

router = APIRouter(tags=["plans"])


@router.post(
    "/programs/{pid}/plans",
    status_code=202,
    response_model=JobStarted,
    responses={**READ, **error_responses(429)},
)
def start_plan(
    pid: str, request: Request, who: Who, db: Db, cfg: Config, body: PlanCreate | None = None
) -> dict[str, Any]:
    """Plan every match that has no series yet, in the background → ``{"job": id}``.
    429 when the program already has SLOTWISE_MAX_PLAN_JOBS plans queued or running."""
    who.admin(pid)
    body = body or PlanCreate()
    limit = min(body.time_limit or cfg.plan_time_limit, cfg.max_plan_time_limit)
    with db.connect() as conn:
        doc = solving_document(conn, pid)
    for x in body.matches or []:
        find_match(doc, x)
    jid = jobs.submit(request.app.state.executor, db, cfg, pid, limit, body.matches)
    return {"job": jid, "status": "queued"}


@router.get("/jobs/{jid}", response_model=JobPublic, responses=READ)
def get_job(jid: str, who: Who, db: Db) -> dict[str, Any]:
    """Job status, progress (0-1) and, when done, the plan document."""
    job = jobs.get(db, jid)
    if not who.sees_program(job["program"]):
        # Another program's job is answered like one that does not exist: a token must
        # not learn which job ids exist elsewhere.
        raise NotFound(f'unknown job "{jid}"')
    who.admin(job["program"])
    return job


@router.post("/programs/{pid}/plans/{jid}/apply", response_model=PlanApplied, responses=WRITE)
def apply_plan(pid: str, jid: str, who: Who, db: Db, cfg: Config) -> dict[str, Any]:
    """Book every series of a finished plan, all or nothing. 409 naming what stands in the
    way: matches the plan lists twice (``repeated``), matches booked since it was made
    (``booked``), occurrences that now collide with other sessions (``clashes``)."""
    who.admin(pid)
    out = plan_apply.apply(db, cfg, pid, jid)
    notify.wake(db)  # the background sender delivers; the request never waits for SMTP
    return out
