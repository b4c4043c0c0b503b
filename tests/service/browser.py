"""What the browser tests share: Debian's Chromium driven by Playwright, a watch on console
and page errors, axe-core accessibility checks, and desktop/phone screenshots."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# axe-core from npm (tests/js/package-lock.json; `make test` installs it with `npm ci`).
AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP, PHONE = 1280, 390
# Only these fail a test; moderate and minor findings are advice.
FAILING_IMPACTS = ("serious", "critical")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does it)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def console_errors(page: Any) -> list[str]:
    """A list that fills with ``page``'s console errors and uncaught exceptions from now on."""
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"console: {m.text} ({m.location.get('url')})")
            if m.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    return errors


@pytest.fixture
def no_console_errors() -> Iterator[Callable[[Any], list[str]]]:
    """Call it with each page the test opens; the test fails (at teardown) if any of them
    logged a console error or threw an uncaught exception."""
    watched: list[list[str]] = []

    def watch(page: Any) -> list[str]:
        errors = console_errors(page)
        watched.append(errors)
        return errors

    yield watch
    found = [e for errors in watched for e in errors]
    if found:
        pytest.fail("errors in the browser:\n" + "\n".join(found))


def assert_accessible(page: Any, context: str | None = None) -> None:
    """Run axe-core on ``page`` (or the part ``context`` selects) and fail listing every
    serious or critical violation: rule, impact, target selectors and help."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed ({AXE}): run `npm ci --prefix tests/js`")
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated, not page.add_script_tag(path=...): that adds an inline <script>, which
        # the service's Content-Security-Policy (script-src 'self') refuses, with a console
        # error. A script the test evaluates is not subject to the page's CSP.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async (context) => {
            const result = await axe.run(context ? document.querySelector(context) : document);
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")),
            }));
        }""",
        context,
    )
    bad = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    if bad:
        pytest.fail(
            "axe-core found serious/critical violations:\n"
            + "\n".join(
                f"- {v['id']} ({v['impact']}): {v['help']}; " + ", ".join(v["targets"][:10])
                for v in bad
            )
        )


def offline_context(browser: Any, **options: Any) -> tuple[Any, list[str]]:
    """A browser context that may reach 127.0.0.1 only (a clinic's network without
    internet) and records every Content-Security-Policy violation in ``window.__csp``;
    also the list that fills with each request to another host (aborted)."""
    context = browser.new_context(**options)
    blocked: list[str] = []

    def offline(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    # Init scripts run before the page's own and are not subject to its CSP.
    context.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    return context, blocked


def screenshot(page: Any, folder: Path, name: str, width: int = DESKTOP) -> Path:
    """A full-page PNG of ``page`` at ``width`` CSS pixels, as ``folder/name-width.png``."""
    height = page.viewport_size["height"] if page.viewport_size else 900
    page.set_viewport_size({"width": width, "height": height})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def screenshots(page: Any, folder: Path, name: str) -> list[Path]:
    """Desktop (1280 px) and phone (390 px) screenshots of ``page``; the viewport is left at
    its width before."""
    before = page.viewport_size
    shots = [screenshot(page, folder, name, w) for w in (DESKTOP, PHONE)]
    if before:
        page.set_viewport_size(before)
    return shots
