"""The browser test kit (tests/service/browser.py) catches what it is there to catch."""

from __future__ import annotations

import re
import struct

import pytest

from tests.service.browser import PHONE, assert_accessible, console_errors, screenshots

PAGE = """<!doctype html><html lang="en"><head><title>kit</title></head><body><main>
<h1>Kit</h1><img id="pic" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button id="b"></button>
</main></body></html>"""


def test_axe_fails_listing_each_serious_violation_with_its_target(browser):
    """assert_accessible fails on a page with an image without text and an empty button,
    naming each rule, its impact and the element; it passes once they are fixed."""
    page = browser.new_page()
    page.set_content(PAGE)
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_accessible(page)
    text = str(failed.value)
    assert re.search(r"- image-alt \(critical\): .*#pic", text), text
    assert re.search(r"- button-name \(critical\): .*#b", text), text
    page.evaluate(
        "document.querySelector('#pic').alt = 'A dot';"
        "document.querySelector('#b').textContent = 'Go'"
    )
    assert_accessible(page)


def test_console_errors_collects_console_errors_and_uncaught_exceptions(browser):
    """console.error calls and uncaught exceptions are collected; logs and warnings not."""
    page = browser.new_page()
    errors = console_errors(page)
    page.set_content("<title>t</title><p>hello</p>")
    page.evaluate(
        "console.log('fine'); console.warn('meh'); console.error('boom');"
        "setTimeout(() => { throw new Error('kaput'); })"
    )
    page.wait_for_timeout(200)
    assert len(errors) == 2, errors
    assert "boom" in errors[0] and "kaput" in errors[1]


def test_screenshots_are_desktop_and_phone_width(browser, tmp_path):
    """screenshots writes one PNG at 1280 and one at 390 CSS pixels into the folder."""
    page = browser.new_page(viewport={"width": 800, "height": 600})
    page.set_content("<title>t</title><p>hello</p>")
    shots = screenshots(page, tmp_path / "shots", "kit")
    widths = [struct.unpack(">I", p.read_bytes()[16:20])[0] for p in shots]
    assert [p.name for p in shots] == ["kit-1280.png", f"kit-{PHONE}.png"]
    assert widths == [1280, PHONE]
    assert page.viewport_size == {"width": 800, "height": 600}
