"""Request and response bodies of the HTTP API (SPEC 8) and request examples, for the
OpenAPI page.

Routes name the response bodies as ``response_model``, so what the page says is what is
sent. They allow keys beyond the documented ones, so a field added to a response is never
silently dropped. Request bodies refuse unknown keys. The examples are sent as they are by
the API fuzz test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired
from urllib.parse import urlsplit

from fastapi import Body
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this one below Python 3.12

from ingest.document import (
    CLOCK_PATTERN,
    Agenda,
    Day,
    Duration,
    Frequency,
    IcsUrl,
    Line,
    Location,
    SessionCount,
    Text,
    VideoUrl,
)
from ingest.text import address_problem

from .errors import Clash

_OPEN = ConfigDict(extra="allow")

EXAMPLE_PROGRAM = {
    "version": 1,
    "program": {
        "id": "spring-2027",
        "name": "Spring cohort",
        "timezone": "America/New_York",
        "start": "2027-01-04",
        "end": "2027-04-05",
        "granularity_minutes": 15,
    },
    "members": [
        {
            "id": "ana",
            "timezone": "Europe/Lisbon",
            "weekly": [{"days": ["TU", "TH"], "start": "14:00", "end": "18:30"}],
        },
        {"id": "ben", "timezone": "America/New_York"},
    ],
    "matches": [
        {
            "id": "ana-ben",
            "members": ["ana", "ben"],
            "organizer": "ana",
            "duration_minutes": 60,
            "sessions": 8,
            "frequency": "weekly",
        }
    ],
}
EXAMPLE_MEMBER = {
    "name": "Ana Silva",
    "timezone": "Europe/Lisbon",
    "weekly": [{"days": ["TU", "TH"], "start": "14:00", "end": "18:30"}],
    "unavailable": [{"start": "2027-02-15", "end": "2027-02-20"}],
}
EXAMPLE_MATCH = {
    "id": "ana-cara",
    "members": ["ana", "cara"],
    "organizer": "ana",
    "duration_minutes": 30,
    "frequency": "biweekly",
    "sessions": 4,
}
EXAMPLE_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//example//EN\r\nBEGIN:VEVENT\r\n"
    "UID:dentist@example.org\r\nDTSTAMP:20270101T000000Z\r\n"
    "DTSTART;TZID=Europe/Lisbon:20270302T100000\r\n"
    "DTEND;TZID=Europe/Lisbon:20270302T110000\r\nSUMMARY:Dentist\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@with_config(_OPEN)
class Created(TypedDict):
    id: str


@with_config(_OPEN)
class Identity(TypedDict):
    """Who an address (or a token) is in one program (``program`` None: a site admin's
    token, for every program)."""

    program: str | None
    program_name: str | None
    role: str
    member: str | None
    name: str | None


@with_config(_OPEN)
class Me(TypedDict):
    """Who is asking. ``via`` says how: an API token, or a sign-in session, which also
    gives the ``email``, the ``csrf`` token its writes must send as ``X-CSRF-Token`` and
    every program the address has an ``identities`` entry in (a token: its own only).
    ``program`` is the session's current program (a site admin's token: None)."""

    role: str
    program: str | None
    member: str | None
    via: Literal["token", "session"]
    site_admin: bool
    email: str | None
    name: str | None
    csrf: str | None
    identities: list[Identity]


@with_config(_OPEN)
class SessionState(TypedDict):
    """Whether the browser asking is signed in (a live session cookie), and who it is."""

    signed_in: bool
    me: Me | None


@with_config(_OPEN)
class SignInAccepted(TypedDict):
    """The same answer whether or not the address is anyone's."""

    detail: str


@with_config(_OPEN)
class AdminPublic(TypedDict):
    """An admin by email; ``program`` None is a site admin."""

    email: str
    program: str | None
    created: str


@with_config(_OPEN)
class AttendancePublic(TypedDict):
    """Who can come to each session of a series still ahead, from today's availability."""

    series: str
    match: str
    sessions: list[dict[str, Any]]


@with_config(_OPEN)
class HomePublic(TypedDict):
    """A person's home page: their matches (an admin: every match, a page at a time), each
    with its live series and what the caller may do, the next sessions and, for an admin,
    the program's counts."""

    program: dict[str, Any]
    role: str
    member: str | None
    matches: list[dict[str, Any]]
    total: int
    offset: int
    upcoming: list[dict[str, Any]]
    counts: NotRequired[dict[str, int]]
    last_plan: NotRequired[dict[str, Any] | None]


@with_config(_OPEN)
class FeedLink(TypedDict):
    """A member's calendar feed link; the feed token in it opens only that feed (``url``)
    and the member's free/busy (``freebusy_url``, the same token)."""

    member: str
    url: str
    freebusy_url: str


@with_config(_OPEN)
class ProgramSummary(TypedDict):
    id: str
    name: str | None


@with_config(_OPEN)
class DocumentPublic(TypedDict):
    """A program document (SPEC 6) as stored."""

    version: int
    program: dict[str, Any]
    members: list[dict[str, Any]]
    matches: list[dict[str, Any]]
    bookings: list[dict[str, Any]]


@with_config(_OPEN)
class MemberPublic(TypedDict):
    """A member object of the program document (SPEC 6)."""

    id: str


@with_config(_OPEN)
class CalendarSet(TypedDict):
    member: str
    busy_intervals: int
    ics_url: NotRequired[str]


@with_config(_OPEN)
class HeatmapView(TypedDict):
    """The viewer-zone grid. The slot starting at ``dates[d]``, ``times[t]`` (an index
    into the horizon; its count is ``counts[slot - window.first_slot]``) is
    ``slots[d] + t`` where ``slots[d]`` is a number (the date's times are consecutive
    slots), else ``slots[d][t]``, -1 where none starts then (a DST gap)."""

    timezone: str
    dates: list[str]
    times: list[str]
    slots: list[int | list[int]]


@with_config(_OPEN)
class HeatmapWindow(TypedDict):
    """Which part of the horizon a heat map answers for: ``counts[i]`` is slot
    ``first_slot + i``; ``first_date``/``last_date`` are its dates in the viewer's zone;
    ``earlier``/``later`` say whether the horizon goes on before or after it."""

    first_slot: int
    slots: int
    first_date: str | None
    last_date: str | None
    earlier: bool
    later: bool


@with_config(_OPEN)
class HeatmapPublic(TypedDict):
    """SPEC 7's heat map JSON for a window of weeks, plus the viewer's grid, names, and,
    per member, a base64 bitmap of the window's slots they can start a session at (bit
    ``i``, little-endian within each byte, is slot ``window.first_slot + i``)."""

    start: str
    granularity_minutes: int
    duration_minutes: int
    members: list[str]
    counts: list[int]
    everyone: list[int]
    past: int
    view: HeatmapView
    match: str
    names: dict[str, str]
    free: list[str]
    window: HeatmapWindow


@with_config(_OPEN)
class OccurrencePlan(TypedDict):
    start: str
    end: str
    holds: bool
    attending: list[str]
    missing: list[str]
    alternative: NotRequired[str]


@with_config(_OPEN)
class Score(TypedDict):
    held: int
    attendance: int
    preferred: int


@with_config(_OPEN)
class SeriesPlan(TypedDict):
    """A candidate or planned series (SPEC 6's plan document)."""

    match: str
    timezone: str
    frequency: str
    rrule: str | None  # None for a one-off ("once")
    first_start: str
    duration_minutes: int
    score: Score
    occurrences: list[OccurrencePlan]


@with_config(_OPEN)
class ProposalsPublic(TypedDict):
    match: str
    duration_minutes: int
    frequency: str
    sessions: int
    candidates: int
    proposals: list[SeriesPlan]
    reason: str | None


@with_config(_OPEN)
class ReplyPublic(TypedDict):
    """What a member answered to an occurrence's invite (iTIP REPLY, docs/rules.md
    "Replies"): to this occurrence alone, or to the whole series (``scope``)."""

    member: str
    partstat: Literal["ACCEPTED", "DECLINED", "TENTATIVE"]
    scope: Literal["occurrence", "series"]
    answered_at: str  # the reply's DTSTAMP


@with_config(_OPEN)
class DeclinedPublic(TypedDict):
    """The facilitator's flag of an occurrence still ahead that members declined alone:
    whether it still holds without them and, where it does not, the best start that week
    where it would (as proposals give one), to move it to."""

    members: list[str]
    holds: NotRequired[bool]
    attending: NotRequired[list[str]]
    missing: NotRequired[list[str]]
    alternative: NotRequired[str]


@with_config(_OPEN)
class SessionPublic(TypedDict):
    id: str
    start: str
    end: str
    original_start: str
    status: str
    # Where a match's series are listed (``GET …/matches/{xid}/series``, ``GET
    # …/series/{sid}``): each member's answer that holds for this occurrence as it is now.
    replies: NotRequired[list[ReplyPublic]]
    declined: NotRequired[DeclinedPublic]


@with_config(_OPEN)
class ConferencingPublic(TypedDict):
    video_url: str | None
    location: str | None


@with_config(_OPEN)
class Progress(TypedDict):
    completed: int
    planned: int


@with_config(_OPEN)
class SeriesPublic(TypedDict):
    """A booked series with its sessions and progress."""

    id: str
    match: str
    uid: str
    status: str
    sequence: int
    timezone: str
    frequency: str
    rrule: str | None  # None for a one-off ("once")
    first_start: str
    duration_minutes: int
    members: list[str]
    conferencing: ConferencingPublic
    agenda: str | None
    summary: str
    sessions: list[SessionPublic]
    progress: Progress
    # Until when ``POST …/series/{sid}/undo`` can take the booking back (no invite has gone
    # out before it); None when it cannot (no window, or it is over).
    undo_until: str | None


@with_config(_OPEN)
class MemberZone(TypedDict):
    """A member as the booking review shows them: the zone they read times in (their own,
    else the program's)."""

    id: str
    name: str
    timezone: str


@with_config(_OPEN)
class SeriesPreview(TypedDict):
    """A series as booking it would make it, before anything is written: its occurrences
    evaluated as proposals are (who can come, ``alternative`` where one does not hold),
    what the invite would say, the members with their zones, and the clashes a booking
    would be refused for (``bookable`` is false when there are any)."""

    match: str
    timezone: str
    frequency: str
    rrule: str | None
    first_start: str
    duration_minutes: int
    sessions: int
    score: Score
    occurrences: list[OccurrencePlan]
    members: list[MemberZone]
    conferencing: ConferencingPublic
    agenda: str | None
    summary: str
    clashes: list[Clash]
    bookable: bool


@with_config(_OPEN)
class JobStarted(TypedDict):
    job: str
    status: str


@with_config(_OPEN)
class JobPublic(TypedDict):
    """A batch plan job; ``plan`` (SPEC 6's plan document) once done, ``error`` if failed."""

    id: str
    program: str
    status: str
    progress: float
    message: str | None
    applied: bool
    plan: NotRequired[dict[str, Any]]
    error: NotRequired[str]


@with_config(_OPEN)
class PlanApplied(TypedDict):
    job: str
    booked: int
    series: list[str]


# --- request bodies ---------------------------------------------------------------------
# Built on the types of ingest/document.py, so that a limit a request shares with a program
# document (a duration, a number of sessions, a video link, a calendar URL...) is written
# once. They refuse unknown keys.

# Documents are read as plain objects and validated by ingest (errors name the field).
ProgramCreate = Annotated[
    dict[str, Any], Body(description="a program document (SPEC 6)", examples=[EXAMPLE_PROGRAM])
]
MemberUpdate = Annotated[
    dict[str, Any],
    Body(
        description="a member object of the program document (SPEC 6); ``id`` is the URL's",
        examples=[EXAMPLE_MEMBER],
    ),
]
MatchCreate = Annotated[
    dict[str, Any],
    Body(description="a match object of the program document (SPEC 6)", examples=[EXAMPLE_MATCH]),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreferredCreate(_Body):
    days: list[Day] | None = None
    start: str | None = Field(default=None, pattern=CLOCK_PATTERN)
    end: str | None = Field(default=None, pattern=CLOCK_PATTERN)


class ProposalsCreate(_Body):
    limit: int = Field(default=5, ge=1, le=50)
    duration_minutes: Duration | None = None
    frequency: Frequency | None = None
    sessions: SessionCount | None = None
    preferred: PreferredCreate | None = None


class ConferencingCreate(_Body):
    video_url: VideoUrl | None = None
    location: Location | None = None


class SeriesCreate(_Body):
    first_start: datetime
    duration_minutes: Duration | None = None
    frequency: Frequency | None = None
    sessions: SessionCount | None = None
    conferencing: ConferencingCreate | None = None
    agenda: Agenda | None = None
    summary: Line | None = Field(default=None, max_length=500)


# What the person who cancels writes to the attendees (mail text and iCalendar COMMENT):
# multi-line text like an agenda, shorter.
CancelNote = Annotated[Text, Field(max_length=2_000)]


class SessionUpdate(_Body):
    start: datetime | None = None
    status: Literal["cancelled"] | None = None
    note: CancelNote | None = Field(default=None, description="only with a cancellation")


class CancelCreate(_Body):
    """``POST …/series/{sid}/cancel``: an optional note to the attendees."""

    note: CancelNote | None = None


class PlanCreate(_Body):
    # Capped by SLOTWISE_MAX_PLAN_TIME_LIMIT, the one limit (no second one here).
    time_limit: float | None = Field(
        default=None,
        gt=0,
        description="seconds the plan may take (default SLOTWISE_PLAN_TIME_LIMIT; at most "
        "SLOTWISE_MAX_PLAN_TIME_LIMIT)",
    )
    matches: list[str] | None = None


class CalendarUpdate(_Body):
    """``PUT …/calendar`` as JSON (otherwise its body is an iCalendar)."""

    ics_url: IcsUrl


def _collection_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be the http:// or https:// URL of a calendar")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password: send them as user and password")
    if parts.query or parts.fragment:
        raise ValueError("must have no query (?) or fragment (#)")
    return value if value.endswith("/") else value + "/"


def _password(value: str) -> str:
    # The message never repeats the value: it is a secret.
    if not 0 < len(value) <= 1024 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be 1 to 1,024 characters, without control characters")
    return value


class WritebackConnect(_Body):
    """``PUT …/members/{mid}/writeback``: the CalDAV calendar booked series are written
    into. Use an app-specific password (it is stored, and can be revoked at the provider)."""

    url: Annotated[
        str, Field(max_length=2000, pattern=r"^https?://\S+$"), AfterValidator(_collection_url)
    ]
    user: Annotated[Line, Field(min_length=1, max_length=256)]
    password: Annotated[
        str, AfterValidator(_password), Field(json_schema_extra={"format": "password"})
    ]


@with_config(_OPEN)
class WritebackPublic(TypedDict):
    """A member's CalDAV write-back connection (never its password). ``status``: ``ok``
    (written to), ``gone`` (the calendar is no more) or ``unauthorised`` (the password
    was refused): reconnect to resume; ``disconnected``: none (``url`` and ``user`` null).
    ``pending``: series waiting to be written."""

    member: str
    url: str | None
    user: str | None
    status: Literal["ok", "gone", "unauthorised", "disconnected"]
    last_error: str | None
    last_write: str | None
    pending: int


def _address(value: str) -> str:
    problem = address_problem(value.strip())
    if problem is not None:
        raise ValueError(f"not an email address: {problem}")
    return value.strip()


class SignInLinkCreate(_Body):
    """``POST /api/auth/link``: the address to mail a sign-in link to."""

    email: Annotated[str, Field(max_length=320), AfterValidator(_address)]


class SessionCreate(_Body):
    """``POST /api/auth/session``: the token of a sign-in link (from its ``#token=``)."""

    token: str = Field(min_length=1, max_length=200)


class ProgramSwitch(_Body):
    """``PUT /api/auth/session/program``: the program to work in."""

    program: str = Field(min_length=1, max_length=128)


@with_config(_OPEN)
class MemberRow(TypedDict):
    """One member as the admin's people list shows it: ``timezone`` is the member's own
    (None: the program's), ``matches`` how many matches they are in, ``calendars`` how
    many calendars they gave."""

    id: str
    name: str | None
    email: str | None
    timezone: str | None
    matches: int
    weekly: list[dict[str, Any]]
    calendars: int


@with_config(_OPEN)
class MembersPage(TypedDict):
    """``limit`` members from ``offset`` of the ``total`` that match the search."""

    program: dict[str, Any]
    total: int
    offset: int
    limit: int
    members: list[MemberRow]


@with_config(_OPEN)
class ImportResult(TypedDict):
    """What an import changed: the ids added and replaced, how many it sent unchanged."""

    kind: Literal["csv", "document"]
    members_added: list[str]
    members_replaced: list[str]
    members_unchanged: int
    matches_added: list[str]
    matches_replaced: list[str]
    matches_unchanged: int


EXAMPLE_CSV = "member,day,start,end,type\nana,TU,14:00,18:30,available\n"


class InboundAccepted(TypedDict):
    """A mail message read by the inbound webhook (kept or ignored: the same answer)."""

    status: Literal["accepted"]
