"""Attacks on the availability cache (service/cache.py, issue 15): races between
requests and writes in two processes, the memory bound, the program's ``now`` moved
directly, and sessions left out of the heat map."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from service.cache import cache_of
from service.config import Settings
from tests.service.clock import program_now
from tests.service.inprocess import admin_app, call
from tests.service.sample import program

PID = "p1"


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[Any, Any, str]]:
    """Two apps (two processes' engines and caches) on one SQLite file, and an admin token."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (a, token), admin_app(settings) as (b, _):
        yield a, b, token


def _request(app: Any, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
    async def steps(api: httpx.AsyncClient) -> httpx.Response:
        r = await api.request(method, path, **kw)
        await r.aread()
        return r

    return call(app, token, steps)


def _ok(app: Any, token: str, method: str, path: str, **kw: Any) -> Any:
    r = _request(app, token, method, path, **kw)
    assert r.status_code in (200, 201), r.text
    return r.json()


def _heat(app: Any, token: str, xid: str, pid: str = PID, **params: Any) -> Any:
    heat = _ok(app, token, "GET", f"/api/programs/{pid}/matches/{xid}/heatmap", params=params)
    return heat["counts"], heat["free"], heat["past"], sorted(heat["names"])


def _fresh_heat(app: Any, token: str, xid: str, pid: str = PID, **params: Any) -> Any:
    cache_of(app.state.engine).clear()
    return _heat(app, token, xid, pid, **params)


# --- 2. consistency: a request's match and its availability from two versions ----------


FIRST = {"first_start": "2027-03-16T09:00:00-04:00", "duration_minutes": 60, "sessions": 2}


def _circle(app: Any, token: str, route: str) -> httpx.Response:
    base = f"/api/programs/{PID}/matches/circle"
    if route == "heatmap":
        return _request(app, token, "GET", f"{base}/heatmap", params={"tz": "UTC"})
    return _request(app, token, "POST", f"{base}/series/preview", json=FIRST)


def _said(route: str, r: httpx.Response) -> Any:
    """What a heat map or preview answer says, for comparing two of them."""
    got = r.json()
    if route == "heatmap":
        return got["counts"], got["free"], got["past"], sorted(got["names"])
    return got["occurrences"], got["members"]


@pytest.mark.parametrize("route", ["heatmap", "preview"])
def test_an_answer_comes_from_one_version_of_its_match(two_servers, route):
    """A heat map or booking preview whose match loses a member while it is being
    computed answers for the match before or after the change, never a 500: its match
    (first cache lookup) and its availability (second lookup) must come from one version
    of the program, though another request meanwhile replaced the cache's entry."""
    a, b, token = two_servers
    _ok(a, token, "POST", "/api/programs", json=program(PID))
    before = _said(route, _circle(a, token, route))
    engine = b.state.engine
    paused, go, armed = threading.Event(), threading.Event(), [True]

    @event.listens_for(engine, "before_cursor_execute")
    def _pause(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        # The first request to read members' busy time (building circle's part on b)
        # waits here, its stamp read, until the program has changed under it.
        if armed[0] and "members.busy" in statement:
            armed[0] = False
            paused.set()
            go.wait(30)

    got: dict[str, httpx.Response] = {}
    t = threading.Thread(target=lambda: got.update(r=_circle(b, token, route)))
    t.start()
    try:
        assert paused.wait(30)
        circle = next(x for x in program(PID)["matches"] if x["id"] == "circle")
        changed = {**circle, "members": ["mia", "al", "bo"]}
        _ok(a, token, "POST", f"/api/programs/{PID}/import", json={"matches": [changed]})
        _heat(b, token, "mia-al", tz="UTC")  # b meets the new version meanwhile
    finally:
        go.set()
        t.join(60)
    event.remove(engine, "before_cursor_execute", _pause)
    cache_of(engine).clear()
    after = _said(route, _circle(b, token, route))
    assert before != after
    r = got["r"]
    assert r.status_code == 200, r.text
    assert _said(route, r) in (before, after)


def test_writes_racing_reads_leave_no_stale_entry(two_servers):
    """Member writes on server a racing heat maps on server b: once the writes stop, b's
    warm cache answers exactly as an empty one (no entry stored under a stamp with data
    older than the stamp)."""
    a, b, token = two_servers
    _ok(a, token, "POST", "/api/programs", json=program(PID))
    al = program(PID)["members"][1]
    windows = [
        [{"days": ["MO", "TU", "WE"], "start": "07:00", "end": "10:00"}],
        [{"days": ["TH", "FR"], "start": "13:00", "end": "17:00"}],
    ]
    stop = threading.Event()
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for xid in ("mia-al", "circle"):
                r = _request(
                    b,
                    token,
                    "GET",
                    f"/api/programs/{PID}/matches/{xid}/heatmap",
                    params={"tz": "UTC"},
                )
                if r.status_code != 200:
                    errors.append(r.text)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for i in range(16):
            _ok(
                a,
                token,
                "PUT",
                f"/api/programs/{PID}/members/al",
                json={**al, "weekly": windows[i % 2]},
            )
    finally:
        stop.set()
        for t in readers:
            t.join(60)
    assert not errors
    cached = {x: _heat(b, token, x, tz="UTC") for x in ("mia-al", "circle")}
    assert cached == {x: _fresh_heat(b, token, x, tz="UTC") for x in ("mia-al", "circle")}


# --- 3. the program's now moved directly ----------------------------------------------


def test_moving_the_program_now_directly_is_seen_by_a_warm_cache(two_servers):
    """The header (with ``now``) is part of the stamp: moving a stored program's ``now``
    (later, removed, set back) without any member write changes the heat map's past at
    once in a warm process, exactly as an empty cache answers."""
    a, b, token = two_servers
    today = date.today()
    start = today - timedelta(days=today.weekday() + 21)  # a Monday three weeks ago
    doc = program(PID)
    doc["program"].update(start=str(start), end=str(start + timedelta(weeks=8)))
    doc["program"]["now"] = f"{start}T00:00:00Z"
    _ok(a, token, "POST", "/api/programs", json=doc)
    first = _heat(b, token, "mia-al", tz="UTC")
    assert first == _fresh_heat(b, token, "mia-al", tz="UTC")
    seen = [first]
    for now in (f"{start + timedelta(days=7)}T00:00:00Z", None):  # a week on; the clock
        with program_now(a.state.engine, PID, now):
            _heat(b, token, "mia-al", tz="UTC")  # warm under the moved clock
            cached = _heat(b, token, "mia-al", tz="UTC")
            assert cached == _fresh_heat(b, token, "mia-al", tz="UTC"), now
            assert cached not in seen, now
            seen.append(cached)
        back = _heat(b, token, "mia-al", tz="UTC")
        assert back == first == _fresh_heat(b, token, "mia-al", tz="UTC")


# --- 5. sessions: ignore_session, another match's session, cancelled, moved -----------


def test_ignore_session_never_leaks_into_the_cache(two_servers):
    """A heat map leaving out a session (ignore_session) and one that does not, in either
    order from a warm cache, answer as an empty cache would; another match's session is
    refused (422 naming ignore_session); a cancelled session is free time for both."""
    a, b, token = two_servers
    _ok(a, token, "POST", "/api/programs", json=program(PID))
    s = _ok(
        a,
        token,
        "POST",
        f"/api/programs/{PID}/matches/mia-al/series",
        json={"first_start": "2027-03-09T09:00:00-05:00", "duration_minutes": 60, "sessions": 4},
    )
    oid = s["sessions"][0]["id"]
    plain = _heat(b, token, "circle", tz="UTC")
    ignoring = _heat(b, token, "mia-al", tz="UTC", ignore_session=oid)
    busy = _heat(b, token, "mia-al", tz="UTC")
    assert ignoring != busy
    assert busy == _fresh_heat(b, token, "mia-al", tz="UTC")
    assert _heat(b, token, "mia-al", tz="UTC", ignore_session=oid) == ignoring
    assert ignoring == _fresh_heat(b, token, "mia-al", tz="UTC", ignore_session=oid)
    assert _heat(b, token, "circle", tz="UTC") == plain
    r = _request(
        b,
        token,
        "GET",
        f"/api/programs/{PID}/matches/circle/heatmap",
        params={"tz": "UTC", "ignore_session": oid},
    )
    assert r.status_code == 422 and "ignore_session" in r.text
    _ok(a, token, "PATCH", f"/api/programs/{PID}/sessions/{oid}", json={"status": "cancelled"})
    after = _heat(b, token, "mia-al", tz="UTC")
    assert after == _fresh_heat(b, token, "mia-al", tz="UTC")
    assert after != busy


# --- 4. the memory bound --------------------------------------------------------------


def _held_by_cache(app: Any, token: str, requests: list[tuple[str, str]]) -> int:
    """Bytes the app's availability cache holds after ``requests`` (pid, match) heat
    maps: traced memory with the cache full minus with it emptied."""
    cache = cache_of(app.state.engine)
    for pid, xid in requests[:1]:  # module-level caches (zones, grids) warm first
        _heat(app, token, xid, pid, tz="UTC")
    cache.clear()
    gc.collect()
    tracemalloc.start()
    try:
        for pid, xid in requests:
            _heat(app, token, xid, pid, tz="UTC")
        gc.collect()
        full = tracemalloc.get_traced_memory()[0]
        cache.clear()
        gc.collect()
        empty = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return full - empty


def _pairs_program(pid: str, pairs: int, start: date, weeks: int, busy: int = 0) -> dict:
    """A program of ``pairs`` pairs; with ``busy``, one mentor in every pair who has that
    many one-off unavailable intervals (as a busy calendar gives)."""
    mentor = {"id": "mentor", "timezone": "Europe/Berlin"}
    if busy:
        t0 = start
        mentor["unavailable"] = [
            {
                "start": f"{t0 + timedelta(days=i // 8)}T{8 + i % 8:02d}:00:00",
                "end": f"{t0 + timedelta(days=i // 8)}T{8 + i % 8:02d}:15:00",
            }
            for i in range(busy)
        ]
        members = [mentor, *({"id": f"m{i}"} for i in range(pairs))]
        matches = [{"id": f"x{i}", "members": ["mentor", f"m{i}"]} for i in range(pairs)]
    else:
        members = [{"id": f"m{i}"} for i in range(2 * pairs)]
        matches = [{"id": f"x{i}", "members": [f"m{2 * i}", f"m{2 * i + 1}"]} for i in range(pairs)]
    return {
        "version": 1,
        "program": {
            "id": pid,
            "timezone": "Europe/Berlin",
            "start": str(start),
            "end": str(start + timedelta(weeks=weeks)),
            "granularity_minutes": 15,
            "now": f"{start}T00:00:00Z",
            "working_hours": [
                {"days": ["MO", "TU", "WE", "TH", "FR"], "start": "09:00", "end": "17:00"}
            ],
        },
        "members": members,
        "matches": [
            {**x, "duration_minutes": 60, "frequency": "weekly", "sessions": 4} for x in matches
        ],
    }


def test_one_program_larger_than_the_bound_is_not_kept_whole(tmp_path):
    """availability_cache_mb bounds what a process keeps: one program whose members' rows
    alone are past the bound (40 members over a year of 15-minute slots, 1.4 MB; bound
    1 MB) is not kept whole."""
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        outbox=tmp_path / "out",
        availability_cache_mb=1,
    )
    with admin_app(settings) as (app, token):
        doc = _pairs_program("big", 20, date(2027, 1, 4), 51)
        _ok(app, token, "POST", "/api/programs", json=doc)
        held = _held_by_cache(app, token, [("big", x["id"]) for x in doc["matches"]])
    assert held <= 1 << 20, f"{held / (1 << 20):.2f} MB held, bound 1 MB"


def test_match_parts_are_counted_at_their_size(tmp_path):
    """A match's cached part holds its members whole (a busy calendar's time included),
    once per match: six programs, each a mentor with 100 busy intervals in 6 pairs
    (about 0.35 MB each, counted as 0.06 MB), are not all kept under a 1 MB bound."""
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        outbox=tmp_path / "out",
        availability_cache_mb=1,
    )
    with admin_app(settings) as (app, token):
        wanted = []
        for p in range(6):
            doc = _pairs_program(f"p{p}", 6, date(2027, 3, 1), 8, busy=100)
            _ok(app, token, "POST", "/api/programs", json=doc)
            wanted += [(f"p{p}", x["id"]) for x in doc["matches"]]
        held = _held_by_cache(app, token, wanted)
    assert held <= 1.25 * (1 << 20), f"{held / (1 << 20):.2f} MB held, bound 1 MB"
