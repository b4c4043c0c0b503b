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

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from ingest import ics_source
from ingest.availability import program_grid
from ingest.document import ProgramDocument
from ingest.errors import CalendarError

from .config import Settings
from .errors import Invalid
from .netguard import guard_for


async def fetch_uploaded(doc: ProgramDocument, member_ids: list[str], settings: Settings,
                         where: dict[str, str]) -> dict[str, dict[str, str]]:
    """``{member: {url: text}}`` for the ``ics_url`` calendars of ``member_ids``; each
    calendar is checked to parse. ``where`` gives each member's field path."""
    grid = program_grid(doc)
    out: dict[str, dict[str, str]] = {}
    for mid in member_ids:
        member = doc.member(mid)
        for j, cal in enumerate(member.calendars):
            field = f"{where[mid]}.calendars[{j}]" if where[mid] else f"calendars[{j}]"
            if cal.ics_path is not None:
                raise Invalid("ics_path is not accepted by the service (it would read the "
                              "server's files); send ics_text or ics_url", field=field)
            if cal.caldav is not None:
                raise Invalid("CalDAV calendars are not read by the service; send ics_text "
                              "or an ics_url", field=f"{field}.caldav")
            if cal.ics_url is None:
                continue
            try:
                text = await fetch_text(cal.ics_url, settings)
                await run_in_threadpool(ics_source.busy_from_ics, text, doc.member_zone(mid),
                                        grid.t0, grid.t_end)
            except CalendarError as exc:  # what the server answered is never echoed
                raise Invalid(f"{field}.ics_url: {exc.without_content()}",
                              field=f"{field}.ics_url") from None
            out.setdefault(mid, {})[cal.ics_url] = text
    return out


async def fetch_text(url: str, settings: Settings) -> str:
    """The calendar at ``url``, fetched through the private-address guard, within the
    service's time and size limits (CalendarError otherwise; 503 when too many fetches
    are under way)."""
    with _FETCHES.slot(settings):
        data = await ics_source.fetch_ics_async(url, timeout=settings.ics_timeout,
                                                max_bytes=settings.ics_max_bytes,
                                                guard=guard_for(settings))
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
                raise HTTPException(503, detail=f"{self.running} calendar URLs are being "
                                    f"fetched already; try again in {wait} s",
                                    headers={"Retry-After": str(wait)})
            self.running += 1
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1


_FETCHES = _Fetches()


def unfetched(data: dict[str, Any], fetched: dict[str, dict[str, str]]) -> str | None:
    """The first member calendar that would need the network, if any (data stored before
    uploads were fetched); the service refuses to fetch it while answering."""
    for m in data["members"]:
        for c in m.get("calendars", []):
            if c.get("caldav") or c.get("ics_path") or (
                    c.get("ics_url") and c["ics_url"] not in fetched.get(m["id"], {})):
                return m["id"]
    return None
