"""Issue 16, a decline is mailed to the facilitator: a REPLY declining one occurrence
(webhook or LMTP listener) queues one plain-text mail to the match's organizer, sent by the
background sender through a real SMTP server (aiosmtpd), in the organizer's zone and
locale, naming who declined which occurrence and the best alternative that week, with a
link to the match page; a repeated, spoofed or stale reply mails nothing
(docs/rules.md, "Replies")."""

from __future__ import annotations

import smtplib
from datetime import datetime

from service import notify
from service.mailtime import Reader
from tests.service.sample import program
from tests.service.test_replies import booked, listening, reply

PUBLIC = "https://slotwise.example.org"
MIA = Reader("America/New_York", "de-DE")


def _drain(b, smtp_server) -> list:
    """Send everything queued, through the aiosmtpd server; what arrived, and forget it."""
    notify.flush(b.app.state.engine, b.settings)
    got = list(smtp_server.messages)
    smtp_server.messages.clear()
    return got


def _notices(got: list) -> list:
    return [m for m in got if str(m.message["Subject"]).startswith("Declined:")]


def _doc() -> dict:
    doc = program()
    mia = next(m for m in doc["members"] if m["id"] == "mia")
    mia["locale"] = "de-DE"
    return doc


def test_a_decline_mails_the_facilitator_once_in_their_locale(tmp_path, smtp_server):
    """Al declines 16 March through the webhook: Mia, the organizer, gets exactly one
    plain-text mail (German date formats, New York time) naming Al, the occurrence, the
    flag's best alternative that week and the match page; Al gets nothing. The same REPLY
    posted again mails nothing more, nor does an accept after it; declining again does."""
    with booked(tmp_path, _doc(), smtp_url=smtp_server.url, public_url=PUBLIC) as b:
        assert len(_drain(b, smtp_server)) == 2  # the invitations to Mia and Al
        raw = reply(
            "thunderbird", b.series["uid"], partstat="DECLINED", occurrence="20270316T100000"
        )
        assert b.post(raw).status_code == 202
        got = _drain(b, smtp_server)
        flag = b.session(2)["declined"]
        assert b.post(raw).status_code == 202  # sent again: the same decline
        again = _drain(b, smtp_server)
        when = {"partstat": "ACCEPTED", "occurrence": "20270316T100000"}
        accept = reply("thunderbird", b.series["uid"], dtstamp="20260302T090000Z", **when)
        assert b.post(accept).status_code == 202
        accepted = _drain(b, smtp_server)
        when["partstat"] = "DECLINED"
        decline = reply("thunderbird", b.series["uid"], dtstamp="20260303T090000Z", **when)
        assert b.post(decline).status_code == 202
        declined_again = _drain(b, smtp_server)
    assert len(got) == 1 and _notices(got) == got and again == []
    assert accepted == []  # an accept after the decline is shown on the page, not mailed
    assert [m.rcpt_tos for m in _notices(declined_again)] == [["mia@example.org"]]
    mail = got[0]
    assert mail.rcpt_tos == ["mia@example.org"]
    assert not mail.message.is_multipart()  # plain text, no calendar to act on
    assert mail.message.get_content_type() == "text/plain"
    declined = datetime.fromisoformat("2027-03-16T10:00:00-04:00")
    alternative = datetime.fromisoformat(flag["alternative"])
    assert mail.message["Subject"] == (
        f"Declined: Mentoring: Mia & Al on {MIA.short(declined)} by Al"
    )
    body = mail.message.get_content()
    assert f"Al declined the session on {MIA.day_time(declined)}." in body
    assert "It no longer holds without them." in body
    assert f"Best time that week: {MIA.day_time(alternative)}." in body
    assert f"{PUBLIC}/matches/mia-al" in body
    assert "Times are New York time (America/New_York)." in body
    assert "Di., 16. März" in body  # German formats, read from CLDR by Babel


def test_over_lmtp_spoofed_and_stale_declines_mail_nothing(tmp_path, smtp_server):
    """Through the LMTP listener: a decline From someone else and one answering an invite
    since updated (stale SEQUENCE) are ignored and mail nobody; the same decline at the
    current SEQUENCE mails the facilitator once."""
    with (
        booked(tmp_path, smtp_url=smtp_server.url, inbound_lmtp=True) as b,
        listening(b) as port,
    ):
        b.patch(b.series["sessions"][3]["id"], {"start": "2027-03-24T10:00:00-04:00"})
        _drain(b, smtp_server)  # the invitations and the update
        uid, when = b.series["uid"], "20270316T100000"
        spoofed = reply(
            "outlook", uid, partstat="DECLINED", occurrence=when, sender="Cy <cy@example.org>"
        )
        stale = reply("outlook", uid, partstat="DECLINED", occurrence=when, sequence=0)
        good = reply("outlook", uid, partstat="DECLINED", occurrence=when, sequence=1)
        sent = []
        for raw in (spoofed, stale, good):
            with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail("al@example.org", ["invites@slotwise.example"], raw)
            sent.append(_drain(b, smtp_server))
    assert sent[0] == [] and sent[1] == []
    assert [m.rcpt_tos for m in sent[2]] == [["mia@example.org"]]
    assert "Al declined the session on Tue 16 Mar 10:00." in sent[2][0].message.get_content()


def test_a_pair_without_an_organizer_tells_the_other_member_in_their_zone(tmp_path, smtp_server):
    """A pair with no organizer books for itself: Al's decline goes to Mia, and Mia's
    decline to Al, each in their own zone (London is not the series' New York)."""
    doc = program()
    pair = next(x for x in doc["matches"] if x["id"] == "mia-al")
    del pair["organizer"]
    with booked(tmp_path, doc, smtp_url=smtp_server.url) as b:
        _drain(b, smtp_server)
        uid, when = b.series["uid"], "20270309T100000"
        mia = reply(
            "thunderbird", uid, attendee="mia@example.org", partstat="DECLINED", occurrence=when
        )
        assert b.post(mia).status_code == 202
        got = _drain(b, smtp_server)
    assert [m.rcpt_tos for m in got] == [["al@example.org"]]
    body = got[0].message.get_content()
    # 10:00 in New York on 9 March (EST) is 15:00 in London (GMT).
    assert "Mia declined the session on Tue 09 Mar 15:00." in body
    assert "Times are London time (Europe/London)." in body
