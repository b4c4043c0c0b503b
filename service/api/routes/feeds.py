"""Routes for members' calendar feeds: a member's sessions as a calendar, a member's or a
match's free/busy (VFREEBUSY), what a feed link opens (the sessions and the member's
free/busy), and the links themselves (rotate, revoke)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from ... import feeds, freebusy
from ...auth import feed_member, issue_feed_token, revoke_feed_token
from ...errors import error_responses
from ...schemas import FeedLink
from ..deps import ICS, READ, Db, Who

router = APIRouter(tags=["feeds"])

CALENDAR = "text/calendar; charset=utf-8"
# Strings, read by service/freebusy.py: its 422s name the field and say what it accepts.
Start = Annotated[
    str | None,
    Query(
        max_length=64,
        description="first instant: a date (midnight in the member's zone; for a match, "
        "the organizer's) or a date-time with offset; default: the program's start",
    ),
]
End = Annotated[
    str | None,
    Query(
        max_length=64,
        description="end of the range (excluded), as start; default: the program's end; "
        f"at most {freebusy.MAX_RANGE_DAYS} days after start",
    ),
]


@router.get(
    "/programs/{pid}/members/{mid}/sessions.ics", responses={**ICS, **READ}, response_class=Response
)
def member_feed(pid: str, mid: str, who: Who, db: Db) -> Response:
    """A member's booked sessions as a calendar (with the Authorization header; calendar
    apps subscribe to the feed link instead, see ``POST …/feed-token``)."""
    who.is_member(pid, mid)
    return Response(feeds.member_calendar(db, pid, mid), media_type="text/calendar; charset=utf-8")


# The feed token is the file name: calendar apps subscribe to a plain URL ending in .ics
# (some refuse or mangle query strings), and the URL is all the credential there is. The
# access log shows it as /api/feeds/swf_…redacted.ics (service/redact.py).
@router.get(
    "/feeds/{feed}.ics",
    name="feed",
    responses={**ICS, **error_responses(404)},
    response_class=Response,
)
def feed(feed: str, db: Db) -> Response:
    """A member's booked sessions as a subscribable calendar feed. The feed token in the
    URL opens this and nothing else; rotating or revoking it ends the old link (401)."""
    pid, mid = feed_member(db, feed)
    return Response(feeds.member_calendar(db, pid, mid), media_type="text/calendar; charset=utf-8")


@router.get(
    "/programs/{pid}/members/{mid}/freebusy.ifb",
    responses={**ICS, **READ},
    response_class=Response,
)
def member_freebusy(
    pid: str, mid: str, who: Who, db: Db, start: Start = None, end: End = None
) -> Response:
    """A member's free/busy as a VFREEBUSY (RFC 5545 3.6.4): busy where the scheduler
    sees them busy (BUSY-UNAVAILABLE outside their weekly times and when away; BUSY for
    their calendars and booked sessions), FREEBUSY periods in UTC. The member or an
    admin; other schedulers read it through the feed link (``/api/feeds/{feed}.ifb``)."""
    who.is_member(pid, mid)
    return Response(freebusy.member_freebusy(db, pid, mid, start, end), media_type=CALENDAR)


@router.get(
    "/programs/{pid}/matches/{xid}/freebusy.ifb",
    responses={**ICS, **READ},
    response_class=Response,
)
def match_freebusy(
    pid: str, xid: str, who: Who, db: Db, start: Start = None, end: End = None
) -> Response:
    """Each member of a match as one VFREEBUSY (ATTENDEE: the member), for whoever may
    see the match's heat map (its members and the admins). Other members' busy time is
    plain BUSY, and their address left out, unless the caller is an admin."""
    return Response(freebusy.match_freebusy(db, who, pid, xid, start, end), media_type=CALENDAR)


@router.get(
    "/feeds/{feed}.ifb",
    name="freebusy_feed",
    responses={**ICS, **error_responses(404)},
    response_class=Response,
)
def freebusy_feed(feed: str, db: Db, start: Start = None, end: End = None) -> Response:
    """The feed link's member's free/busy, as ``…/members/{mid}/freebusy.ifb``: the same
    feed token opens it (the link ends in ``.ifb`` instead of ``.ics``)."""
    pid, mid = feed_member(db, feed)
    return Response(freebusy.member_freebusy(db, pid, mid, start, end), media_type=CALENDAR)


@router.post(
    "/programs/{pid}/members/{mid}/feed-token",
    status_code=201,
    response_model=FeedLink,
    responses=READ,
)
def rotate_feed_token(pid: str, mid: str, request: Request, who: Who, db: Db) -> dict[str, Any]:
    """A new calendar feed link for the member (the member or an admin), and the link to
    their free/busy with the same token; the previous links stop working. Shown once."""
    who.is_member(pid, mid)
    token = issue_feed_token(db, pid, mid)
    return {
        "member": mid,
        "url": str(request.url_for("feed", feed=token)),
        "freebusy_url": str(request.url_for("freebusy_feed", feed=token)),
    }


@router.delete(
    "/programs/{pid}/members/{mid}/feed-token",
    status_code=204,
    response_class=Response,
    responses=READ,
)
def delete_feed_token(pid: str, mid: str, who: Who, db: Db) -> Response:
    """Revoke the member's calendar feed link (the member or an admin)."""
    who.is_member(pid, mid)
    revoke_feed_token(db, pid, mid)
    return Response(status_code=204)
