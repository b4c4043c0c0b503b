"""The web app's speed as people meet it: each role's home and the booking wizard, opened
in headless Chromium against `slotwise serve` with the demo program (its matches planned
and booked, so homes have sessions to show).

Each page is opened cold (a new browser context: nothing cached, signed in by cookie) and
measured from the navigation's start: first contentful paint (the browser's own
``paint`` entry) and "content" (the view's heading or calendar is on the page, seen by a
MutationObserver installed before the page's scripts run). Also counted: the API requests
the view made and the bytes they answered (what a view asks for should be what it shows).

    python -m benchmarks.page            # 7 cold loads per page, median and worst
    python -m benchmarks.page --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.service.browser import CHROMIUM, FLAGS
from tests.service.live import LiveServer

RESULTS = Path(__file__).parent / "results"
LINK = re.compile(r"^\s+(http\S+/signin#token=\S+)$", re.M)
# Installed before any script of the page: when the view's content appears.
OBSERVE = """
window.__content = null;
new MutationObserver((_, obs) => {
  const main = document.getElementById('main');
  if (main && main.querySelector('h1') && !main.querySelector('.loading')) {
    window.__content = performance.now(); obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def _demo(server: LiveServer, db_url: str) -> tuple[str, list[str]]:
    """Load the demo into the database; its admin token and the three sign-in links."""
    env = {**os.environ, "SLOTWISE_DB": db_url, "SLOTWISE_PUBLIC_URL": server.url}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1], LINK.findall(done.stderr)


def _plan_and_book(server: LiveServer, token: str) -> int:
    """Plan the demo's matches and book the plan, as an admin would; series booked."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as api:
        job = api.post("/api/programs/demo/plans", json={"time_limit": 10}).json()["job"]
        while api.get(f"/api/jobs/{job}").json()["status"] in ("queued", "running"):
            time.sleep(0.2)
        return int(api.post(f"/api/programs/demo/plans/{job}/apply").json()["booked"])


def _wait(page: Any) -> None:
    """Until the view's content is there (polled: the page's CSP refuses eval'd waits)."""
    deadline = time.monotonic() + 30
    while page.evaluate("window.__content") is None:
        if time.monotonic() > deadline:
            raise TimeoutError(page.url)
        page.wait_for_timeout(10)


def _size(response: Any) -> int:
    try:
        return len(response.body())
    except Exception:  # a response without a body to read (a redirect)
        return 0


def _open(browser: Any, storage: Any, url: str, then: str | None = None) -> dict[str, Any]:
    """One cold load of ``url``: paint, content and the API traffic; ``then`` clicks a
    button by name and measures until the next view's content (the wizard's step 2)."""
    context = browser.new_context(storage_state=storage, viewport={"width": 1280, "height": 900})
    context.add_init_script(OBSERVE)
    page = context.new_page()
    api: list[tuple[str, int]] = []
    page.on("response", lambda r: api.append((r.url, _size(r))) if "/api/" in r.url else None)
    page.goto(url)
    _wait(page)
    out = {
        "fcp": page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
        ),
        "content": page.evaluate("window.__content"),
    }
    if then:
        start = page.evaluate("performance.now()")
        page.get_by_role("button", name=then).click()
        page.wait_for_selector(".days")
        out["content"] = page.evaluate("performance.now()") - start
        out["fcp"] = None
    out["requests"] = len(api)
    out["bytes"] = sum(size for _, size in api)
    context.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'db.sqlite'}"
        server = LiveServer(db_url, outbox=Path(tmp) / "outbox")
        token, links = _demo(server, db_url)
        server.start()
        try:
            booked = _plan_and_book(server, token)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                pages = []
                for role, link in zip(("admin", "facilitator", "mentee"), links, strict=True):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(link)
                    page.wait_for_selector("#nav .who", state="attached")
                    storage = context.storage_state()
                    context.close()
                    pages.append((f"home ({role})", storage, f"{server.url}/", None))
                    if role == "facilitator":
                        wizard = f"{server.url}/book/circle-emea"
                        pages.append(("wizard: what (facilitator)", storage, wizard, None))
                        pages.append(("wizard: → dates (facilitator)", storage, wizard, "Continue"))
                for name, storage, url, then in pages:
                    runs = [_open(browser, storage, url, then) for _ in range(args.runs)]
                    row: dict[str, Any] = {"page": name}
                    for key in ("fcp", "content"):
                        vals = [r[key] for r in runs if r[key] is not None]
                        row[f"{key}_median_ms"] = round(statistics.median(vals)) if vals else None
                        row[f"{key}_max_ms"] = round(max(vals)) if vals else None
                    row["api_requests"] = runs[-1]["requests"]
                    row["api_kb"] = round(runs[-1]["bytes"] / 1024, 1)
                    rows.append(row)
                    print(row, flush=True)
                browser.close()
        finally:
            server.stop()
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "runs": args.runs,
        "booked_series": booked,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "page.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [
        f"# Web app speed ({meta['when']}, {meta['machine']})",
        "",
        f"Demo program, {booked} series booked; {args.runs} cold loads per page (new browser "
        "context: nothing cached), times from the navigation's start.",
        "",
        "| page | first paint (median / worst) | content (median / worst) "
        "| API requests | API answer |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        fcp = "–" if r["fcp_median_ms"] is None else f"{r['fcp_median_ms']} / {r['fcp_max_ms']} ms"
        lines.append(
            f"| {r['page']} | {fcp} | {r['content_median_ms']} / {r['content_max_ms']} ms "
            f"| {r['api_requests']} | {r['api_kb']} KB |"
        )
    (RESULTS / "page.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
