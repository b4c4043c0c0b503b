"""The web page in a real headless Chromium against a real server (issue 6)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from service.auth import create_token
from service.store import init_db, make_engine
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_heat_map_matches_api_past_is_grey_and_booking_sends_invites(
    tmp_path, smtp_server, browser
):
    """The page shows the API's counts, greys the past, and a booking made on the page
    reaches every member as an invite email."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    init_db(engine)
    admin = create_token(engine, "admin")
    doc = program()
    doc["program"]["now"] = "2027-03-03T17:00:00Z"  # Wednesday noon in New York
    server = LiveServer(url, smtp_url=smtp_server.url).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}) as api:
            assert api.post("/api/programs", json=doc).status_code == 201
            heat = api.get(
                "/api/programs/p1/matches/mia-al/heatmap", params={"tz": "America/New_York"}
            ).json()
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"{server.url}/#token={admin}")
        page.wait_for_selector("#match option[value='mia-al']", state="attached")
        page.select_option("#match", "mia-al")
        page.fill("#tz", "America/New_York")
        page.click("#setup-form button[type=submit]")
        page.wait_for_selector("#grid .cell")
        cells = page.eval_on_selector_all(
            "#grid .cell",
            "els => els.map(e => [+e.dataset.slot, +e.dataset.count, "
            "e.classList.contains('past')])",
        )
        assert len(cells) > 50
        past = heat["view"]["cells"][0][0]["slot"]  # a slot on Monday: in the past
        first_open = next(
            c["slot"] for row in heat["view"]["cells"] for c in row if c and not c["past"]
        )
        for slot, count, grey in cells:
            assert count == heat["counts"][slot]
            assert grey == (slot < first_open)
        assert past < first_open and any(grey for _, _, grey in cells)

        # The README's picture is refreshed on request only: a test run leaves the tree as
        # it found it.
        shots = DOCS if os.environ.get("SLOTWISE_UPDATE_SCREENSHOT") else tmp_path
        page.click("#next-week")  # a week with no past, for the docs
        page.screenshot(path=str(shots / "screenshot.png"), full_page=False)
        page.click("#prev-week")
        page.fill("#sessions", "3")
        page.click("#propose-form button[type=submit]")
        page.wait_for_selector("#proposals .pick")
        page.click("#proposals .pick")
        page.fill("#video", "https://meet.example.org/mia-al")
        page.fill("#agenda", "First goals")
        page.click("#book-button")
        page.wait_for_selector("#series-list [data-session]")
        deadline = time.monotonic() + 10
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
            "al@example.org",
            "mia@example.org",
        ]
        body = smtp_server.messages[0].message.get_body(("plain",)).get_content()
        assert "https://meet.example.org/mia-al" in body and "First goals" in body
        assert page.locator("#series-list [data-session]").count() == 3
    finally:
        server.stop()


def test_page_is_usable_at_phone_width_with_the_keyboard(tmp_path, browser):
    """At 390 px nothing overflows the page sideways, and Tab reaches the heat-map cells."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    init_db(engine)
    admin = create_token(engine, "admin")
    server = LiveServer(url, outbox=tmp_path / "outbox").start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}) as api:
            api.post("/api/programs", json=program())
        page = browser.new_page(viewport={"width": 390, "height": 800})
        page.goto(f"{server.url}/#token={admin}")
        page.wait_for_selector("#match option[value='mia-al']", state="attached")
        page.click("#setup-form button[type=submit]")
        page.wait_for_selector("#grid .cell")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        page.focus("#next-week")
        for _ in range(3):
            page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.className")
        assert "cell" in focused
        info = page.text_content("#cell-info")
        assert "free:" in info
    finally:
        server.stop()


def test_page_and_docs_render_offline_with_no_csp_violation(tmp_path, browser):
    """With every host but 127.0.0.1 blocked, the page works and /docs shows Swagger UI's
    operations; no Content-Security-Policy violation on either, nothing asked elsewhere."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    admin = admin_token(url)
    server = LiveServer(url, outbox=tmp_path / "outbox").start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
        context = browser.new_context()
        blocked: list[str] = []

        def offline(route) -> None:
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
        # Init scripts run before the page's own and are not subject to its CSP.
        context.add_init_script(
            "window.__csp = []; document.addEventListener("
            "'securitypolicyviolation', e => window.__csp.push("
            "e.violatedDirective + ' ' + e.blockedURI));"
        )
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.goto(f"{server.url}/#token={admin}")
        page.wait_for_selector("#match option[value='mia-al']", state="attached")
        page.click("#setup-form button[type=submit]")
        page.wait_for_selector("#grid .cell")
        assert page.evaluate("window.__csp") == []
        page.goto(f"{server.url}/docs")
        page.wait_for_selector(".opblock-summary", timeout=20_000)
        operations = page.locator(".opblock").count()
        assert operations >= 10
        page.click(".opblock-summary >> nth=0")  # expand one: its parts render too
        page.wait_for_selector(".opblock-body")
        assert page.evaluate("window.__csp") == []
        assert blocked == []
        assert not [m for m in console if "Content Security Policy" in m], console
    finally:
        server.stop()
