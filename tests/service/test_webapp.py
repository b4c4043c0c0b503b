"""Each role's journey through the web app in Chromium, against a real server and a real
SMTP server (issue 14): sign in from the mailed link, book through the wizard, check the
invites, move, cancel with a note, mark done, plan and apply. Every page is checked with
axe-core, no page may log a console error, and nothing is asked of another host."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.service.browser import PHONE, assert_accessible, offline_context, screenshots
from tests.service.clock import program_now
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program
from tests.service.smtp import Received, SmtpServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screens"
LINK = re.compile(r"(https?://\S+/signin#token=swl_[\w-]+)")


@dataclass
class World:
    """A live server with program p1 (tests/service/sample.py), mail to a real SMTP
    server, and a browser context that may reach 127.0.0.1 only."""

    server: LiveServer
    smtp: SmtpServer
    context: Any
    url: str
    blocked: list[str]
    shots: Path

    def page(self, watch: Any) -> Any:
        page = self.context.new_page()
        watch(page)
        return page

    def mail_to(self, address: str, since: int, count: int = 1) -> list[Received]:
        """The messages to ``address`` after the first ``since`` ones, waiting for ``count``."""
        deadline = time.monotonic() + 20
        while True:
            found = [m for m in self.smtp.messages[since:] if address in m.rcpt_tos]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"no mail to {address}"
            time.sleep(0.05)

    def sign_in(self, page: Any, email: str, address: str | None = None) -> None:
        """Ask for a link on the sign-in page, follow the mailed link, land at home."""
        since = len(self.smtp.messages)
        page.goto(f"{self.server.url}/")
        page.wait_for_selector("text=Sign in to slotwise")
        page.fill("#email", email)
        page.get_by_role("button", name="Email me a sign-in link").click()
        page.wait_for_selector("text=Check your email")
        # The sign-in mail: invites of a booking made just before may arrive meanwhile
        # (the sender is a process of its own, which looks for work every 0.25 s).
        deadline = time.monotonic() + 20
        while True:
            links = [
                found
                for m in self.mail_to(address or email, since)
                for found in LINK.findall(m.message.get_body(("plain",)).get_content())
            ]
            if links or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        (link,) = links
        page.goto(link)
        page.wait_for_selector("#nav .who", state="attached")
        assert "token" not in page.url  # the single-use token leaves the address bar


@pytest.fixture
def world(tmp_path: Path, smtp_server: SmtpServer, browser: Any) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    admin = admin_token(url)
    server = LiveServer(url, smtp_url=smtp_server.url)
    server.extra_env["SLOTWISE_PUBLIC_URL"] = server.url
    server.start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            r = api.put("/api/programs/p1/admins/boss@example.org")
            assert r.status_code == 201, r.text
        context, blocked = offline_context(
            browser,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
            timezone_id="Europe/London",
        )
        # The README's pictures are refreshed on request only.
        shots = DOCS if os.environ.get("SLOTWISE_UPDATE_SCREENSHOT") else tmp_path / "shots"
        yield World(server, smtp_server, context, url, blocked, shots)
        assert blocked == []
        context.close()
    finally:
        server.stop()


def _check(page: Any) -> None:
    """No CSP violation so far, and axe-core finds nothing serious on the page."""
    assert page.evaluate("window.__csp") == []
    assert_accessible(page)


def _ics(mail: Received) -> str:
    for part in mail.message.walk():
        if part.get_content_type() == "text/calendar":
            return str(part.get_content())
    raise AssertionError("no text/calendar part")


def test_a_mentee_signs_in_books_moves_cancels_and_marks_done(world: World, no_console_errors):
    """Al (a mentee) signs in from the mailed link, books his pair through the wizard
    (review shows every date in each person's own time; nothing is sent before Confirm),
    both get invites; then he moves one session, cancels another with a note that reaches
    the cancellation mail, and marks a session done once it has started."""
    page = world.page(no_console_errors)
    world.sign_in(page, "AL@example.org", "al@example.org")
    page.wait_for_selector("h1:has-text('Hello, Al')")
    _check(page)
    card = page.locator("[data-match='mia-al']")
    assert card.locator("text=No sessions booked yet").count() == 1
    # A group is its facilitator's to book: no button for Al there.
    assert page.locator("[data-match='circle'] a:has-text('Book sessions')").count() == 0
    screenshots(page, world.shots, "home-member")

    card.get_by_role("link", name="Book sessions").click()
    page.wait_for_selector("text=What would you like to book?")
    _check(page)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector(".recommended .choice")
    _check(page)
    screenshots(page, world.shots, "wizard-date")
    page.locator(".recommended .choice").first.click()
    page.wait_for_selector("#video_url")
    page.fill("#video_url", "https://meet.example.org/mia-al")
    page.fill("#agenda", "Goals — première séance")
    sent_before = len(world.smtp.messages)
    page.get_by_role("button", name="Review").click()
    page.wait_for_selector("text=Check before you send")
    _check(page)
    rows = page.locator("table.occurrences tbody tr")
    assert rows.count() == 4
    headers = page.locator("table.occurrences thead th").all_inner_texts()
    assert "Mia (New York)" in headers and "Your own time (London)" in headers
    # Mia is in New York: her column differs from Al's London time.
    first = rows.first.locator("td").all_inner_texts()
    assert first[1] != first[2]
    screenshots(page, world.shots, "wizard-review")
    # Another zone redraws the review in it; nothing chosen is lost (review finding).
    london = rows.first.locator("td").first.inner_text()
    page.get_by_role("button", name=re.compile("^Times in")).click()
    page.fill("#zone-input", "Asia/Kolkata")
    page.keyboard.press("Enter")
    page.wait_for_selector("button:has-text('Times in Kolkata')")
    page.wait_for_selector("text=Check before you send")
    rows = page.locator("table.occurrences tbody tr")
    deadline = time.monotonic() + 15  # the review is fetched again for the new zone
    while rows.first.locator("td").first.inner_text() == london:
        assert time.monotonic() < deadline, "the review was not redrawn in the new zone"
        page.wait_for_timeout(50)
    assert rows.count() == 4
    assert "première séance" in page.inner_text("main")
    assert page.locator("dialog").count() == 0
    time.sleep(0.5)
    assert len(world.smtp.messages) == sent_before  # nothing before Confirm
    page.get_by_role("button", name=re.compile("Book and send invites")).click()
    page.wait_for_selector("text=4 sessions booked")
    _check(page)
    invites = {m.rcpt_tos[0]: m for m in world.mail_to("mia@example.org", sent_before)}
    invites |= {m.rcpt_tos[0]: m for m in world.mail_to("al@example.org", sent_before)}
    for mail in invites.values():
        ics = _ics(mail)
        assert "METHOD:REQUEST" in ics and "COUNT=4" in ics
        assert "https://meet.example.org/mia-al" in mail.message.get_body(("plain",)).get_content()

    page.get_by_role("link", name="See and manage these sessions").click()
    page.wait_for_selector("[data-session]")
    _check(page)
    sessions = page.locator("tr[data-session]")
    assert sessions.count() == 4
    assert "everyone" in sessions.first.inner_text()  # who can come, from availability now
    assert page.locator("button:has-text('Mark done')").count() == 0  # none has started
    before = len(world.smtp.messages)
    sessions.nth(1).get_by_role("button", name="Move").click()
    page.wait_for_selector(".move .time")
    page.locator(".move .time").first.click()
    page.get_by_role("button", name="Move and send updated invites").click()
    page.wait_for_selector("text=The session is moved")
    moved = world.mail_to("al@example.org", before)
    assert "METHOD:REQUEST" in _ics(moved[0]) and "RECURRENCE-ID" in _ics(moved[0])

    before = len(world.smtp.messages)
    page.locator("tr[data-session]").nth(2).get_by_role("button", name="Cancel").click()
    page.fill("#confirm-note", "Sorry — je suis en déplacement")
    page.get_by_role("button", name="Cancel the session").click()
    page.wait_for_selector("text=is cancelled")
    (cancel,) = world.mail_to("mia@example.org", before)
    assert "METHOD:CANCEL" in _ics(cancel)
    assert "je suis en déplacement" in cancel.message.get_body(("plain",)).get_content()

    with world.server.client(admin_token(world.url)) as api:
        (series,) = api.get("/api/programs/p1/matches/mia-al/series").json()
    starts = [s["start"] for s in series["sessions"]]
    with program_now(world.url, "p1", starts[0]):
        page.reload()
        page.wait_for_selector("button:has-text('Mark done')")
        page.get_by_role("button", name="Mark done").click()
        page.wait_for_selector("text=is marked done")
        assert page.locator("text=1 of 3 done").count() == 1
        _check(page)


def test_an_admin_plans_and_applies_after_a_confirmation(world: World, no_console_errors):
    """A program admin signs in, sees the overview, plans every match not yet booked,
    is shown who will get invites before anything is booked, applies, the invites go out,
    and the overview then says what the last plan booked and what it could not place."""
    page = world.page(no_console_errors)
    world.sign_in(page, "boss@example.org")
    page.wait_for_selector("h1:has-text('Test cohort')")
    _check(page)
    assert page.locator(".stats").inner_text().split() == (
        ["4", "matches", "0", "booked", "4", "not", "booked", "yet"]
    )
    screenshots(page, world.shots, "home-admin")
    page.get_by_role("link", name=re.compile("Plan the 4 matches")).click()
    page.fill("#time-limit", "10")
    page.get_by_role("button", name="Start planning").click()
    page.wait_for_selector("text=The plan", timeout=60_000)
    _check(page)
    planned = page.locator("tbody tr:not(.short)").count()
    assert planned >= 1
    before = len(world.smtp.messages)
    page.get_by_role("button", name="Book these and send invites…").click()
    dialog = page.locator("dialog.confirm")
    assert "Mia" in dialog.inner_text() and "Al" in dialog.inner_text()
    time.sleep(0.3)
    assert len(world.smtp.messages) == before  # nothing before the confirmation
    dialog.get_by_role("button", name="Book and send invites").click()
    page.wait_for_selector(f"text={planned} series booked")
    assert world.mail_to("mia@example.org", before)
    page.get_by_role("link", name="Back to the overview").click()
    page.wait_for_selector(".stats")
    assert f"{planned} booked" in " ".join(page.locator(".stats").inner_text().split())
    # The last plan: what it planned, that it is booked, and each match it could not
    # place with the reason, as the job says.
    section = page.locator("[data-last-plan]")
    with world.server.client(admin_token(world.url)) as api:
        job = api.get(f"/api/jobs/{section.get_attribute('data-last-plan')}").json()
    text = section.inner_text()
    assert f"{len(job['plan']['series'])} matches planned, booked" in text
    for u in job["plan"]["unscheduled"]:
        assert u["reason"] in text
    _check(page)


def test_a_facilitator_picks_on_the_heat_map_at_phone_width(world: World, no_console_errors):
    """Mia (facilitator) sees her groups and pairs and who cannot come to which booked
    session (Bo's time away, added after booking); at 390 px nothing overflows sideways and
    every button is at least 44 px tall; in the wizard she opens the week's heat map and
    picks a time on it, which takes her to the details."""
    with world.server.client(admin_token(world.url)) as api:
        found = api.post("/api/programs/p1/matches/mia-bo/proposals", json={}).json()
        r = api.post(
            "/api/programs/p1/matches/mia-bo/series",
            json={"first_start": found["proposals"][0]["first_start"]},
        )
        second = r.json()["sessions"][1]["start"][:10]
        bo = api.get("/api/programs/p1").json()["members"][2]
        bo["unavailable"] = [{"start": f"{second}T00:00", "end": f"{second}T23:45"}]
        assert api.put("/api/programs/p1/members/bo", json=bo).status_code == 200
    page = world.page(no_console_errors)
    page.set_viewport_size({"width": PHONE, "height": 800})
    world.sign_in(page, "mia@example.org")
    page.wait_for_selector("text=Your groups and pairs")
    assert page.locator(".cards > li").count() == 4
    # Who is missing where: Bo's time away after the booking shows on Mia's home.
    page.wait_for_selector("[data-match='mia-bo'] .missing-line.missing")
    assert "Bo cannot come on" in page.inner_text("[data-match='mia-bo'] .missing-line")
    _check(page)
    screenshots(page, world.shots, "home-facilitator")
    page.set_viewport_size({"width": PHONE, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    page.locator("[data-match='circle']").get_by_role("link", name="Book sessions").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector(".days")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    small = page.evaluate(
        "[...document.querySelectorAll('main button, main a.button')]"
        ".filter(b => b.offsetParent && b.getBoundingClientRect().height < 44)"
        ".map(b => b.textContent)"
    )
    assert small == []
    page.locator("summary:has-text('See the whole week')").click()
    page.wait_for_selector("td.hm-cell")
    _check(page)
    page.locator("td.hm-cell:not([aria-disabled])").first.click()
    page.wait_for_selector("#video_url")
    assert "First session:" in page.inner_text("main")
