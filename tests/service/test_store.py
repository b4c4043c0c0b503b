"""The store behaves the same on SQLite and PostgreSQL: the program lock serialises
writers across connections, instants past 2038 fit, bad text is bad input, members of
older databases get their email keys."""

from __future__ import annotations

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
