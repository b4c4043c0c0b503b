"""Issue 16, the member's language on their own settings page (the availability page):
the locale field in Chromium against a live server, the API's error next to it, the tag
saved as the server keeps it and shown again on reload; axe-core in each state and
screenshots at 1280 and 390 px."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.service.browser import DESKTOP, PHONE, assert_accessible, console_errors, screenshots
from tests.service.test_availability_page import Site, no_sideways_overflow, saved, signed_in
from tests.service.test_availability_page import site as site  # the fixture


def _shots(tmp_path: Path) -> Path:
    """Where screenshots go: the test's tmp dir, or SLOTWISE_SCREENSHOTS to look at them."""
    return Path(os.environ.get("SLOTWISE_SCREENSHOTS") or tmp_path)


def _locale_error(page: Any) -> str | None:
    found = page.evaluate("document.getElementById('locale-error')?.textContent ?? null")
    return None if found is None else str(found)


def test_a_member_sets_their_language_and_sees_the_apis_error_beside_it(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    """Al (no locale yet) types a tag Babel does not know: the API's message is shown next
    to the field and in the summary, and nothing is saved; then pt-br is saved as pt-BR,
    shown so, kept after a reload, and emptied again to the English format."""
    logged: list[list[str]] = []
    page = signed_in(browser, site, lambda p: logged.append(console_errors(p)), "al@example.org")
    field = page.locator("#locale")
    assert field.input_value() == ""
    assert page.get_by_label("Your language for dates in mails").count() == 1
    assert page.locator("#locale-list option[value='de-DE']").count() == 1

    field.fill("xx-YY")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("#locale-error")
    message = _locale_error(page) or ""
    assert "unknown locale" in message and "xx-YY" in message, message
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby") == "locale-error"
    assert page.locator(".notice.error a[href='#locale']").count() == 1
    assert "locale" not in site.member("al")
    assert_accessible(page)
    screenshots(page, _shots(tmp_path), "locale-error")
    page.set_viewport_size({"width": PHONE, "height": 900})
    no_sideways_overflow(page)  # the message beside the field wraps at phone width
    page.set_viewport_size({"width": DESKTOP, "height": 900})

    field.fill("pt-br")
    saved(page)
    assert field.input_value() == "pt-BR"
    assert _locale_error(page) is None and field.get_attribute("aria-invalid") is None
    assert site.member("al")["locale"] == "pt-BR"

    page.reload()
    page.wait_for_selector("table.wg-grid td[role=gridcell]")
    assert page.locator("#locale").input_value() == "pt-BR"
    assert_accessible(page)
    screenshots(page, _shots(tmp_path), "locale-saved")

    page.locator("#locale").fill("")
    saved(page)
    assert "locale" not in site.member("al")
    page.context.close()
    # The one refused save is the only error the browser logged (Chromium logs every 4xx).
    assert logged == [
        [
            "console: Failed to load resource: the server responded with a status of 422 "
            f"(Unprocessable Entity) ({site.server.url}/api/programs/p1/members/al)"
        ]
    ]
