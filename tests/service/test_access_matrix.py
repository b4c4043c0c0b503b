"""Every endpoint × every role × own or another program, from one table.

The table names, per endpoint, which roles may use it on their own program and what a
permitted request answers. Permitted requests are built to stop at a domain check after
the access check (a duplicate id, a time in the past, a series already cancelled...), so
the matrix changes nothing and each row stands alone. Another program's objects are
refused with 403 (a job with 404, so job ids cannot be probed), except for a site admin.
The test fails if an endpoint is missing from the table. A calendar feed's credential is
its URL (a feed token), not the header: every header gets the same answer there; so do the
routes that sign in (their credential is the body or the cookie).

Acting on a match (book, cancel, move, complete): admins; the facilitators in it; and, in
a pair (exactly two members), both members: al may act on mia-al, cy may not (not his
pair), and no member may act on the group "circle" (docs/rules.md, "Who may do what").
A signed-in person (session cookie) has the rights of a token of the same role.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from service.api import router
from service.auth import create_token
from service.config import Settings
from service.signin import SESSION_COOKIE, new_link
from service.store import init_db, make_engine
from tests.service.live import LiveServer
from tests.service.sample import program

SITE, ADMIN, MIA, BO, AL, CY = "site", "admin", "mia", "bo", "al", "cy"
EVERYONE = {SITE, ADMIN, MIA, BO, AL, CY}
ADMINS = {SITE, ADMIN}
SITE_ONLY = {SITE}
SEES_MATCH = ADMINS | {MIA, AL}  # mia (facilitator) and al (member) are in mia-al
ACTS_ON_MATCH = ADMINS | {MIA, AL}  # the pair mia-al: its facilitator and both members act
# The group "circle" (mia, al, bo, cy; organizer mia): its facilitators (mia, and bo, a
# facilitator token in it) act, its members (al, cy) may only read.
ACTS_ON_GROUP = ADMINS | {MIA, BO}
NOBODY: set[str] = set()
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
        "GET",
        "/api/programs/{pid}/home",
        EVERYONE,
        200,
        lambda o: (f"/api/programs/{o['pid']}/home", {}),
    ),
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
        "/api/programs/{pid}/series/{sid}/attendance",
        SEES_MATCH,
        200,
        lambda o: (f"/api/programs/{o['pid']}/series/{o['sid']}/attendance", {}),
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
    # A private address is refused after the access check (the server allows none).
    (
        "PUT",
        "/api/programs/{pid}/members/{mid}/writeback",
        MEMBER_AL,
        422,
        lambda o: (
            f"/api/programs/{o['pid']}/members/al/writeback",
            {"json": {"url": "http://127.0.0.1:9/cal/", "user": "al", "password": "x"}},
        ),
    ),
    (
        "GET",
        "/api/programs/{pid}/members/{mid}/writeback",
        MEMBER_AL,
        200,
        lambda o: (f"/api/programs/{o['pid']}/members/al/writeback", {}),
    ),
    (
        "DELETE",
        "/api/programs/{pid}/members/{mid}/writeback",
        MEMBER_AL,
        404,
        lambda o: (f"/api/programs/{o['pid']}/members/al/writeback", {}),
    ),
    ("GET", "/api/feeds/{feed}.ics", EVERYONE, 200, lambda o: (f"/api/feeds/{o['feed']}.ics", {})),
    (
        "GET",
        "/api/programs/{pid}/members/{mid}/freebusy.ifb",
        MEMBER_AL,
        200,
        lambda o: (f"/api/programs/{o['pid']}/members/al/freebusy.ifb", {}),
    ),
    (
        "GET",
        "/api/programs/{pid}/matches/{xid}/freebusy.ifb",
        SEES_MATCH,
        200,
        lambda o: (f"/api/programs/{o['pid']}/matches/mia-al/freebusy.ifb", {}),
    ),
    ("GET", "/api/feeds/{feed}.ifb", EVERYONE, 200, lambda o: (f"/api/feeds/{o['feed']}.ifb", {})),
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
    (
        "POST",
        "/api/auth/link",
        EVERYONE,
        202,
        lambda o: ("/api/auth/link", {"json": {"email": "nobody@example.org"}}),
    ),
    (
        "POST",
        "/api/auth/session",
        EVERYONE,
        401,  # an unknown link token, whoever asks
        lambda o: ("/api/auth/session", {"json": {"token": "swl_not-a-link"}}),
    ),
    ("GET", "/api/auth/session", EVERYONE, 200, lambda o: ("/api/auth/session", {})),
    (
        "POST",
        "/api/inbound/mail",
        EVERYONE,
        404,  # SLOTWISE_INBOUND_SECRET is not set in this world: the webhook is off
        lambda o: (
            "/api/inbound/mail",
            {
                "content": b"From: al@example.org\r\n\r\n",
                "headers": {"Content-Type": "message/rfc822"},
            },
        ),
    ),
    ("DELETE", "/api/auth/session", EVERYONE, 204, lambda o: ("/api/auth/session", {})),
    (
        "PUT",
        "/api/auth/session/program",
        NOBODY,  # a token is for its own program: only a signed-in person switches
        200,
        lambda o: ("/api/auth/session/program", {"json": {"program": o["pid"]}}),
    ),
    (
        "GET",
        "/api/programs/{pid}/members",
        ADMINS,
        200,
        lambda o: (f"/api/programs/{o['pid']}/members?q=a&limit=2", {}),
    ),
    (
        "GET",
        "/api/programs/{pid}/members/{mid}",
        MEMBER_AL,
        200,
        lambda o: (f"/api/programs/{o['pid']}/members/al", {}),
    ),
    (
        "POST",
        "/api/programs/{pid}/import",
        ADMINS,
        422,  # a bad row: nothing is imported
        lambda o: (
            f"/api/programs/{o['pid']}/import",
            {
                "content": "member,day,start,end\nal,XX,09:00,10:00\n",
                "headers": {"Content-Type": "text/csv"},
            },
        ),
    ),
    (
        "GET",
        "/api/programs/{pid}/admins",
        ADMINS,
        200,
        lambda o: (f"/api/programs/{o['pid']}/admins", {}),
    ),
    (
        "PUT",
        "/api/programs/{pid}/admins/{email}",
        ADMINS,
        200,  # already an admin: nothing changes
        lambda o: (f"/api/programs/{o['pid']}/admins/boss@example.org", {}),
    ),
    (
        "DELETE",
        "/api/programs/{pid}/admins/{email}",
        ADMINS,
        404,  # not an admin: nothing changes
        lambda o: (f"/api/programs/{o['pid']}/admins/nobody@example.org", {}),
    ),
]

# The routes that act on a match, on the group "circle" instead of the pair mia-al.
GROUP_TABLE = [
    (
        "POST",
        "/api/programs/{pid}/matches/{xid}/series",
        ACTS_ON_GROUP,
        422,
        lambda o: (
            f"/api/programs/{o['pid']}/matches/circle/series",
            {"json": {"first_start": PAST}},
        ),
    ),
    (
        "DELETE",
        "/api/programs/{pid}/series/{sid}",
        ACTS_ON_GROUP,
        409,
        lambda o: (f"/api/programs/{o['pid']}/series/{o['group_cancelled']}", {}),
    ),
    (
        "POST",
        "/api/programs/{pid}/sessions/{oid}/complete",
        ACTS_ON_GROUP,
        409,
        lambda o: (f"/api/programs/{o['pid']}/sessions/{o['group_oid']}/complete", {}),
    ),
    (
        "PATCH",
        "/api/programs/{pid}/sessions/{oid}",
        ACTS_ON_GROUP,
        409,
        lambda o: (
            f"/api/programs/{o['pid']}/sessions/{o['group_oid']}",
            {"json": {"start": PAST}},
        ),
    ),
]

# Routes whose credential is not the header: the sign-in link (body) or the session
# cookie, or the inbound webhook's shared secret (a header of its own; tested in
# test_replies.py); anyone may call them and gets the same answer.
PUBLIC = {"/api/auth/link", "/api/auth/session", "/api/inbound/mail"}
# Routes that do not name a program: the same answer whichever program is "own".
UNSCOPED = {"/api/me", "/api/programs", "/api/auth/session/program", *PUBLIC}
# Routes whose credential is in the URL (bo's feed token of the program), not the header.
URL_CREDENTIAL = {"/api/feeds/{feed}.ics", "/api/feeds/{feed}.ifb"}
# Once-off series booked and cancelled (one per match), tried at these starts in turn
# until one is free (the applied plan may hold some).
ONCE_STARTS = [f"2027-04-{day}T06:00:00-04:00" for day in (24, 25, 18, 11)]


def _booked_and_cancelled(api, pid: str, xid: str) -> dict[str, Any]:
    """A once-off series of match ``xid``, booked then cancelled."""
    for start in ONCE_STARTS:
        once = api.post(
            f"/api/programs/{pid}/matches/{xid}/series",
            json={"first_start": start, "frequency": "once"},
        )
        if once.status_code == 201:
            break
        assert once.status_code == 409, once.text
    assert once.status_code == 201, once.text
    assert api.delete(f"/api/programs/{pid}/series/{once.json()['id']}").status_code == 200
    body: dict[str, Any] = once.json()
    return body


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
    once = _booked_and_cancelled(api, pid, "mia-al")
    group = _booked_and_cancelled(api, pid, "circle")
    assert api.put(f"/api/programs/{pid}/admins/boss@example.org").status_code == 201
    link = api.post(f"/api/programs/{pid}/members/bo/feed-token")
    assert link.status_code == 201, link.text
    feed = link.json()["url"].rsplit("/", 1)[1].removesuffix(".ics")
    return {
        "pid": pid,
        "jid": jid,
        "sid": sid,
        "cancelled": once["id"],
        "oid": once["sessions"][0]["id"],
        "group_cancelled": group["id"],
        "group_oid": group["sessions"][0]["id"],
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
        links = {
            who: new_link(engine, Settings(), f"{who}@example.org", minutes=60)
            for who in (MIA, BO, AL, CY)
        }
        engine.dispose()
        yield server, tokens, objects, links
    finally:
        server.stop()


ROWS = [
    (method, route, who, where)
    for method, route, *_ in TABLE
    for who in sorted(EVERYONE)
    for where in (("own",) if route in UNSCOPED else ("own", "other"))
]


def _expected(method: str, route: str, who: str, where: str, table: list = TABLE) -> int:
    _, _, may, ok, _ = next(r for r in table if r[:2] == (method, route))
    if route in URL_CREDENTIAL or route in PUBLIC:
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
    """Who may use each endpoint on their own program and another (the module docstring)."""
    server, tokens, objects, _ = world
    path, kwargs = next(r[4] for r in TABLE if r[:2] == (method, route))(objects[where])
    with server.client(tokens[who]) as api:
        r = api.request(method, path, **kwargs)
    assert r.status_code == _expected(method, route, who, where), r.text
    if r.status_code in (403, 404):
        assert set(r.json()) <= {"detail", "field", "errors"}  # no data of theirs


@pytest.mark.parametrize("token", [None, "sw_not-a-token"], ids=["no token", "bad token"])
def test_every_endpoint_needs_a_valid_token(world, token):
    """No token or an unknown one opens nothing (a feed URL with an unknown feed token)."""
    server, _, objects, _ = world
    for method, route, _, _, request in TABLE:
        if route in PUBLIC:
            continue
        path, kwargs = request({**objects["own"], "feed": "swf_not-a-feed-token"})
        with server.client(token) as api:
            r = api.request(method, path, **kwargs)
        assert r.status_code == 401, (method, path, r.text)


def _header_routes() -> list:
    return [row for row in TABLE if row[1] not in URL_CREDENTIAL | PUBLIC]


def test_a_token_in_the_query_opens_nothing(world):
    """?token= is ignored everywhere (writes included): only the Authorization header
    carries an API token, so a site admin's token in a URL gets 401."""
    server, tokens, objects, _ = world
    for method, _route, _, _, request in _header_routes():
        path, kwargs = request(objects["own"])
        with server.client() as api:
            r = api.request(method, path, params={"token": tokens[SITE]}, **kwargs)
        assert r.status_code == 401, (method, path, r.text)


def test_a_feed_token_opens_nothing_but_its_feed(world):
    """A feed token sent as a bearer token, or as ?token=/?feed=, is 401 on every other
    route, its own member's routes included."""
    server, _, objects, _ = world
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


GROUP_ROWS = [
    (method, route, who, where)
    for method, route, *_ in GROUP_TABLE
    for who in sorted(EVERYONE)
    for where in ("own", "other")
]


@pytest.mark.parametrize(
    ("method", "route", "who", "where"),
    GROUP_ROWS,
    ids=[f"{m} {r} {w} {o}" for m, r, w, o in GROUP_ROWS],
)
def test_a_group_stays_with_its_facilitators(world, method, route, who, where):
    """On the group "circle", its members (al, cy) may not act, as they may on their pair."""
    server, tokens, objects, _ = world
    path, kwargs = next(r[4] for r in GROUP_TABLE if r[:2] == (method, route))(objects[where])
    with server.client(tokens[who]) as api:
        r = api.request(method, path, **kwargs)
    assert r.status_code == _expected(method, route, who, where, GROUP_TABLE), r.text


SESSION_CELLS = [
    (table, method, route)
    for table, rows in (("pair", TABLE), ("group", GROUP_TABLE))
    for method, route, may, *_ in rows
    if may in (ACTS_ON_MATCH, ACTS_ON_GROUP, MEMBER_AL)
]


def test_a_signed_in_person_has_the_rights_of_their_role(world):
    """mia (organizer: facilitator), al and cy (members) signed in by email, with the CSRF
    token, get on the acting routes what the token matrix says for their role; bo, who
    organizes nothing, is a member when signed in (not the facilitator his token says)."""
    server, _, objects, links = world
    as_session = {MIA: MIA, AL: AL, CY: CY, BO: AL}  # whose token row a session matches
    for person, like in as_session.items():
        with server.client() as browser:
            token = links[person].split("#token=")[1]
            me = browser.post("/api/auth/session", json={"token": token})
            assert me.status_code == 200, me.text
            assert browser.cookies.get(SESSION_COOKIE)
            csrf = {"X-CSRF-Token": me.json()["csrf"]}
            for table, method, route in SESSION_CELLS:
                rows = TABLE if table == "pair" else GROUP_TABLE
                path, kwargs = next(r[4] for r in rows if r[:2] == (method, route))(objects["own"])
                kwargs = {**kwargs, "headers": {**kwargs.get("headers", {}), **csrf}}
                r = browser.request(method, path, **kwargs)
                want = _expected(method, route, like, "own", rows)
                if person == BO and table == "pair":
                    want = 403  # bo is not in mia-al, and al's own member routes are al's
                assert r.status_code == want, (person, method, path, r.text)
