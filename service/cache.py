"""What a match's heat map, proposals and bookings read, cached per process.

A heat map or proposals request used to read and validate the match's part of the
program document and rasterise its members' weekly windows, time away and calendar busy
time on every call, though these change only when somebody edits a member or a match.
This cache keeps, per program:

- per match, its part of the document *without* the service's sessions and without
  ``now`` (what :func:`service.programs.solving_document` builds with ``sessions=False``);
- per member, the availability row that part gives (windows minus time away, calendar
  busy time and the document's own bookings), before sessions and the past are taken out;
- once, what every part reads of the program (its header and its document's bookings
  with the members each books, :func:`service.programs.program_bookings`), so the first
  request for a match reads only the match, its members and their busy time.

Both are stamped with the program's ``(created_at, roster, header)``
(:func:`service.store.program_stamp`), read before the data an entry is built from: every
write to a member or match bumps ``roster`` in the writing transaction
(:func:`service.store.roster_changed`), and each later read sees at least what the stamp
says, so an entry never holds data older than its stamp and is used only while the
database still holds at least what it was built from, in every server process.
Sessions (bookings, moves, cancellations, plans) are never cached: each request reads
its members' sessions (one indexed query) and takes them out, and the past is taken out
at the request's ``now``.
The result is exactly :func:`ingest.availability.build_availability` of
``solving_document(...)`` (``tests/service/test_cache.py`` checks both).

Memory is bounded: at most ``availability_cache_mb`` (setting) per engine, least recently
used programs dropped first.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

import numpy as np
from sqlalchemy import Connection, Engine

from ingest.availability import Availability, build_availability, program_grid, subtract_busy
from ingest.document import Match, ProgramDocument
from ingest.windows import Intervals

from .store import active_busy, program_stamp

if TYPE_CHECKING:
    from .programs import ProgramBookings

DEFAULT_MB = 256

Stamp = tuple[int, int, str]


@dataclass
class _Program:
    stamp: Stamp
    own_now: bool  # the program's header fixes ``now`` (else each request's clock)
    whole: ProgramBookings | None = None  # read once, by the first part built
    docs: dict[str, ProgramDocument] = field(default_factory=dict)
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    nbytes: int = 0


class ProgramCache:
    """One engine's cache (see the module docstring). Thread-safe: routes that solve run in
    the thread pool."""

    def __init__(self, max_bytes: int = DEFAULT_MB << 20) -> None:
        self.max_bytes = max_bytes
        self._programs: OrderedDict[str, _Program] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _entry(self, conn: Connection, program_id: str) -> _Program:
        """The program's entry for its stamp as the database holds it now (read first:
        whatever is built into the entry afterwards is at least that recent)."""
        stamp = program_stamp(conn, program_id)
        with self._lock:
            entry = self._programs.get(program_id)
            if entry is None or entry.stamp != stamp:
                own_now = json.loads(stamp[2]).get("now") is not None
                entry = self._programs[program_id] = _Program(stamp, own_now)
            self._programs.move_to_end(program_id)
            return entry

    def _added(self, entry: _Program, nbytes: int) -> None:
        with self._lock:
            entry.nbytes += nbytes
            total = sum(p.nbytes for p in self._programs.values())
            # The program just added to goes too if it alone is past the bound: the
            # request that built it still holds what it needs.
            while total > self.max_bytes and self._programs:
                _, dropped = self._programs.popitem(last=False)
                total -= dropped.nbytes

    def _part(
        self, entry: _Program, conn: Connection, program_id: str, match_id: str
    ) -> ProgramDocument:
        """The match's part of the program, without sessions or ``now`` (so that it holds
        whatever the clock says): built once per entry."""
        doc = entry.docs.get(match_id)
        if doc is not None:
            self.hits += 1
            return doc
        self.misses += 1
        from .programs import program_bookings, solving_document  # (imports our users)

        if entry.whole is None:
            entry.whole = program_bookings(conn, program_id)
        doc = solving_document(
            conn, program_id, match=match_id, sessions=False, clock=False, whole=entry.whole
        )
        entry.docs[match_id] = doc
        self._added(entry, _document_bytes(doc))
        return doc

    def document(
        self, conn: Connection, program_id: str, match_id: str, now: datetime | None = None
    ) -> ProgramDocument:
        """The match's part of the program without sessions, with ``now`` (the program's
        own, else ``now``, else the clock): ``solving_document(conn, program_id, now,
        match=match_id, sessions=False)``, from the cache while it holds."""
        entry = self._entry(conn, program_id)
        return _with_now(self._part(entry, conn, program_id, match_id), entry, now)

    def availability(
        self,
        conn: Connection,
        program_id: str,
        match_id: str,
        now: datetime | None = None,
        ignore: str | None = None,
        check: Callable[[Match], None] | None = None,
    ) -> tuple[ProgramDocument, Availability]:
        """The match's part of the program (as :meth:`document`) and its members'
        availability with every session but ``ignore`` busy and the past closed:
        ``build_availability(solving_document(conn, program_id, now, match=match_id,
        ignore=ignore), members=match.members)``. ``check`` sees the match first (a
        refusal comes before any rasterising), from the same entry as the rest."""
        entry = self._entry(conn, program_id)
        base = self._part(entry, conn, program_id, match_id)
        match = base.match(match_id)
        if check is not None:
            check(match)
        doc = _with_now(base, entry, now)
        ids = list(match.members)
        missing = [m for m in ids if m not in entry.rows]
        if missing:
            built = build_availability(base, members=missing)  # no now: nothing closed yet
            for j, m in enumerate(missing):
                entry.rows[m] = np.ascontiguousarray(built.matrix[:, j])
            self._added(entry, built.matrix.nbytes)
        grid = program_grid(doc)
        free = np.stack([entry.rows[m] for m in ids], axis=1)
        col = {m: j for j, m in enumerate(ids)}
        busy = [
            (col[m], start, end)
            for m, start, end, session, _ in active_busy(conn, program_id, ids)
            if session != ignore
        ]
        if busy:
            b = np.asarray(busy, dtype=np.int64)
            subtract_busy(grid, free, Intervals(b[:, 0], b[:, 1], b[:, 2]))
        free[: grid.first_open_slot] = False
        return doc, Availability(grid, tuple(ids), free)

    def clear(self) -> None:
        with self._lock:
            self._programs.clear()


def _document_bytes(doc: ProgramDocument) -> int:
    """About what a parsed match part holds in memory (measured with tracemalloc: some
    600 bytes per interval or window, 1 KB per member, match or booking): each part has
    its own copy of its members, so a mentor in many matches counts in each."""
    intervals = sum(
        len(m.available) + len(m.unavailable) + len(m.weekly or ()) for m in doc.members
    )
    return 4096 + 600 * intervals + 1024 * (len(doc.members) + len(doc.matches) + len(doc.bookings))


def _with_now(doc: ProgramDocument, entry: _Program, now: datetime | None) -> ProgramDocument:
    """``doc`` with the program's ``now``: its own (SPEC 6), else ``now``, else the clock."""
    if entry.own_now:
        return doc
    program = doc.program.model_copy(update={"now": now or datetime.now(UTC)})
    return doc.model_copy(update={"program": program})


_caches: WeakKeyDictionary[Engine, ProgramCache] = WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_of(engine: Engine, max_bytes: int | None = None) -> ProgramCache:
    """The engine's cache (made on first use; ``max_bytes`` sets its bound)."""
    with _caches_lock:
        found = _caches.get(engine)
        if found is None:
            found = _caches[engine] = ProgramCache(max_bytes or DEFAULT_MB << 20)
        elif max_bytes is not None:
            found.max_bytes = max_bytes
        return found


def cached(conn: Connection) -> ProgramCache:
    return cache_of(conn.engine)
