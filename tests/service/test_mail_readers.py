"""Issue 16, items 1 and 2: each recipient's mail gives every time in their own zone and
their locale's date formats (the organizer's beside it), and an update says what changed
and nothing else. Through the app in this process and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service import notify
from service.config import Settings
from service.mailtime import Reader
from tests.service.clock import program_now
from tests.service.inprocess import admin_app, call
from tests.service.smtp import SmtpServer

NNBSP = "\u202f"  # CLDR puts a narrow no-break space before AM/PM (en-US)
SUMMARY = "読書会 — Reading circle"
NOTE = "先生が病気です — المعلم مريض"
SENDER = "slotwise tests <invites@slotwise.example>"


def program() -> dict[str, Any]:
    """Ana organizes in Lisbon; Ben (New York, en-US), Jörg (Berlin, de-DE), Priya (Kolkata,
    +05:30, no locale) and Lord Howe's member (a 30-minute DST change on 4 April 2027)."""
    people = [
        ("ana", "Ana Sousa", "ana@example.org", "Europe/Lisbon", None),
        ("ben", "Ben Okafor", "ben@example.org", "America/New_York", "en-US"),
        ("jorg", "Jörg Müller", "jörg@example.de", "Europe/Berlin", "de-de"),
        ("priya", "प्रिया शर्मा", "priya@example.in", "Asia/Kolkata", None),
        ("lh", "Lowanna", "lowanna@example.au", "Australia/Lord_Howe", None),
    ]
    members = []
    for mid, name, email, zone, locale in people:
        member = {"id": mid, "name": name, "email": email, "timezone": zone}
        if locale:
            member["locale"] = locale
        members.append(member)
    return {
        "version": 1,
        "program": {
            "id": "p16",
            "name": "Readers",
            "timezone": "Europe/Lisbon",
            "start": "2027-03-22",
            "end": "2027-04-30",
            "granularity_minutes": 15,
            "now": "2027-03-01T00:00:00Z",
        },
        "members": members,
        "matches": [
            {
                "id": "circle",
                "members": [m[0] for m in people],
                "organizer": "ana",
                "duration_minutes": 60,
                "frequency": "weekly",
                "sessions": 4,
            }
        ],
    }


@dataclass
class Mails:
    """What the SMTP server got, a recipient's latest first: subject and plain text."""

    smtp: SmtpServer
    seen: int = 0

    def next_round(self) -> dict[str, tuple[str, str]]:
        """The messages since the last call, by recipient."""
        got = self.smtp.messages[self.seen :]
        self.seen = len(self.smtp.messages)
        out = {}
        for m in got:
            text = m.message.get_body(preferencelist=("plain",)).get_content()
            text = text.replace("\r\n", "\n")
            # A long UTF-8 subject is folded whole onto its second line; the parser keeps
            # the fold's blank, which a mail client does not show.
            out[m.rcpt_tos[0]] = (str(m.message["Subject"]).strip(), text)
        assert len(out) == len(got), "one message per recipient and round"
        return out


@pytest.fixture
def booked(tmp_path, smtp_server) -> Iterator[tuple[Any, Settings, str, Any]]:
    """The app (no undo window, mail to the SMTP server), the program, and its series of
    four Thursdays at 14:00 Lisbon time from 25 March 2027 booked."""
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        smtp_url=smtp_server.url,
        sender=SENDER,
        undo_seconds=0,
        outbox=tmp_path / "out",
    )
    with admin_app(settings) as (app, token):

        async def book(api: httpx.AsyncClient) -> dict[str, Any]:
            r = await api.post("/api/programs", json=program())
            assert r.status_code == 201, r.text
            r = await api.post(
                "/api/programs/p16/matches/circle/series",
                json={"first_start": "2027-03-25T14:00:00+00:00", "summary": SUMMARY},
            )
            assert r.status_code == 201, r.text
            out: dict[str, Any] = r.json()
            return out

        series = call(app, token, book)
        yield app, settings, token, series


def _send(app: Any, settings: Settings) -> None:
    notify.flush(app.state.engine, settings)


def test_the_invitation_is_in_each_readers_zone_and_locale(booked, smtp_server):
    """Ben reads US formats in New York time, Jörg German ones in Berlin time, Priya
    English at +05:30 with no locale; each with the organizer's Lisbon time beside. Lord
    Howe's member reads the sessions' dates across its 30-minute DST change."""
    app, settings, _, _ = booked
    _send(app, settings)
    got = Mails(smtp_server).next_round()
    assert sorted(got) == sorted(
        [
            "ana@example.org",
            "ben@example.org",
            "jörg@example.de",
            "priya@example.in",
            "lowanna@example.au",
        ]
    )
    ben, jorg = got["ben@example.org"][1], got["jörg@example.de"][1]
    priya, lh = got["priya@example.in"][1], got["lowanna@example.au"][1]
    ana = got["ana@example.org"][1]
    assert (
        f"First session: Thursday, March 25, 2027, 10:00{NNBSP}AM your time (America/New_York); "
        f"Thursday, March 25, 2027, 2:00{NNBSP}PM (Europe/Lisbon)" in ben
    )
    assert f"- Thu, Apr 8, 2027, 9:00{NNBSP}AM [2:00{NNBSP}PM]" in ben
    assert (
        "First session: Donnerstag, 25. März 2027, 15:00 your time (Europe/Berlin); "
        "Donnerstag, 25. März 2027, 14:00 (Europe/Lisbon)" in jorg
    )
    assert "- Do., 8. Apr. 2027, 15:00 [14:00]" in jorg
    assert (
        "First session: Thursday 25 March 2027, 19:30 your time (Asia/Kolkata); "
        "Thursday 25 March 2027, 14:00 (Europe/Lisbon)" in priya
    )
    assert "- Thu 01 Apr 2027 18:30 [14:00]" in priya
    # Lord Howe: +11 until 4 April, +10:30 after; the organizer's days are others.
    assert "- Fri 26 Mar 2027 01:00 [Thu 25 Mar 2027 14:00]" in lh
    assert "- Fri 02 Apr 2027 00:00 [Thu 01 Apr 2027 14:00]" in lh
    assert "- Thu 08 Apr 2027 23:30 [14:00]" in lh
    assert "- Thu 15 Apr 2027 23:30 [14:00]" in lh
    assert "in brackets, the organizer's, Lisbon time (Europe/Lisbon)" in lh
    # The organizer reads her own zone, with nothing in brackets.
    assert "First session: Thursday 25 March 2027, 14:00 (Europe/Lisbon)," in ana
    assert "- Thu 08 Apr 2027 14:00\n" in ana and "[" not in ana and "your time" not in ana
    assert all(subject == f"Invitation: {SUMMARY}" for subject, _ in got.values())
    assert all(text.startswith(SUMMARY + "\n") for _, text in got.values())


def test_a_move_says_what_moved_in_each_readers_time(booked, smtp_server):
    """Moving the third session from 14:00 to 16:30 Lisbon time: each reader's update says
    that alone, in their zone and formats (Lord Howe's member: to the next day), with the
    organizer's in brackets; the subject names the reader's zone."""
    app, settings, token, series = booked
    _send(app, settings)
    mails = Mails(smtp_server)
    mails.next_round()
    third = series["sessions"][2]["id"]

    async def move(api: httpx.AsyncClient) -> None:
        r = await api.patch(
            f"/api/programs/p16/sessions/{third}", json={"start": "2027-04-08T16:30:00+01:00"}
        )
        assert r.status_code == 200, r.text

    call(app, token, move)
    _send(app, settings)
    got = mails.next_round()
    assert len(got) == 5
    expected = {
        "ana@example.org": "Thu 08 Apr moved from 14:00 to 16:30.",
        "ben@example.org": (
            f"Thu, Apr 8 moved from 9:00{NNBSP}AM to 11:30{NNBSP}AM "
            f"[2:00{NNBSP}PM to 4:30{NNBSP}PM]."
        ),
        "jörg@example.de": "Do., 8. Apr. moved from 15:00 to 17:30 [14:00 to 16:30].",
        "priya@example.in": "Thu 08 Apr moved from 18:30 to 21:00 [14:00 to 16:30].",
        "lowanna@example.au": "Thu 08 Apr moved from 23:30 to Fri 09 Apr 02:00 [14:00 to 16:30].",
    }
    for address, line in expected.items():
        text = got[address][1]
        assert text.split("\n")[:3] == [SUMMARY, "", line], (address, text)
        # What changed and nothing else: no invitation repeated.
        assert "First session" not in text and "Sessions:" not in text
    # In a header the narrow no-break space is a plain one (service.email.header_text).
    assert got["ben@example.org"][0] == (
        f"Moved: {SUMMARY} on Thu, Apr 8, 2027, 9:00 AM (New York time)"
    )
    assert got["lowanna@example.au"][0] == (
        f"Moved: {SUMMARY} on Thu 08 Apr 2027 23:30 (Lord Howe time)"
    )
    assert got["ana@example.org"][1].endswith("Times are Lisbon time (Europe/Lisbon).\n")


def test_a_cancelled_session_says_so_with_its_note(booked, smtp_server):
    """Cancelling the last session with a note in Japanese and Arabic: each reader gets
    "<day> <time> [organizer's] cancelled: <note>" in their time, and the subject names
    the session in their zone."""
    app, settings, token, series = booked
    _send(app, settings)
    mails = Mails(smtp_server)
    mails.next_round()
    last = series["sessions"][3]["id"]

    async def cancel(api: httpx.AsyncClient) -> None:
        r = await api.patch(
            f"/api/programs/p16/sessions/{last}", json={"status": "cancelled", "note": NOTE}
        )
        assert r.status_code == 200, r.text

    call(app, token, cancel)
    _send(app, settings)
    got = mails.next_round()
    lines = {address: text.split("\n")[2] for address, (_, text) in got.items()}
    assert lines == {
        "ana@example.org": f"Thu 15 Apr 14:00 cancelled: {NOTE}",
        "ben@example.org": f"Thu, Apr 15, 9:00{NNBSP}AM [2:00{NNBSP}PM] cancelled: {NOTE}",
        "jörg@example.de": f"Do., 15. Apr., 15:00 [14:00] cancelled: {NOTE}",
        "priya@example.in": f"Thu 15 Apr 18:30 [14:00] cancelled: {NOTE}",
        "lowanna@example.au": f"Thu 15 Apr 23:30 [14:00] cancelled: {NOTE}",
    }
    subjects = {address: subject for address, (subject, _) in got.items()}
    assert subjects["priya@example.in"] == (
        f"Cancelled: {SUMMARY} on Thu 15 Apr 2027 18:30 (Kolkata time)"
    )
    assert subjects["jörg@example.de"] == (
        f"Cancelled: {SUMMARY} on Do., 15. Apr. 2027, 15:00 (Berlin time)"
    )
    assert all("Note:" not in text and "First session" not in text for _, text in got.values())


def test_an_ended_series_says_when_it_now_ends(booked, smtp_server):
    """Cancelling the series after its first session was held: the update says the day it
    now ends on, in each reader's zone (Lord Howe's is the next day), with the note."""
    app, settings, token, series = booked
    _send(app, settings)
    mails = Mails(smtp_server)
    mails.next_round()
    first = series["sessions"][0]

    async def end(api: httpx.AsyncClient) -> None:
        done = await api.post(f"/api/programs/p16/sessions/{first['id']}/complete")
        assert done.status_code == 200, done.text
        r = await api.post(f"/api/programs/p16/series/{series['id']}/cancel", json={"note": NOTE})
        assert r.status_code == 200, r.text

    with program_now(app.state.engine, "p16", first["end"]):
        call(app, token, end)
    _send(app, settings)
    got = mails.next_round()
    assert {subject for subject, _ in got.values()} == {f"Series ended: {SUMMARY}"}
    ends = {address: text.split("\n")[2].split(":")[0] for address, (_, text) in got.items()}
    assert ends == {
        "ana@example.org": "The series now ends on Thu 25 Mar 2027",
        "ben@example.org": "The series now ends on Thu, Mar 25, 2027",
        "jörg@example.de": "The series now ends on Do., 25. März 2027",
        "priya@example.in": "The series now ends on Thu 25 Mar 2027",
        "lowanna@example.au": "The series now ends on Fri 26 Mar 2027 [Thu 25 Mar 2027]",
    }
    assert all(text.endswith(f"Note:\n{NOTE}\n") for _, text in got.values())


def test_a_member_locale_is_checked_and_kept(booked):
    """A member's locale is a BCP 47 tag Babel knows, kept in its usual case ("de-de" is
    stored "de-DE"); an underscore tag or an unknown one is a 422 naming ``locale``, in a
    member PUT and in a document import alike."""
    app, _, token, _ = booked

    async def steps(api: httpx.AsyncClient) -> list[Any]:
        out: list[Any] = [(await api.get("/api/programs/p16/members/jorg")).json()["locale"]]
        for tag in ("de_DE", "xx-YY", "english", "x" * 40):
            r = await api.put("/api/programs/p16/members/ben", json={"id": "ben", "locale": tag})
            out.append((r.status_code, r.json().get("field"), r.json()["detail"]))
        r = await api.put("/api/programs/p16/members/ben", json={"id": "ben", "locale": "pt-br"})
        out.append((r.status_code, r.json().get("locale")))
        r = await api.post(
            "/api/programs/p16/import",
            json={"members": [{"id": "zoe", "locale": "ja_JP"}]},
        )
        out.append((r.status_code, [e["field"] for e in r.json()["errors"]]))
        return out

    stored, *bad, good, imported = call(app, token, steps)
    assert stored == "de-DE"
    for status, field, detail in bad:
        assert (status, field) == (422, "locale"), detail
        assert "locale" in detail
    assert "BCP 47" in bad[0][2] and "unknown locale" in bad[1][2]
    assert good == (200, "pt-BR")
    assert imported == (422, ["members[0].locale"])


@pytest.mark.parametrize(
    ("reader", "long", "short"),
    [
        (
            Reader("America/Sao_Paulo", "pt-BR"),
            "terça-feira, 12 de janeiro de 2027 11:00",
            "ter., 12 de jan. de 2027 11:00",
        ),
        (Reader("Asia/Tokyo", "ja-JP"), "2027年1月12日火曜日 23:00", "2027年1月12日(火) 23:00"),
        (Reader("Asia/Kolkata"), "Tuesday 12 January 2027, 19:30", "Tue 12 Jan 2027 19:30"),
        # Stored before it was checked, unknown to Babel: English, never an error.
        (
            Reader("Asia/Kolkata", "qaa-QM"),
            "Tuesday 12 January 2027, 19:30",
            "Tue 12 Jan 2027 19:30",
        ),
    ],
)
def test_a_reader_reads_their_locales_formats(reader, long, short):
    """pt-BR and ja-JP readers get CLDR's formats; no locale, or one Babel does not know,
    gets the service's English ones."""
    t = datetime(2027, 1, 12, 14, 0, tzinfo=UTC)
    assert (reader.long(t), reader.short(t)) == (long, short)


def test_a_series_called_off_says_so_and_no_more(booked, smtp_server):
    """Cancelling the series before any session was held: the cancellation says the
    series is off, with the note, and lists no session."""
    app, settings, token, series = booked
    _send(app, settings)
    mails = Mails(smtp_server)
    mails.next_round()

    async def cancel(api: httpx.AsyncClient) -> None:
        r = await api.post(f"/api/programs/p16/series/{series['id']}/cancel", json={"note": NOTE})
        assert r.status_code == 200, r.text

    call(app, token, cancel)
    _send(app, settings)
    got = mails.next_round()
    assert len(got) == 5
    for subject, text in got.values():
        assert subject == f"Cancelled: {SUMMARY}"
        assert text == (
            f"{SUMMARY}\n\nThis series has been cancelled: no session of it will be held.\n"
            f"\nNote:\n{NOTE}\n"
        )
