"""The page's shell and the API docs in a real headless Chromium against a real server:
what a visitor who is not signed in meets, and /docs offline. The signed-in journeys are
in test_webapp.py; the heat map's own checks in test_heatmap_ui.py."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.service.browser import PHONE, assert_accessible, offline_context
from tests.service.live import LiveServer


def test_a_visitor_is_sent_to_sign_in_and_every_view_path_serves_the_page(
    tmp_path, browser, no_console_errors
):
    """Signed out, any view's path shows the sign-in form (no 401 in the console, nothing
    inaccessible), an unknown path is a "not found" view, and a bad link says so."""
    server = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "outbox").start()
    try:
        page = browser.new_page(viewport={"width": PHONE, "height": 800})
        no_console_errors(page)
        for path in ("/", "/book/mia-al", "/matches/mia-al", "/plan", "/availability"):
            page.goto(server.url + path)
            page.wait_for_selector("text=Sign in to slotwise")
            assert urlsplit(page.url).path == "/signin"
        assert_accessible(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
        # A dead link is a 401 the page handles; Chromium logs any 401 as a console error,
        # so this page is watched for uncaught exceptions only.
        dead = browser.new_page()
        thrown: list[str] = []
        dead.on("pageerror", lambda exc: thrown.append(str(exc)))
        dead.goto(server.url + "/signin#token=swl_not-a-real-link")
        dead.wait_for_selector("text=That sign-in link did not work")
        assert "#token" not in dead.url
        assert_accessible(dead)
        assert thrown == []
    finally:
        server.stop()


def test_docs_render_offline_with_no_csp_violation(tmp_path, browser):
    """With every host but 127.0.0.1 blocked, /docs shows Swagger UI's operations; no
    Content-Security-Policy violation, nothing asked elsewhere."""
    server = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "outbox").start()
    try:
        context, blocked = offline_context(browser)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.goto(f"{server.url}/docs")
        page.wait_for_selector(".opblock-summary", timeout=20_000)
        assert page.locator(".opblock").count() >= 10
        page.click(".opblock-summary >> nth=0")  # expand one: its parts render too
        page.wait_for_selector(".opblock-body")
        assert page.evaluate("window.__csp") == []
        assert blocked == []
        assert not [m for m in console if "Content Security Policy" in m], console
    finally:
        server.stop()
