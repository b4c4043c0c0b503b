"""The admin's people routes in process: the members list a page at a time, one member's
object, and imports of an availability CSV or a program document, all or nothing."""

from __future__ import annotations

from typing import Any

from service.config import Settings
from tests.service.inprocess import admin_app, call
from tests.service.sample import program

CSV = "text/csv; charset=utf-8"


def _settings(tmp_path) -> Settings:
    return Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "outbox")


def _run(tmp_path, steps) -> Any:
    with admin_app(_settings(tmp_path)) as (app, admin):

        async def all_steps(api):
            assert (await api.post("/api/programs", json=program())).status_code == 201
            return await steps(api)

        return call(app, admin, all_steps)


def test_a_csv_with_a_bad_row_names_it_and_stores_nothing(tmp_path):
    """One bad row (line 3) and an unknown member (line 4): 422 naming each line and
    column, and the good row before them is not stored either; fixed, it is stored and
    replaces the member's weekly time; the same file again changes nothing."""

    async def steps(api):
        bad = "member,day,start,end\nal,TU,09:00,12:00\nal,XX,13:00,14:00\nzed,MO,09:00,10:00\n"
        r = await api.post("/api/programs/p1/import", content=bad, headers={"Content-Type": CSV})
        assert r.status_code == 422, r.text
        errors = r.json()["errors"]
        assert [(e["line"], e["field"]) for e in errors] == [(3, "day"), (4, "member")]
        assert "MO..SU" in errors[0]["message"] and "zed" in errors[1]["message"]
        al = (await api.get("/api/programs/p1/members/al")).json()
        assert al.get("weekly", []) == []

        good = "member,day,start,end\nal,TU,09:00,12:00\nal,TH,13:00,14:00\n"
        r = await api.post("/api/programs/p1/import", content=good, headers={"Content-Type": CSV})
        assert r.status_code == 200, r.text
        assert r.json()["members_replaced"] == ["al"]
        al = (await api.get("/api/programs/p1/members/al")).json()
        assert al["weekly"] == [
            {"days": ["TU"], "start": "09:00", "end": "12:00"},
            {"days": ["TH"], "start": "13:00", "end": "14:00"},
        ]
        assert al["email"] == "al@example.org"  # the rest of the member is kept
        again = await api.post(
            "/api/programs/p1/import", content=good, headers={"Content-Type": CSV}
        )
        assert again.json()["members_replaced"] == [] and again.json()["members_unchanged"] == 1

    _run(tmp_path, steps)


def test_a_document_import_lists_every_problem_then_adds_and_replaces(tmp_path):
    """A document with a bad address (members[1]) and a match naming nobody
    (matches[0]): 422 listing both by their place in the file, nothing stored; corrected,
    the new member and match are added and the existing member replaced."""
    joerg = {
        "id": "joerg",
        "name": "Jörg Müller",
        "email": "jörg@example.de",
        "timezone": "Europe/Berlin",
    }
    al = {"id": "al", "name": "Al Smith", "email": "al@example.org", "timezone": "Asia/Kolkata"}
    match = {"id": "joerg-al", "members": ["joerg", "al"], "organizer": "joerg", "sessions": 3}

    async def steps(api):
        doc = {
            "members": [joerg, {**al, "email": "not an address"}],
            "matches": [{**match, "members": ["joerg", "nobody"], "organizer": "joerg"}],
        }
        r = await api.post("/api/programs/p1/import", json=doc)
        assert r.status_code == 422, r.text
        fields = {e["field"] for e in r.json()["errors"]}
        assert fields == {"members[1].email", "matches[0].members[1]"}, r.json()
        page = (await api.get("/api/programs/p1/members")).json()
        assert page["total"] == 4

        doc = {"members": [joerg, al], "matches": [match]}
        r = await api.post("/api/programs/p1/import", json=doc)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["members_added"] == ["joerg"] and got["members_replaced"] == ["al"]
        assert got["matches_added"] == ["joerg-al"]
        again = (await api.post("/api/programs/p1/import", json=doc)).json()
        assert again["members_unchanged"] == 2 and again["matches_unchanged"] == 1

        page = (await api.get("/api/programs/p1/members", params={"q": "JÖRG"})).json()
        assert page["total"] == 1
        (row,) = page["members"]
        assert row == {**row, "id": "joerg", "timezone": "Europe/Berlin", "matches": 1}
        al_row = (await api.get("/api/programs/p1/members", params={"q": "al@"})).json()
        assert al_row["members"][0]["matches"] == 3  # mia-al, circle, joerg-al

    _run(tmp_path, steps)


def test_members_come_a_page_at_a_time(tmp_path):
    """offset and limit page through the members in document order."""

    async def steps(api):
        first = (await api.get("/api/programs/p1/members", params={"limit": 3})).json()
        rest = (await api.get("/api/programs/p1/members", params={"offset": 3})).json()
        assert [m["id"] for m in first["members"]] == ["mia", "al", "bo"]
        assert [m["id"] for m in rest["members"]] == ["cy"]
        assert first["total"] == rest["total"] == 4
        missing = await api.get("/api/programs/p1/members/zed")
        assert missing.status_code == 404

    _run(tmp_path, steps)


def test_an_import_in_another_format_is_refused_by_name(tmp_path):
    """Neither CSV nor JSON, or JSON that is no object: 422 saying what to send."""

    async def steps(api):
        r = await api.post(
            "/api/programs/p1/import", content=b"x", headers={"Content-Type": "image/png"}
        )
        assert r.status_code == 422 and r.json()["field"] == "content-type"
        r = await api.post("/api/programs/p1/import", json=[1, 2])
        assert r.status_code == 422 and "JSON object" in r.json()["errors"][0]["message"]
        r = await api.post("/api/programs/p1/import", json={"bookings": [{"match": "mia-al"}]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bookings"

    _run(tmp_path, steps)
