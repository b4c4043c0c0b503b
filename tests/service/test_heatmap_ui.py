"""The heat-map module (service/static/app/heatmap.js) in a real Chromium against a real
server (issue 14): counts, past, collapsed hours, keyboard, names, sizes, zones, axe."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from service.headers import CSP
from tests.service.browser import PHONE, assert_accessible, screenshot, screenshots
from tests.service.live import LiveServer, admin_token, free_slots, view_rows
from tests.service.sample import program

HARNESS = Path(__file__).parent / "harness"
GROUP = 50
NOW = "2027-03-03T17:00:00Z"  # Wednesday noon in New York: week 0 has a past


def group_program() -> dict[str, Any]:
    """One match of 50 members in six zones, names in several scripts, varied hours."""
    zones = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Adelaide"]
    names = ["Ana", "Jörg", "Chen Wei", "Ольга", "Ngozi", "Ravi", "Siobhán", "Yūko", "Omar"]
    members = [
        {
            "id": f"m{i}",
            "name": f"{names[i % len(names)]} {i}",
            "timezone": zones[i % len(zones)],
            "weekly": [
                {
                    "days": ["MO", "TU", "WE", "TH", "FR"][: 2 + i % 4],
                    "start": f"{7 + i % 6:02d}:00",
                    "end": f"{12 + i % 7:02d}:30",
                }
            ],
        }
        for i in range(GROUP)
    ]
    return {
        "version": 1,
        "program": {
            "id": "big",
            "timezone": "Europe/Berlin",
            "start": "2027-03-01",
            "end": "2027-03-29",
            "granularity_minutes": 15,
            "now": NOW,
        },
        "members": members,
        "matches": [
            {
                "id": "all",
                "members": [m["id"] for m in members],
                "organizer": "m0",
                "duration_minutes": 60,
                "sessions": 2,
            }
        ],
    }


@dataclass
class Site:
    server: LiveServer
    token: str
    api: httpx.Client

    def heat(self, pid: str, xid: str, **query: Any) -> dict[str, Any]:
        r = self.api.get(f"/api/programs/{pid}/matches/{xid}/heatmap", params=query)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("heatmap-ui")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    token = admin_token(url)
    server = LiveServer(url, outbox=tmp / "outbox").start()
    try:
        with server.client(token) as api:
            doc = program()
            doc["program"]["now"] = NOW
            assert api.post("/api/programs", json=doc).status_code == 201
            assert api.post("/api/programs", json=group_program()).status_code == 201
            yield Site(server, token, api)
    finally:
        server.stop()


def open_map(browser, site: Site, watch, *, width: int = 1280, touch: bool = False, **params: Any):
    """The harness page (tests/service/harness) at the server's origin, under the
    service's own Content-Security-Policy, showing one heat map."""
    context = browser.new_context(viewport={"width": width, "height": 900}, has_touch=touch)

    def harness(route) -> None:
        name = route.request.url.rsplit("/", 1)[-1].split("#")[0]
        kind = {"html": "text/html", "js": "text/javascript", "css": "text/css"}
        route.fulfill(
            status=200,
            body=(HARNESS / name).read_bytes(),
            headers={
                "Content-Type": kind[name.rsplit(".", 1)[-1]] + "; charset=utf-8",
                "Content-Security-Policy": CSP,
            },
        )

    context.route(f"{site.server.url}/__harness__/*", harness)
    page = context.new_page()
    watch(page)
    fragment = "&".join(f"{k}={v}" for k, v in {"token": site.token, **params}.items())
    page.goto(f"{site.server.url}/__harness__/heatmap.html#{fragment}")
    page.wait_for_selector("body[data-ready]")
    return page


def shown_cells(page) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        ".hm-cell",
        """els => els.map(e => ({slot: +e.dataset.slot, count: +e.dataset.count,
            start: e.dataset.start, date: e.dataset.date, time: e.dataset.time,
            text: e.textContent, label: e.getAttribute('aria-label'),
            past: e.classList.contains('hm-past'), disabled: e.getAttribute('aria-disabled'),
            best: e.classList.contains('hm-best'), all: e.classList.contains('hm-all')}))""",
    )


def slot_start(heat: dict[str, Any], slot: int) -> str:
    t0 = datetime.fromisoformat(heat["start"])
    t = t0 + timedelta(minutes=slot * heat["granularity_minutes"])
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def weeks_of(heat: dict[str, Any]) -> int:
    return -(-len(heat["view"]["dates"]) // 7)


def names_free(heat: dict[str, Any], slot: int) -> tuple[list[str], list[str]]:
    free, busy = [], []
    for j, m in enumerate(heat["members"]):
        (free if slot in free_slots(heat, j) else busy).append(heat["names"][m])
    return free, busy


def test_every_count_shown_is_the_apis_and_the_past_is_grey_and_not_pickable(
    browser, site, no_console_errors
):
    """Each cell of every week shows the API's count for its slot at its start instant;
    past cells are greyed, aria-disabled and a click or Enter on one picks nothing."""
    heat = site.heat("p1", "circle", tz="America/New_York")
    page = open_map(browser, site, no_console_errors, pid="p1", xid="circle", tz="America/New_York")
    n = len(heat["members"])
    first = heat["window"]["first_slot"]
    seen = 0
    for week in range(weeks_of(heat)):
        page.evaluate("w => window.__map.setWeek(w)", week)
        cells = shown_cells(page)
        assert cells
        for c in cells:
            assert c["count"] == heat["counts"][c["slot"] - first]
            assert c["start"] == slot_start(heat, c["slot"])
            assert f", {c['count']} of {n} free" in c["label"]
            api_past = c["slot"] < heat["past"]
            assert c["past"] == api_past and (c["disabled"] == "true") == api_past
            shown = (
                "" if api_past or c["count"] == 0 else "✓" if c["count"] == n else str(c["count"])
            )
            assert c["text"] == shown
            assert c["all"] == (c["count"] == n)
        seen += len(cells)
    assert seen > 500
    page.evaluate("window.__map.setWeek(0)")
    past = page.locator(".hm-cell.hm-past").first
    past.click(force=True)  # Playwright itself will not click an aria-disabled element
    past.press("Enter")
    assert page.evaluate("window.__picks") == []


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: the test's tmp dir, or SLOTWISE_SCREENSHOTS to look at them."""
    return Path(os.environ.get("SLOTWISE_SCREENSHOTS") or tmp_path)


def focused(page) -> dict[str, Any]:
    return page.evaluate(
        """() => { const e = document.activeElement;
            return {cls: e.className, slot: +e.dataset.slot, count: +e.dataset.count,
                    date: e.dataset.date, time: e.dataset.time, start: e.dataset.start,
                    stops: document.querySelectorAll('.hm-grid [tabindex="0"]').length}; }"""
    )


def who_text(page) -> str:
    return page.text_content(".hm-who") or ""


def test_keyboard_moves_through_the_grid_and_enter_picks_the_right_instant(
    browser, site, no_console_errors, tmp_path
):
    """Tab reaches the grid (one tab stop), arrows/Home/End move by cell, focus and hover
    show who is free from the bitmaps, Enter and Space call onPick with the cell's start."""
    heat = site.heat("p1", "circle", tz="America/New_York")
    page = open_map(browser, site, no_console_errors, pid="p1", xid="circle", tz="America/New_York")
    page.click(".hm-nav-button[aria-label='Next week']")  # week 1: nothing past
    page.keyboard.press("Tab")
    at = focused(page)
    assert "hm-cell" in at["cls"] and "hm-best" in at["cls"] and at["stops"] == 1
    dates = heat["view"]["dates"][7:14]
    rows = sorted({c["time"] for c in shown_cells(page)})
    page.keyboard.press("Control+Home")
    assert (focused(page)["date"], focused(page)["time"]) == (dates[0], rows[0])
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    at = focused(page)
    assert (at["date"], at["time"], at["stops"]) == (dates[1], rows[2], 1)
    page.keyboard.press("End")
    assert focused(page)["date"] == dates[-1]
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")  # at the edge: stays
    assert focused(page)["date"] == dates[0]
    page.keyboard.press("Control+End")
    assert (focused(page)["date"], focused(page)["time"]) == (dates[-1], rows[-1])

    # A cell someone (not everyone) can come to: its names, then a pick with Enter.
    target = next(c for c in shown_cells(page) if 0 < c["count"] < len(heat["members"]))
    page.focus(f".hm-cell[data-slot='{target['slot']}']")
    free, busy = names_free(heat, target["slot"])
    assert len(free) == target["count"]
    assert f"free: {', '.join(free)}" in who_text(page)
    assert f"not free: {', '.join(busy)}" in who_text(page)
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    up = focused(page)
    page.keyboard.press(" ")
    assert page.evaluate("window.__picks") == [
        [slot_start(heat, target["slot"]), target["count"]],
        [slot_start(heat, up["slot"]), up["count"]],
    ]
    assert page.locator(".hm-cell.hm-selected").count() == 1
    assert page.get_attribute(f".hm-cell[data-slot='{up['slot']}']", "aria-selected") == "true"

    # Hover shows another cell's names; leaving the grid shows the focused one's again.
    other = next(c for c in shown_cells(page) if c["count"] == 0 and c["slot"] != up["slot"])
    page.hover(f".hm-cell[data-slot='{other['slot']}']")
    assert "free: nobody" in who_text(page)
    page.mouse.move(0, 0)
    assert f"· {up['count']} of 4 free" in who_text(page)

    # PageDown goes to the next week and keeps the focus in the grid.
    page.keyboard.press("PageDown")
    assert focused(page)["date"] in heat["view"]["dates"][14:21]
    page.keyboard.press("ArrowDown")
    screenshot(page, shots_dir(tmp_path), "heatmap-keyboard")


def test_selected_start_is_highlighted_and_is_the_tab_stop(browser, site, no_console_errors):
    """``selected`` marks the cell starting at that instant and opens its week on it."""
    heat = site.heat("p1", "circle", tz="America/New_York")
    slot = heat["everyone"][len(heat["everyone"]) // 2]
    page = open_map(
        browser,
        site,
        no_console_errors,
        pid="p1",
        xid="circle",
        tz="America/New_York",
        selected=slot_start(heat, slot),
        week=next(i // 7 for i, day in enumerate(view_rows(heat)) if slot in day),
    )
    cell = page.locator(".hm-cell.hm-selected")
    assert cell.count() == 1 and int(cell.get_attribute("data-slot") or -1) == slot
    assert cell.get_attribute("tabindex") == "0" and cell.get_attribute("aria-selected") == "true"


def test_hours_collapsed_are_exactly_those_nobody_is_free(browser, site, no_console_errors):
    """Across the window's weeks, the hours shown are the hours with someone free at some
    date, and the collapse markers name exactly the other hours."""
    heat = site.heat("p1", "mia-al", tz="America/New_York")
    view, first = heat["view"], heat["window"]["first_slot"]
    hours = {int(t[:2]) for t in view["times"]}
    busy = {
        int(t[:2])
        for ti, t in enumerate(view["times"])
        if any(day[ti] >= 0 and heat["counts"][day[ti] - first] > 0 for day in view_rows(heat))
    }
    assert hours - busy, "the sample must have hours nobody is free"
    page = open_map(browser, site, no_console_errors, pid="p1", xid="mia-al", tz="America/New_York")
    for week in range(weeks_of(heat)):
        page.evaluate("w => window.__map.setWeek(w)", week)
        assert {int(c["time"][:2]) for c in shown_cells(page)} == busy
        collapsed: set[int] = set()
        for text in page.locator(".hm-gap").all_text_contents():
            gap = re.fullmatch(r"⋯ (\d\d):00–(\d\d):00: nobody free", text)
            assert gap, text
            start, end = int(gap[1]), int(gap[2])
            collapsed |= set(range(start, end or 24))
        assert collapsed == hours - busy


@pytest.mark.parametrize("zone", ["Australia/Adelaide", "Asia/Kolkata"])
def test_half_hour_zones_put_cells_at_their_local_times(browser, site, no_console_errors, zone):
    """In a zone 30 minutes off the hour (Adelaide also leaves DST on 4 April) every cell's
    start instant is its column's date and row's time there, and its name says so."""
    heat = site.heat("p1", "circle", tz=zone)
    page = open_map(browser, site, no_console_errors, pid="p1", xid="circle", tz=zone)
    tz = ZoneInfo(zone)
    half = 0
    for week in range(weeks_of(heat)):
        page.evaluate("w => window.__map.setWeek(w)", week)
        for c in shown_cells(page):
            local = datetime.fromisoformat(c["start"]).astimezone(tz)
            assert (local.date().isoformat(), f"{local:%H:%M}") == (c["date"], c["time"])
            assert c["label"].startswith(f"{local:%a} {local.day} {local:%b} {local:%H:%M}, ")
            half += c["count"] > 0 and local.minute == 30 and local.utcoffset().seconds % 3600
    assert half > 0


def test_a_pair_and_a_fifty_member_group_render_on_desktop_and_phone(
    browser, site, no_console_errors, tmp_path
):
    """Both sizes render with names for every member; at 390 px the page does not scroll
    sideways, the week buttons are 44 px targets and tapping a cell picks it."""
    shots = shots_dir(tmp_path)
    for pid, xid in [("p1", "mia-al"), ("big", "all")]:
        heat = site.heat(pid, xid, tz="Europe/Berlin")
        n = len(heat["members"])
        page = open_map(
            browser,
            site,
            no_console_errors,
            pid=pid,
            xid=xid,
            tz="Europe/Berlin",
            width=PHONE,
            touch=True,
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
        for button in page.locator(".hm-nav-button").all():
            box = button.bounding_box()
            assert box and box["width"] >= 44 and box["height"] >= 44
        cell = page.locator(".hm-cell:not(.hm-past):not(.hm-s0)").nth(3)
        cell.scroll_into_view_if_needed()
        cell.tap()
        slot, count = (
            int(cell.get_attribute("data-slot") or -1),
            int(cell.get_attribute("data-count") or -1),
        )
        assert page.evaluate("window.__picks") == [[slot_start(heat, slot), count]]
        free, busy = names_free(heat, slot)
        assert len(free) + len(busy) == n and len(free) == count
        assert f"free: {', '.join(free)}" in who_text(page)
        screenshots(page, shots, f"heatmap-{n}")
        page.context.close()


@pytest.mark.parametrize("width", [1280, PHONE])
def test_axe_finds_no_serious_or_critical_violation(browser, site, no_console_errors, width):
    """axe-core passes the heat map (with a focused cell and its names shown) at desktop
    and phone width, for a pair and for a 50-member group."""
    for pid, xid in [("p1", "mia-al"), ("big", "all")]:
        page = open_map(
            browser, site, no_console_errors, pid=pid, xid=xid, tz="Asia/Kolkata", width=width
        )
        page.keyboard.press("Tab")  # Next week (Previous is disabled in the first week)
        page.keyboard.press("Tab")
        assert "hm-cell" in focused(page)["cls"]
        assert_accessible(page)
        page.context.close()
