"""Routes for scheduling one match: its heat map and proposed series (SPEC 5, 7). Both
run numpy or CP-SAT, so they are plain ``def`` and run in the thread pool."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response

from ingest.document import DAYS, check_zone, parse_clock
from solver.heatmap import heatmap
from solver.proposals import propose
from solver.spec import Preference

from ...errors import Invalid
from ...schemas import HeatmapPublic, ProposalsCreate, ProposalsPublic
from ...serialize import HEATMAP_WEEKS, MAX_HEATMAP_WEEKS, heatmap_json, series_dict
from ..deps import READ, Db, Who, computes, match_availability

router = APIRouter(tags=["scheduling"])


@router.get("/programs/{pid}/matches/{xid}/heatmap", response_model=HeatmapPublic, responses=READ)
@computes
def get_heatmap(
    pid: str,
    xid: str,
    who: Who,
    db: Db,
    duration: Annotated[int | None, Query(gt=0, le=1440)] = None,
    tz: Annotated[str | None, Query(description="viewer's IANA zone")] = None,
    first_day: Annotated[
        date | None,
        Query(
            alias="from",
            description="first date of the window, in the viewer's "
            "zone (default: the program's first)",
        ),
    ] = None,
    weeks: Annotated[
        int, Query(ge=1, le=MAX_HEATMAP_WEEKS, description=("weeks of dates in the window"))
    ] = HEATMAP_WEEKS,
    ignore_session: Annotated[
        str | None,
        Query(
            max_length=80,
            description="a session of this match whose time counts as free (the one being moved)",
        ),
    ] = None,
) -> Response:
    """How many members can attend a session starting at each slot of a window of weeks:
    SPEC 7's JSON for the window (``window`` says which slots), the viewer-zone
    day × time grid (``view``) and, per member, a base64 bitmap of the window's start
    slots they can attend (``free``: bit ``i``, little-endian within each byte, is slot
    ``window.first_slot + i``)."""
    doc, match, avail = match_availability(db, who, pid, xid, ignore_session)
    try:
        zone = ZoneInfo(check_zone(tz or doc.organizer_zone(match).key))
    except ValueError as exc:
        raise Invalid(str(exc), field="tz") from None
    duration = duration or match.duration_minutes
    hm = heatmap(avail, list(match.members), duration)  # SolverError: 422 (app.py)
    names = {m: doc.member(m).name or m for m in match.members}
    # Already the JSON of HeatmapPublic: FastAPI would validate the answer again, in
    # another trip to the thread pool, and write the same bytes (issue 15).
    body = heatmap_json(hm, zone, first_day, weeks, match.id, names)
    return Response(body, media_type="application/json")


@router.post(
    "/programs/{pid}/matches/{xid}/proposals", response_model=ProposalsPublic, responses=READ
)
@computes
def proposals(
    pid: str, xid: str, who: Who, db: Db, body: ProposalsCreate | None = None
) -> dict[str, Any]:
    """Ranked candidate series for one match (SPEC 5), with who can come to each
    occurrence and, where one does not hold, the best one-off alternative that week."""
    body = body or ProposalsCreate()
    doc, match, avail = match_availability(db, who, pid, xid)
    pref = None
    if body.preferred is not None:
        p = body.preferred
        try:
            start = parse_clock(p.start) if p.start else None
            end = parse_clock(p.end) if p.end else None
        except ValueError as exc:
            raise Invalid(str(exc), field="preferred") from None
        if start is not None and end is not None and end <= start:
            raise Invalid("must be after start", field="preferred.end")
        pref = Preference(frozenset(DAYS.index(d) for d in p.days) if p.days else None, start, end)
    found = propose(  # SolverError: 422 naming the field (app.py)
        doc,
        match.id,
        avail,
        limit=body.limit,
        duration_minutes=body.duration_minutes,
        frequency=body.frequency,
        sessions=body.sessions,
        preferred=pref,
    )
    spec = found.spec
    return {
        "match": match.id,
        "duration_minutes": spec.duration_minutes,
        "frequency": spec.frequency,
        "sessions": spec.sessions,
        "candidates": found.candidates,
        "proposals": [series_dict(s) for s in found.series],
        "reason": found.reason,
    }
