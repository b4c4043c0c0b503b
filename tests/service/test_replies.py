"""Issue 16 item 4, who accepted: replies to invites (iTIP REPLY, RFC 5546 3.2.3) reach the
service over SMTP/LMTP (its own listener, aiosmtpd) or the inbound webhook, are kept per
member and occurrence, shown where a match's series are listed, and a decline of one
occurrence is flagged with the best alternative that week; spoofed or stale replies are
ignored with one log line (docs/rules.md, "Replies")."""

from __future__ import annotations

import base64
import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from service.config import Settings
from service.inbound import InboundListener
from service.replies import Ignored, read_message, read_reply
from service.store import replies
from tests.helpers import free_port, wait_for
from tests.service.inprocess import admin_app, call
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program

DATA = Path(__file__).resolve().parents[1] / "data" / "replies"
NY = ZoneInfo("America/New_York")
SECRET = "s3cret-for-inbound-mail-0123"
HEADER = {"X-Slotwise-Inbound-Secret": SECRET, "Content-Type": "message/rfc822"}
SERIES = "/api/programs/p1/matches/mia-al/series"
TUESDAY = "2027-03-02T10:00:00-05:00"  # weekly, 4 sessions: 2, 9, 16 and 23 March
ZONES = {"thunderbird": "America/New_York", "outlook": "Eastern Standard Time"}


def reply(
    client: str,
    uid: str,
    *,
    attendee: str = "al@example.org",
    sender: str | None = None,
    partstat: str = "ACCEPTED",
    sequence: int = 0,
    dtstamp: str = "20260301T101744Z",
    occurrence: str | None = None,
    method: str = "REPLY",
    ics: str | None = None,
) -> bytes:
    """A reply as ``client`` (thunderbird, outlook) mails it, from the fixture templates:
    to the whole series, or to the occurrence whose original start (New York wall-clock,
    ``20270316T100000``) is ``occurrence``."""
    start = occurrence or "20270302T100000"
    end = (datetime.strptime(start, "%Y%m%dT%H%M%S") + timedelta(hours=1)).strftime("%Y%m%dT%H%M%S")
    line = (
        f"RECURRENCE-ID;TZID={ZONES[client]}:{occurrence}\r\n"
        if occurrence
        else "RRULE:FREQ=WEEKLY;COUNT=4\r\n"
    )
    if ics is None:
        ics = Template((DATA / f"{client}_reply.ics.tmpl").read_bytes().decode()).substitute(
            METHOD=method,
            UID=uid,
            SUMMARY="Mentoring: Mia & Al",
            NAME="Al",
            ATTENDEE=attendee,
            PARTSTAT=partstat,
            SEQUENCE=sequence,
            DTSTAMP=dtstamp,
            DTSTART=start,
            DTEND=end,
            RECURRENCE=line,
        )
    # surrogateescape: a test may write bytes that are not UTF-8 as U+DC80..U+DCFF.
    encoded = base64.encodebytes(ics.encode("utf-8", "surrogateescape")).decode()
    encoded = encoded.replace("\n", "\r\n").rstrip()
    mail = Template((DATA / f"{client}_reply.eml.tmpl").read_bytes().decode()).substitute(
        FROM=sender or f"Al <{attendee}>",
        SUMMARY="Mentoring: Mia & Al",
        NAME="Al",
        ICS=ics.rstrip("\r\n"),
        ICS_BASE64=encoded,
    )
    return mail.encode("utf-8", "surrogateescape")


@dataclass
class Booked:
    app: Any
    token: str
    settings: Settings
    series: dict[str, Any]

    def get(self, path: str = SERIES) -> Any:
        async def steps(api: httpx.AsyncClient) -> Any:
            r = await api.get(path)
            assert r.status_code == 200, r.text
            return r.json()

        return call(self.app, self.token, steps)

    def post(self, raw: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        async def steps(api: httpx.AsyncClient) -> httpx.Response:
            return await api.post(
                "/api/inbound/mail", content=raw, headers=HEADER if headers is None else headers
            )

        return call(self.app, self.token, steps)

    def patch(self, session: str, body: dict[str, Any]) -> Any:
        async def steps(api: httpx.AsyncClient) -> Any:
            r = await api.patch(f"/api/programs/p1/sessions/{session}", json=body)
            assert r.status_code == 200, r.text
            return r.json()

        return call(self.app, self.token, steps)

    def kept(self) -> int:
        with self.app.state.engine.connect() as conn:
            n: int = conn.execute(select(func.count()).select_from(replies)).scalar_one()
            return n

    def session(self, i: int) -> dict[str, Any]:
        """Session ``i`` of the booked series as listed for the match now."""
        listed = self.get()
        return next(s for s in listed if s["id"] == self.series["id"])["sessions"][i]


@contextmanager
def booked(tmp_path: Path, doc: dict[str, Any] | None = None, **options: Any) -> Iterator[Booked]:
    """The in-process app on a SQLite file with mia-al's weekly series booked."""
    settings = Settings(
        **{
            "db_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "outbox": tmp_path / "out",
            "undo_seconds": 0,
            "inbound_secret": SECRET,
            "inbound_port": free_port(),
            **options,
        }
    )
    with admin_app(settings) as (app, token):

        async def steps(api: httpx.AsyncClient) -> Any:
            assert (await api.post("/api/programs", json=doc or program())).status_code == 201
            r = await api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            return r.json()

        yield Booked(app, token, settings, call(app, token, steps))


@contextmanager
def listening(b: Booked) -> Iterator[int]:
    listener = InboundListener(b.app.state.engine, b.settings)
    listener.start()
    try:
        yield listener.port
    finally:
        listener.stop()


def answers(session: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {r["member"]: (r["partstat"], r["scope"]) for r in session["replies"]}


def test_a_thunderbird_reply_over_smtp_accepts_the_whole_series(tmp_path):
    """Thunderbird's REPLY (text/calendar part and invite.ics attachment), sent with
    smtplib to the service's own SMTP listener, marks Al as accepted on every session."""
    with booked(tmp_path) as b, listening(b) as port:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(
                "al@example.org",
                ["invites@slotwise.example"],
                reply("thunderbird", b.series["uid"]),
            )
        listed = b.get()
    sessions = listed[0]["sessions"]
    assert [answers(s) for s in sessions] == [{"al": ("ACCEPTED", "series")}] * 4
    assert sessions[0]["replies"][0]["answered_at"] == "2026-03-01T10:17:44+00:00"
    assert all("declined" not in s for s in sessions)


def test_an_outlook_decline_of_one_occurrence_over_lmtp(tmp_path):
    """Outlook's REPLY (base64 text/calendar, Windows zone name with its VTIMEZONE,
    MAILTO: in capitals) declining the 16 March occurrence, after DST began, sent over
    LMTP: only that occurrence is declined."""
    with booked(tmp_path, inbound_lmtp=True) as b, listening(b) as port:
        raw = reply(
            "outlook", b.series["uid"], attendee="AL@EXAMPLE.ORG", partstat="DECLINED",
            occurrence="20270316T100000",
        )  # fmt: skip
        with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("al@example.org", ["invites@slotwise.example"], raw)
        sessions = b.get()[0]["sessions"]
    assert [answers(s) for s in sessions] == [{}, {}, {"al": ("DECLINED", "occurrence")}, {}]


@pytest.mark.parametrize("client", ["thunderbird", "outlook"])
def test_the_webhook_reads_each_clients_reply(tmp_path, client):
    """The same replies posted to the webhook (as a hosted mail provider would) are kept
    alike: 202, and the answer shown on the session."""
    with booked(tmp_path) as b:
        raw = reply(client, b.series["uid"], partstat="TENTATIVE", occurrence="20270309T100000")
        r = b.post(raw)
        assert r.status_code == 202, r.text
        assert r.json() == {"status": "accepted"}
        assert answers(b.session(1)) == {"al": ("TENTATIVE", "occurrence")}


def test_a_decline_of_one_occurrence_is_flagged_with_the_best_alternative(tmp_path):
    """Al declines 16 March alone: the facilitator's listing flags that session (it no
    longer holds, a pair needs both) with the solver's best start that week, clear of the
    declined hour; moving the session there asks again, and the flag is gone."""
    with booked(tmp_path) as b:
        raw = reply(
            "thunderbird", b.series["uid"], partstat="DECLINED", occurrence="20270316T100000"
        )
        assert b.post(raw).status_code == 202
        flag = b.session(2)["declined"]
        assert (flag["members"], flag["holds"], flag["missing"]) == (["al"], False, ["al"])
        alternative = datetime.fromisoformat(flag["alternative"]).astimezone(NY)
        # Same week (Monday 15 to Sunday 21 March, organizer's zone), not overlapping the
        # declined 10:00-11:00.
        assert datetime(2027, 3, 15, tzinfo=NY) <= alternative < datetime(2027, 3, 22, tzinfo=NY)
        declined = datetime(2027, 3, 16, 10, tzinfo=NY)
        assert abs(alternative - declined) >= timedelta(hours=1)
        assert all("declined" not in b.session(i) for i in (0, 1, 3))
        b.patch(b.session(2)["id"], {"start": flag["alternative"]})
        moved = b.session(2)
    assert "declined" not in moved and moved["replies"] == []


def test_an_international_attendee_is_matched_in_one_normal_form(tmp_path):
    """Jörg's address is stored in Unicode; the reply comes From its punycode domain in
    capitals, and names ATTENDEE in another case, over SMTPUTF8: the same person."""
    doc = program()
    al = next(m for m in doc["members"] if m["id"] == "al")
    al["email"] = "jörg@bücher.example"
    with booked(tmp_path, doc) as b, listening(b) as port:
        raw = reply(
            "thunderbird", b.series["uid"], attendee="JÖRG@Bücher.Example",
            sender="Jörg <jörg@XN--BCHER-KVA.example>",
        )  # fmt: skip
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo()
            client.sendmail(
                "jörg@xn--bcher-kva.example",
                ["invites@slotwise.example"],
                raw,
                mail_options=["SMTPUTF8"],
            )
        assert answers(b.get()[0]["sessions"][0]) == {"al": ("ACCEPTED", "series")}


SPOOFS = {
    "From is not the ATTENDEE": dict(sender="Cy <cy@example.org>"),
    "unknown UID": dict(uid="s000000000000-0000@slotwise"),
    "not a member of the series' match": dict(attendee="cy@example.org"),
    "not REPLY": dict(method="REQUEST"),
    "cannot be read": dict(ics="BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTAMP:yesterday\r\n"),
    "no calendar": dict(ics=""),
}


@pytest.mark.parametrize("why", SPOOFS)
def test_a_spoofed_reply_is_ignored_and_logged_once(tmp_path, caplog, why):
    """Each kind of reply that is not the attendee's own answer to a series of theirs is
    answered 202 like any other (nothing to probe), stores nothing, and logs one line
    saying why, without a stack trace."""
    given = dict(SPOOFS[why])
    with booked(tmp_path) as b:
        uid = given.pop("uid", b.series["uid"])
        raw = reply("thunderbird", uid, **given)
        if why == "no calendar":
            raw = raw.replace(b"text/calendar", b"text/plain").replace(
                b"application/ics", b"text/plain"
            )
            raw = raw.replace(b"invite.ics", b"invite.txt")
        caplog.set_level(logging.INFO, logger="slotwise.replies")
        assert b.post(raw).status_code == 202
        assert b.kept() == 0
    lines = [r for r in caplog.records if r.name == "slotwise.replies"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "reply ignored" in lines[0].getMessage() and why in lines[0].getMessage()
    assert lines[0].exc_info is None


def test_a_reply_to_an_older_sequence_is_stale(tmp_path, caplog):
    """After a session moved (SEQUENCE 1), a reply to the first invite (SEQUENCE 0) is
    stale: ignored; the same answer at SEQUENCE 1 is kept."""
    with booked(tmp_path) as b:
        b.patch(b.series["sessions"][3]["id"], {"start": "2027-03-24T10:00:00-04:00"})
        caplog.set_level(logging.INFO, logger="slotwise.replies")
        assert b.post(reply("outlook", b.series["uid"], sequence=0)).status_code == 202
        assert b.kept() == 0
        assert "stale: SEQUENCE 0" in caplog.text
        assert b.post(reply("outlook", b.series["uid"], sequence=1)).status_code == 202
        assert answers(b.session(0)) == {"al": ("ACCEPTED", "series")}


def test_an_older_dtstamp_does_not_overwrite_a_newer_answer(tmp_path):
    """Replies can arrive out of order: a decline stamped before the accept already kept
    is stale and ignored; a later one replaces it."""
    with booked(tmp_path) as b:
        uid = b.series["uid"]
        assert b.post(reply("thunderbird", uid, dtstamp="20260301T120000Z")).status_code == 202
        late = reply("thunderbird", uid, partstat="DECLINED", dtstamp="20260301T110000Z")
        assert b.post(late).status_code == 202
        assert answers(b.session(0)) == {"al": ("ACCEPTED", "series")}
        newer = reply("thunderbird", uid, partstat="DECLINED", dtstamp="20260301T130000Z")
        assert b.post(newer).status_code == 202
        assert answers(b.session(0)) == {"al": ("DECLINED", "series")}
        assert "declined" not in b.session(0)  # the whole series declined: no move offered


def test_the_webhook_refuses_without_the_secret_and_unreadable_bodies(tmp_path):
    """401 without the secret (or with another), 400 for a body that is no mail message or
    of another content type, 413 above SLOTWISE_INBOUND_MAX_BYTES; nothing kept."""
    with booked(tmp_path, inbound_max_bytes=4000) as b:
        raw = reply("thunderbird", b.series["uid"])
        assert b.post(raw, {"Content-Type": "message/rfc822"}).status_code == 401
        wrong = {**HEADER, "X-Slotwise-Inbound-Secret": SECRET[:-1] + "x"}
        assert b.post(raw, wrong).status_code == 401
        assert b.post(b"", HEADER).status_code == 400
        bad = b.post(b"just some words", HEADER)
        assert bad.status_code == 400 and "no header fields" in bad.text
        assert b.post(raw, {**HEADER, "Content-Type": "text/plain"}).status_code == 400
        big = raw.replace(b"has accepted", b"has accepted" + b" really" * 1000)
        assert b.post(big, HEADER).status_code == 413
        assert b.kept() == 0


def test_the_webhook_is_off_without_a_secret(tmp_path):
    """With SLOTWISE_INBOUND_SECRET unset the webhook does not exist (404), whatever is sent."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (app, token):

        async def steps(api: httpx.AsyncClient) -> int:
            r = await api.post("/api/inbound/mail", content=b"From: a@b.c\r\n\r\n", headers=HEADER)
            return r.status_code

        assert call(app, token, steps) == 404


def test_the_setting_starts_the_listener_with_the_server(tmp_path):
    """SLOTWISE_INBOUND_PORT makes the running server listen for replies on 127.0.0.1:
    a reply sent there with smtplib shows on the series."""
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    port = free_port()
    server = LiveServer(db_url, env={"SLOTWISE_INBOUND_PORT": str(port)}).start()
    try:
        with server.client(admin_token(db_url)) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            r = api.post(SERIES, json={"first_start": TUESDAY})
            assert r.status_code == 201, r.text
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail(
                    "al@example.org",
                    ["invites@slotwise.example"],
                    reply("outlook", r.json()["uid"]),
                )

            def accepted() -> bool:
                got = api.get(SERIES).json()[0]["sessions"][0]["replies"]
                return [x["partstat"] for x in got] == ["ACCEPTED"]

            assert wait_for(accepted)
    finally:
        server.stop()


def _event(*lines: str) -> str:
    body = "\r\n".join(lines)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REPLY\r\n"
        f"BEGIN:VEVENT\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


GOOD = ("UID:s1-ab@slotwise", "DTSTAMP:20270301T101744Z", "SEQUENCE:0")
ODD = {
    "DTSTAMP of another kind": _event(
        "UID:s1-ab@slotwise", "DTSTAMP:PT1H", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org"
    ),
    "SEQUENCE not a number": _event(
        "UID:x",
        "DTSTAMP:20270301T101744Z",
        "SEQUENCE:two",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org",
    ),
    "RECURRENCE-ID a date": _event(
        *GOOD,
        "RECURRENCE-ID;VALUE=DATE:20270316",
        "ATTENDEE;PARTSTAT=DECLINED:mailto:al@example.org",
    ),
    "RECURRENCE-ID in an unknown zone": _event(
        *GOOD,
        "RECURRENCE-ID;TZID=Mars/Olympus:20270316T100000",
        "ATTENDEE;PARTSTAT=DECLINED:mailto:al@example.org",
    ),
    "no ATTENDEE": _event(*GOOD),
    "ATTENDEE not an address": _event(*GOOD, "ATTENDEE;PARTSTAT=ACCEPTED:urn:uuid:1234"),
    "NEEDS-ACTION": _event(*GOOD, "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:al@example.org"),
    "no PARTSTAT": _event(*GOOD, "ATTENDEE:mailto:al@example.org"),
    "no DTSTAMP": _event("UID:s1-ab@slotwise", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org"),
    "no UID": _event(
        "DTSTAMP:20270301T101744Z", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org"
    ),
    "two UIDs": _event(*GOOD, "ATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org").replace(
        "END:VEVENT\r\n",
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:other\r\nDTSTAMP:20270301T101744Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org\r\nEND:VEVENT\r\n",
    ),
    "not UTF-8": "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:\udcff\r\nEND:VEVENT\r\n",
    "no METHOD": _event(*GOOD, "ATTENDEE;PARTSTAT=ACCEPTED:mailto:al@example.org").replace(
        "METHOD:REPLY\r\n", ""
    ),
}


@pytest.mark.parametrize("case", ODD)
def test_an_odd_calendar_is_ignored_never_an_error(case):
    """Whatever the calendar part holds, reading a reply ends in an answer or a reason
    to ignore it (never another exception: the webhook would answer 500)."""
    raw = reply("thunderbird", "s1-ab@slotwise", ics=ODD[case])
    with pytest.raises(Ignored):
        read_reply(read_message(raw), "al@example.org")


def test_a_good_calendar_reads_as_one_answer_per_event():
    """The reading the odd cases are measured against: a minimal REPLY is one answer."""
    ics = _event(*GOOD, "ATTENDEE;PARTSTAT=accepted:MAILTO:Al%40example.org")
    found = read_reply(read_message(reply("outlook", "s1-ab@slotwise", ics=ics)), "AL@example.org")
    assert [(a.uid, a.partstat, a.sequence, a.recurrence_id) for a in found] == [
        ("s1-ab@slotwise", "ACCEPTED", 0, None)
    ]


def test_undoing_a_booking_deletes_its_replies(tmp_path):
    """Undo removes the series with everything about it: the replies already kept for it
    go in the same transaction, none is left naming a series that is not there."""
    with booked(tmp_path, undo_seconds=3600) as b:
        raw = reply("thunderbird", b.series["uid"], partstat="TENTATIVE")
        assert b.post(raw).status_code == 202
        assert b.kept() == 1

        async def undo(api: httpx.AsyncClient) -> httpx.Response:
            return await api.post(f"/api/programs/p1/series/{b.series['id']}/undo")

        r = call(b.app, b.token, undo)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "withdrawn"
        assert b.kept() == 0
