"""Routes for members' calendar feeds: a member's sessions as a calendar, the feed a
feed link opens, and the links themselves (rotate, revoke)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ... import feeds
from ...auth import feed_member, issue_feed_token, revoke_feed_token
from ...errors import error_responses
from ...schemas import FeedLink
from ..deps import ICS, READ, Db, Who

router = APIRouter(tags=["feeds"])


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


@router.post(
    "/programs/{pid}/members/{mid}/feed-token",
    status_code=201,
    response_model=FeedLink,
    responses=READ,
)
def rotate_feed_token(pid: str, mid: str, request: Request, who: Who, db: Db) -> dict[str, Any]:
    """A new calendar feed link for the member (the member or an admin); the previous
    link stops working. The link is shown once."""
    who.is_member(pid, mid)
    token = issue_feed_token(db, pid, mid)
    return {"member": mid, "url": str(request.url_for("feed", feed=token))}


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
