"""Who can come to the sessions ahead of a booked series, from availability as it is now
(GET /api/programs/{pid}/series/{sid}/attendance)."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.auth import create_token
from service.config import Settings
from tests.service.clock import program_now
from tests.service.inprocess import admin_app, call
from tests.service.sample import program


def test_a_vacation_added_after_booking_shows_who_is_missing_where(tmp_path):
    """After Al adds time away over the second session, that session lists him missing
    (with a start that week where everyone could), the others do not; sessions already
    over are left out; a member of another match may not read it."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (app, admin):

        async def book(api):
            assert (await api.post("/api/programs", json=program())).status_code == 201
            found = (await api.post("/api/programs/p1/matches/mia-al/proposals", json={})).json()
            first = found["proposals"][0]["first_start"]
            r = await api.post(
                "/api/programs/p1/matches/mia-al/series", json={"first_start": first}
            )
            assert r.status_code == 201, r.text
            series = r.json()
            before = (await api.get(f"/api/programs/p1/series/{series['id']}/attendance")).json()
            al = (await api.get("/api/programs/p1")).json()["members"][1]
            second = datetime.fromisoformat(series["sessions"][1]["start"])
            al["unavailable"] = [
                {
                    "start": (second - timedelta(days=1)).strftime("%Y-%m-%dT00:00"),
                    "end": (second + timedelta(days=1)).strftime("%Y-%m-%dT00:00"),
                }
            ]
            al["timezone"] = "America/New_York"  # the dates above are New York's
            r = await api.put("/api/programs/p1/members/al", json=al)
            assert r.status_code in (200, 201), r.text
            after = (await api.get(f"/api/programs/p1/series/{series['id']}/attendance")).json()
            return series, before, after

        series, before, after = call(app, admin, book)
        assert [s["missing"] for s in before["sessions"]] == [[], [], [], []]
        assert [s["missing"] for s in after["sessions"]] == [[], ["al"], [], []]
        assert "alternative" not in after["sessions"][0]
        assert [s["id"] for s in after["sessions"]] == [s["id"] for s in series["sessions"]]
        with program_now(app.state.engine, "p1", series["sessions"][1]["end"]):
            later = call(
                app,
                admin,
                lambda api: _json(api, f"/api/programs/p1/series/{series['id']}/attendance"),
            )
        assert [s["id"] for s in later["sessions"]] == [s["id"] for s in series["sessions"][2:]]
        bo = create_token(app.state.engine, "member", "p1", "bo")
        status = call(
            app, bo, lambda api: _status(api, f"/api/programs/p1/series/{series['id']}/attendance")
        )
        assert status == 403


async def _json(api, path):
    r = await api.get(path)
    assert r.status_code == 200, r.text
    return r.json()


async def _status(api, path):
    return (await api.get(path)).status_code


def test_the_heat_map_for_moving_a_session_does_not_count_it_as_busy(tmp_path):
    """Moving a session: with ``ignore_session`` its own time is free again for its people
    (review finding: the slot and its neighbours showed nobody free); a session of another
    match is refused, naming the parameter."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (app, admin):

        async def steps(api):
            assert (await api.post("/api/programs", json=program())).status_code == 201
            found = (await api.post("/api/programs/p1/matches/mia-al/proposals", json={})).json()
            first = found["proposals"][0]["first_start"]
            r = await api.post(
                "/api/programs/p1/matches/mia-al/series", json={"first_start": first}
            )
            session = r.json()["sessions"][0]
            q = "/api/programs/p1/matches/mia-al/heatmap?tz=UTC&weeks=2"
            busy = (await api.get(q)).json()
            free = (await api.get(f"{q}&ignore_session={session['id']}")).json()
            other = await api.get(
                f"/api/programs/p1/matches/mia-bo/heatmap?ignore_session={session['id']}"
            )
            return session, busy, free, other

        session, busy, free, other = call(app, admin, steps)
        start = datetime.fromisoformat(session["start"])
        t0 = datetime.fromisoformat(busy["start"])
        slot = int((start - t0).total_seconds() // (busy["granularity_minutes"] * 60))
        at = slot - busy["window"]["first_slot"]
        assert busy["counts"][at] == 0
        assert free["counts"][at] == 2
        assert other.status_code == 422 and other.json()["field"] == "ignore_session"
