"""The availability cache (service/cache.py, issue 15): a cached answer is exactly the
uncached one, and a stale one is never served, after any write, in any server process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from benchmarks.generate import generate_program
from ingest.availability import build_availability
from service.cache import cache_of
from service.config import Settings
from service.programs import session_match, solving_document
from tests.service.inprocess import admin_app, call
from tests.service.live import free_slots
from tests.service.sample import TUESDAY_BUSY, program

PID = "p1"


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[Any, Any, str]]:
    """Two apps (two server processes' worth of state: engines and caches) on one
    database file, and a site admin's token."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (a, token), admin_app(settings) as (b, _):
        yield a, b, token


def _get(app: Any, token: str, path: str, **params: Any) -> dict[str, Any]:
    async def steps(api: httpx.AsyncClient) -> dict[str, Any]:
        r = await api.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    return call(app, token, steps)


def _send(app: Any, token: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
    async def steps(api: httpx.AsyncClient) -> dict[str, Any]:
        r = await api.request(method, path, **kw)
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]

    return call(app, token, steps)


def _answers(app: Any, token: str) -> dict[str, Any]:
    """What the heat maps and proposals of two matches sharing a mentor say now."""
    out = {}
    for xid in ("mia-al", "mia-bo"):
        heat = _get(app, token, f"/api/programs/{PID}/matches/{xid}/heatmap", tz="UTC")
        out[f"heat {xid}"] = (heat["counts"], heat["free"], heat["past"])
        props = _send(app, token, "POST", f"/api/programs/{PID}/matches/{xid}/proposals", json={})
        out[f"proposals {xid}"] = [p["occurrences"] for p in props["proposals"]]
    return out


def _fresh(app: Any, token: str) -> dict[str, Any]:
    """The same answers computed without the cache (emptied first)."""
    cache_of(app.state.engine).clear()
    return _answers(app, token)


WEEKLY = [{"days": ["MO", "TU", "WE"], "start": "07:00", "end": "10:00"}]


def _writes(a: Any, token: str) -> Iterator[str]:
    """Each kind of write that changes someone's availability, made on app ``a``."""
    member = program()["members"][1]  # al
    _send(a, token, "PUT", f"/api/programs/{PID}/members/al", json={**member, "weekly": WEEKLY})
    yield "a member's weekly windows"
    _send(
        a,
        token,
        "PUT",
        f"/api/programs/{PID}/members/bo/calendar",
        content=TUESDAY_BUSY,
        headers={"Content-Type": "text/calendar"},
    )
    yield "a member's calendar"
    _send(
        a,
        token,
        "POST",
        f"/api/programs/{PID}/import",
        content="member,day,start,end,type\nal,TH,13:00,17:00,available\n",
        headers={"Content-Type": "text/csv"},
    )
    yield "an availability CSV"
    doc = program()
    doc["matches"][0]["duration_minutes"] = 30
    _send(a, token, "POST", f"/api/programs/{PID}/import", json=doc)
    yield "a program document replacing a match"
    series = _send(
        a,
        token,
        "POST",
        f"/api/programs/{PID}/matches/mia-cy/series",
        json={"first_start": "2027-03-09T09:00:00-05:00", "duration_minutes": 60, "sessions": 4},
    )
    yield "a booking"
    first = series["sessions"][0]["id"]
    _send(
        a,
        token,
        "PATCH",
        f"/api/programs/{PID}/sessions/{first}",
        json={"start": "2027-03-09T08:00:00-05:00"},
    )
    yield "a session moved"
    _send(a, token, "POST", f"/api/programs/{PID}/series/{series['id']}/cancel", json={})
    yield "a series cancelled"


def test_cached_answers_are_never_stale_after_any_write_in_another_process(two_servers):
    """Server b's warm cache answers exactly as an empty one would after each write made
    through server a (members, calendars, imports, bookings, moves, cancellations), and
    each write did change the answers (so a stale cache would have been caught)."""
    a, b, token = two_servers
    _send(a, token, "POST", "/api/programs", json=program(PID))
    before = _answers(b, token)  # b's cache is warm from here on
    assert _answers(b, token) == before == _fresh(b, token)
    for what in _writes(a, token):
        cached = _answers(b, token)
        assert cached == _fresh(b, token), f"stale after {what}"
        assert cached != before, f"{what} changed nothing: the test cannot see staleness"
        before = cached


def test_the_program_clock_moving_closes_the_past(two_servers):
    """A program without its own ``now`` reads the clock on each request: the heat map's
    past is the clock's, and the cached part does not freeze it (a later ``now`` closes
    more slots, from a warm cache)."""
    a, b, token = two_servers
    doc = program(PID)
    del doc["program"]["now"]
    doc["program"].update(start="2026-11-02", end="2027-01-25")
    _send(a, token, "POST", "/api/programs", json=doc)
    heat = _get(b, token, f"/api/programs/{PID}/matches/mia-al/heatmap", tz="UTC")
    t0 = datetime.fromisoformat(heat["start"])
    assert heat["past"] == -(-int((datetime.now(UTC) - t0).total_seconds()) // (15 * 60))
    engine = b.state.engine
    with engine.connect() as conn:
        k = heat["past"] + 3 * 96  # three days later, just before slot k starts
        later = t0 + timedelta(minutes=15 * k, seconds=-1)
        _, avail = cache_of(engine).availability(conn, PID, "mia-al", now=later)
    assert avail.grid.first_open_slot == k
    assert not avail.matrix[: avail.grid.first_open_slot].any()


def test_cached_availability_is_build_availability_of_the_solving_document(tmp_path):
    """For every match of a generated program with bookings, the cache's document and
    availability (with and without a session left out) equal what the service computed
    before the cache: build_availability(solving_document(...))."""
    doc = generate_program({"matches": 24}, seed=3)
    pid = doc["program"]["id"]
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (app, token):
        _send(app, token, "POST", "/api/programs", json=doc)
        booked = []
        for x in doc["matches"][:12]:
            props = _send(
                app, token, "POST", f"/api/programs/{pid}/matches/{x['id']}/proposals", json={}
            )
            if props["proposals"]:
                first = props["proposals"][0]["first_start"]
                s = _send(
                    app,
                    token,
                    "POST",
                    f"/api/programs/{pid}/matches/{x['id']}/series",
                    json={"first_start": first},
                )
                booked.append(s["sessions"][0]["id"])
        assert len(booked) >= 6
        engine = app.state.engine
        cache = cache_of(engine)
        now = datetime.now(UTC)
        with engine.connect() as conn:
            for x in doc["matches"]:
                xid = x["id"]
                for ignore in [None, *[o for o in booked if session_match(conn, pid, o) == xid]]:
                    got_doc, got = cache.availability(conn, pid, xid, now=now, ignore=ignore)
                    want_doc = solving_document(conn, pid, now, match=xid, ignore=ignore)
                    want = build_availability(want_doc, members=list(x["members"]))
                    assert got.grid == want.grid and got.members == want.members
                    assert np.array_equal(got.matrix, want.matrix), (xid, ignore)
                    assert got_doc == solving_document(conn, pid, now, match=xid, sessions=False)
        assert cache.hits > 0


def test_a_document_booking_follows_its_match_members_in_a_warm_cache(two_servers):
    """A document booking without members books its match's members as they are now: when
    an import moves bo out of that match and cy in, server b's warm cache (which read the
    program's bookings once) shows cy busy then in a match the booking did not touch
    before, and bo free, exactly as an empty cache does."""
    a, b, token = two_servers
    doc = program(PID)
    doc["matches"] += [
        {"id": f"{p}-{q}", "members": [p, q], "organizer": p, "duration_minutes": 60}
        for p, q in (("al", "cy"), ("al", "bo"))
    ]
    doc["bookings"] = [
        {
            "match": "mia-bo",
            "start": "2027-03-09T10:00:00-05:00",
            "end": "2027-03-09T11:00:00-05:00",
        }
    ]
    _send(a, token, "POST", "/api/programs", json=doc)

    def busy_then() -> dict[str, bool]:
        out = {}
        for xid in ("al-cy", "al-bo"):
            heat = _get(b, token, f"/api/programs/{PID}/matches/{xid}/heatmap", tz="UTC")
            start = datetime.fromisoformat(heat["start"])
            slot = (datetime(2027, 3, 9, 15, tzinfo=UTC) - start) // timedelta(minutes=15)
            for j, m in enumerate(heat["members"]):
                out[m] = slot not in free_slots(heat, j)
        return out

    assert busy_then() == {"al": False, "bo": True, "cy": False}  # b's cache is warm now
    doc["matches"][1]["members"] = ["mia", "cy"]  # mia-bo becomes mia and cy
    _send(a, token, "POST", f"/api/programs/{PID}/import", json={**doc, "bookings": []})
    assert busy_then() == {"al": False, "bo": False, "cy": True}
    cache_of(b.state.engine).clear()
    assert busy_then() == {"al": False, "bo": False, "cy": True}
