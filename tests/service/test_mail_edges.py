"""Trust at the edges of mail: names, addresses and texts are checked where they enter;
invites are built from whatever is stored and sent by a background sender, never inside a
request; international addresses go out with SMTPUTF8; start-up output hides passwords."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import policy
from email.parser import Parser

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from service.cli import startup_line
from service.config import Settings
from service.email import DeliveryError, Mailer, imip_message
from service.invites import Person
from service.redact import redact_url
from service.store import deliveries, make_engine, matches, members, programs
from tests.helpers import free_port, wait_for
from tests.service.live import ROOT, LiveServer, admin_token, finished_plan
from tests.service.mail_sample import SENDER, invite
from tests.service.sample import program
from tests.service.smtp import Collector, SmtpServer

FIRST = {"mia-al": "2027-03-02T10:00:00-05:00", "mia-bo": "2027-03-03T10:00:00-05:00"}


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'slotwise.sqlite'}"


@pytest.fixture
def admin(db_url) -> str:
    return admin_token(db_url)


def _rows(db_url: str) -> list:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(deliveries)).all()
    finally:
        engine.dispose()


# --- validation where names, addresses and texts enter ----------------------------------


def _with_member(i: int, **fields: str) -> dict:
    doc = program("bad")
    doc["members"][i].update(fields)
    return doc


ENTRY_CASES = [
    ("post", "/api/programs", _with_member(2, email="a,b@example.org"), "members[2].email"),
    ("post", "/api/programs", _with_member(1, name="Al\r\nBcc: x@example.org"), "members[1].name"),
    (
        "post",
        "/api/programs",
        _with_member(0, name="Mia\u2028Bcc: x@example.org"),
        "members[0].name",
    ),
    ("post", "/api/programs", _with_member(3, email="cy@[127.0.0.1]"), "members[3].email"),
    ("put", "/api/programs/p1/members/al", {"email": "al smith@example.org"}, "email"),
    ("put", "/api/programs/p1/members/al", {"email": "al\n@example.org"}, "email"),
    ("put", "/api/programs/p1/members/al", {"name": "Al\u2029Smith"}, "name"),
    ("put", "/api/programs/p1/members/al", {"name": "A" * 201}, "name"),
    (
        "post",
        "/api/programs/p1/matches/mia-al/series",
        {"first_start": FIRST["mia-al"], "summary": "Hi\r\nBcc: x@example.org"},
        "summary",
    ),
    (
        "post",
        "/api/programs/p1/matches/mia-al/series",
        {"first_start": FIRST["mia-al"], "agenda": "Goals\x1b[2J"},
        "agenda",
    ),
    (
        "post",
        "/api/programs/p1/matches/mia-al/series",
        {"first_start": FIRST["mia-al"], "conferencing": {"location": "Room 1\nX-Evil: 1"}},
        "conferencing.location",
    ),
]


@pytest.fixture(scope="module")
def entry_server(tmp_path_factory) -> Iterator[tuple[LiveServer, str]]:
    tmp = tmp_path_factory.mktemp("entry")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    token = admin_token(url)
    server = LiveServer(url, outbox=tmp / "outbox").start()
    with server.client(token) as api:
        assert api.post("/api/programs", json=program()).status_code == 201
    yield server, token
    server.stop()


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), ENTRY_CASES, ids=[c[3] + "-" + c[0] for c in ENTRY_CASES]
)
def test_bad_names_addresses_and_texts_are_refused_naming_the_field(
    entry_server, method, path, body, field
):
    """A line break, U+2028, a control character or a non-address in a name, email,
    summary, agenda or location is a 422 naming the field, and nothing is stored."""
    server, token = entry_server
    with server.client(token) as api:
        r = api.request(method, path, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
        assert r.json()["detail"].startswith(field + ": ")
        assert api.get("/api/programs/p1").json()["members"][1]["email"] == "al@example.org"
        assert not api.get("/api/programs/p1/matches/mia-al/series").json()


def test_international_names_addresses_and_multiline_agendas_are_accepted(entry_server):
    """RFC 6531 addresses, names in any script and an agenda with CR/LF enter fine."""
    server, token = entry_server
    with server.client(token) as api:
        r = api.put(
            "/api/programs/p1/members/cy",
            json={"name": "Zoë Ünal-Łukasz 李", "email": "jörg.müller@bücher.example"},
        )
        assert r.status_code == 200, r.text
        r = api.post(
            "/api/programs/p1/matches/mia-cy/series",
            json={"first_start": "2027-03-04T10:00:00-05:00", "agenda": "Goals\r\nNext steps"},
        )
        assert r.status_code == 201, r.text


# --- invites from data stored by older versions -------------------------------------------


def _store_bad_data(db_url: str) -> None:
    """What an older version let in, written straight into the database."""
    engine = make_engine(db_url)
    with engine.begin() as conn:

        def patch_member(mid: str, **fields: str) -> None:
            data = json.loads(
                conn.execute(select(members.c.data).where(members.c.id == mid)).scalar_one()
            )
            conn.execute(
                update(members)
                .where(members.c.id == mid)
                .values(data=json.dumps({**data, **fields}))
            )

        patch_member("al", name="Al\r\nBcc: evil@example.org\u2028X-Evil: 1")
        patch_member("bo", email="a,b@example.org")
        x = json.loads(
            conn.execute(select(matches.c.data).where(matches.c.id == "mia-al")).scalar_one()
        )
        conn.execute(
            update(matches)
            .where(matches.c.id == "mia-al")
            .values(
                data=json.dumps({**x, "agenda": "Goals\r\nBcc: evil@example.org\x00\u2028next"})
            )
        )
        header = json.loads(conn.execute(select(programs.c.header)).scalar_one())
        conn.execute(
            update(programs).values(
                header=json.dumps({**header, "name": "Cohort\nBcc: evil@example.org"})
            )
        )
    engine.dispose()


def test_stored_bad_names_and_addresses_never_fail_a_booking_or_a_plan(
    db_url, admin, smtp_server, tmp_path
):
    """Bad names, addresses and agendas stored by an older version: bookings answer 201,
    applying a plan answers 200, every good address gets its invite (headers clean), and
    the bad address becomes a failed delivery with its reason."""
    server = LiveServer(
        db_url, smtp_url=smtp_server.url, env={"SLOTWISE_RETRY_SECONDS": "0.3"}
    ).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            _store_bad_data(db_url)
            # Other members are not re-judged when one is edited.
            r = api.put("/api/programs/p1/members/cy", json={"email": "cy@example.org"})
            assert r.status_code == 200, r.text
            # Nor the program's name where only its clock is read (booking.program_now).
            assert api.get("/api/programs/p1/home").status_code == 200
            for match, start in FIRST.items():
                r = api.post(
                    f"/api/programs/p1/matches/{match}/series", json={"first_start": start}
                )
                assert r.status_code == 201, r.text
            assert wait_for(lambda: len(smtp_server.messages) == 3, 20)
            jid = finished_plan(api, "p1", time_limit=5, matches=["circle"])
            applied = api.post(f"/api/programs/p1/plans/{jid}/apply")
            assert applied.status_code == 200, applied.text
            # The circle's invites: mia, al and cy receive theirs; bo's fails.
            assert wait_for(lambda: len(smtp_server.messages) == 6, 20)
    finally:
        server.stop()
    got = sorted(rcpt for m in smtp_server.messages for rcpt in m.rcpt_tos)
    assert got == ["al@example.org"] * 2 + ["cy@example.org"] + ["mia@example.org"] * 3
    for m in smtp_server.messages:
        head = m.raw.split(b"\r\n\r\n", 1)[0]
        assert not any(line.lower().startswith((b"bcc", b"x-evil")) for line in head.split(b"\r\n"))
        assert "Bcc" not in m.message and b"\xe2\x80\xa8" not in head
        assert m.rcpt_tos == [m.message["To"].addresses[0].addr_spec]
    al = next(m for m in smtp_server.messages if m.rcpt_tos == ["al@example.org"])
    assert al.message["To"].addresses[0].display_name == "Al Bcc: evil@example.org X-Evil: 1"
    failed = [r for r in _rows(db_url) if r.status == "failed"]
    assert [r.recipient for r in failed] == ["a,b@example.org"] * 2
    assert all("not an email address" in r.last_error for r in failed)
    assert {r.status for r in _rows(db_url)} == {"sent", "failed"}


def test_a_stored_address_with_a_line_break_never_fails_an_invite(db_url, admin, smtp_server):
    """An attendee's and the organizer's stored address holding CR/LF (an older version
    let it in): booking 201, invite.ics 200, cancelling 200; each of their mails is a
    failed delivery with its reason."""
    server = LiveServer(
        db_url, smtp_url=smtp_server.url, env={"SLOTWISE_RETRY_SECONDS": "0.3"}
    ).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            engine = make_engine(db_url)
            with engine.begin() as conn:
                for mid in ("mia", "al"):
                    data = json.loads(
                        conn.execute(select(members.c.data).where(members.c.id == mid)).scalar_one()
                    )
                    conn.execute(
                        update(members)
                        .where(members.c.id == mid)
                        .values(
                            data=json.dumps({**data, "email": f"{mid}@example.org\r\nBcc: x@y.org"})
                        )
                    )
            engine.dispose()
            r = api.post(
                "/api/programs/p1/matches/mia-al/series", json={"first_start": FIRST["mia-al"]}
            )
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            ics = api.get(f"/api/programs/p1/series/{sid}/invite.ics")
            assert ics.status_code == 200, ics.text
            assert not any(line.startswith("Bcc") for line in ics.text.splitlines())
            cancelled = api.delete(f"/api/programs/p1/series/{sid}")
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "cancelled"
            assert wait_for(lambda: {r.status for r in _rows(db_url)} == {"failed"}, 10)
    finally:
        server.stop()
    assert smtp_server.messages == []  # both addresses are unusable: nothing was sent
    assert all("not an email address" in r.last_error for r in _rows(db_url))


def test_stored_line_breaks_in_a_name_or_video_link_never_fail_a_feed_or_invite(db_url, admin):
    """A member name and a series' video link holding line breaks in the database (an
    older version let them in): the member's feed, the invite and cancelling answer 200,
    and no line break gets into a calendar line."""
    from service.store import series as series_table

    server = LiveServer(db_url).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            r = api.post(
                "/api/programs/p1/matches/mia-al/series",
                json={
                    "first_start": FIRST["mia-al"],
                    "conferencing": {"video_url": "https://meet.example.org/x"},
                },
            )
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            engine = make_engine(db_url)
            with engine.begin() as conn:
                data = json.loads(
                    conn.execute(select(members.c.data).where(members.c.id == "al")).scalar_one()
                )
                conn.execute(
                    update(members)
                    .where(members.c.id == "al")
                    .values(data=json.dumps({**data, "name": "Al\nX-EVIL:1\rY"}))
                )
                conn.execute(
                    update(series_table)
                    .where(series_table.c.id == sid)
                    .values(video_url="https://meet.example.org/x\r\nX-EVIL:2")
                )
            engine.dispose()
            answers = [
                api.get("/api/programs/p1/members/al/sessions.ics"),
                api.get(f"/api/programs/p1/series/{sid}/invite.ics"),
            ]
            feed = api.post("/api/programs/p1/members/al/feed-token")
            assert feed.status_code == 201, feed.text
            answers.append(httpx.get(feed.json()["url"]))
            answers.append(api.delete(f"/api/programs/p1/series/{sid}"))
            for r in answers:
                assert r.status_code == 200, r.text
            for r in answers[:3]:
                assert not any(
                    line.startswith("X-EVIL") or "\r" in line for line in r.text.split("\r\n")
                )
    finally:
        server.stop()


# --- international addresses (RFC 6531) ----------------------------------------------------


def test_an_international_address_gets_its_invite_over_smtputf8(db_url, admin, smtp_server):
    """A member at jörg@example.de is booked and the invite arrives at the SMTP server
    with that recipient (SMTPUTF8) and that address in To."""
    server = LiveServer(db_url, smtp_url=smtp_server.url).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            r = api.put(
                "/api/programs/p1/members/al",
                json={"name": "Jörg Müller", "email": "jörg@example.de"},
            )
            assert r.status_code == 200, r.text
            r = api.post(
                "/api/programs/p1/matches/mia-al/series", json={"first_start": FIRST["mia-al"]}
            )
            assert r.status_code == 201, r.text
            assert wait_for(lambda: len(smtp_server.messages) == 2, 20)
    finally:
        server.stop()
    jorg = next(m for m in smtp_server.messages if m.rcpt_tos != ["mia@example.org"])
    assert jorg.rcpt_tos == ["jörg@example.de"]
    # RFC 6532: the headers are UTF-8 as they stand (no encoded words).
    to = Parser(policy=policy.default).parsestr(jorg.raw.decode())["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("Jörg Müller", "jörg@example.de")
    assert {r.status for r in _rows(db_url)} == {"sent"}


def test_a_server_without_smtputf8_fails_that_delivery_for_good(tmp_path):
    """A server that does not offer SMTPUTF8 cannot take an international address: a
    permanent DeliveryError that says so (the delivery is recorded failed, not retried)."""
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(
        Collector(server), hostname=server.host, port=server.port, enable_SMTPUTF8=False
    )
    controller.start()
    try:
        ics, _ = invite()
        msg = imip_message(
            SENDER, Person("jorg", "Jörg", "jörg@example.de"), "Invitation", "x", ics, "REQUEST"
        )
        with pytest.raises(DeliveryError, match="SMTPUTF8") as caught:
            Mailer.from_settings(server.url, tmp_path / "outbox").send(msg)
        assert caught.value.permanent
        Mailer.from_settings(server.url, tmp_path / "outbox").send(invite()[1])
    finally:
        controller.stop()
    assert len(server.messages) == 1  # the ASCII one went through the same server


def test_imip_message_takes_any_stored_name_and_subject():
    """Names and subjects with CR/LF, U+2028, NEL or NUL build a message with one clean
    line per header; an international address makes it UTF-8."""
    ics, _ = invite()
    msg = imip_message(
        SENDER,
        Person("x", "Al\r\nBcc: e@example.org\u2028\x85\x00", "jörg@example.de"),
        "Hi\nBcc: e@example.org\u2029",
        "Agenda\r\n\u2028x\x00",
        ics,
        "REQUEST",
    )
    text = msg.as_string()
    head = text.split("\n\n", 1)[0]
    assert "\nBcc" not in head and "\u2028" not in head and "\x00" not in text
    assert msg["Subject"] == "Hi Bcc: e@example.org"
    assert "jörg@example.de" in head


# --- the background sender ------------------------------------------------------------------


class SilentSmtp:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.sock.settimeout(0.1)  # a blocked accept() would outlive close() and the port
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        """Stop listening and hang up on every client (they see the connection close)."""
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_booking_does_not_wait_for_a_silent_smtp_server(db_url, admin):
    """With an SMTP server that accepts and never answers, a booking still answers 201 at
    once (the 30 s SMTP timeout is the background sender's); once a working server is
    there, the invites go out."""
    port = free_port()
    silent = SilentSmtp(port)
    server = LiveServer(
        db_url, smtp_url=f"smtp://127.0.0.1:{port}", env={"SLOTWISE_RETRY_SECONDS": "0.3"}
    ).start()
    smtp, controller = SmtpServer("127.0.0.1", port), None
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            for match, start in FIRST.items():
                began = time.monotonic()
                r = api.post(
                    f"/api/programs/p1/matches/{match}/series", json={"first_start": start}
                )
                assert r.status_code == 201, r.text
                assert time.monotonic() - began < 5
        assert wait_for(lambda: silent.held, 10)  # the sender is stuck talking to it
        assert {r.status for r in _rows(db_url)} <= {"pending", "sending"}
        silent.close()
        controller = Controller(Collector(smtp), hostname=smtp.host, port=port)
        controller.start()
        assert wait_for(lambda: len(smtp.messages) == 4, 20)
        assert wait_for(lambda: {r.status for r in _rows(db_url)} == {"sent"}, 10)
    finally:
        server.stop()
        silent.close()
        if controller is not None:
            controller.stop()


# --- start-up: secrets and the sender --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "smtp://user:secret@127.0.0.1:2525",
        "smtps://user:secret@mail.example.org",
        "postgresql+psycopg://u:secret@db.example.org:5432/slotwise",
        "postgresql+psycopg://u:se%2Fcret@db/x",
        "smtp://u:sec@ret/x@mail:25",
        "postgresql://u@db/x?password=secret&sslmode=require",
        "smtp://secret@mail:25",
        "smtp://u:sec?ret@127.0.0.1:8025",
        "smtp://u:sec#ret@127.0.0.1:8025",
        "smtp://u:p@ss?secret@mail:25",
        "postgresql+psycopg://u:pw@h/db?sslpassword=secret",
        "smtp:/u:secret@mail",
        "u:secret@db",
        "smtp://u:p@mail#password=secret",
        "postgresql://db/x?auth=secret",
        "postgresql://db/x?credential=secret",
        "postgresql://db/x?options=-c%20password%3Dsecret",
    ],
)
def test_redact_hides_every_password(url):
    """redact_url removes the password (user info, or a password= parameter)."""
    shown = redact_url(url)
    assert "secret" not in shown and "cret" not in shown and "***" in shown


def test_startup_line_hides_database_and_smtp_passwords():
    """The line `slotwise serve` prints names both URLs without their passwords."""
    line = startup_line(
        Settings(
            db_url="postgresql+psycopg://u:secret@db.example.org/x",
            smtp_url="smtp+starttls://me:secret@mail.example.org",
        )
    )
    assert "secret" not in line
    assert "postgresql+psycopg://u:***@db.example.org/x" in line
    assert "smtp+starttls://me:***@mail.example.org" in line


def test_serve_never_prints_the_smtp_password(db_url, admin, smtp_server):
    """A live `slotwise serve` with credentials in SLOTWISE_SMTP_URL: its whole output,
    start-up and a sent invite included, never holds the password."""
    url = smtp_server.url.replace("//", "//user:secret@", 1)
    server = LiveServer(db_url, smtp_url=url)
    # aiosmtpd offers no AUTH on a plain connection, so log in never happens; the URL is
    # still printed at start-up.
    server.start()
    try:
        server.log.seek(0)
        out = server.log.read().decode()
    finally:
        server.stop()
    assert "user:***@127.0.0.1" in out
    assert "secret" not in out


def test_serve_refuses_the_default_sender_when_smtp_is_set(tmp_path):
    """SLOTWISE_SMTP_URL set and SLOTWISE_SENDER left at slotwise@localhost: `slotwise
    serve` exits at once with one line naming SLOTWISE_SENDER, no traceback, no server."""
    env = {k: v for k, v in os.environ.items() if k != "SLOTWISE_SENDER"}
    env["SLOTWISE_SMTP_URL"] = "smtp://127.0.0.1:1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--port",
            str(free_port()),
            "--db",
            f"sqlite:///{tmp_path / 'x.sqlite'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # a server that started would be killed here: a failure
    err = done.stderr.strip()
    assert done.returncode != 0 and "Traceback" not in err
    assert "\n" not in err and "SLOTWISE_SENDER" in err and "slotwise@localhost" in err


def test_the_sender_setting_is_checked():
    """The outbox works with the default sender; a sender that is no address, or an SMTP
    URL that cannot be read, is refused at start (the URL shown without its password)."""
    Settings().check_mail()
    Settings(smtp_url="smtp://mail:25", sender="Programs <p@example.org>").check_mail()
    with pytest.raises(ValueError, match=r"^SLOTWISE_SENDER: "):
        Settings(sender="Programs <not an address>").check_mail()
    with pytest.raises(ValueError, match=r"^SLOTWISE_SMTP_URL: .*u:\*\*\*@") as caught:
        Settings(smtp_url="smtp://u:secret@mail:port", sender="p@example.org").check_mail()
    assert "secret" not in str(caught.value)
