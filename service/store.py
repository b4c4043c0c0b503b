"""The database: programs, members, matches, series, sessions, jobs, tokens, deliveries,
invite jobs, replies, CalDAV write-back.

SQLAlchemy Core on any URL (a SQLite file by default, PostgreSQL by URL). Instants are
stored as integer epoch seconds (64-bit) so every database compares them the same way.
Writes that must not interleave (bookings, plan application, document edits) first bump
the program's ``lock`` counter, which serialises them per program on SQLite and PostgreSQL
alike: SQLite lets one writer at a time in; PostgreSQL holds the row lock of the program to
the end of the transaction, and every later statement (READ COMMITTED) reads what the
previous holder committed. Several server processes can therefore share one database.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import sqlite3
import threading
import time
import weakref
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

try:
    import fcntl
except ImportError:  # not on Windows: processes take turns on SQLite's own lock there
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from ingest.extras import import_extra
from ingest.text import email_key

from . import failpoints, process
from .errors import Conflict, Invalid, NotFound
from .gate import gate_of

metadata = MetaData()

programs = Table(
    "programs",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("header", Text, nullable=False),  # the document's "program" object, JSON
    Column("bookings", Text, nullable=False, default="[]"),  # the document's own bookings
    Column("lock", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    # Bumped by every change to the program's members or matches (:func:`roster_changed`):
    # what the availability cache (service/cache.py) is stamped with. NULL for programs
    # stored before it was kept.
    Column("roster", Integer, default=0),
)

members = Table(
    "members",
    metadata,
    Column("program_id", String(128), ForeignKey("programs.id"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("data", Text, nullable=False),  # the member object, JSON
    # Members stored before busy time was kept: {url: text} snapshots of ICS URLs.
    Column("fetched", Text, nullable=False, default="{}"),
    # The busy time of the member's calendars, read once when they were uploaded:
    # JSON [[start, end], ...] in epoch seconds. NULL for members stored before it was kept.
    Column("busy", Text),
    # Who the member's address is (ingest.text.email_key); "" for a member without one, NULL
    # for a member stored before it was kept (init_db fills those in).
    Column("email_key", Text),
)
Index("ix_members_email_key", members.c.email_key)

matches = Table(
    "matches",
    metadata,
    Column("program_id", String(128), ForeignKey("programs.id"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("data", Text, nullable=False),
)

series = Table(
    "series",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("program_id", String(128), ForeignKey("programs.id"), nullable=False),
    Column("match_id", String(128), nullable=False),
    Column("uid", String(255), nullable=False, unique=True),
    Column("first_start", BigInteger, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("frequency", String(16), nullable=False),
    Column("sessions", Integer, nullable=False),
    Column("members", Text, nullable=False),  # JSON list of member ids booked
    Column("video_url", Text),
    Column("location", Text),
    Column("agenda", Text),
    Column("summary", Text, nullable=False),
    Column("status", String(16), nullable=False, default="scheduled"),
    Column("sequence", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64)),
    Column("plan_job", String(64)),
    # Until when (epoch seconds) a new booking may still be undone: its invites wait
    # until then (deliveries.not_before). NULL: no window (a plan's series, or
    # SLOTWISE_UNDO_SECONDS=0).
    Column("undo_until", BigInteger),
    UniqueConstraint("program_id", "idempotency_key", name="uq_series_idempotency"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("series_id", String(64), ForeignKey("series.id"), nullable=False),
    Column("program_id", String(128), nullable=False),
    Column("match_id", String(128), nullable=False),
    Column("position", Integer, nullable=False),
    Column("original_start", BigInteger, nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, default="scheduled"),
    Column("sequence", Integer, nullable=False, default=0),
)
Index("ix_sessions_series", sessions.c.series_id)

session_members = Table(
    "session_members",
    metadata,
    Column("session_id", String(80), ForeignKey("sessions.id"), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("program_id", String(128), nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("active", Integer, nullable=False, default=1),
)
Index(
    "ix_session_members_busy",
    session_members.c.program_id,
    session_members.c.member_id,
    session_members.c.start,
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("program_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # queued, running, done, failed
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text),
    Column("params", Text, nullable=False, default="{}"),
    Column("result", Text),
    Column("error", Text),
    Column("applied", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    # The owner's heartbeat while queued or running (see fail_orphaned_jobs).
    Column("updated_at", BigInteger, nullable=False),
    Column("owner", Text),  # the server process that runs it (process.identity())
    # When it joined its owner's queue (sub-second), to say how many jobs are ahead of it.
    Column("queued_at", Float),
    # While a finished plan is being applied: the process applying it, how many of its
    # series are written (hidden, status "pending") and when the last chunk committed.
    Column("apply_owner", Text),
    Column("apply_done", Integer),
    Column("apply_at", BigInteger),
)


ACTIVE_JOB = ("queued", "running")
# A series written by a plan application that has not finished: it holds its members'
# time (clash checks see it) but no page, feed or listing shows it, and it owes nobody an
# invite until the whole plan is booked (service/plan_apply.py).
PENDING = "pending"
# Deliveries of such a series, as applies before invite jobs queued them: not sent, and
# removed when that apply is rolled back.
HELD = "held"
JOB_HEARTBEAT_SECONDS = 10
# A job whose owner has not touched it for this long is orphaned, wherever its owner ran.
JOB_STALE_SECONDS = 60
# pg_advisory_xact_lock key ("slotwise" in ASCII) that makes init_db one process at a time.
SCHEMA_LOCK_KEY = 0x736C6F7477697365

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("program_id", String(128)),  # None: every program (a site admin)
    Column("member_id", String(128)),
    Column("label", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),  # None: never expires
)

# A member's calendar feed link: one per member, read-only, opens nothing but the feed.
# Kept apart from ``tokens`` so no lookup of an API token can ever find one.
feed_tokens = Table(
    "feed_tokens",
    metadata,
    Column("program_id", String(128), ForeignKey("programs.id"), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

# Admins by email (service/people.py): a row without a program is a site admin.
admins = Table(
    "admins",
    metadata,
    Column("email_key", Text, nullable=False),
    Column("program_id", String(128), ForeignKey("programs.id")),
    Column("email", Text, nullable=False),  # as it was typed, to mail it
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_admins_email_key", admins.c.email_key, admins.c.program_id)

# One-time sign-in links (service/signin.py): only the SHA-256 of the token is kept.
signin_links = Table(
    "signin_links",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("email_key", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger),
)
Index("ix_signin_links_email_key", signin_links.c.email_key)

# Signed-in browsers (service/signin.py): the SHA-256 of the cookie and of its CSRF token.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("email_key", Text, nullable=False),
    Column("email", Text, nullable=False),  # as recorded when they signed in
    Column("program_id", String(128)),  # the program the page is working in
    Column("csrf_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("program_id", String(128), nullable=False),
    Column("series_id", String(64)),
    Column("recipient", Text, nullable=False),
    Column("method", String(16), nullable=False),
    Column("message", Text, nullable=False),  # the whole RFC 5322 message
    # pending, sending (claimed by a sender), sent, failed (never deliverable: last_error)
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger),
    # Not sent before this instant (epoch seconds): a new booking's undo window. NULL: now.
    Column("not_before", BigInteger),
)

# What a change to a series owes its attendees, written in the change's own (locked)
# transaction: building the invites takes far longer than the change, so it happens after
# the commit (notify.build_jobs turns each job into its ``deliveries``). Jobs of one series
# are built one at a time in ``position`` order, so what attendees get keeps that order.
invite_jobs = Table(
    "invite_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("program_id", String(128), nullable=False),
    Column("series_id", String(64), nullable=False),
    Column("session_id", String(80)),  # a single occurrence cancelled; NULL: the series
    Column("method", String(16), nullable=False),  # REQUEST or CANCEL
    Column("note", Text),  # the canceller's note to the attendees
    Column("position", Integer, nullable=False),  # order among the series' jobs
    # pending, building (claimed: ``claim`` says by whom), failed (never buildable)
    Column("status", String(16), nullable=False, default="pending"),
    Column("claim", String(32)),
    Column("claimed_at", BigInteger),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_invite_jobs_series", invite_jobs.c.series_id, invite_jobs.c.position)

# What members answered to their invites (iTIP REPLY, service/replies.py): one row per
# member and series (``session_id`` "") or occurrence, the newest answer of each. No
# foreign key to ``series``: undoing a booking deletes the series whatever was answered.
replies = Table(
    "replies",
    metadata,
    Column("series_id", String(64), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("session_id", String(80), primary_key=True),  # "": the whole series
    Column("program_id", String(128), nullable=False),
    Column("partstat", String(16), nullable=False),  # ACCEPTED, DECLINED or TENTATIVE
    Column("sequence", Integer, nullable=False),  # the SEQUENCE the reply answered
    Column("dtstamp", BigInteger, nullable=False),  # the reply's DTSTAMP, epoch seconds
    Column("received_at", BigInteger, nullable=False),
)

# Members' CalDAV calendars that booked series are written into (service/writeback.py):
# one per member. The password is stored as given (docs/calendars.md says so): an
# app-specific password, which the member can revoke. No API answer or log shows it.
caldav_links = Table(
    "caldav_links",
    metadata,
    Column("program_id", String(128), ForeignKey("programs.id"), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("url", Text, nullable=False),  # the calendar collection, ending in "/"
    Column("username", Text, nullable=False),
    Column("password", Text, nullable=False),
    # ok (written to), gone (the collection is no more), unauthorised (401/403)
    Column("status", String(16), nullable=False),
    Column("last_error", Text),
    Column("last_write_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
)

# What each connected member's calendar should hold of each series they are in, and what
# it holds: one row per (member, series). A change to the series bumps ``wanted``; the
# writer (service/caldav_write.py) writes the series as it is then and sets ``done`` to
# the ``wanted`` it wrote, so changes made while the server was down end in one write of
# the latest state, not a replay.
caldav_writes = Table(
    "caldav_writes",
    metadata,
    Column("program_id", String(128), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("series_id", String(64), primary_key=True),  # no foreign key: undo deletes it
    Column("uid", String(255), nullable=False),
    Column("href", Text),  # the event's URL once written
    Column("etag", Text),  # the ETag of our last write
    Column("wanted", Integer, nullable=False, default=1),
    Column("done", Integer, nullable=False, default=0),
    # 1: the member deleted the event in their calendar; it is not written again.
    Column("removed", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", BigInteger),  # not tried again before (backoff); NULL: now
    Column("last_error", Text),
    Column("claim", String(32)),
    Column("claimed_at", BigInteger),
)
Index("ix_caldav_writes_series", caldav_writes.c.series_id)

# Columns added to tables after their first release: create_all adds only whole tables.
LATER_COLUMNS = [
    (programs, "roster"),
    (jobs, "owner"),
    (jobs, "queued_at"),
    (jobs, "apply_owner"),
    (jobs, "apply_done"),
    (jobs, "apply_at"),
    (tokens, "expires_at"),
    (members, "busy"),
    (members, "email_key"),
    (series, "undo_until"),
    (deliveries, "not_before"),
]
# Indexes on those columns: create_all makes an index only with its table.
LATER_INDEXES = [idx for idx in members.indexes if idx.name == "ix_members_email_key"]


def now_epoch() -> int:
    return int(time.time())


def make_engine(url: str, busy_seconds: float = 30.0) -> Engine:
    """An engine with what each database needs for concurrent writers; on SQLite a
    statement waits up to ``busy_seconds`` for another writer before it fails."""
    engine = _engine(url, busy_seconds)
    failpoints.install(engine)  # inert unless a crash test asks for it
    return engine


def _engine(url: str, busy_seconds: float) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": busy_seconds, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            _journal_wal(cur)
            cur.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith(("postgresql://", "postgres://")):  # psycopg 3, not psycopg2
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg://"):
        import_extra("psycopg", "postgres", "a PostgreSQL database")
    # pre_ping: a server restart or a dropped idle connection costs a retry, not a 500.
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _journal_wal(cursor: Any) -> None:
    """Switch a SQLite file to WAL. That needs the file to itself for a moment, which the
    busy timeout does not wait for: workers opening a new file together retry briefly."""
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, executemany: bool
) -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite can): refuse it as bad input (422)
    instead of failing in the driver (500)."""
    for row in parameters if executemany else [parameters]:
        values = row.values() if isinstance(row, dict) else row or ()
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise Invalid("text may not contain the NUL character (U+0000)")


def init_db(engine: Engine) -> None:
    """Create missing tables and columns; fail the jobs whose server is gone.

    Every server process (each uvicorn worker) runs this when it starts, possibly while
    other processes serve requests and run jobs: a job is failed only when its owner is
    gone (:func:`fail_orphaned_jobs`), never because another process started.
    """
    with engine.connect() as conn:
        # Workers start together: one at a time here, or their CREATE TABLEs collide.
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        metadata.create_all(conn)
        for table, name in LATER_COLUMNS:
            if name not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
                kind = table.c[name].type.compile(conn.dialect)
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))
        for index in LATER_INDEXES:
            index.create(conn, checkfirst=True)
        backfill_email_keys(conn)
        fail_orphaned_jobs(conn)
        roll_back_orphaned_applies(conn)
        conn.commit()


def _member_email_key(data: dict[str, Any]) -> str:
    email = data.get("email")
    return email_key(email) if isinstance(email, str) else ""


def backfill_email_keys(conn: Connection) -> int:
    """Fill ``members.email_key`` of members stored before it was kept; how many."""
    rows = conn.execute(
        select(members.c.program_id, members.c.id, members.c.data).where(
            members.c.email_key.is_(None)
        )
    ).all()
    for r in rows:
        conn.execute(
            update(members)
            .where((members.c.program_id == r.program_id) & (members.c.id == r.id))
            .values(email_key=_member_email_key(json.loads(r.data)))
        )
    return len(rows)


def fail_orphaned_jobs(
    conn: Connection, job_id: str | None = None, program_id: str | None = None
) -> int:
    """Report failed every queued or running job (or just ``job_id``, or those of
    ``program_id``) whose owner is gone:
    a process on this machine that no longer runs, or any owner that has not touched the
    job for JOB_STALE_SECONDS (its heartbeat beats every JOB_HEARTBEAT_SECONDS), or no
    recorded owner (a job from before owners were kept). Returns how many."""
    q = select(jobs.c.id, jobs.c.owner, jobs.c.updated_at).where(jobs.c.status.in_(ACTIVE_JOB))
    if job_id is not None:
        q = q.where(jobs.c.id == job_id)
    if program_id is not None:
        q = q.where(jobs.c.program_id == program_id)
    now = now_epoch()
    failed = 0
    for row in conn.execute(q).all():
        reason = _orphaned(row.owner, row.updated_at)
        if reason is None:
            continue
        failed += conn.execute(
            update(jobs)
            .where((jobs.c.id == row.id) & jobs.c.status.in_(ACTIVE_JOB))
            .values(
                status="failed",
                message="failed",
                updated_at=now,
                error=f"interrupted: {reason}; start the plan again",
            )
        ).rowcount
    return failed


def _orphaned(owner: str | None, touched: int | None) -> str | None:
    """Why work recorded as ``owner``'s, last touched at ``touched``, has no owner any
    more (None: its owner may still be at it)."""
    if owner is None or process.owner_alive(owner) is False:
        return "the server process running it stopped"
    if (touched or 0) < now_epoch() - JOB_STALE_SECONDS:
        return f"its server has not reported on it for over {JOB_STALE_SECONDS} s"
    return None


def roll_back_orphaned_applies(conn: Connection, program_id: str | None = None) -> int:
    """Undo every unfinished plan application (of ``program_id``) whose process is gone:
    the series it wrote are still hidden ("pending") and owe no invite yet, so removing
    them leaves the program as it was before the apply began. Returns how many."""
    q = select(jobs.c.id, jobs.c.apply_owner, jobs.c.apply_at).where(
        jobs.c.apply_owner.is_not(None) & (jobs.c.applied == 0)
    )
    if program_id is not None:
        q = q.where(jobs.c.program_id == program_id)
    undone = 0
    for row in conn.execute(q).all():
        if _orphaned(row.apply_owner, row.apply_at) is not None:
            roll_back_apply(conn, row.id)
            undone += 1
    return undone


def roll_back_apply(conn: Connection, job_id: str) -> None:
    """Remove what an unfinished application of plan ``job_id`` wrote (set-based: a few
    statements whatever the plan's size) and release it, so it can be applied again."""
    hidden = select(series.c.id).where((series.c.plan_job == job_id) & (series.c.status == PENDING))
    their_sessions = select(sessions.c.id).where(sessions.c.series_id.in_(hidden))
    # The apply writes invite jobs only with the transaction that shows its series, so
    # none should be here; whatever is, goes with its series.
    conn.execute(invite_jobs.delete().where(invite_jobs.c.series_id.in_(hidden)))
    conn.execute(
        deliveries.delete().where(
            deliveries.c.series_id.in_(hidden) & (deliveries.c.status == HELD)
        )
    )
    conn.execute(session_members.delete().where(session_members.c.session_id.in_(their_sessions)))
    conn.execute(sessions.delete().where(sessions.c.series_id.in_(hidden)))
    conn.execute(
        series.delete().where((series.c.plan_job == job_id) & (series.c.status == PENDING))
    )
    conn.execute(
        update(jobs)
        .where((jobs.c.id == job_id) & (jobs.c.applied == 0))
        .values(apply_owner=None, apply_done=None, apply_at=None)
    )


@contextmanager
def locked(engine: Engine, program_id: str) -> Iterator[Connection]:
    """A transaction holding the program's write lock (see the module docstring).

    Requests of this process queue for it on a lock of their own first: they take turns
    at once, in order, instead of each polling the database (SQLite's busy handler sleeps
    up to 100 ms between tries, so under load a waiter could lose turn after turn) and
    instead of each holding a pooled connection while PostgreSQL makes it wait. On a
    SQLite file, processes take turns the same way, on an OS lock (:func:`_file_lock`);
    the database's own lock still orders them in any case."""
    key = _lock_key(engine, program_id)
    with ExitStack() as held:
        # A request computing in a slot (service/gate.py) frees it while it waits, and
        # gets one back first once it holds the lock.
        with gate_of(engine).paused():
            held.enter_context(_process_lock(engine, key))
            held.enter_context(_file_lock(engine, key))
        conn = held.enter_context(engine.begin())
        hit = conn.execute(
            update(programs).where(programs.c.id == program_id).values(lock=programs.c.lock + 1)
        )
        if hit.rowcount == 0:
            raise NotFound(f'unknown program "{program_id}"')
        yield conn


_locks: WeakKeyDictionary[Engine, dict[str | int, threading.RLock]] = WeakKeyDictionary()
_locks_guard = threading.Lock()


def _process_lock(engine: Engine, key: str | int) -> threading.RLock:
    """This process's lock for the program's writes (one per engine and program)."""
    with _locks_guard:
        per_engine = _locks.setdefault(engine, {})
        lock = per_engine.get(key)
        if lock is None:
            lock = per_engine[key] = threading.RLock()
        return lock


def _sqlite_file(engine: Engine) -> str | None:
    """The file of a SQLite engine (None: another database, or SQLite in memory)."""
    if engine.dialect.name != "sqlite":
        return None
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return _real_path(name)


@functools.lru_cache(maxsize=256)
def _real_path(name: str) -> str:
    """One lock file descriptor per file, however its path is spelled."""
    return os.path.realpath(name)


def _lock_key(engine: Engine, program_id: str) -> str | int:
    """What the program's lock is keyed by: on a SQLite file, the byte of the lock file
    that stands for it (two programs may share one, and then take turns: harmless, and
    needed, since an OS lock belongs to the process, not to a thread)."""
    if _sqlite_file(engine) is None:
        return program_id
    return zlib.crc32(program_id.encode()) & 0x7FFFFFFF


_lock_users: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()
_lock_fds: dict[str, list[int]] = {}  # lock file -> [descriptor, engines using it]


def _lock_fd(engine: Engine, path: str) -> int:
    """The descriptor of ``path``'s lock file, one per file in this process, closed when
    the last engine using it is gone (closing any descriptor of a file drops every OS
    lock the process holds on it, so engines of one file share it)."""
    with _locks_guard:
        if engine not in _lock_users:
            entry = _lock_fds.get(path)
            if entry is None:
                fd = os.open(path + "-locks", os.O_RDWR | os.O_CREAT, 0o600)
                entry = _lock_fds[path] = [fd, 0]
            entry[1] += 1
            _lock_users[engine] = path
            weakref.finalize(engine, _drop_lock_fd, path)
        return _lock_fds[path][0]


def _drop_lock_fd(path: str) -> None:
    with _locks_guard:
        entry = _lock_fds.get(path)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del _lock_fds[path]
                os.close(entry[0])


@contextmanager
def _file_lock(engine: Engine, key: str | int) -> Iterator[None]:
    """On a SQLite file: an exclusive OS lock (``fcntl.lockf``) on byte ``key`` of
    ``<file>-locks``, held until the transaction ends. A process waiting for it sleeps in
    the kernel and wakes the moment it is released, where SQLite's busy handler would poll
    (sleeping up to 100 ms between tries: with two workers, a booking waited seconds for
    a lock long free). The lock goes with the process: a killed worker holds none."""
    path = _sqlite_file(engine)
    if path is None or not isinstance(key, int) or fcntl is None:
        yield
        return
    fd = _lock_fd(engine, path)
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, key)
            break
        except OSError as exc:
            # POSIX locks belong to the process: a thread here waiting for one program's
            # byte while another thread holds another's, crossed with a second process,
            # looks like a deadlock to the kernel (EDEADLK) though each holder finishes.
            # Nobody holds one program's lock while waiting for another's: try again.
            if exc.errno != errno.EDEADLK:
                raise
            time.sleep(0.005)
    try:
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, key)


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def program_exists(conn: Connection, program_id: str) -> bool:
    return (
        conn.execute(select(programs.c.id).where(programs.c.id == program_id)).first() is not None
    )


def insert_program(
    conn: Connection, data: dict[str, Any], busy: dict[str, list[list[int]]] | None = None
) -> None:
    """Store a validated program document (as a JSON-ready dict) and the busy time read
    from its members' calendars (``{member: [[start, end], ...]}``, see
    ``uploads.busy_on_upload``; without it, calendars are read when solving)."""
    pid = data["program"]["id"]
    try:
        conn.execute(
            programs.insert().values(
                id=pid,
                header=dump_json(data["program"]),
                bookings=dump_json(data["bookings"]),
                lock=0,
                created_at=now_epoch(),
            )
        )
    except IntegrityError:
        raise Conflict(f'program "{pid}" already exists', field="program.id") from None
    seen: dict[str, int] = {}
    for i, m in enumerate(data["members"]):
        key = _member_email_key(m)
        if key and key in seen:
            raise Invalid(
                f"{m['email']} is also the address of members[{seen[key]}]; each person in "
                "a program has an address of their own",
                field=f"members[{i}].email",
            )
        seen.setdefault(key, i)
    if data["members"]:
        conn.execute(
            members.insert(),
            [
                {
                    "program_id": pid,
                    "id": m["id"],
                    "position": i,
                    "data": dump_json(m),
                    "fetched": "{}",
                    "busy": None if busy is None else dump_json(busy.get(m["id"], [])),
                    "email_key": _member_email_key(m),
                }
                for i, m in enumerate(data["members"])
            ],
        )
    if data["matches"]:
        conn.execute(
            matches.insert(),
            [
                {"program_id": pid, "id": x["id"], "position": i, "data": dump_json(x)}
                for i, x in enumerate(data["matches"])
            ],
        )


def document_data(conn: Connection, program_id: str) -> dict[str, Any]:
    """The program document as stored (a dict), without sessions booked here."""
    row = program_row(conn, program_id)
    ms = conn.execute(
        select(members.c.data)
        .where(members.c.program_id == program_id)
        .order_by(members.c.position)
    ).scalars()
    xs = conn.execute(
        select(matches.c.data)
        .where(matches.c.program_id == program_id)
        .order_by(matches.c.position)
    ).scalars()
    return {
        "version": 1,
        "program": json.loads(row.header),
        "members": [json.loads(m) for m in ms],
        "matches": [json.loads(x) for x in xs],
        "bookings": json.loads(row.bookings),
    }


def program_summaries(conn: Connection) -> list[dict[str, Any]]:
    """Every program's id and name (``ProgramSummary``)."""
    rows = conn.execute(select(programs.c.id, programs.c.header)).all()
    return [{"id": r.id, "name": json.loads(r.header).get("name")} for r in rows]


def roster_changed(conn: Connection, program_id: str) -> None:
    """Say that the program's members or matches changed (in the writing transaction):
    every process's cached availability of the program is stale from its commit on."""
    conn.execute(
        update(programs)
        .where(programs.c.id == program_id)
        .values(roster=func.coalesce(programs.c.roster, 0) + 1)
    )


def program_stamp(conn: Connection, program_id: str) -> tuple[int, int, str]:
    """What a program's cached availability is good for: (created_at, roster, header)."""
    found = _STAMP.rows(conn, {"program": program_id})
    if not found:
        raise NotFound(f'unknown program "{program_id}"')
    created_at, roster, header = found[0]
    return int(created_at), int(roster or 0), str(header)


class _Read:
    """A read every heat map, proposals or booking runs, run on the connection's DBAPI
    cursor: SQLAlchemy's ``execute`` costs 60-110 us a statement here (its cache key, an
    expanding IN rendered anew, the result object), the cursor 10 us, and a cold heat
    map runs four of these. The select is compiled once per dialect and IN-list length,
    so its SQL is still SQLAlchemy's; only for columns whose values need no result
    processing (text and integers). An IN list longer than ``SHORT`` (a plan's or a big
    group's members) goes through ``Connection.execute``: one compiled form per length
    would be kept forever, and its size grows with the length.

    Like ``execute`` it begins the connection's transaction if none is open, runs the
    engine's ``before_cursor_execute`` listeners (without an execution context: the NUL
    check on PostgreSQL, the crash tests' failpoints, the race tests' pauses), and raises
    a driver error as SQLAlchemy's (a locked database is app.py's 503), invalidating the
    connection on a disconnect. It logs nothing and runs no ``after_cursor_execute``."""

    SHORT = 64

    def __init__(self, stmt: Any, expanding: str | None = None) -> None:
        self.stmt, self.expanding = stmt, expanding
        self._sql: dict[tuple[str, str, int], tuple[str, list[Any] | dict[str, Any]]] = {}

    def _compiled(self, dialect: Any, n: int) -> tuple[str, list[Any] | dict[str, Any]]:
        """The driver's SQL for an IN list of ``n`` items and where each placeholder's
        value comes from: in placeholder order (positional paramstyles) or by name."""
        key = (dialect.name, dialect.driver, n)
        found = self._sql.get(key)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            # The named parameters; a literal's anonymous one keeps its value.
            slots: dict[str, Any] = {
                name: _Slot(name, None) for name, b in compiled.binds.items() if b.required
            }
            if self.expanding is not None:
                slots[self.expanding] = [_Slot(self.expanding, i) for i in range(n)]
            state = compiled.construct_expanded_state(slots)
            values = state.parameters
            recipe: list[Any] | dict[str, Any] = (
                [values[name] for name in state.positiontup]
                if state.positiontup is not None
                else dict(values)
            )
            found = self._sql[key] = (state.statement, recipe)
        return found

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        n = len(params[self.expanding]) if self.expanding is not None else 0
        if n > self.SHORT:
            return [tuple(r) for r in conn.execute(self.stmt, params)]
        sql, recipe = self._compiled(conn.dialect, n)
        args: Any = (
            tuple(_Slot.value(at, params) for at in recipe)
            if isinstance(recipe, list)
            else {name: _Slot.value(at, params) for name, at in recipe.items()}
        )
        if not conn.in_transaction():
            conn.begin()  # SQLAlchemy's autobegin, which its execute would do
        dbapi = conn.connection
        cursor = None
        try:
            cursor = dbapi.cursor()
            if conn.dispatch.before_cursor_execute:
                conn.dispatch.before_cursor_execute(conn, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            return list(cursor.fetchall())
        except conn.dialect.loaded_dbapi.Error as exc:
            gone = conn.dialect.is_disconnect(exc, dbapi.dbapi_connection, cursor)
            if gone:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                sql,
                args,
                exc,
                conn.dialect.loaded_dbapi.Error,
                connection_invalidated=gone,
                dialect=conn.dialect,
            ) from exc
        finally:
            if cursor is not None:
                with contextlib.suppress(Exception):  # a dead connection's cursor
                    cursor.close()


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a placeholder's value comes from: parameter ``name`` (item ``i`` of its list)."""

    name: str
    i: int | None

    @staticmethod
    def value(at: Any, params: dict[str, Any]) -> Any:
        """The value for a placeholder: from ``params`` at a slot, else the literal."""
        if not isinstance(at, _Slot):
            return at
        return params[at.name] if at.i is None else params[at.name][at.i]


# Statements every heat map, proposals or booking runs, built once with parameters:
# building one (and its cache key) cost about as much as running it.
_STAMP = _Read(
    select(programs.c.created_at, programs.c.roster, programs.c.header).where(
        programs.c.id == bindparam("program")
    )
)
_PROGRAM_ROW = select(programs.c.header, programs.c.bookings).where(
    programs.c.id == bindparam("program")
)
_MATCHES_OF = _Read(
    select(matches.c.data).where(
        (matches.c.program_id == bindparam("program"))
        & matches.c.id.in_(bindparam("ids", expanding=True))
    ),
    "ids",
)
_MEMBERS_OF = (
    select(members.c.data)
    .where(
        (members.c.program_id == bindparam("program"))
        & members.c.id.in_(bindparam("ids", expanding=True))
    )
    .order_by(members.c.position)
)
_MEMBERS_AND_BUSY_OF = _Read(
    _MEMBERS_OF.add_columns(members.c.id, members.c.busy, members.c.fetched), "ids"
)
_BUSY = select(members.c.id, members.c.busy, members.c.fetched).where(
    members.c.program_id == bindparam("program")
)
_ACTIVE_BUSY = (
    select(
        session_members.c.member_id,
        session_members.c.start,
        session_members.c.end,
        session_members.c.session_id,
        sessions.c.match_id,
    )
    .join(sessions, sessions.c.id == session_members.c.session_id)
    .where((session_members.c.program_id == bindparam("program")) & (session_members.c.active == 1))
)
_ACTIVE_BUSY_OF = _Read(
    _ACTIVE_BUSY.where(session_members.c.member_id.in_(bindparam("members", expanding=True))),
    "members",
)


def replace_member_data(
    conn: Connection, program_id: str, member_id: str, data: dict[str, Any]
) -> None:
    """Replace a stored member's object (its calendars' busy time stays)."""
    conn.execute(
        update(members)
        .where((members.c.program_id == program_id) & (members.c.id == member_id))
        .values(data=dump_json(data))
    )
    roster_changed(conn, program_id)


def replace_match_data(conn: Connection, program_id: str, data: dict[str, Any]) -> None:
    """Replace a stored match's object."""
    conn.execute(
        update(matches)
        .where((matches.c.program_id == program_id) & (matches.c.id == data["id"]))
        .values(data=dump_json(data))
    )
    roster_changed(conn, program_id)


def program_row(conn: Connection, program_id: str) -> Any:
    """The program's stored header and document bookings (JSON text)."""
    row = conn.execute(_PROGRAM_ROW, {"program": program_id}).first()
    if row is None:
        raise NotFound(f'unknown program "{program_id}"')
    return row


def matches_data(conn: Connection, program_id: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Some matches' stored objects, by id (unknown ids are left out)."""
    if not ids:
        return {}
    rows = _MATCHES_OF.rows(conn, {"program": program_id, "ids": sorted(ids)})
    return {x["id"]: x for x in (json.loads(data) for (data,) in rows)}


def members_data(conn: Connection, program_id: str, ids: set[str]) -> list[dict[str, Any]]:
    """Some members' stored objects, in document order (unknown ids are left out)."""
    if not ids:
        return []
    rows = conn.execute(_MEMBERS_OF, {"program": program_id, "ids": sorted(ids)}).scalars()
    return [json.loads(r) for r in rows]


def members_and_busy(
    conn: Connection, program_id: str, ids: set[str]
) -> tuple[list[dict[str, Any]], dict[str, list[list[int]] | dict[str, str]]]:
    """``members_data`` and ``stored_busy`` of the same members, in one query (a match's
    part of the program reads both, for every cold heat map and proposals)."""
    if not ids:
        return [], {}
    rows = _MEMBERS_AND_BUSY_OF.rows(conn, {"program": program_id, "ids": sorted(ids)})
    return [json.loads(data) for data, *_ in rows], {m: _busy_of(b, f) for _, m, b, f in rows}


def _busy_of(busy: str | None, fetched: str | None) -> list[list[int]] | dict[str, str]:
    """A members row's calendar busy time, or the copies of calendars stored before it."""
    found: list[list[int]] | dict[str, str] = (
        json.loads(busy) if busy is not None else json.loads(fetched or "{}")
    )
    return found


def stored_busy(conn: Connection, program_id: str) -> dict[str, list[list[int]] | dict[str, str]]:
    """Per member of the program, the busy time read from its calendars at upload (a list
    of [start, end]); for members stored before that was kept, the stored copies of their
    calendar URLs (``{url: text}``) instead. Some members': :func:`members_and_busy`."""
    return {r.id: _busy_of(r.busy, r.fetched) for r in conn.execute(_BUSY, {"program": program_id})}


def count_rows(conn: Connection, table: Table, program_id: str) -> int:
    """How many members or matches a program has."""
    return conn.execute(
        select(func.count()).select_from(table).where(table.c.program_id == program_id)
    ).scalar_one()


def email_owner(conn: Connection, program_id: str, key: str, other_than: str) -> str | None:
    """Which member of the program, other than ``other_than``, has the address whose
    ``email_key`` is ``key`` (None when nobody, or for a member without an address)."""
    if not key:
        return None
    found: str | None = conn.execute(
        select(members.c.id)
        .where(
            (members.c.program_id == program_id)
            & (members.c.email_key == key)
            & (members.c.id != other_than)
        )
        .limit(1)
    ).scalar()
    return found


def upsert_member(
    conn: Connection, program_id: str, data: dict[str, Any], busy: list[list[int]]
) -> bool:
    """Create or replace one member and its calendars' busy time; True if it was created.
    An address is one person's in a program (sign-in finds people by it; invites go to
    it): one another member has is refused."""
    mid = data["id"]
    other = email_owner(conn, program_id, _member_email_key(data), mid)
    if other is not None:
        raise Invalid(
            f'{data["email"]} is already the address of member "{other}"; '
            "each person in a program has an address of their own",
            field="email",
        )
    found = conn.execute(
        select(members.c.position).where(
            (members.c.program_id == program_id) & (members.c.id == mid)
        )
    ).first()
    if found is None:
        last = conn.execute(
            select(members.c.position)
            .where(members.c.program_id == program_id)
            .order_by(members.c.position.desc())
            .limit(1)
        ).scalar()
        conn.execute(
            members.insert().values(
                program_id=program_id,
                id=mid,
                position=(last or 0) + 1,
                data=dump_json(data),
                fetched="{}",
                busy=dump_json(busy),
                email_key=_member_email_key(data),
            )
        )
        roster_changed(conn, program_id)
        return True
    values: dict[str, Any] = {
        "data": dump_json(data),
        "fetched": "{}",
        "busy": dump_json(busy),
        "email_key": _member_email_key(data),
    }
    conn.execute(
        update(members)
        .where((members.c.program_id == program_id) & (members.c.id == mid))
        .values(**values)
    )
    roster_changed(conn, program_id)
    return False


def insert_match(conn: Connection, program_id: str, data: dict[str, Any]) -> None:
    last = conn.execute(
        select(matches.c.position)
        .where(matches.c.program_id == program_id)
        .order_by(matches.c.position.desc())
        .limit(1)
    ).scalar()
    try:
        conn.execute(
            matches.insert().values(
                program_id=program_id, id=data["id"], position=(last or 0) + 1, data=dump_json(data)
            )
        )
    except IntegrityError:
        raise Conflict(f'match "{data["id"]}" already exists', field="id") from None
    roster_changed(conn, program_id)


def active_busy(
    conn: Connection, program_id: str, member_ids: list[str] | None = None
) -> list[tuple[str, int, int, str, str]]:
    """(member, start, end, session id, match id) of every scheduled or completed session."""
    if member_ids is None:
        return [tuple(r) for r in conn.execute(_ACTIVE_BUSY, {"program": program_id})]
    found = _ACTIVE_BUSY_OF.rows(conn, {"program": program_id, "members": member_ids})
    return [tuple(r) for r in found]
