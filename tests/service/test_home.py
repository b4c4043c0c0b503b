"""The home endpoint behind each person's page: what each role sees of a program."""

from __future__ import annotations

import asyncio
from datetime import datetime

from service.auth import create_token
from service.config import Settings
from tests.service.inprocess import admin_app, call
from tests.service.sample import program


def _settings(tmp_path) -> Settings:
    return Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "outbox")


def test_member_home_lists_own_matches_series_progress_and_next_session(tmp_path):
    """A member sees only their matches; a booked one shows its series, "0 of 4 done" and
    the next session; the facilitator may book every match they are in, the member only
    what the access rules allow."""
    with admin_app(_settings(tmp_path)) as (app, admin):
        engine = app.state.engine

        async def steps(api):
            assert (await api.post("/api/programs", json=program())).status_code == 201
            heat = (await api.post("/api/programs/p1/matches/mia-al/proposals", json={})).json()
            first = heat["proposals"][0]["first_start"]
            r = await api.post(
                "/api/programs/p1/matches/mia-al/series", json={"first_start": first}
            )
            assert r.status_code == 201, r.text
            return first

        first = call(app, admin, steps)
        al = create_token(engine, "member", "p1", "al")
        mia = create_token(engine, "facilitator", "p1", "mia")

        async def home(api):
            r = await api.get("/api/programs/p1/home")
            assert r.status_code == 200, r.text
            return r.json()

        mine = call(app, al, home)
        assert [x["id"] for x in mine["matches"]] == ["mia-al", "circle"]
        booked = mine["matches"][0]
        assert booked["series"]["done"] == 0 and booked["series"]["planned"] == 4
        assert booked["series"]["next"]["start"] == mine["upcoming"][0]["start"]
        assert datetime.fromisoformat(mine["upcoming"][0]["start"]) == datetime.fromisoformat(first)
        assert mine["matches"][1]["series"] is None
        assert "counts" not in mine
        assert {m["name"] for m in booked["members"]} == {"Mia", "Al"}
        facilitator = call(app, mia, home)
        assert len(facilitator["matches"]) == 4
        assert all(x["can_book"] for x in facilitator["matches"])
        assert not next(x for x in mine["matches"] if x["id"] == "circle")["can_book"]


def test_admin_home_counts_and_pages_every_match(tmp_path):
    """An admin sees the program's counts and every match, a page at a time."""
    with admin_app(_settings(tmp_path)) as (app, admin):

        async def steps(api):
            assert (await api.post("/api/programs", json=program())).status_code == 201
            first = (await api.get("/api/programs/p1/home?limit=2")).json()
            second = (await api.get("/api/programs/p1/home?limit=2&offset=2")).json()
            return first, second

        first, second = call(app, admin, steps)
        assert first["counts"] == {"matches": 4, "booked": 0, "not_booked": 4}
        assert first["total"] == 4
        assert [x["id"] for x in first["matches"] + second["matches"]] == [
            "mia-al",
            "mia-bo",
            "mia-cy",
            "circle",
        ]


def test_home_of_another_program_is_refused(tmp_path):
    """A member's token opens no other program's home."""
    with admin_app(_settings(tmp_path)) as (app, admin):

        async def steps(api):
            await api.post("/api/programs", json=program("p1"))
            await api.post("/api/programs", json=program("p2"))

        call(app, admin, steps)
        al = create_token(app.state.engine, "member", "p1", "al")
        status = call(app, al, lambda api: _status(api, "/api/programs/p2/home"))
        assert status == 403


async def _status(api, path):
    return (await api.get(path)).status_code


def test_home_of_one_match(tmp_path):
    """``match=`` narrows the home to that match (the wizard's and the sessions page's
    read), and to nothing when the caller is not in it."""
    with admin_app(_settings(tmp_path)) as (app, admin):

        async def steps(api):
            assert (await api.post("/api/programs", json=program())).status_code == 201

        call(app, admin, steps)
        al = create_token(app.state.engine, "member", "p1", "al")

        async def one(api):
            mine = (await api.get("/api/programs/p1/home?match=mia-al")).json()
            other = (await api.get("/api/programs/p1/home?match=mia-bo")).json()
            return mine, other

        mine, other = call(app, al, one)
        assert [x["id"] for x in mine["matches"]] == ["mia-al"]
        assert other["matches"] == []


def test_admin_home_says_what_the_last_plan_could_not_place_and_why(tmp_path):
    """After a batch plan, the admin's home names each match the plan could not place with
    the plan's own reason (Cy is away the whole term: mia-cy cannot be planned)."""
    doc = program()
    doc["members"][3]["unavailable"] = [{"start": "2027-02-20T00:00", "end": "2027-05-01T00:00"}]
    with admin_app(_settings(tmp_path)) as (app, admin):

        async def steps(api):
            assert (await api.post("/api/programs", json=doc)).status_code == 201
            assert (await api.get("/api/programs/p1/home")).json()["last_plan"] is None
            job = (await api.post("/api/programs/p1/plans", json={"time_limit": 10})).json()
            for _ in range(600):
                state = (await api.get(f"/api/jobs/{job['job']}")).json()
                if state["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.05)
            home = (await api.get("/api/programs/p1/home")).json()
            return state, home

        state, home = call(app, admin, steps)
        assert state["status"] == "done", state
        last = home["last_plan"]
        assert last["job"] == state["id"] and last["applied"] is False
        assert last["planned"] == len(state["plan"]["series"])
        assert last["unscheduled"] == state["plan"]["unscheduled"]
        assert "mia-cy" in [u["match"] for u in last["unscheduled"]]
        assert all(u["reason"] for u in last["unscheduled"])
