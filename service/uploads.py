"""Members' calendars as the service takes them: never fetched while answering a request.

A calendar URL in an uploaded program or member (``ics_url``) is fetched once, when it
is uploaded, through the private-address guard and with the time and size limits, and
the copy is stored; heat maps, proposals and plans read that copy. The fetch runs on the
event loop under one deadline (no worker thread waits on the network), at most
``ics_max_fetches`` at a time per process (beyond, the request gets 503). ``ics_path``
(a file on the server) and ``caldav`` (a server the service would log in to) are refused
with the field named; CalDAV calendars are read by the CLI and the notebooks.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException

from ingest import fetch
from ingest.availability import calendar_span, program_grid
from ingest.calendars import member_busy
from ingest.document import CalendarSource, ProgramDocument
from ingest.errors import CalendarError
from ingest.grid import SlotGrid

from .config import Settings
from .errors import Invalid, json_problem
from .netguard import guard_for
from .schemas import CalendarUpdate


async def fetch_uploaded(
    doc: ProgramDocument, member_ids: list[str], settings: Settings, where: dict[str, str]
) -> dict[str, dict[str, str]]:
    """``{member: {url: text}}`` for the ``ics_url`` calendars of ``member_ids`` (read by
    :func:`busy_on_upload` next). ``where`` gives each member's field path.

    A request may name at most ``ics_max_urls`` calendar URLs, and they are fetched
    together: the request takes about one fetch's deadline, not one per URL, and holds at
    most ``ics_max_urls`` calendars in memory.
    """
    wanted: dict[str, str] = {}  # url -> the field of its first mention
    for mid in member_ids:
        for j, cal in enumerate(doc.member(mid).calendars):
            field = f"{where[mid]}.calendars[{j}]" if where[mid] else f"calendars[{j}]"
            if cal.ics_path is not None:
                raise Invalid(
                    "ics_path is not accepted by the service (it would read the "
                    "server's files); send ics_text or ics_url",
                    field=field,
                )
            if cal.caldav is not None:
                raise Invalid(
                    "CalDAV calendars are not read by the service; send ics_text or an ics_url",
                    field=f"{field}.caldav",
                )
            if cal.ics_url is not None and cal.ics_url not in wanted:
                # More than the process may fetch at once could never succeed (503 forever).
                most = min(settings.ics_max_urls, settings.ics_max_fetches)
                if len(wanted) == most:
                    raise Invalid(
                        f"a request may name at most {most} calendar URLs "
                        "(settings SLOTWISE_ICS_MAX_URLS, SLOTWISE_ICS_MAX_FETCHES);"
                        " send the other members' calendars in further requests",
                        field=f"{field}.ics_url",
                    )
                wanted[cal.ics_url] = f"{field}.ics_url"
    texts = await _fetch_all(wanted, settings)
    return {
        mid: {
            c.ics_url: texts[c.ics_url] for c in doc.member(mid).calendars if c.ics_url is not None
        }
        for mid in member_ids
    }


async def _fetch_all(wanted: dict[str, str], settings: Settings) -> dict[str, str]:
    """``{url: text}`` of every URL of ``wanted`` (``{url: field}``), fetched together;
    the first failure (422 naming its field, or 503) ends them all."""
    texts: dict[str, str] = {}

    async def one(url: str, field: str) -> None:
        try:
            texts[url] = await fetch_text(url, settings)
        except CalendarError as exc:  # what the server answered is never echoed
            raise Invalid(f"{field}: {exc.without_content()}", field=field) from None

    try:
        async with asyncio.TaskGroup() as group:
            for url, field in wanted.items():
                group.create_task(one(url, field))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return texts


async def fetch_text(url: str, settings: Settings) -> str:
    """The calendar at ``url``, fetched through the private-address guard, within the
    service's time and size limits (CalendarError otherwise; 503 when too many fetches
    are under way)."""
    with _FETCHES.slot(settings):
        data = await fetch.fetch_ics_async(
            url,
            timeout=settings.ics_timeout,
            max_bytes=settings.ics_max_bytes,
            guard=guard_for(settings),
        )
    return data.decode("utf-8", "replace")


class _Fetches:
    """Calendar fetches under way in this process. Each holds a socket and up to
    ``ics_max_bytes`` of memory, so their number is bounded; a request beyond the bound
    is answered 503 at once rather than queued (a slot frees within ``ics_timeout``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # apps on several event loops (tests) share it
        self.running = 0

    @contextmanager
    def slot(self, settings: Settings) -> Iterator[None]:
        with self._lock:
            if self.running >= settings.ics_max_fetches:
                wait = math.ceil(settings.ics_timeout)
                raise HTTPException(
                    503,
                    detail=f"{self.running} calendar URLs are being "
                    f"fetched already; try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self.running += 1
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1


_FETCHES = _Fetches()


def needs_network(member: dict[str, Any], snaps: dict[str, str]) -> bool:
    """Whether a stored member has a calendar only the network could give (data stored
    before uploads were fetched); the service refuses to fetch it while answering."""
    return any(
        c.get("caldav") or c.get("ics_path") or (c.get("ics_url") and c["ics_url"] not in snaps)
        for c in member.get("calendars", [])
    )


def busy_on_upload(
    doc: ProgramDocument,
    member_ids: list[str],
    fetched: dict[str, dict[str, str]],
    where: dict[str, str],
) -> dict[str, list[list[int]]]:
    """``{member: [[start, end], ...]}``: the busy time of each member's calendars
    (``ics_url`` ones read from ``fetched``); ``where[member]`` is the member's path."""
    grid = program_grid(doc)
    out: dict[str, list[list[int]]] = {}
    for mid in member_ids:
        member = doc.member(mid)
        prefix = f"{where[mid]}.calendars" if where[mid] else "calendars"
        out[mid] = read_busy(
            member.calendars, fetched.get(mid, {}), doc.member_zone(mid), grid, prefix
        )
    return out


def read_busy(
    sources: Sequence[CalendarSource],
    fetched: dict[str, str],
    zone: ZoneInfo,
    grid: SlotGrid,
    prefix: str = "calendars",
) -> list[list[int]]:
    """One member's calendar busy time over the program's span, as merged
    ``[[start, end], ...]`` in epoch seconds; ``ics_url`` sources are read from
    ``fetched`` (``{url: text}``).

    Calendars are read here, once, when they arrive; heat maps, proposals and plans use
    the stored intervals and never parse calendar text again. A calendar that cannot be
    read is refused: 422 naming it (``{prefix}[j]``).
    """
    start, end = calendar_span(grid)
    texts = [CalendarSource(ics_text=fetched[c.ics_url]) if c.ics_url else c for c in sources]
    remote = {f"{prefix}[{j}]" for j, c in enumerate(sources) if c.ics_url}
    try:
        busy = member_busy(texts, zone, start, end, where=prefix)
    except CalendarError as exc:
        if exc.field in remote:  # what a server answered is never echoed
            field = f"{exc.field}.ics_url"
            raise Invalid(str(exc.without_content().placed(field, field)), field=field) from None
        raise Invalid(str(exc), field=exc.field) from None  # a member's own text: quoted
    return _merged(busy)


def _merged(busy: list[tuple[datetime, datetime]]) -> list[list[int]]:
    """Sorted intervals as epoch seconds, overlapping and touching ones joined."""
    out: list[list[int]] = []
    for s, e in sorted(busy):
        lo, hi = int(s.timestamp()), int(e.timestamp())
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def calendar_source(raw: bytes, kind: str) -> dict[str, Any]:
    """The calendar source a ``PUT …/calendar`` body gives, by its content type ``kind``:
    ``{"ics_url": ...}`` from JSON, ``{"ics_text": ...}`` from an iCalendar body."""
    if kind in ("application/json", ""):
        try:
            sent = json.loads(raw or b"null")
        except (ValueError, RecursionError) as exc:  # RecursionError: [[[[...
            raise Invalid(f"malformed JSON: {json_problem(exc)}") from None
        try:
            url = CalendarUpdate.model_validate(sent).ics_url
        except (ValueError, TypeError):
            raise Invalid(
                'send text/calendar, or JSON {"ics_url": "https://..."} with '
                "an http, https or webcal URL",
                field="ics_url",
            ) from None
        return {"ics_url": url}
    if kind in ("text/calendar", "text/plain"):
        text = raw.decode("utf-8", "replace")
        if not text.strip():
            raise Invalid(
                "the calendar is empty; send an iCalendar (BEGIN:VCALENDAR ...)", field="calendar"
            )
        return {"ics_text": text}
    raise Invalid(
        f"unsupported content type {kind!r}; send text/calendar or application/json",
        field="content-type",
    )
