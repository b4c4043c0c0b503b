"""Every endpoint × every role × own or another program, from one table.

The table names, per endpoint, which roles may use it on their own program and what a
permitted request answers. Permitted requests are built to stop at a domain check after
the access check (a duplicate id, a time in the past, a series already cancelled...), so
the matrix changes nothing and each row stands alone. Another program's objects are
refused with 403 (a job with 404, so job ids cannot be probed), except for a site admin.
The test fails if an endpoint is missing from the table. A calendar feed's credential is
its URL (a feed token), not the header: every header gets the same answer there.
"""

from __future__ import annotations

import time

import pytest
from fastapi.routing import iter_route_contexts

from service.api import router
from service.auth import create_token
from service.store import init_db, make_engine
from tests.service.live import LiveServer
from tests.service.sample import program

SITE, ADMIN, MIA, BO, AL, CY = "site", "admin", "mia", "bo", "al", "cy"
EVERYONE = {SITE, ADMIN, MIA, BO, AL, CY}
ADMINS = {SITE, ADMIN}
SITE_ONLY = {SITE}
SEES_MATCH = ADMINS | {MIA, AL}  # mia (facilitator) and al (member) are in mia-al
ACTS_ON_MATCH = ADMINS | {MIA}  # members read; facilitators of the match act
MEMBER_AL = ADMINS | {AL}  # admins, or al for himself

PAST = "2020-01-07T10:00:00-05:00"
BROKEN_ICS = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2027-03-02 10:00\nEND:VEVENT\n"

# (method, route, who may, status when permitted, request for program P: path, kwargs)
TABLE = [
    ("GET", "/api/me", EVERYONE, 200, lambda o: ("/api/me", {})),
    ("GET", "/api/programs", EVERYONE, 200, lambda o: ("/api/programs", {})),
    (
        "POST",
        "/api/programs",
        SITE_ONLY,
        409,
        lambda o: ("/api/programs", {"json": program(o["pid"])}),
    ),
    ("GET", "/api/programs/{pid}", EVERYONE, 200, lambda o: (f"/api/programs/{o['pid']}", {})),
    (
        "PUT",
        "/api/programs/{pid}/members/{mid}",
        MEMBER_AL,
        422,
        lambda o: (f"/api/programs/{o['pid']}/members/al", {"json": {"timezone": "Mars/Base"}}),
    ),
    (
        "PUT",
        "/api/programs/{pid}/members/{mid}/calendar",
        MEMBER_AL,
        422,
        lambda o: (
            f"/api/programs/{o['pid']}/members/al/calendar",
            {"content": BROKEN_ICS, "headers": {"Content-Type": "text/calendar"}},
        ),
    ),
    (
        "POST",
        "/api/programs/{pid}/matches",
        ADMINS,
        409,
        lambda o: (
            f"/api/programs/{o['pid']}/matches",
            {"json": {"id": "mia-al", "members": ["mia", "al"]}},
        ),
    ),
    (
        "GET",
        "/api/programs/{pid}/matches/{xid}/heatmap",
        SEES_MATCH,
        200,
        lambda o: (f"/api/programs/{o['pid']}/matches/mia-al/heatmap", {}),
    ),
    (
        "POST",
        "/api/programs/{pid}/matches/{xid}/proposals",
        SEES_MATCH,
        200,
        lambda o: (f"/api/programs/{o['pid']}/matches/mia-al/proposals", {"json": {"limit": 1}}),
    ),
    (
        "POST",
        "/api/programs/{pid}/matches/{xid}/series",
        ACTS_ON_MATCH,
        422,
        lambda o: (
            f"/api/programs/{o['pid']}/matches/mia-al/series",
            {"json": {"first_start": PAST}},
        ),
    ),
    (
        "POST",
        "/api/programs/{pid}/matches/{xid}/series/preview",
        SEES_MATCH,
        422,
        lambda o: (
            f"/api/programs/{o['pid']}/matches/mia-al/series/preview",
            {"json": {"first_start": PAST}},
        ),
    ),
    (
        "GET",
        "/api/programs/{pid}/matches/{xid}/series",
        SEES_MATCH,
        200,
        lambda o: (f"/api/programs/{o['pid']}/matches/mia-al/series", {}),
    ),
    (
        "GET",
        "/api/programs/{pid}/series/{sid}",
        SEES_MATCH,
        200,
        lambda o: (f"/api/programs/{o['pid']}/series/{o['sid']}", {}),
    ),
    (
        "GET",
        "/api/programs/{pid}/series/{sid}/invite.ics",
        SEES_MATCH,
        200,
        lambda o: (f"/api/programs/{o['pid']}/series/{o['sid']}/invite.ics", {}),
    ),
    (
        "DELETE",
        "/api/programs/{pid}/series/{sid}",
        ACTS_ON_MATCH,
        409,
        lambda o: (f"/api/programs/{o['pid']}/series/{o['cancelled']}", {}),
    ),
    (
        "POST",
        "/api/programs/{pid}/series/{sid}/cancel",
        ACTS_ON_MATCH,
        409,
        lambda o: (
            f"/api/programs/{o['pid']}/series/{o['cancelled']}/cancel",
            {"json": {"note": "Sorry — désolé"}},
        ),
    ),
    (
        "POST",
        "/api/programs/{pid}/series/{sid}/undo",
        ACTS_ON_MATCH,
        409,
        lambda o: (f"/api/programs/{o['pid']}/series/{o['cancelled']}/undo", {}),
    ),
    (
        "POST",
        "/api/programs/{pid}/sessions/{oid}/complete",
        ACTS_ON_MATCH,
        409,
        lambda o: (f"/api/programs/{o['pid']}/sessions/{o['oid']}/complete", {}),
    ),
    (
        "PATCH",
        "/api/programs/{pid}/sessions/{oid}",
        ACTS_ON_MATCH,
        409,
        lambda o: (f"/api/programs/{o['pid']}/sessions/{o['oid']}", {"json": {"start": PAST}}),
    ),
    (
        "GET",
        "/api/programs/{pid}/members/{mid}/sessions.ics",
        MEMBER_AL,
        200,
        lambda o: (f"/api/programs/{o['pid']}/members/al/sessions.ics", {}),
    ),
    (
        "POST",
        "/api/programs/{pid}/members/{mid}/feed-token",
        MEMBER_AL,
        201,
        lambda o: (f"/api/programs/{o['pid']}/members/al/feed-token", {}),
    ),
    (
        "DELETE",
        "/api/programs/{pid}/members/{mid}/feed-token",
        MEMBER_AL,
        204,
        lambda o: (f"/api/programs/{o['pid']}/members/al/feed-token", {}),
    ),
    ("GET", "/api/feeds/{feed}.ics", EVERYONE, 200, lambda o: (f"/api/feeds/{o['feed']}.ics", {})),
    (
        "POST",
        "/api/programs/{pid}/plans",
        ADMINS,
        202,
        lambda o: (
            f"/api/programs/{o['pid']}/plans",
            {"json": {"time_limit": 1, "matches": ["mia-al"]}},
        ),
    ),
    ("GET", "/api/jobs/{jid}", ADMINS, 200, lambda o: (f"/api/jobs/{o['jid']}", {})),
    (
        "POST",
        "/api/programs/{pid}/plans/{jid}/apply",
        ADMINS,
        409,
        lambda o: (f"/api/programs/{o['pid']}/plans/{o['jid']}/apply", {}),
    ),
]

# Routes that do not name a program: the same answer whichever program is "own".
UNSCOPED = {"/api/me", "/api/programs"}
# Routes whose credential is in the URL (bo's feed token of the program), not the header.
URL_CREDENTIAL = {"/api/feeds/{feed}.ics"}


def _objects(api, pid: str) -> dict[str, str]:
    """A program with its plan applied (so the job is spent), and a once-off mia-al
    session booked and cancelled (so cancelling or completing it again is refused)."""
    assert api.post("/api/programs", json=program(pid)).status_code == 201
    jid = api.post(f"/api/programs/{pid}/plans", json={"time_limit": 10}).json()["job"]
    deadline = time.monotonic() + 60
    while api.get(f"/api/jobs/{jid}").json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert api.post(f"/api/programs/{pid}/plans/{jid}/apply").status_code == 200
    sid = api.get(f"/api/programs/{pid}/matches/mia-al/series").json()[0]["id"]
    once = api.post(
        f"/api/programs/{pid}/matches/mia-al/series",
        json={"first_start": "2027-04-24T06:00:00-04:00", "frequency": "once"},
    )
    assert once.status_code == 201, once.text
    cancelled = once.json()["id"]
    assert api.delete(f"/api/programs/{pid}/series/{cancelled}").status_code == 200
    link = api.post(f"/api/programs/{pid}/members/bo/feed-token")
    assert link.status_code == 201, link.text
    feed = link.json()["url"].rsplit("/", 1)[1].removesuffix(".ics")
    return {
        "pid": pid,
        "jid": jid,
        "sid": sid,
        "cancelled": cancelled,
        "oid": once.json()["sessions"][0]["id"],
        "feed": feed,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("matrix")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    engine = make_engine(url)
    init_db(engine)
    site = create_token(engine, "admin")
    server = LiveServer(url, outbox=tmp / "outbox").start()
    try:
        with server.client(site) as api:
            objects = {"own": _objects(api, "p1"), "other": _objects(api, "p2")}
        tokens = {
            SITE: site,
            ADMIN: create_token(engine, "admin", "p1"),
            **{m: create_token(engine, "facilitator", "p1", m) for m in (MIA, BO)},
            **{m: create_token(engine, "member", "p1", m) for m in (AL, CY)},
        }
        engine.dispose()
        yield server, tokens, objects
    finally:
        server.stop()


ROWS = [
    (method, route, who, where)
    for method, route, *_ in TABLE
    for who in sorted(EVERYONE)
    for where in (("own",) if route in UNSCOPED else ("own", "other"))
]


def _expected(method: str, route: str, who: str, where: str) -> int:
    _, _, may, ok, _ = next(r for r in TABLE if r[:2] == (method, route))
    if route in URL_CREDENTIAL:
        return ok  # the header neither opens nor closes it
    if where == "other" and who != SITE and route.startswith("/api/jobs"):
        return 404  # whatever the role: another program's job ids are not confirmed
    if who not in may or (where == "other" and who != SITE):
        return 403
    return ok


@pytest.mark.parametrize(
    ("method", "route", "who", "where"), ROWS, ids=[f"{m} {r} {w} {o}" for m, r, w, o in ROWS]
)
def test_access_matrix(world, method, route, who, where):
    server, tokens, objects = world
    path, kwargs = next(r[4] for r in TABLE if r[:2] == (method, route))(objects[where])
    with server.client(tokens[who]) as api:
        r = api.request(method, path, **kwargs)
    assert r.status_code == _expected(method, route, who, where), r.text
    if r.status_code in (403, 404):
        assert set(r.json()) <= {"detail", "field", "errors"}  # no data of theirs


@pytest.mark.parametrize("token", [None, "sw_not-a-token"], ids=["no token", "bad token"])
def test_every_endpoint_needs_a_valid_token(world, token):
    """No token or an unknown one opens nothing (a feed URL with an unknown feed token)."""
    server, _, objects = world
    for method, _route, _, _, request in TABLE:
        path, kwargs = request({**objects["own"], "feed": "swf_not-a-feed-token"})
        with server.client(token) as api:
            r = api.request(method, path, **kwargs)
        assert r.status_code == 401, (method, path, r.text)


def _header_routes() -> list:
    return [row for row in TABLE if row[1] not in URL_CREDENTIAL]


def test_a_token_in_the_query_opens_nothing(world):
    """?token= is ignored everywhere (writes included): only the Authorization header
    carries an API token, so a site admin's token in a URL gets 401."""
    server, tokens, objects = world
    for method, _route, _, _, request in _header_routes():
        path, kwargs = request(objects["own"])
        with server.client() as api:
            r = api.request(method, path, params={"token": tokens[SITE]}, **kwargs)
        assert r.status_code == 401, (method, path, r.text)


def test_a_feed_token_opens_nothing_but_its_feed(world):
    """A feed token sent as a bearer token, or as ?token=/?feed=, is 401 on every other
    route, its own member's routes included."""
    server, _, objects = world
    feed = objects["own"]["feed"]
    for method, _route, _, _, request in _header_routes():
        path, kwargs = request(objects["own"])
        with server.client(feed) as api:
            r = api.request(method, path, **kwargs)
            assert r.status_code == 401, (method, path, r.text)
            assert "feed" in r.json()["detail"]
        with server.client() as api:
            r = api.request(method, path, params={"token": feed, "feed": feed}, **kwargs)
            assert r.status_code == 401, (method, path, r.text)


def test_the_table_covers_every_endpoint():
    # One router per concern is included in service.api's: FastAPI keeps them as a tree.
    routes = {(m, r.path) for r in iter_route_contexts(router.routes) for m in r.methods}
    assert routes == {(m, r) for m, r, *_ in TABLE}
