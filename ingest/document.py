"""Program document models (SPEC 6): validation at the edge, errors that name the field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .errors import DocumentError, FieldError
from .grid import GRANULARITIES, as_instant
from .text import check_address, check_line, check_link, check_name, check_text

# Weekday codes (RFC 5545's BYDAY), Monday first as date.weekday() counts: the one list.
Day = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
DAYS: tuple[Day, ...] = get_args(Day)
Frequency = Literal["once", "weekly", "biweekly", "monthly"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$"
CLOCK_PATTERN = r"^\d{1,2}:\d{2}$"  # a time of day, "HH:MM" (see parse_clock)
# Dates and times a document may name (docs/rules.md): far enough from year 1 and 9999
# that reading them in any zone, and the days around them, never overflows.
YEARS = range(1900, 3000)


def sessions_problem(frequency: str, sessions: int) -> str | None:
    """What is wrong with ``sessions`` for ``frequency`` (SPEC 4: a one-off is one
    session), or None; the one place for the rule (documents, proposals, bookings)."""
    if frequency == "once" and sessions != 1:
        return "must be 1 when frequency is 'once'"
    return None


def duration_problem(minutes: int, granularity_minutes: int) -> str | None:
    """What is wrong with a session of ``minutes`` on the program's grid (SPEC 1: whole
    slots), or None; the one place for the rule (documents, heat maps, proposals,
    bookings)."""
    if minutes <= 0:
        return "must be above 0 minutes"
    if minutes % granularity_minutes:
        return f"must be a multiple of the {granularity_minutes}-minute grid"
    return None


def check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        raise ValueError(f'unknown time zone "{name[:100]}"') from None
    return name


# A BCP 47 language tag as members give it (``de-DE``, ``pt-BR``, ``ja-JP``, ``zh-Hant-TW``):
# a language of 2 or 3 letters, then subtags; at most 35 characters (RFC 5646 4.4.1).
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
MAX_LOCALE = 35


def locale_tag(tag: str) -> str:
    """``tag`` in BCP 47's usual case (``pt-br`` -> ``pt-BR``, ``zh-hant-tw`` ->
    ``zh-Hant-TW``: RFC 5646 2.1.1); ValueError when it is no language tag. The same for
    every version of Babel, so a stored document always reads back."""
    if len(tag) > MAX_LOCALE or not re.fullmatch(LOCALE_PATTERN, tag) or tag.lower() == "und":
        raise ValueError(
            f'expected a BCP 47 language tag such as "de-DE", "pt-BR" or "ja-JP", got "{tag[:50]}"'
        )
    first, *rest = tag.split("-")
    parts = [first.lower()]
    for part in rest:
        if len(part) == 4 and part.isalpha():
            parts.append(part.title())  # a script
        elif len(part) == 2 and part.isalpha():
            parts.append(part.upper())  # a region
        else:
            parts.append(part.lower())
    return "-".join(parts)


def check_locale(tag: str) -> str:
    """A locale as it enters: a language tag (:func:`locale_tag`) whose date and time
    formats Babel (CLDR) has; ValueError saying what is wrong otherwise."""
    try:
        Locale.parse(tag, sep="-")
    except (ValueError, UnknownLocaleError):
        raise ValueError(f'unknown locale "{tag}": no date formats are known for it') from None
    return tag


def parse_clock(value: Any) -> int:
    """``"HH:MM"`` (``"24:00"`` allowed) -> minutes after midnight."""
    if isinstance(value, time):
        return value.hour * 60 + value.minute
    if not isinstance(value, str) or not re.fullmatch(CLOCK_PATTERN, value.strip()):
        raise ValueError(f'expected a time of day "HH:MM", got {value!r}')
    hours, minutes = (int(p) for p in value.strip().split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f'not a time of day: "{value}"')
    return hours * 60 + minutes


def _in_years(value: date) -> None:
    if value.year not in YEARS:
        raise ValueError(
            f"{value.isoformat()} is out of range (years {YEARS.start} to {YEARS.stop - 1})"
        )


def _parse_moment(value: Any) -> datetime:
    """A date or date-time; a bare date means its local midnight. May be naive (local)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif not isinstance(value, str):
        raise ValueError(f"expected a date or date-time string, got {value!r}")
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f'not a date or date-time: "{value}"') from None
    _in_years(moment)
    return moment


def _parse_day(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), got a date-time")
    if isinstance(value, date):
        day = value
    elif not isinstance(value, str):
        raise ValueError(f"expected a date (YYYY-MM-DD), got {value!r}")
    else:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f'not a date (YYYY-MM-DD): "{value}"') from None
    _in_years(day)
    return day


ZoneName = Annotated[str, AfterValidator(check_zone)]


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# Minutes after midnight inside, "HH:MM" in and out (so a dumped document reads back).
ClockMinutes = Annotated[
    int,
    BeforeValidator(parse_clock),
    PlainSerializer(format_clock, return_type=str, when_used="json"),
]
Moment = Annotated[datetime, BeforeValidator(_parse_moment)]
Day_ = Annotated[date, BeforeValidator(_parse_day)]
Ident = Annotated[str, Field(pattern=ID_PATTERN)]


def _entering(check: Callable[[str], str]) -> AfterValidator:
    """``check`` for what enters (uploads, edits, request bodies); a document read back
    from the store (``parse_program(..., stored=True)``) may hold what older versions let
    in, and is taken as it is: the mail layer copes with it (service/email.py)."""

    def run(value: str, info: ValidationInfo) -> str:
        if info.context and info.context.get("stored"):
            return value
        return check(value)

    return AfterValidator(run)


# Names, addresses and texts reach mail headers and calendar lines: see ingest/text.py.
Line = Annotated[str, _entering(check_line)]
Name = Annotated[str, _entering(check_name)]
Text = Annotated[str, _entering(check_text)]
# A video link: http(s), no white space and no control character (it goes into mail text
# and calendar properties as it is).
VideoUrl = Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000), _entering(check_link)]
EmailAddress = Annotated[str, _entering(check_address)]
# The language a member reads their mail in (its date and time formats): see check_locale.
LocaleTag = Annotated[
    str,
    AfterValidator(locale_tag),
    _entering(check_locale),
    WithJsonSchema({"type": "string", "pattern": LOCALE_PATTERN, "maxLength": MAX_LOCALE}),
]
ICS_URL_PATTERN, MAX_ICS_URL = r"^(https?|webcal)://\S+$", 2000


def _check_ics_url(url: str) -> str:
    if len(url) > MAX_ICS_URL:
        raise ValueError(f"at most {MAX_ICS_URL} characters")
    if not re.fullmatch(ICS_URL_PATTERN, url):
        raise ValueError("must be an http, https or webcal URL without white space")
    return url


# A calendar to fetch: http, https or webcal, no white space, at most 2,000 characters as
# it enters (a stored document keeps what older versions let in); the schema says so.
IcsUrl = Annotated[
    str,
    Field(pattern=r"^(https?|webcal)://"),
    _entering(_check_ics_url),
    WithJsonSchema({"type": "string", "pattern": ICS_URL_PATTERN, "maxLength": MAX_ICS_URL}),
]
# Limits a match and an API request share (service/schemas.py builds its bodies on them).
Duration = Annotated[int, Field(gt=0, le=24 * 60)]  # minutes a session lasts
SessionCount = Annotated[int, Field(ge=1, le=520)]
Location = Annotated[Line, Field(max_length=500)]
Agenda = Annotated[Text, Field(max_length=10_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Window(_Model):
    """Weekly wall-clock window: these days, from ``start`` to ``end`` (minutes of the day)."""

    days: list[Day] = Field(min_length=1)
    start: ClockMinutes
    end: ClockMinutes

    @field_validator("start")
    @classmethod
    def _start_before_midnight(cls, v: int) -> int:
        if v >= 24 * 60:
            raise ValueError("a window cannot start at 24:00")
        return v

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, v: int, info: Any) -> int:
        start = info.data.get("start")
        if start is not None and v <= start:
            raise ValueError("must be after start")
        return v


class Interval(_Model):
    """A one-off interval; naive date-times are local to the owner's zone."""

    start: Moment
    end: Moment

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, v: datetime, info: Any) -> datetime:
        start = info.data.get("start")
        if start is None:
            return v
        if (start.tzinfo is None) != (v.tzinfo is None):
            raise ValueError("start and end must both carry an offset or both be local")
        if v <= start:
            raise ValueError("must be after start")
        return v


class CalDavSource(_Model):
    url: str = Field(pattern=r"^https?://")
    username: str | None = None
    password: str | None = None
    calendar: str | None = None


class CalendarSource(_Model):
    """Exactly one of ``ics_path``, ``ics_text``, ``ics_url``, ``caldav``."""

    ics_path: str | None = None
    ics_text: str | None = None
    ics_url: IcsUrl | None = None
    caldav: CalDavSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CalendarSource:
        given = [k for k in ("ics_path", "ics_text", "ics_url", "caldav") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of ics_path, ics_text, ics_url, caldav")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("ics_path", "ics_text", "ics_url", "caldav") if getattr(self, k))


MAX_CALENDARS = 10


class Member(_Model):
    id: Ident
    name: Name | None = None
    email: EmailAddress | None = None
    timezone: ZoneName | None = None
    # The BCP 47 tag of the language whose date and time formats the member's mail uses
    # (service/mailtime.py); None: English, as the service writes it.
    locale: LocaleTag | None = None
    weekly: list[Window] = Field(default_factory=list)
    unavailable: list[Interval] = Field(default_factory=list)
    available: list[Interval] = Field(default_factory=list)
    # Each calendar is read within one recurrence budget per member (ingest/calendars.py);
    # the cap keeps a member's calendars few enough to read at upload.
    calendars: list[CalendarSource] = Field(default_factory=list, max_length=MAX_CALENDARS)
    max_sessions_per_week: int | None = Field(default=None, ge=0)


class Preferred(_Model):
    days: list[Day] | None = None
    start: ClockMinutes | None = None
    end: ClockMinutes | None = None

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, v: int | None, info: Any) -> int | None:
        start = info.data.get("start")
        if v is not None and start is not None and v <= start:
            raise ValueError("must be after start")
        return v


class Conferencing(_Model):
    video_url: VideoUrl | None = None
    location: Location | None = None


class Match(_Model):
    id: Ident
    members: list[Ident] = Field(min_length=2)
    organizer: Ident | None = None
    required: list[Ident] | None = None
    duration_minutes: Duration = 60
    frequency: Frequency = "weekly"
    sessions: SessionCount = 1
    preferred: Preferred | None = None
    earliest_start: Moment | None = None
    conferencing: Conferencing | None = None
    agenda: Agenda | None = None

    @field_validator("sessions")
    @classmethod
    def _once_has_one_session(cls, v: int, info: Any) -> int:
        problem = sessions_problem(info.data.get("frequency", ""), v)
        if problem:
            raise ValueError(problem)
        return v


class Booking(Interval):
    """A session already fixed (program-zone local times unless offset): busy for its members.

    ``members`` narrows it to some of the match's members; by default it books all of them.
    """

    match: Ident
    members: list[Ident] | None = None


class Program(_Model):
    id: Ident
    name: Name | None = None
    timezone: ZoneName
    start: Day_
    end: Day_
    granularity_minutes: int = 15
    working_hours: list[Window] = Field(
        default_factory=lambda: [
            Window.model_validate({"days": list(DAYS[:5]), "start": "09:00", "end": "17:00"})
        ]
    )
    now: Moment | None = None

    @field_validator("granularity_minutes")
    @classmethod
    def _granularity(cls, v: int) -> int:
        if v not in GRANULARITIES:
            raise ValueError(f"must be one of {', '.join(map(str, GRANULARITIES))}")
        return v

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, v: date, info: Any) -> date:
        start = info.data.get("start")
        if start is not None and v <= start:
            raise ValueError("must be after start")
        if start is not None and (v - start).days > 366:
            raise ValueError("a program spans at most 366 days")
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now_instant(self) -> datetime:
        """The instant before which nothing may be booked: ``now`` when the document
        fixes it (naive: wall-clock in the program's zone), else the current time."""
        return as_instant(self.now, self.zone) if self.now is not None else datetime.now(UTC)


# ProgramDocument's id maps (cached properties), which a copy must not keep.
_ID_MAPS = ("_members_by_id", "_matches_by_id")


class ProgramDocument(_Model):
    version: Literal[1] = 1
    program: Program
    members: list[Member] = Field(default_factory=list)
    matches: list[Match] = Field(default_factory=list)
    bookings: list[Booking] = Field(default_factory=list)
    # Where relative ``ics_path`` calendars are read from (the document's folder).
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path | None:
        return self._base_dir

    def member(self, member_id: str) -> Member:
        return self._members_by_id[member_id]

    def match(self, match_id: str) -> Match:
        return self._matches_by_id[match_id]

    # Documents are not changed after validation, so the id maps are built once.
    @cached_property
    def _members_by_id(self) -> dict[str, Member]:
        return {m.id: m for m in self.members}

    @cached_property
    def _matches_by_id(self) -> dict[str, Match]:
        return {m.id: m for m in self.matches}

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> ProgramDocument:
        """A copy (pydantic's), without the id maps a cached property kept: a copy with
        other members or matches would otherwise look them up in the original's. The
        folder relative calendars are read from comes along."""
        new = super().model_copy(update=update, deep=deep)
        for name in _ID_MAPS:
            new.__dict__.pop(name, None)
        new._base_dir = self._base_dir
        return new

    def member_zone(self, member_id: str) -> ZoneInfo:
        """A member's zone; the program's when the member gives none."""
        return ZoneInfo(self.member(member_id).timezone or self.program.timezone)

    def organizer_zone(self, match: Match) -> ZoneInfo:
        """Zone a series recurs in (SPEC 4): the organizer's, else the program's."""
        if match.organizer:
            return self.member_zone(match.organizer)
        return self.program.zone

    def required_members(self, match: Match) -> list[str]:
        """SPEC 4: both of a pair, the organizer alone in a group; ``required`` overrides.

        A group with neither organizer nor ``required`` has no required member (see
        docs/rules.md for when its occurrences hold).
        """
        if match.required is not None:
            return list(match.required)
        if len(match.members) == 2:
            return list(match.members)
        return [match.organizer] if match.organizer else []


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        # Tagged/function validators add their own name to the location; drop it.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"]
        for head in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(head)
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "is required"
        path = _path(loc)
        errors.append(FieldError(f"{prefix}.{path}" if prefix and path else prefix or path, msg))
    return errors


def check_entered(kind: Literal["members", "matches"], data: Any, prefix: str = "") -> None:
    """Check one member or match object as it enters, names and texts included, even when
    the document around it is parsed as stored; DocumentError naming the field."""
    model = Member if kind == "members" else Match
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(_pydantic_errors(exc, prefix)) from None


def _cross_check(doc: ProgramDocument) -> list[FieldError]:
    """Checks that need the whole document: ids, references, grid multiples."""
    errors: list[FieldError] = []
    member_ids: set[str] = set()
    for i, m in enumerate(doc.members):
        if m.id in member_ids:
            errors.append(FieldError(f"members[{i}].id", f'duplicate member id "{m.id}"'))
        member_ids.add(m.id)
    match_ids: set[str] = set()
    g = doc.program.granularity_minutes
    for i, x in enumerate(doc.matches):
        where = f"matches[{i}]"
        if x.id in match_ids:
            errors.append(FieldError(f"{where}.id", f'duplicate match id "{x.id}"'))
        match_ids.add(x.id)
        for j, mid in enumerate(x.members):
            if mid not in member_ids:
                errors.append(FieldError(f"{where}.members[{j}]", f'unknown member "{mid}"'))
            if mid in x.members[:j]:
                errors.append(FieldError(f"{where}.members[{j}]", f'"{mid}" is listed twice'))
        if x.organizer is not None and x.organizer not in x.members:
            errors.append(
                FieldError(f"{where}.organizer", f'"{x.organizer}" is not a member of this match')
            )
        for j, mid in enumerate(x.required or []):
            if mid not in x.members:
                errors.append(
                    FieldError(f"{where}.required[{j}]", f'"{mid}" is not a member of this match')
                )
        problem = duration_problem(x.duration_minutes, g)
        if problem:
            errors.append(FieldError(f"{where}.duration_minutes", problem))
    for i, b in enumerate(doc.bookings):
        if b.match not in match_ids:
            errors.append(FieldError(f"bookings[{i}].match", f'unknown match "{b.match}"'))
        for j, mid in enumerate(b.members or []):
            if mid not in member_ids:
                errors.append(FieldError(f"bookings[{i}].members[{j}]", f'unknown member "{mid}"'))
    return errors


def parse_program(data: Any, *, stored: bool = False) -> ProgramDocument:
    """Validate a program document (dict or JSON text); DocumentError lists every problem.
    ``stored``: the document is read back from the store, so names, addresses and texts
    are not checked again (an older version may have stored what is refused today)."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise DocumentError.at(
                "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    if not isinstance(data, dict):
        raise DocumentError.at("", "a program document must be a JSON object")
    try:
        doc = ProgramDocument.model_validate(data, context={"stored": stored})
    except ValidationError as exc:
        raise DocumentError(_pydantic_errors(exc)) from None
    errors = _cross_check(doc)
    if errors:
        raise DocumentError(errors)
    return doc


def load_program(path: str | Path) -> ProgramDocument:
    """Read and validate a program document file. ``ics_path`` calendars are relative to it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError.at("", f"cannot read {path}: {exc.strerror}") from None
    doc = parse_program(text)
    doc._base_dir = path.parent.resolve()
    return doc
