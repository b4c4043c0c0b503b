"""Tokens at the edges: feed links (rotation, revocation, nothing else), token expiry,
``slotwise token list|revoke``, secrets kept out of the access log, old databases."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from service.auth import authenticate, create_token, issue_feed_token
from service.cli import main
from service.errors import Unauthorized
from service.store import init_db, make_engine, now_epoch
from tests.service.live import LiveServer
from tests.service.sample import program


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A live server on a SQLite file with program p1 (mia, al, bo, cy), a site-admin
    token and member tokens for al and cy."""
    tmp = tmp_path_factory.mktemp("tokens")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    engine = make_engine(url)
    init_db(engine)
    site = create_token(engine, "admin")
    server = LiveServer(url, outbox=tmp / "outbox").start()
    try:
        with server.client(site) as api:
            assert api.post("/api/programs", json=program("p1")).status_code == 201
        tokens = {
            "site": site,
            "al": create_token(engine, "member", "p1", "al"),
            "cy": create_token(engine, "member", "p1", "cy"),
        }
        yield server, engine, url, tokens
    finally:
        server.stop()
        engine.dispose()


def _feed_link(server: LiveServer, token: str, member: str = "al") -> str:
    with server.client(token) as api:
        r = api.post(f"/api/programs/p1/members/{member}/feed-token")
    assert r.status_code == 201, r.text
    assert r.json()["member"] == member
    return r.json()["url"]


def test_feed_link_rotates_and_revokes(world):
    """A feed link opens the member's calendar without a header; a new link (by the member
    or an admin) ends the old one, and revoking ends it too."""
    server, _, _, tokens = world
    first = _feed_link(server, tokens["site"])
    assert first.startswith(server.url + "/api/feeds/swf_") and first.endswith(".ics")
    with server.client() as anyone:
        r = anyone.get(first)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/calendar")
        assert r.text.startswith("BEGIN:VCALENDAR")
        second = _feed_link(server, tokens["al"])
        assert anyone.get(first).status_code == 401
        assert anyone.get(second).status_code == 200
        assert anyone.post(second).status_code == 405  # read-only
        with server.client(tokens["al"]) as al:
            assert al.delete("/api/programs/p1/members/al/feed-token").status_code == 204
        gone = anyone.get(second)
        assert gone.status_code == 401
        assert "revoked" in gone.json()["detail"]


def test_only_the_member_or_an_admin_makes_a_feed_link(world):
    """Another member may neither create nor revoke someone's feed link; an unknown member
    is 404."""
    server, _, _, tokens = world
    with server.client(tokens["cy"]) as cy:
        assert cy.post("/api/programs/p1/members/al/feed-token").status_code == 403
        assert cy.delete("/api/programs/p1/members/al/feed-token").status_code == 403
    with server.client(tokens["site"]) as site:
        r = site.post("/api/programs/p1/members/nobody/feed-token")
        assert r.status_code == 404 and "nobody" in r.json()["detail"]


def test_an_api_token_in_a_feed_url_opens_nothing(world):
    """The feed route takes only feed tokens: an admin's API token as the file name or as
    ?token= is 401."""
    server, _, _, tokens = world
    with server.client() as anyone:
        assert anyone.get(f"/api/feeds/{tokens['site']}.ics").status_code == 401
        r = anyone.get("/api/programs/p1/members/al/sessions.ics", params={"token": tokens["site"]})
        assert r.status_code == 401


def test_expired_token_is_refused_with_a_clear_message(world):
    """A token past its expiry is 401 and says it expired; one not yet expired works."""
    server, engine, _, _ = world
    old = create_token(engine, "admin", expires_at=now_epoch() - 1)
    fresh = create_token(engine, "admin", expires_at=now_epoch() + 3600)
    with server.client(old) as api:
        r = api.get("/api/me")
        assert r.status_code == 401
        assert "expired" in r.json()["detail"]
    with server.client(fresh) as api:
        assert api.get("/api/me").status_code == 200


def test_access_log_never_shows_a_token(world):
    """uvicorn's access log prints request paths and queries: feed tokens and ?token=
    values are redacted from it."""
    server, _, _, tokens = world
    link = _feed_link(server, tokens["site"], "bo")
    secret = link.rsplit("/", 1)[1].removesuffix(".ics")
    with server.client() as anyone:
        assert anyone.get(link).status_code == 200
        anyone.get("/api/me", params={"token": tokens["al"]})
        anyone.get(link, params={"feed": "plain-secret-value"})
    deadline = time.monotonic() + 5
    while True:  # the access line is written after the response is sent
        log = server.log_text()
        if log.count("/api/feeds/") >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "/api/feeds/swf_…redacted.ics" in log
    assert "token=…redacted" in log
    for leaked in (secret, secret[4:], tokens["al"], tokens["al"][3:], "plain-secret-value"):
        assert leaked not in log


def test_access_log_of_several_workers_never_shows_a_token(world):
    """Worker processes (``serve --workers 2``) build the app after uvicorn set up logging:
    their access logs are redacted too."""
    _, engine, url, _ = world
    feed = issue_feed_token(engine, "p1", "mia")
    server = LiveServer(url, workers=2).start()
    try:
        for _ in range(4):  # fresh connections, so both workers answer some
            with server.client() as anyone:
                assert anyone.get(f"/api/feeds/{feed}.ics").status_code == 200
        deadline = time.monotonic() + 5
        while server.log_text().count("/api/feeds/") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log_text()
    finally:
        server.stop()
    assert log.count("/api/feeds/swf_…redacted.ics") == 4
    assert feed[4:] not in log


def test_token_list_and_revoke(world, capsys):
    """``slotwise token list`` shows who each token is for and when it expires, never the
    secret; ``revoke`` by id or by the token itself ends it, feed tokens included."""
    _, engine, url, _ = world
    cli = ["--db", url]
    assert (
        main(
            [
                "token",
                "create",
                "--role",
                "member",
                "--program",
                "p1",
                "--member",
                "al",
                "--label",
                "phone",
                "--expires-days",
                "30",
                *cli,
            ]
        )
        == 0
    )
    secret = capsys.readouterr().out.strip()
    feed = issue_feed_token(engine, "p1", "cy")
    assert main(["token", "list", "--json", *cli]) == 0
    listed = json.loads(capsys.readouterr().out)
    mine = next(t for t in listed if t["label"] == "phone")
    assert (mine["role"], mine["program"], mine["member"]) == ("member", "p1", "al")
    assert mine["expires"] > mine["created"]
    assert any(t["role"] == "feed" and t["member"] == "cy" for t in listed)
    assert main(["token", "list", *cli]) == 0
    table = capsys.readouterr().out
    assert mine["id"] in table and "phone" in table
    assert secret not in table and secret[3:] not in table and feed[4:] not in table
    assert authenticate(engine, secret).member_id == "al"
    assert main(["token", "revoke", mine["id"], *cli]) == 0
    with pytest.raises(Unauthorized):
        authenticate(engine, secret)
    assert main(["token", "revoke", mine["id"], *cli]) == 2  # already gone
    assert main(["token", "revoke", feed, *cli]) == 0
    capsys.readouterr()
    assert main(["token", "list", "--json", *cli]) == 0
    assert not any(
        t["member"] == "cy" and t["role"] == "feed" for t in json.loads(capsys.readouterr().out)
    )


def test_a_database_from_before_token_expiry_still_starts(tmp_path):
    """A database made before tokens could expire (no tokens.expires_at, no feed_tokens)
    is upgraded at start: its tokens keep working and feed links can be made."""
    path = tmp_path / "old.sqlite"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    init_db(engine)
    token = create_token(engine, "admin")
    engine.dispose()
    with sqlite3.connect(path) as db:  # back to the old schema
        db.execute("DROP TABLE feed_tokens")
        db.execute("ALTER TABLE tokens DROP COLUMN expires_at")
    engine = make_engine(url)
    try:
        init_db(engine)
        assert authenticate(engine, token).site_admin
    finally:
        engine.dispose()
