"""Who accepted, on the page (issue 16 item 4): a match's sessions show each member's answer
to the invite as a small mark, and a session declined alone offers the best time that
week; moving it there asks again. Chromium against a live server fed by the inbound
webhook; axe-core, no console error, screenshots at desktop and phone width."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.service.browser import assert_accessible, console_errors, screenshots
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program
from tests.service.test_people_page import _signed_in
from tests.service.test_replies import HEADER, SECRET, SERIES, TUESDAY, reply

# Where the screenshots go (the review looks at them); a test's own folder else.
SHOTS = os.environ.get("SLOTWISE_SHOTS")


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """A live server with the inbound webhook on, program p1 and mia-al's series booked."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    admin = admin_token(url)
    live = LiveServer(url, outbox=tmp_path / "outbox", env={"SLOTWISE_INBOUND_SECRET": SECRET})
    live.extra_env["SLOTWISE_PUBLIC_URL"] = live.url
    live.start()
    try:
        with live.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            booked = api.post(SERIES, json={"first_start": TUESDAY})
            assert booked.status_code == 201, booked.text
        live.series = booked.json()
        yield live
    finally:
        live.stop()


def test_the_facilitator_sees_who_accepted_and_moves_a_declined_session(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """Mia accepted the series (Outlook), Al said maybe to 9 March and declined 16 March
    (Thunderbird): the marks show per session, 16 March says Al declined (its "Who can
    come" too) with the best time that week, and "Move there" moves it, after which nobody
    has answered it yet. At 1280 px every row's cells line up and Move and Cancel sit side
    by side."""
    uid = server.series["uid"]
    mails = [
        reply("outlook", uid, attendee="mia@example.org"),
        reply("thunderbird", uid, partstat="TENTATIVE", occurrence="20270309T100000"),
        reply("thunderbird", uid, partstat="DECLINED", occurrence="20270316T100000"),
    ]
    with server.client() as api:
        for raw in mails:
            assert api.post("/api/inbound/mail", content=raw, headers=HEADER).status_code == 202
    shots = Path(SHOTS) if SHOTS else tmp_path / "shots"
    seen: list[list[str]] = []
    page = _signed_in(browser, server, "mia@example.org", lambda p: seen.append(console_errors(p)))
    page.goto(f"{server.url}/matches/mia-al")
    page.wait_for_selector(".decline-flag")
    rows = page.locator("tr[data-session]")
    assert rows.count() == 4
    marks = [
        {
            (a.get_attribute("data-member"), a.get_attribute("data-partstat"))
            for a in rows.nth(i).locator(".answer").all()
        }
        for i in range(4)
    ]
    assert marks == [
        {("mia", "ACCEPTED")},
        {("mia", "ACCEPTED"), ("al", "TENTATIVE")},
        {("mia", "ACCEPTED"), ("al", "DECLINED")},
        {("mia", "ACCEPTED")},
    ]
    flag = rows.nth(2).locator(".decline-flag").inner_text()
    assert "Al declined this session" in flag and "the best time that week" in flag
    who = [rows.nth(i).locator("td[data-label='Who can come']").inner_text() for i in range(4)]
    assert who == ["everyone", "everyone", "Al declined", "everyone"]
    page.set_viewport_size({"width": 1280, "height": 900})
    for i in range(4):
        cells = [c.bounding_box() for c in rows.nth(i).locator("td").all()]
        # Every cell of a row spans it: the borders between rows line up across columns.
        assert {(round(c["y"]), round(c["height"])) for c in cells} == {
            (round(cells[0]["y"]), round(cells[0]["height"]))
        }, cells
        move, cancel = (
            rows.nth(i).get_by_role("button", name=n, exact=True).bounding_box()
            for n in ("Move", "Cancel")
        )
        assert move["y"] == cancel["y"] and move["x"] < cancel["x"]  # side by side
    assert rows.nth(1).locator(".answer.maybe").text_content() == "? Al maybe"
    assert_accessible(page)
    screenshots(page, shots, "replies")

    rows.nth(2).get_by_role("button", name="Move there").click()
    page.get_by_role("button", name="Move and send updated invites").click()
    page.wait_for_selector(".notice.success:has-text('is moved')")
    assert page.locator(".decline-flag").count() == 0
    moved = page.locator("tr[data-session]").nth(2)
    assert moved.locator(".answer").count() == 0  # an update: everyone is asked again
    assert "No answers yet" in moved.inner_text()
    assert seen == [[]]
