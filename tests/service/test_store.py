"""The store behaves the same on SQLite and PostgreSQL: the program lock serialises
writers across connections, instants past 2038 fit, bad text is bad input, members of
older databases get their email keys."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import select, update

from ingest.text import email_key
from service import booking
from service.errors import Invalid
from service.people import identities
from service.programs import document_now, solving_document, validated
from service.store import (
    init_db,
    insert_program,
    locked,
    make_engine,
    members,
    members_and_busy,
    members_data,
    programs,
    stored_busy,
)
from tests.service.sample import program


def _create(engine, data: dict) -> None:
    with engine.begin() as conn:
        insert_program(conn, validated(data).model_dump(mode="json", exclude_none=True))


def test_lock_waits_for_its_holder_then_reads_what_it_committed(engine):
    """A second writer of the same program waits until the first commits, and its reads
    (the clash check) see what the first wrote."""
    _create(engine, program())
    inside, waited = threading.Event(), []

    def holder() -> None:
        with locked(engine, "p1") as conn:
            inside.set()
            time.sleep(0.5)
            conn.execute(
                update(programs)
                .where(programs.c.id == "p1")
                .values(bookings='["written by the holder"]')
            )

    first = threading.Thread(target=holder)
    first.start()
    assert inside.wait(10)
    t0 = time.monotonic()
    with locked(engine, "p1") as conn:
        waited.append(time.monotonic() - t0)
        seen = conn.execute(select(programs.c.bookings).where(programs.c.id == "p1")).scalar()
    first.join()
    assert waited[0] > 0.3
    assert seen == '["written by the holder"]'


def test_sessions_after_2038_are_stored(engine):
    """Instants are 64-bit epoch seconds: a program in 2040 books like any other."""
    data = program()
    data["program"].update(start="2040-03-05", end="2040-04-30", now="2040-03-01T00:00:00Z")
    _create(engine, data)
    with locked(engine, "p1") as conn:
        doc = solving_document(conn, "p1")
        match = doc.match("mia-al")
        req = booking.request_for(
            doc, match, {"first_start": datetime.fromisoformat("2040-03-06T10:00:00-05:00")}
        )
        wanted = booking.occurrences(doc, match, req, document_now(doc))
        sid = booking.insert_all(conn, [booking.new_series(doc, "p1", match, req, wanted)])[0]
    with engine.connect() as conn:
        sessions = booking.series_public(conn, "p1", sid)["sessions"]
    assert [s["start"] for s in sessions] == [
        "2040-03-06T10:00:00-05:00",
        "2040-03-13T10:00:00-04:00",
        "2040-03-20T10:00:00-04:00",
        "2040-03-27T10:00:00-04:00",
    ]


def test_nul_in_text_is_bad_input_on_postgresql(engine, db_url):
    """PostgreSQL cannot store U+0000 in text: that is refused as Invalid (422), not a
    driver error (500). SQLite stores it."""
    _create(engine, program())
    write = update(programs).where(programs.c.id == "p1").values(bookings="[]\x00")
    if db_url.startswith("sqlite"):
        with engine.begin() as conn:
            conn.execute(write)
        return
    with pytest.raises(Invalid, match="NUL"), engine.begin() as conn:
        conn.execute(write)
    with engine.connect() as conn:  # the connection is fine afterwards
        assert conn.execute(select(programs.c.bookings)).scalar() == "[]"


def test_members_stored_before_email_keys_get_them_at_start(engine):
    """Members written before ``members.email_key`` existed (NULL) are given their key by
    init_db, so they can sign in (``JÖRG@…`` finds ``jörg@…``); the organizer lookup
    (a LIKE on the match JSON) finds facilitators on every database."""
    data = program()
    data["members"][1]["email"] = "jörg@example.de"
    _create(engine, data)
    with engine.begin() as conn:
        conn.execute(update(members).values(email_key=None))
    init_db(engine)
    with engine.connect() as conn:
        keys = dict(conn.execute(select(members.c.id, members.c.email_key)).all())
        assert keys["al"] == "jörg@example.de" and keys["mia"] == "mia@example.org"
        mine = identities(conn, email_key("JÖRG@EXAMPLE.DE"))
        assert [(i["program"], i["role"], i["member"]) for i in mine] == [("p1", "member", "al")]
        assert identities(conn, "mia@example.org")[0]["role"] == "facilitator"


def test_a_database_from_before_sign_in_still_starts(tmp_path):
    """A SQLite database without the sign-in tables and ``members.email_key`` is upgraded
    at start: the column, its index and the keys of the members already there."""
    path = tmp_path / "old.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    _create(engine, program())
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX ix_members_email_key")
        db.execute("ALTER TABLE members DROP COLUMN email_key")
        for table in ("admins", "signin_links", "web_sessions"):
            db.execute(f"DROP TABLE {table}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        init_db(engine)
        with engine.connect() as conn:
            assert identities(conn, "cy@example.org")[0]["member"] == "cy"
        with sqlite3.connect(path) as db:
            indexes = {r[1] for r in db.execute("PRAGMA index_list(members)")}
        assert "ix_members_email_key" in indexes
    finally:
        engine.dispose()


def test_members_and_busy_reads_what_the_two_queries_read(engine):
    """A match's part reads its members and their stored busy time in one query: the same
    members in document order and the same busy time as ``members_data`` and
    ``stored_busy``, for busy time kept at upload and for calendars stored before it."""
    _create(engine, program())
    with engine.begin() as conn:
        conn.execute(update(members).where(members.c.id == "al").values(busy="[[10, 20]]"))
        conn.execute(
            update(members)
            .where(members.c.id == "bo")
            .values(busy=None, fetched='{"https://cal.example/bo.ics": "BEGIN:VCALENDAR"}')
        )
    with engine.connect() as conn:
        for ids in ({"bo", "al", "mia"}, {"cy"}, {"al", "nobody"}):
            found, busy = members_and_busy(conn, "p1", ids)
            assert found == members_data(conn, "p1", ids)
            assert busy == {m: b for m, b in stored_busy(conn, "p1").items() if m in ids}
        found, busy = members_and_busy(conn, "p1", {"bo", "al", "mia"})
        assert [m["id"] for m in found] == ["mia", "al", "bo"]
        assert busy["al"] == [[10, 20]]
        assert busy["bo"] == {"https://cal.example/bo.ics": "BEGIN:VCALENDAR"}
        assert members_and_busy(conn, "p1", set()) == ([], {})


def test_hot_reads_on_the_cursor_read_what_sqlalchemy_reads(engine):
    """The heat map's reads (program stamp, matches, members with busy time, active
    sessions) run on the DBAPI cursor with SQLAlchemy's SQL: the same rows as its
    ``execute``, for IN lists of every length, on SQLite and PostgreSQL."""
    from service.store import (
        _ACTIVE_BUSY_OF,
        _MATCHES_OF,
        _MEMBERS_AND_BUSY_OF,
        _STAMP,
        active_busy,
        matches_data,
        program_stamp,
    )

    _create(engine, program())
    with locked(engine, "p1") as conn:
        doc = solving_document(conn, "p1", match="mia-al", sessions=False)
        match = doc.match("mia-al")
        req = booking.request_for(doc, match, {"first_start": datetime(2027, 3, 9, 9, 0)})
        booking.book(conn, doc, "p1", match, req)
    with engine.connect() as conn:
        stamp = conn.execute(_STAMP.stmt, {"program": "p1"}).one()
        assert program_stamp(conn, "p1") == (stamp[0], stamp[1], stamp[2])
        everyone = ["mia", "al", "bo", "cy", "nobody"]
        for n in range(1, len(everyone) + 1):
            ids = everyone[:n]
            core = conn.execute(_MEMBERS_AND_BUSY_OF.stmt, {"program": "p1", "ids": ids}).all()
            assert _MEMBERS_AND_BUSY_OF.rows(conn, {"program": "p1", "ids": ids}) == [
                tuple(r) for r in core
            ]
            core = conn.execute(_ACTIVE_BUSY_OF.stmt, {"program": "p1", "members": ids}).all()
            assert sorted(active_busy(conn, "p1", ids)) == sorted(tuple(r) for r in core)
        assert active_busy(conn, "p1", ["mia", "al"])  # the booking is there to read
        xs = ["mia-al", "circle", "nope"]
        core = conn.execute(_MATCHES_OF.stmt, {"program": "p1", "ids": xs}).scalars().all()
        assert sorted(matches_data(conn, "p1", set(xs))) == sorted(
            json.loads(d)["id"] for d in core
        )
        with pytest.raises(Exception, match="unknown program"):
            program_stamp(conn, "nope")


def test_a_hot_read_fails_as_sqlalchemy_would(engine, db_url):
    """A driver error on the cursor is raised as SQLAlchemy's (an OperationalError is the
    503 of app.py, not a 500), and NUL in a parameter is bad input on PostgreSQL."""
    from sqlalchemy.exc import DBAPIError

    from service.store import matches_data

    _create(engine, program())
    if db_url.startswith("postgresql"):
        with engine.connect() as conn:
            with pytest.raises(Invalid, match="NUL"):
                matches_data(conn, "p1", {"mia-al\x00"})
            assert matches_data(conn, "p1", {"mia-al"})  # the connection is fine
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE matches RENAME TO matches_gone")
    with engine.connect() as conn, pytest.raises(DBAPIError):
        matches_data(conn, "p1", {"mia-al"})


def test_hot_reads_keep_little_and_behave_as_execute(engine, db_url):
    """An IN list past ``_Read.SHORT`` goes through ``execute`` (no compiled form kept per
    length); a read begins the transaction as ``execute`` would; a closed driver
    connection is SQLAlchemy's error, and the connection is not used again."""
    from sqlalchemy.exc import DBAPIError

    from service.store import _MEMBERS_AND_BUSY_OF, _Read, active_busy

    _create(engine, program())
    many = [f"m{i}" for i in range(_Read.SHORT + 1)] + ["mia"]
    with engine.connect() as conn:
        kept = len(_MEMBERS_AND_BUSY_OF._sql)
        found = _MEMBERS_AND_BUSY_OF.rows(conn, {"program": "p1", "ids": many})
        assert [r[1] for r in found] == ["mia"]
        assert len(_MEMBERS_AND_BUSY_OF._sql) == kept
        assert len(active_busy(conn, "p1", many)) == 0
    with engine.connect() as conn:
        assert not conn.in_transaction()
        active_busy(conn, "p1", ["mia"])
        assert conn.in_transaction()
    with engine.connect() as conn:
        conn.connection.dbapi_connection.close()
        with pytest.raises(DBAPIError):
            active_busy(conn, "p1", ["mia"])
