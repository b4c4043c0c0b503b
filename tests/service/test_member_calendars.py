"""Members' calendars are read once, when they arrive, within one budget per member; a
calendar that cannot be read is refused at the door; program limits hold for every
addition (issue 12, items 3, 5 and 10)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import ingest.ics_source
from ingest.availability import build_availability
from service.programs import solving_document
from service.store import make_engine
from tests.service.live import LiveServer, admin_token, free_slots
from tests.service.sample import TUESDAY_BUSY, program

BROKEN_ICS = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2027-03-02 10:00\nEND:VEVENT\n"


def _every_five_minutes(uid: str) -> str:
    """A calendar whose rule puts about 16,000 occurrences into the 8-week horizon: under
    the recurrence limit alone (20,000), over it together with a second one."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270301T000000Z\r\n"
        "DTEND:20270301T000100Z\r\nRRULE:FREQ=MINUTELY;INTERVAL=5\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


@pytest.fixture
def client(tmp_path: Path, db_file: str) -> Iterator[httpx.Client]:
    """A live server on a SQLite file, limited to the 4 members and 4 matches of the test
    program, and a site admin's client."""
    token = admin_token(db_file)
    server = LiveServer(
        db_file,
        outbox=tmp_path / "outbox",
        env={"SLOTWISE_MAX_MEMBERS": "4", "SLOTWISE_MAX_MATCHES": "4"},
    ).start()
    try:
        with server.client(token) as c:
            yield c
    finally:
        server.stop()


def _with_calendars(*texts: str) -> dict:
    doc = program()
    doc["members"][0]["calendars"] = [{"ics_text": t} for t in texts]  # mia
    return doc


def test_heat_maps_use_the_busy_time_read_at_upload(client, db_file, monkeypatch):
    """A member's calendar is parsed once, at upload; what heat maps, proposals and plans
    read (the solving document) never parses it again, yet has its busy time."""
    assert client.post("/api/programs", json=_with_calendars(TUESDAY_BUSY)).status_code == 201

    def parse_again(*_args, **_kwargs):
        raise AssertionError("calendar text parsed again after upload")

    monkeypatch.setattr(ingest.ics_source, "busy_from_ics", parse_again)
    engine = make_engine(db_file)
    with engine.connect() as conn:
        doc = solving_document(conn, "p1", match="mia-al")
    engine.dispose()
    avail = build_availability(doc, members=["mia"])
    # Slot 0 is 1 March 00:00 New York; Tuesday 2 March 10:00-11:00 there is busy for mia,
    # while the same hour a week later (no event then) is free in her working hours.
    busy = range(4 * (24 + 10), 4 * (24 + 11))
    assert not avail.column("mia")[busy].any()
    assert avail.column("mia")[[s + 4 * 24 * 7 for s in busy]].all()
    r = client.get("/api/programs/p1/matches/mia-al/heatmap?duration=60")
    assert r.status_code == 200, r.text
    mia = free_slots(r.json(), 0)
    busy_starts = range(4 * (24 + 9) + 1, 4 * (24 + 11))  # 60-min starts 09:15-10:45
    assert not mia & set(busy_starts)
    assert {s + 7 * 96 for s in busy_starts} <= mia


def test_recurrence_budget_is_per_member_not_per_calendar(client):
    """Two calendars that each fit the recurrence limit but not together are refused."""
    one = _every_five_minutes("a")
    r = client.post("/api/programs", json=_with_calendars(one))
    assert r.status_code == 201, r.text
    doc = _with_calendars(one, _every_five_minutes("b"))
    doc["program"]["id"] = "p2"
    r = client.post("/api/programs", json=doc)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "members[0].calendars[1]"
    assert "occurrences" in r.json()["detail"]
    assert client.get("/api/programs/p2").status_code == 404


def test_calendars_per_member_are_capped(client):
    """A member may list at most ten calendars."""
    r = client.post("/api/programs", json=_with_calendars(*[TUESDAY_BUSY] * 11))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "members[0].calendars"


def test_broken_calendar_in_an_uploaded_program_is_refused(client):
    """POST /api/programs with a calendar that cannot be read stores nothing."""
    r = client.post("/api/programs", json=_with_calendars(TUESDAY_BUSY, BROKEN_ICS))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "members[0].calendars[1]"
    assert client.get("/api/programs/p1").status_code == 404


def test_broken_calendar_in_a_member_is_refused_and_the_member_kept(client):
    """PUT member with a calendar that cannot be read leaves the stored member as it was,
    and the member's heat maps and the program's plans keep working."""
    assert client.post("/api/programs", json=program()).status_code == 201
    before = client.get("/api/programs/p1").json()
    member = copy.deepcopy(before["members"][1])  # al
    member["calendars"] = [{"ics_text": BROKEN_ICS}]
    r = client.put("/api/programs/p1/members/al", json=member)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "calendars[0]"
    assert client.get("/api/programs/p1").json() == before
    assert client.get("/api/programs/p1/matches/mia-al/heatmap").status_code == 200


def test_member_and_match_limits_hold_after_creation(client):
    """max_members and max_matches are checked when members and matches are added."""
    assert client.post("/api/programs", json=program()).status_code == 201
    r = client.put("/api/programs/p1/members/dee", json={"timezone": "Europe/Berlin"})
    assert r.status_code == 422, r.text
    assert "at most 4 members" in r.json()["detail"]
    # Replacing an existing member is not an addition.
    assert (
        client.put("/api/programs/p1/members/al", json={"timezone": "Europe/Berlin"}).status_code
        == 200
    )
    r = client.post("/api/programs/p1/matches", json={"id": "al-bo", "members": ["al", "bo"]})
    assert r.status_code == 422, r.text
    assert "at most 4 matches" in r.json()["detail"]
    ids = [m["id"] for m in client.get("/api/programs/p1").json()["members"]]
    assert "dee" not in ids
