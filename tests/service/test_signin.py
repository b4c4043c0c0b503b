"""Sign-in by email (docs/rules.md, "Sign-in by email"): one-time links through the
delivery queue, the session cookie and its CSRF token, identities derived on every
request, switching program, admins by email (API and CLI); in process on a SQLite file,
and once through a live server and a real SMTP server."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from ingest.text import email_key
from service import notify
from service.app import create_app
from service.auth import create_token
from service.cli import main
from service.config import Settings
from service.people import add_admin
from service.signin import ACCEPTED, MAX_UNUSED_LINKS, SESSION_COOKIE, new_link
from service.store import deliveries, now_epoch, signin_links, web_sessions
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program
from tests.service.smtp import SmtpServer

PUBLIC = "https://slotwise.example.org"
LINK = re.compile(r"(https?://[^\s/]+)/signin#token=(swl_[A-Za-z0-9_-]+)")


class World:
    """An app in this process on a SQLite file with programs p1 and p2 (p2's al has al's
    address too), a site admin's token, and its outbox."""

    def __init__(self, tmp: Path) -> None:
        self.outbox = tmp / "outbox"
        self.settings = Settings(
            db_url=f"sqlite:///{tmp / 'db.sqlite'}",
            outbox=self.outbox,
            public_url=PUBLIC,
            retry_seconds=3600,
        )
        self.app = create_app(self.settings)
        self.engine = self.app.state.engine
        self.site = create_token(self.engine, "admin")
        for pid in ("p1", "p2"):
            r = self.call(lambda c, pid=pid: c.post("/api/programs", json=program(pid)), self.site)
            assert r.status_code == 201, r.text

    def close(self) -> None:
        self.app.state.executor.shutdown()
        self.engine.dispose()

    @asynccontextmanager
    async def client(self, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
        """A client with a cookie jar of its own (a browser), sending ``token`` if given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(self.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url=PUBLIC, headers=headers
        ) as client:
            yield client

    def call(self, steps: Any, token: str | None = None) -> Any:
        """``steps(client)`` with a fresh client; what they return."""

        async def run() -> Any:
            async with self.client(token) as client:
                return await steps(client)

        return asyncio.run(run())

    def mailed_links(self) -> dict[str, list[str]]:
        """Send what is queued (as the background sender does); every link in the outbox
        by recipient."""
        notify.flush(self.engine, self.settings)
        found: dict[str, list[str]] = {}
        for path in sorted(self.outbox.glob("*.eml")):
            msg = message_from_bytes(path.read_bytes(), policy=policy.default)
            body = msg.get_body(("plain",)).get_content()
            for where, token in LINK.findall(body):
                assert where == self.settings.public_url  # never the request's Host
                found.setdefault(str(msg["To"]), []).append(token)
        return found


@pytest.fixture
def world(tmp_path: Path):
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.close()


async def _sign_in(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    r = await client.post("/api/auth/session", json={"token": token})
    assert r.status_code == 200, r.text
    return r.json()


def test_email_key_is_one_person_however_spelled():
    """Case, Unicode normalisation, spaces and a punycode domain do not make another
    person; another mailbox does."""
    assert email_key("  JÖRG@Example.DE ") == email_key("jörg@example.de")
    assert email_key("jo\u0308rg@example.de") == email_key("jörg@example.de")  # NFD
    assert email_key("anna@xn--bcher-kva.example") == email_key("Anna@BÜCHER.example")
    assert email_key("jorg@example.de") != email_key("jörg@example.de")
    assert email_key(None) == ""


def test_the_whole_loop(world: World, caplog: pytest.LogCaptureFixture):
    """Ask for a link, find it in the outbox (and, without SMTP, the log), exchange it:
    the cookie works for reads, writes need the CSRF token, sign-out kills the cookie."""

    async def steps(c: httpx.AsyncClient) -> None:
        with caplog.at_level(logging.INFO, logger="slotwise.signin"):
            r = await c.post("/api/auth/link", json={"email": "al@example.org"})
        assert (r.status_code, r.json()) == (202, {"detail": ACCEPTED})
        (token,) = world.mailed_links()["Al <al@example.org>"]
        assert f"sign-in link for al@example.org: {PUBLIC}/signin#token={token}" in caplog.text
        r = await c.post("/api/auth/session", json={"token": token})
        assert r.status_code == 200, r.text
        me = r.json()
        assert {k: me[k] for k in ("role", "program", "member", "via", "email", "name")} == {
            "role": "member",
            "program": "p1",
            "member": "al",
            "via": "session",
            "email": "al@example.org",
            "name": "Al",
        }
        assert [i["program"] for i in me["identities"]] == ["p1", "p2"]
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=sws_")
        for part in ("HttpOnly", "SameSite=lax", "Path=/", "Secure", f"Max-Age={14 * 86400}"):
            assert part.lower() in cookie.lower(), cookie
        again = (await c.get("/api/me")).json()
        assert again["csrf"] == me["csrf"] and again["via"] == "session"
        assert (await c.get("/api/programs/p1")).status_code == 200
        feed = "/api/programs/p1/members/al/feed-token"
        r = await c.post(feed)
        assert (r.status_code, r.json()) == (
            403,
            {"detail": "missing or wrong CSRF token (X-CSRF-Token)"},
        )
        assert (await c.post(feed, headers={"X-CSRF-Token": "x" + me["csrf"]})).status_code == 403
        assert (await c.post(feed, headers={"X-CSRF-Token": me["csrf"]})).status_code == 201
        assert (await c.delete("/api/auth/session")).status_code == 403  # a write too
        r = await c.delete("/api/auth/session", headers={"X-CSRF-Token": me["csrf"]})
        assert r.status_code == 204
        assert "max-age=0" in r.headers["set-cookie"].lower()
        assert SESSION_COOKIE not in c.cookies
        stale = cookie.split(";")[0].split("=", 1)[1]
        c.cookies.set(SESSION_COOKIE, stale, domain="slotwise.example.org")
        gone = await c.get("/api/me")
        assert gone.status_code == 401 and "sign in again" in gone.json()["detail"]

    world.call(steps)
    with world.engine.connect() as conn:
        (row,) = conn.execute(select(deliveries).where(deliveries.c.method == "SIGNIN")).all()
    assert (row.recipient, row.status, row.program_id) == ("al@example.org", "sent", "")
    assert row.message == ""  # a sent link is not kept


def test_a_link_works_once_and_not_after_it_expires(world: World):
    """A used link and an expired one are 401 with the reason; an unknown one too."""
    token = new_link(world.engine, world.settings, "bo@example.org").split("#token=")[1]
    late = new_link(world.engine, world.settings, "bo@example.org").split("#token=")[1]
    with world.engine.begin() as conn:
        conn.execute(
            update(signin_links)
            .where(signin_links.c.hash == hashlib.sha256(late.encode()).hexdigest())
            .values(expires_at=now_epoch() - 1)
        )

    async def steps(c: httpx.AsyncClient) -> None:
        await _sign_in(c, token)
        used = await c.post("/api/auth/session", json={"token": token})
        assert used.status_code == 401 and "already used" in used.json()["detail"]
        expired = await c.post("/api/auth/session", json={"token": late})
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]
        unknown = await c.post("/api/auth/session", json={"token": "swl_nothing-like-it"})
        assert unknown.status_code == 401 and "unknown" in unknown.json()["detail"]

    world.call(steps)


def test_an_unknown_address_gets_the_same_answer_and_no_mail(world: World):
    """Nobody's address: the same 202 body, no delivery; no address at all: 422 naming
    ``email``."""

    async def steps(c: httpx.AsyncClient) -> None:
        r = await c.post("/api/auth/link", json={"email": "stranger@example.org"})
        assert (r.status_code, r.json()) == (202, {"detail": ACCEPTED})
        bad = await c.post("/api/auth/link", json={"email": "not an address"})
        assert bad.status_code == 422 and bad.json()["field"] == "email"

    world.call(steps)
    assert world.mailed_links() == {}
    with world.engine.connect() as conn:
        assert conn.execute(select(deliveries)).all() == []


def test_links_per_address_are_limited(world: World):
    """Beyond MAX_UNUSED_LINKS valid unused links, asking again answers alike and sends
    nothing."""

    async def steps(c: httpx.AsyncClient) -> None:
        for _ in range(MAX_UNUSED_LINKS + 2):
            r = await c.post("/api/auth/link", json={"email": "cy@example.org"})
            assert (r.status_code, r.json()) == (202, {"detail": ACCEPTED})

    world.call(steps)
    assert len(world.mailed_links()["Cy <cy@example.org>"]) == MAX_UNUSED_LINKS


def test_an_international_address_in_any_case_finds_its_person(world: World):
    """``JÖRG@EXAMPLE.DE`` asks for the link of member ``jörg@example.de``: it is mailed
    to the recorded spelling (UTF-8, SMTPUTF8-ready) and signs in as that member."""
    joerg = {"name": "Jörg Groß", "email": "jörg@example.de", "timezone": "Europe/Berlin"}

    async def steps(c: httpx.AsyncClient) -> None:
        r = await c.put("/api/programs/p1/members/joerg", json=joerg)
        assert r.status_code == 201, r.text

    world.call(steps, world.site)

    async def ask(c: httpx.AsyncClient) -> dict[str, Any]:
        r = await c.post("/api/auth/link", json={"email": "JÖRG@EXAMPLE.DE"})
        assert r.status_code == 202
        (link,) = world.mailed_links()["Jörg Groß <jörg@example.de>"]
        return await _sign_in(c, link)

    me = world.call(ask)
    assert (me["member"], me["role"], me["email"], me["name"]) == (
        "joerg",
        "member",
        "jörg@example.de",
        "Jörg Groß",
    )


def test_access_ends_on_the_next_request(world: World):
    """Removing an admin row, or a member's address, ends what the session could do at
    once, without signing out (in that program; when it was the last, everywhere)."""
    add_admin(world.engine, "Boss@Example.org", "p1")
    admin = new_link(world.engine, world.settings, "boss@example.org").split("#token=")[1]
    member = new_link(world.engine, world.settings, "cy@example.org").split("#token=")[1]

    async def as_admin(c: httpx.AsyncClient) -> None:
        me = await _sign_in(c, admin)
        assert (me["role"], me["program"], me["member"]) == ("admin", "p1", None)
        r = await c.get("/api/programs/p1/admins")
        assert r.status_code == 200 and [a["email"] for a in r.json()] == ["Boss@Example.org"]
        csrf = {"X-CSRF-Token": me["csrf"]}
        r = await c.delete("/api/programs/p1/admins/BOSS@example.org", headers=csrf)
        assert r.status_code == 204
        assert (await c.get("/api/programs/p1/admins")).status_code == 401

    async def as_member(c: httpx.AsyncClient) -> None:
        me = await _sign_in(c, member)
        assert (me["role"], me["member"]) == ("member", "cy")
        assert (await c.get("/api/programs/p1")).status_code == 200

        async with world.client(world.site) as admin:
            r = await admin.put("/api/programs/p1/members/cy", json={"email": "cy@elsewhere.org"})
            assert r.status_code == 200, r.text
        assert (await c.get("/api/programs/p1")).status_code == 403
        # cy is still someone in p2: the session stands there now.
        assert (await c.get("/api/me")).json()["program"] == "p2"
        async with world.client(world.site) as admin:
            r = await admin.put("/api/programs/p2/members/cy", json={"email": "cy@elsewhere.org"})
            assert r.status_code == 200, r.text
        r = await c.get("/api/me")
        assert r.status_code == 401 and "no longer has access" in r.json()["detail"]

    world.call(as_admin)
    world.call(as_member)


def test_switching_program(world: World):
    """A session starts in the first program of the address, switches to another it is
    someone in (with the CSRF token), and not to one it is not."""
    token = new_link(world.engine, world.settings, "al@example.org").split("#token=")[1]

    async def steps(c: httpx.AsyncClient) -> None:
        me = await _sign_in(c, token)
        assert me["program"] == "p1"
        body = {"program": "p2"}
        assert (await c.put("/api/auth/session/program", json=body)).status_code == 403
        csrf = {"X-CSRF-Token": me["csrf"]}
        r = await c.put("/api/auth/session/program", json=body, headers=csrf)
        assert r.status_code == 200, r.text
        assert (r.json()["program"], r.json()["member"]) == ("p2", "al")
        assert (await c.get("/api/me")).json()["program"] == "p2"
        assert (await c.get("/api/programs/p1")).status_code == 403
        r = await c.put("/api/auth/session/program", json={"program": "p9"}, headers=csrf)
        assert r.status_code == 403 and r.json()["field"] == "program"

    world.call(steps)


def test_an_expired_session_says_so(world: World):
    """A session past ``session_days`` is 401 "your sign-in has expired; sign in again"."""
    token = new_link(world.engine, world.settings, "al@example.org").split("#token=")[1]

    async def steps(c: httpx.AsyncClient) -> None:
        await _sign_in(c, token)
        with world.engine.begin() as conn:
            conn.execute(update(web_sessions).values(expires_at=now_epoch() - 1))
        r = await c.get("/api/me")
        assert (r.status_code, r.json()["detail"]) == (
            401,
            "your sign-in has expired; sign in again",
        )

    world.call(steps)


def test_a_bearer_token_wins_over_the_cookie(world: World):
    """With an Authorization header the cookie is ignored: the token's principal, no CSRF
    token asked for, and no session ended by DELETE /api/auth/session."""
    token = new_link(world.engine, world.settings, "al@example.org").split("#token=")[1]

    async def steps(c: httpx.AsyncClient) -> None:
        await _sign_in(c, token)
        headers = {"Authorization": f"Bearer {world.site}"}
        me = (await c.get("/api/me", headers=headers)).json()
        assert (me["via"], me["role"], me["csrf"], me["email"]) == ("token", "admin", None, None)
        assert me["identities"] == [
            {"program": None, "program_name": None, "role": "admin", "member": None, "name": None}
        ]
        r = await c.post("/api/programs/p1/members/al/feed-token", headers=headers)
        assert r.status_code == 201
        assert (await c.delete("/api/auth/session", headers=headers)).status_code == 204
        assert (await c.get("/api/me")).json()["via"] == "session"  # not signed out

    world.call(steps)


def test_admin_and_signin_link_commands(world: World, capsys: pytest.CaptureFixture[str]):
    """``slotwise admin add|list|remove`` and ``slotwise signin-link`` (a link that signs
    in, not mailed); an unknown address is exit 2."""
    db = ["--db", world.settings.db_url]
    assert main(["admin", "add", "Root@Example.org", *db]) == 0
    assert main(["admin", "add", "lead@example.org", "--program", "p2", *db]) == 0
    assert main(["admin", "add", "lead@example.org", "--program", "p9", *db]) == 2
    capsys.readouterr()
    assert main(["admin", "list", *db]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == "email\tprogram\tcreated"
    assert [line.split("\t")[:2] for line in listed[1:]] == [
        ["Root@Example.org", "-"],
        ["lead@example.org", "p2"],
    ]
    assert main(["signin-link", "root@example.org", "--minutes", "5", *db]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("http://127.0.0.1:8000/signin#token=swl_")  # the CLI's settings
    me = world.call(lambda c: _sign_in(c, link.split("#token=")[1]))
    assert (me["role"], me["site_admin"], me["program"]) == ("admin", True, "p1")
    assert main(["signin-link", "nobody@example.org", *db]) == 2
    assert main(["admin", "remove", "lead@example.org", "--program", "p2", *db]) == 0
    assert main(["admin", "remove", "lead@example.org", "--program", "p2", *db]) == 2
    assert not world.mailed_links()  # nothing was mailed


def test_a_live_link_arrives_by_smtp_and_signs_in(tmp_path: Path, smtp_server: SmtpServer):
    """Through a real server and a real SMTP server: the link is mailed (to an
    international address, SMTPUTF8), following it signs in, the cookie works."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    server = LiveServer(url, smtp_url=smtp_server.url)
    server.extra_env["SLOTWISE_PUBLIC_URL"] = server.url  # a plain-http server: no Secure
    server.start()
    try:
        doc = program("p1")
        doc["members"][1]["email"] = "älva@example.org"
        with server.client(admin_token(url)) as api:
            assert api.post("/api/programs", json=doc).status_code == 201
        with server.client() as browser:
            r = browser.post("/api/auth/link", json={"email": "ÄLVA@example.org"})
            assert r.status_code == 202
            deadline = time.monotonic() + 20
            while not smtp_server.messages:
                assert time.monotonic() < deadline, "no sign-in mail arrived"
                time.sleep(0.05)
            (mail,) = smtp_server.messages
            assert mail.rcpt_tos == ["älva@example.org"]
            body = mail.message.get_body(("plain",)).get_content()
            ((where, token),) = LINK.findall(body)
            assert where == server.url
            r = browser.post("/api/auth/session", json={"token": token})
            assert r.status_code == 200, r.text
            assert browser.get("/api/me").json()["member"] == "al"
        assert token not in server.log_text()  # over SMTP the link is not logged
    finally:
        server.stop()


def test_the_page_asks_whether_it_is_signed_in_without_a_401(world: World):
    """GET /api/auth/session answers 200 signed out (no cookie, a dead cookie) and the me
    body signed in, so the page's first request is never an error."""

    async def steps(c: httpx.AsyncClient) -> tuple[Any, Any, Any]:
        out = (await c.get("/api/auth/session")).json()
        await c.post("/api/auth/link", json={"email": "al@example.org"})
        (token,) = world.mailed_links()["Al <al@example.org>"]
        me = await _sign_in(c, token)
        r = await c.get("/api/auth/session")
        assert r.status_code == 200
        inside = r.json()
        assert inside["me"]["csrf"] == me["csrf"]
        await c.delete("/api/auth/session", headers={"X-CSRF-Token": me["csrf"]})
        c.cookies.set(SESSION_COOKIE, "sws_dead", domain="slotwise.example.org")
        r = await c.get("/api/auth/session")
        assert r.status_code == 200
        return out, inside, r.json()

    before, inside, after = world.call(steps)
    assert before == after == {"signed_in": False, "me": None}
    assert inside["signed_in"] is True and inside["me"]["member"] == "al"


def test_a_member_cannot_take_another_persons_address(world: World):
    """Review finding: Al put Mia's address on his own record and so became "Mia" at her
    next request. A member may not change their own address at all (an admin may), and no
    two members of a program share one (a PUT, a new program, however it is spelled)."""
    links = {}
    for who in ("al@example.org", "mia@example.org"):
        links[who] = new_link(world.engine, world.settings, who)

    async def steps(c: httpx.AsyncClient) -> None:
        me = await _sign_in(c, links["al@example.org"].split("#token=")[1])
        csrf = {"X-CSRF-Token": me["csrf"]}
        al = (await c.get("/api/programs/p1/members/al")).json()
        for address in ("mia@example.org", "someone@elsewhere.example"):
            r = await c.put(
                "/api/programs/p1/members/al", json={**al, "email": address}, headers=csrf
            )
            assert r.status_code == 403, r.text
            assert "only a program admin may change a member's email" in r.json()["detail"]
        # Everything else of his own record he may still change; the same address, spelled
        # otherwise, is the same address.
        r = await c.put(
            "/api/programs/p1/members/al",
            json={**al, "email": "AL@Example.org", "name": "Al Ng"},
            headers=csrf,
        )
        assert r.status_code == 200, r.text

    world.call(steps)

    async def admin_steps(c: httpx.AsyncClient) -> None:
        al = (await c.get("/api/programs/p1/members/al")).json()
        r = await c.put("/api/programs/p1/members/al", json={**al, "email": "MIA@example.org"})
        assert r.status_code == 422 and r.json()["field"] == "email", r.text
        assert 'already the address of member "mia"' in r.json()["detail"]
        doc = program("p9")
        doc["members"][1]["email"] = "Mia@Example.org"
        r = await c.post("/api/programs", json=doc)
        assert r.status_code == 422 and r.json()["field"] == "members[1].email", r.text
        assert (await c.get("/api/programs/p9")).status_code == 404  # nothing half-written

    world.call(admin_steps, token=world.site)

    async def mia_steps(c: httpx.AsyncClient) -> dict[str, Any]:
        await _sign_in(c, links["mia@example.org"].split("#token=")[1])
        return (await c.get("/api/me")).json()

    mia = world.call(mia_steps)
    assert (mia["member"], mia["role"]) == ("mia", "facilitator")
