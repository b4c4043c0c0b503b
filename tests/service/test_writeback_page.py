"""Issue 16 item 3 on the page: a member connects their CalDAV calendar from their
availability page (Chromium, live server, real Radicale), errors next to the fields, the
status after; the live server's background sender then writes a booking into it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import wait_for
from tests.service.browser import PHONE, assert_accessible, console_errors, screenshots
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program
from tests.service.test_availability_page import Site, no_sideways_overflow, signed_in

PASSWORD = "app-pässword-for-the-page-Ж"


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('writeback-page') / 'db.sqlite'}"
    token = admin_token(db_url)
    server = LiveServer(db_url)
    server.extra_env["SLOTWISE_PUBLIC_URL"] = server.url
    server.extra_env["SLOTWISE_ALLOW_PRIVATE_URLS"] = "1"  # Radicale is on 127.0.0.1
    server.extra_env["SLOTWISE_UNDO_SECONDS"] = "0"
    server.start()
    try:
        with server.client(token) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            yield Site(server, db_url, api, "")
    finally:
        server.stop()


def test_a_member_connects_their_caldav_calendar(
    browser: Any, site: Site, radicale_url: str, tmp_path: Any
) -> None:
    """Empty fields and a URL that is no calendar are said next to their fields; the right
    one connects (the password cleared, never shown; the form folded away until "Change
    calendar or password"), and a booking made afterwards lands in the calendar through
    the live server's background sender."""
    user = "page" + uuid.uuid4().hex[:8]
    url = f"{radicale_url}{user}/cal/"
    assert httpx.request("MKCALENDAR", url, auth=(user, PASSWORD)).status_code == 201
    other = f"{radicale_url}{user}/work/"  # a second calendar: the account's address is
    assert httpx.request("MKCALENDAR", other, auth=(user, PASSWORD)).status_code == 201
    # The one refusal below is logged by Chromium as a failed load; nothing else may be.
    logged: list[list[str]] = []
    page = signed_in(browser, site, lambda p: logged.append(console_errors(p)), "al@example.org")
    page.set_viewport_size({"width": 1280, "height": 900})
    card = page.locator("section[aria-labelledby=wb-h]")
    card.scroll_into_view_if_needed()
    card.get_by_role("button", name="Connect calendar").click()
    for field in ("wb-url", "wb-user", "wb-password"):
        page.locator(f"#{field}-error").wait_for()
    assert page.locator("#wb-password").get_attribute("aria-invalid") == "true"

    page.fill("#wb-url", f"{radicale_url}{user}/")  # the account: which calendar?
    page.fill("#wb-user", user)
    page.fill("#wb-password", PASSWORD)
    card.get_by_role("button", name="Connect calendar").click()
    page.locator("#wb-url-error").filter(has_text="2 calendars that take events").wait_for()
    assert other in page.locator("#wb-url-error").inner_text()
    page.set_viewport_size({"width": PHONE, "height": 900})
    no_sideways_overflow(page)  # the addresses quoted in the error wrap
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.locator("#wb-password-error").count() == 0
    assert_accessible(page, "section[aria-labelledby=wb-h]")
    screenshots(page, tmp_path, "writeback-error")

    page.fill("#wb-url", url)
    page.fill("#wb-password", PASSWORD)
    card.get_by_role("button", name="Connect calendar").click()
    card.locator(".notice.success >> text=Calendar connected").wait_for()
    assert page.locator("#wb-password").input_value() == ""
    assert "Connected: your sessions are written" in card.inner_text()
    assert page.locator(".field-error").count() == 0
    assert PASSWORD not in page.content()
    # Connected: the status only; the form comes back when asked for, its address first.
    assert page.locator("#wb-url").is_hidden()
    card.get_by_role("button", name="Change calendar or password").click()
    assert page.locator("#wb-url").is_visible()
    assert page.evaluate("document.activeElement.id") == "wb-url"
    assert_accessible(page)

    booked = site.admin.post(
        "/api/programs/p1/matches/mia-al/series", json={"first_start": "2027-03-02T10:00:00-05:00"}
    )
    assert booked.status_code == 201, booked.text
    item = f"{url}{booked.json()['uid'].replace('@', '%40')}.ics"
    assert wait_for(lambda: httpx.get(item, auth=(user, PASSWORD)).status_code == 200, 30)

    page.reload()
    card.locator("text=Last written:").wait_for()
    card.scroll_into_view_if_needed()
    assert "not yet" not in card.inner_text()
    for width in (1280, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        card.screenshot(path=str(tmp_path / f"writeback-card-{width}.png"))
    screenshots(page, tmp_path, "writeback-connected")
    page.set_viewport_size({"width": PHONE, "height": 900})
    no_sideways_overflow(page)
    print(f"screenshots in {tmp_path}")
    (errors,) = logged
    assert errors == [
        "console: Failed to load resource: the server responded with a status of 422 "
        f"(Unprocessable Entity) ({site.server.url}/api/programs/p1/members/al/writeback)"
    ]
