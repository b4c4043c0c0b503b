"""The program admin's "People and matches" page in Chromium against a live server: add a
person with an international name and address, add a match with them, import a CSV with a
bad row (shown where it is, nothing changed), fix it and import again. axe-core on every
state, no console error, screenshots at desktop and phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from service.signin import new_link
from service.store import make_engine
from tests.service.browser import assert_accessible, console_errors, screenshots
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """A live server with program p1 and boss@example.org its admin."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    admin = admin_token(url)
    live = LiveServer(url, outbox=tmp_path / "outbox")
    live.extra_env["SLOTWISE_PUBLIC_URL"] = live.url
    live.start()
    try:
        with live.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            assert api.put("/api/programs/p1/admins/boss@example.org").status_code == 201
        live.api_token = admin
        yield live
    finally:
        live.stop()


def _signed_in(browser: Any, server: Any, email: str, watch: Any) -> Any:
    """A page of a new browser context signed in as ``email`` (from a fresh link)."""
    engine = make_engine(server.db_url)
    try:
        token = new_link(engine, Settings(), email).split("#token=")[1]
    finally:
        engine.dispose()
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Europe/London"
    )
    page = context.new_page()
    watch(page)
    page.goto(f"{server.url}/signin#token={token}")
    page.wait_for_selector("#nav .who", state="attached")
    return page


def test_an_admin_adds_a_person_a_match_and_imports_availability(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """Jörg Müller (jörg@example.de, Europe/Berlin) is added with an id made from his
    name, gets a match with Al; a CSV with one bad row is refused with the row shown and
    nothing stored; fixed, it is imported and his weekly time shows in the list. The only
    console line is Chromium's own note of the refused import's 422."""
    shots = tmp_path / "shots"
    seen: list[list[str]] = []
    page = _signed_in(browser, server, "boss@example.org", lambda p: seen.append(console_errors(p)))
    page.get_by_role("link", name="People and matches").click()
    page.wait_for_selector("h1:has-text('People and matches')")
    page.wait_for_selector("[data-member='cy']")
    assert_accessible(page)
    screenshots(page, shots, "people")

    page.get_by_role("button", name="Add a person").click()
    page.fill("#m-name", "Jörg Müller")
    page.fill("#m-email", "jörg@example.de")
    page.fill("#m-timezone", "Europe/Berlin")
    assert page.input_value("#m-id") == "jorg-muller"
    assert_accessible(page)
    page.get_by_role("button", name="Add the person").click()
    page.wait_for_selector(".notice.success:has-text('Jörg Müller is added')")
    row = page.locator("[data-member='jorg-muller']")
    assert "Europe/Berlin" in row.inner_text() and "jörg@example.de" in row.inner_text()

    page.get_by_role("button", name="Edit Jörg Müller").click()
    assert page.input_value("#m-name") == "Jörg Müller"
    page.fill("#m-timezone", "America/St_Johns")  # a half-hour zone
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_selector(".notice.success:has-text('details are saved')")
    assert "America/St Johns" in row.inner_text()

    page.get_by_role("button", name="Add a match").click()
    page.fill("#x-member-0", "jorg-muller")
    page.fill("#x-member-1", "al")
    page.select_option("#x-organizer", "jorg-muller")
    page.check("#x-duration-30")
    page.select_option("#x-frequency", "biweekly")
    page.fill("#x-sessions", "3")
    page.fill("#x-video", "https://meet.example.de/jörg")
    assert page.input_value("#x-id") == "jorg-muller-al"
    assert_accessible(page)
    screenshots(page, shots, "people-match-form")
    page.get_by_role("button", name="Add the match").click()
    page.wait_for_selector(".notice.success:has-text('is added')")
    match = page.locator("[data-match='jorg-muller-al']")
    assert "30 minutes, 3 sessions every two weeks" in match.inner_text()
    assert "Jörg Müller" in match.inner_text()
    assert page.locator("[data-member='jorg-muller'] td.num").inner_text() == "1"

    bad = "member,day,start,end\njorg-muller,TU,09:00,12:00\njorg-muller,XX,13:00,14:00\n"
    page.fill("#import-text", bad)
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_selector(".notice.error:has-text('Nothing was imported')")
    summary = page.locator(".notice.error a[href='#import-line-3']")
    assert "Line 3: day:" in summary.inner_text()
    assert "jorg-muller,XX,13:00,14:00" in page.locator("#import-line-3").inner_text()
    assert page.get_attribute("#import-text", "aria-invalid") == "true"
    assert_accessible(page)
    screenshots(page, shots, "people-import-error")
    with server.client(server.api_token) as api:
        stored = api.get("/api/programs/p1/members/jorg-muller").json()
    assert stored.get("weekly", []) == []  # the good row was not stored either
    assert "Not given" in page.locator("[data-member='jorg-muller']").inner_text()

    page.fill("#import-text", bad.replace("XX", "TH"))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_selector(".notice.success:has-text('New availability for Jörg Müller')")
    assert page.locator("#import-line-3").count() == 0
    text = page.locator("[data-member='jorg-muller']").inner_text()
    assert "Tue 09:00–12:00" in text and "Thu 13:00–14:00" in text
    assert_accessible(page)
    screenshots(page, shots, "people-imported")
    (errors,) = seen
    assert len(errors) == 1 and "status of 422" in errors[0] and "/p1/import" in errors[0], errors


def test_the_page_tells_anyone_else_it_is_for_admins(
    server: Any, browser: Any, no_console_errors: Any
) -> None:
    """A member who opens /people is told it is for a program admin, with a way on."""
    page = _signed_in(browser, server, "al@example.org", no_console_errors)
    page.goto(f"{server.url}/people")
    page.wait_for_selector("text=Only a program admin adds people and matches")
    assert page.locator("a[href='/availability']").count() == 1
    assert_accessible(page)
