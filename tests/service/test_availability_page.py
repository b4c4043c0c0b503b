"""A member's availability page in Chromium against a live server (issue 14): painting the
week by mouse drag, keyboard and finger, time away with errors next to the fields, a
calendar URL of their own, the time zone and the feed link. axe-core in each state, no
console error, no sideways overflow at 390 px."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.service.browser import PHONE, assert_accessible, console_errors, screenshots
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program

BUSY_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
    "BEGIN:VEVENT\r\nUID:busy-1@tests\r\nDTSTAMP:20270101T000000Z\r\n"
    "DTSTART:20270309T150000Z\r\nDTEND:20270309T160000Z\r\nSUMMARY:Dentist\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
# Al's availability before the page: one window off the half-hour grid and one time away.
OFF_GRID = {"days": ["MO"], "start": "07:15", "end": "08:45"}
AWAY = {"start": "2027-04-05T00:00", "end": "2027-04-10T00:00"}
STORED_AWAY = {"start": "2027-04-05T00:00:00", "end": "2027-04-10T00:00:00"}  # as the API keeps it


class _Calendars(BaseHTTPRequestHandler):
    """A calendar host: /busy.ics is a calendar, everything else 404."""

    def do_GET(self) -> None:
        if self.path == "/busy.ics":
            body = BUSY_ICS.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Site:
    server: LiveServer
    db_url: str
    admin: httpx.Client
    calendars: str  # http://127.0.0.1:port of the calendar host

    def member(self, mid: str) -> dict[str, Any]:
        doc = self.admin.get("/api/programs/p1").json()
        return next(m for m in doc["members"] if m["id"] == mid)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('availability') / 'db.sqlite'}"
    token = admin_token(db_url)
    host = ThreadingHTTPServer(("127.0.0.1", 0), _Calendars)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    server = LiveServer(db_url)
    server.extra_env["SLOTWISE_PUBLIC_URL"] = server.url
    # The calendar host is on 127.0.0.1: let the server fetch from it.
    server.extra_env["SLOTWISE_ALLOW_PRIVATE_URLS"] = "1"
    server.start()
    try:
        with server.client(token) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            al = {
                "id": "al",
                "name": "Al",
                "email": "al@example.org",
                "timezone": "Europe/London",
                "weekly": [OFF_GRID],
                "unavailable": [AWAY],
            }
            assert api.put("/api/programs/p1/members/al", json=al).status_code == 200
            yield Site(server, db_url, api, f"http://127.0.0.1:{host.server_port}")
    finally:
        server.stop()
        host.shutdown()
        host.server_close()


def signed_in(browser: Any, site: Site, watch: Any, email: str, **context: Any) -> Any:
    """A page signed in as ``email`` through a sign-in link (service.signin.new_link),
    that may reach 127.0.0.1 only."""
    from service.config import Settings
    from service.signin import new_link
    from service.store import make_engine

    engine = make_engine(site.db_url)
    try:
        link = new_link(engine, Settings(db_url=site.db_url, public_url=site.server.url), email)
    finally:
        engine.dispose()
    ctx = browser.new_context(locale="en-GB", timezone_id="Europe/London", **context)
    ctx.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname == "127.0.0.1"
            else route.abort()
        ),
    )
    page = ctx.new_page()
    watch(page)
    page.goto(link)
    page.wait_for_selector("#nav .who", state="attached")
    page.goto(f"{site.server.url}/availability")
    page.wait_for_selector("table.wg-grid td[role=gridcell]")
    return page


def cell(page: Any, day: str, time: str) -> Any:
    return page.locator(f"td[data-day='{day}'][data-time='{time}']")


def centre(page: Any, day: str, time: str) -> tuple[float, float]:
    box = cell(page, day, time).bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def saved(page: Any) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector(".notice.success >> text=Saved")


def no_sideways_overflow(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def test_merging_painted_cells_into_windows(browser, site: Site, no_console_errors):
    """The grid's model: painted cells become the fewest windows (equal runs on several
    days joined, days in week order), and windows off the grid's steps are kept, not
    rounded."""
    page = signed_in(browser, site, no_console_errors, "cy@example.org")
    got = page.evaluate(
        """async () => {
            const g = await import('/static/app/weekgrid.js');
            const { cells, kept } = g.windowsToCells([
                {days: ['FR', 'MO'], start: '09:00', end: '12:00'},
                {days: ['TU'], start: '09:00', end: '10:00'},
                {days: ['TU'], start: '10:00', end: '12:00'},
                {days: ['SU'], start: '22:00', end: '24:00'},
                {days: ['WE'], start: '09:10', end: '10:00'},
            ], 30);
            return { windows: g.cellsToWindows(cells, 30), kept };
        }"""
    )
    assert got["windows"] == [
        {"days": ["MO", "TU", "FR"], "start": "09:00", "end": "12:00"},
        {"days": ["SU"], "start": "22:00", "end": "24:00"},
    ]
    assert got["kept"] == [{"days": ["WE"], "start": "09:10", "end": "10:00"}]


def test_a_member_paints_the_week_and_sets_time_away_calendar_and_feed(
    browser, site: Site, tmp_path: Path
):
    """Al paints Tuesday 09:00–11:00 by mouse drag and Thursday 14:00–15:00 by keyboard and
    saves: the API's record has exactly those windows and the off-grid one he had; a time
    away ending before it starts is refused next to the field and nothing is saved, an
    error the API names lands next to its field; a calendar URL is refused or accepted as
    the API says, listed and removed; the time zone re-labels the grid; the feed link is
    made and copied, and the free/busy link beside it, said what it is for, copied and
    opened."""
    # The two refusals below are logged by Chromium as failed loads; nothing else may be.
    logged: list[list[str]] = []
    page = signed_in(
        browser,
        site,
        lambda p: logged.append(console_errors(p)),
        "al@example.org",
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    # What Al had: the off-grid window is kept and shown, the time away is listed.
    kept = page.locator(".wg-kept-list")
    assert "Monday: 07:15–08:45" in kept.inner_text()
    assert "partly free" in (cell(page, "MO", "07:30").get_attribute("aria-label") or "")
    assert page.input_value("#unavailable-0-start") == "2027-04-05"
    assert page.input_value("#unavailable-0-end") == "2027-04-09"  # last day, not the end
    assert_accessible(page)

    # Mouse: press on Tuesday 09:00, drag to 10:30, let go.
    page.mouse.move(*centre(page, "TU", "09:00"))
    page.mouse.down()
    page.mouse.move(*centre(page, "TU", "10:00"), steps=4)
    page.mouse.move(*centre(page, "TU", "10:30"), steps=4)
    page.mouse.up()
    assert cell(page, "TU", "10:30").get_attribute("aria-label") == "Tuesday 10:30–11:00, free"
    assert cell(page, "TU", "11:00").get_attribute("aria-label") == "Tuesday 11:00–11:30, not free"
    assert cell(page, "TU", "09:00").inner_text() == "✓"  # a mark, not colour alone

    # Keyboard: Tab from the tools into the grid (its one tab stop is where the drag
    # ended), two days right, down to 14:00, Shift+Down to select 14:30, Space.
    page.get_by_role("button", name="Clear the week").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.time") == "10:30"
    for key in ["ArrowRight", "ArrowRight"] + ["ArrowDown"] * 7:
        page.keyboard.press(key)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Thursday 14:00–14:30, not free"
    )
    page.keyboard.press("Shift+ArrowDown")
    assert cell(page, "TH", "14:00").get_attribute("aria-selected") == "true"
    assert cell(page, "TH", "14:30").get_attribute("aria-selected") == "true"
    page.keyboard.press("Space")
    assert cell(page, "TH", "14:00").get_attribute("aria-label") == "Thursday 14:00–14:30, free"
    assert cell(page, "TH", "14:30").get_attribute("aria-label") == "Thursday 14:30–15:00, free"
    assert cell(page, "TH", "15:00").get_attribute("aria-label") == "Thursday 15:00–15:30, not free"
    words = page.locator(".wg-summary").inner_text()
    assert "Tuesday: 09:00–11:00" in words and "Thursday: 14:00–15:00" in words
    assert_accessible(page)
    saved(page)
    al = site.member("al")
    assert sorted(al["weekly"], key=str) == sorted(
        [
            {"days": ["TU"], "start": "09:00", "end": "11:00"},
            {"days": ["TH"], "start": "14:00", "end": "15:00"},
            OFF_GRID,
        ],
        key=str,
    )
    assert al["unavailable"] == [STORED_AWAY]
    screenshots(page, tmp_path, "availability-painted")

    # Time away that ends before it starts: the error is next to the field, nothing saved.
    page.get_by_role("button", name="Add time away").click()
    page.fill("#unavailable-1-start", "2027-03-20")
    page.fill("#unavailable-1-end", "2027-03-18")
    page.get_by_role("button", name="Save", exact=True).click()
    error = page.locator("#unavailable-1-end-error")
    assert "same as or after the first day" in error.inner_text()
    assert page.get_attribute("#unavailable-1-end", "aria-invalid") == "true"
    assert page.locator(".notice.error a[href='#unavailable-1-end']").count() == 1
    assert site.member("al")["unavailable"] == [STORED_AWAY]
    assert_accessible(page)
    screenshots(page, tmp_path, "availability-error")
    # An error only the API finds (a year it does not take) lands next to its field too.
    page.fill("#unavailable-1-start", "1850-03-20")
    page.fill("#unavailable-1-end", "2027-03-22")
    page.get_by_role("button", name="Save", exact=True).click()
    assert "out of range" in page.locator("#unavailable-1-start-error").inner_text()
    assert site.member("al")["unavailable"] == [STORED_AWAY]
    page.fill("#unavailable-1-start", "2027-03-20")
    saved(page)
    assert site.member("al")["unavailable"] == [
        STORED_AWAY,
        {"start": "2027-03-20T00:00:00", "end": "2027-03-23T00:00:00"},
    ]

    # A calendar URL: the API's refusal is shown next to the field; an accepted one is
    # listed, and removed again.
    page.fill("#ics-url", f"{site.calendars}/missing.ics")
    page.get_by_role("button", name="Add calendar").click()
    refused = page.locator("#ics-url-error")
    refused.wait_for()
    assert refused.inner_text().startswith("HTTP 404 Not Found")  # the API's words
    assert site.member("al").get("calendars", []) == []
    assert_accessible(page)
    page.fill("#ics-url", f"{site.calendars}/busy.ics")
    page.get_by_role("button", name="Add calendar").click()
    page.wait_for_selector("text=Calendar added")
    assert page.locator("#ics-url-error").count() == 0
    assert page.get_attribute("#ics-url", "aria-invalid") is None
    assert page.locator(".calendars li").inner_text().startswith(f"{site.calendars}/busy.ics")
    assert site.member("al")["calendars"] == [{"ics_url": f"{site.calendars}/busy.ics"}]
    assert_accessible(page)
    page.get_by_role("button", name="Remove calendar 1").click()
    page.wait_for_selector("text=Calendar removed")
    assert page.locator("text=No calendar yet.").count() == 1
    assert site.member("al").get("calendars", []) == []
    assert sorted(site.member("al")["weekly"], key=str) == sorted(al["weekly"], key=str)

    # The time zone re-labels the grid; the clock times stay.
    page.fill("#timezone", "Asia/Kolkata")
    assert "times in Asia/Kolkata" in page.locator(".wg-caption").inner_text()
    saved(page)
    after = site.member("al")
    assert after["timezone"] == "Asia/Kolkata"
    assert sorted(after["weekly"], key=str) == sorted(al["weekly"], key=str)

    # The feed link, with help for three calendar apps and a copy button; beside it the
    # free/busy link (the same secret, .ifb), said what it is for, copied on its own.
    help_text = page.locator(".subscribe").inner_text()
    assert all(app in help_text for app in ("Google Calendar", "Outlook", "Apple Calendar"))
    page.get_by_role("button", name="Make my calendar link").click()
    feed = page.locator("#feed-url")
    feed.wait_for()
    assert "/api/feeds/swf_" in feed.input_value() and feed.input_value().endswith(".ics")
    page.get_by_role("button", name="Copy calendar link").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == feed.input_value()
    freebusy = page.get_by_label("Your free/busy link")
    assert freebusy.input_value() == feed.input_value().removesuffix(".ics") + ".ifb"
    assert freebusy.get_attribute("readonly") is not None
    described = page.locator(f"#{freebusy.get_attribute('aria-describedby')}").inner_text()
    assert described == "For other scheduling tools: shows when you are busy, never what."
    page.get_by_role("button", name="Copy free/busy link").click()
    page.get_by_role("status").filter(has_text="Free/busy link copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == freebusy.input_value()
    # The link works without a sign-in and answers the free/busy of Al alone.
    opened = httpx.get(freebusy.input_value(), timeout=30)
    assert opened.status_code == 200 and opened.headers["content-type"].startswith("text/calendar")
    assert opened.text.count("BEGIN:VFREEBUSY") == 1 and "mailto:al@example.org" in opened.text
    assert_accessible(page)
    card = page.locator("section[aria-labelledby=feed-h]")
    for width in (1280, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        card.screenshot(path=str(tmp_path / f"feed-card-{width}.png"))
    for shot in screenshots(page, tmp_path, "availability-done"):
        assert shot.stat().st_size > 0
    page.set_viewport_size({"width": PHONE, "height": 900})
    no_sideways_overflow(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    (errors,) = logged
    failed = "console: Failed to load resource: the server responded with a status of 422"
    assert errors == [
        f"{failed} (Unprocessable Entity) ({site.server.url}/api/programs/p1/members/al)",
        f"{failed} (Unprocessable Entity) ({site.server.url}/api/programs/p1/members/al/calendar)",
    ]


def test_a_member_paints_with_a_finger_at_phone_width(
    browser, site: Site, no_console_errors, tmp_path: Path
):
    """At 390 px with a touch screen nothing overflows sideways, grid rows are at least
    44 px tall, a tap marks one half hour, a second tap clears, the whole day can be shown,
    a finger drag paints a run, and what is saved is what was painted."""
    page = signed_in(
        browser,
        site,
        no_console_errors,
        "bo@example.org",
        viewport={"width": PHONE, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    no_sideways_overflow(page)
    # Bo has no weekly windows: the program's working hours count, and the page says so.
    defaults = page.locator(".wg-defaults")
    assert "Mon–Fri 09:00–17:00" in defaults.inner_text()
    screenshots(page, tmp_path, "availability-empty")
    page.set_viewport_size({"width": PHONE, "height": 844})
    heights = page.eval_on_selector_all(
        "td[role=gridcell]", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert min(heights) >= 44
    cell(page, "SA", "10:00").tap()
    assert cell(page, "SA", "10:00").get_attribute("aria-label") == "Saturday 10:00–10:30, free"
    assert defaults.is_hidden()
    cell(page, "SA", "11:00").tap()
    cell(page, "SA", "11:00").tap()
    assert cell(page, "SA", "11:00").get_attribute("aria-label") == "Saturday 11:00–11:30, not free"
    assert cell(page, "MO", "05:30").count() == 0
    page.get_by_role("button", name="Show the whole day").tap()
    assert cell(page, "MO", "00:00").count() == 1 and cell(page, "SU", "23:30").count() == 1
    no_sideways_overflow(page)
    # A finger drag (Chrome's touch events: Sunday 12:00 down to 13:30).
    cell(page, "SU", "12:00").scroll_into_view_if_needed()
    cdp = page.context.new_cdp_session(page)
    x, y = centre(page, "SU", "12:00")
    _, y_end = centre(page, "SU", "13:30")
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 7):
        point = {"x": x, "y": y + (y_end - y) * i / 6}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert cell(page, "SU", "13:30").get_attribute("aria-label") == "Sunday 13:30–14:00, free"
    assert cell(page, "SU", "14:00").get_attribute("aria-label") == "Sunday 14:00–14:30, not free"
    no_sideways_overflow(page)
    assert_accessible(page)
    saved(page)
    assert sorted(site.member("bo")["weekly"], key=str) == sorted(
        [
            {"days": ["SA"], "start": "10:00", "end": "10:30"},
            {"days": ["SU"], "start": "12:00", "end": "14:00"},
        ],
        key=str,
    )
    screenshots(page, tmp_path, "availability-phone")
    page.set_viewport_size({"width": PHONE, "height": 844})
    no_sideways_overflow(page)
