"""HTTP hygiene at the edges: security headers on every response, malformed JSON as a 422
everywhere, and /docs served from the package (issue "Trust at the edges", 15, 16, 27)."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from service.app import create_app
from service.config import Settings
from service.errors import ErrorBody
from tests.service.live import LiveServer, admin_token
from tests.service.sample import program

HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
# The CSP directives the page relies on; none may allow inline script or style.
CSP_MUST = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
]
JSON = {"Content-Type": "application/json"}
HUGE_INT = b'{"limit": ' + b"7" * 5000 + b"}"
MALFORMED = b'{"limit": 3,'


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory):
    """A live server (small body limit, for 413s) with program p1 and an admin token."""
    tmp = tmp_path_factory.mktemp("edges")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    admin = admin_token(url)
    server = LiveServer(
        url, outbox=tmp / "outbox", env={"SLOTWISE_MAX_BODY_BYTES": "100000"}
    ).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
        yield server, admin
    finally:
        server.stop()


# (method, path, request keywords, whether to send the token, status): one of each kind of
# response the server can give.
ROUTES: list[tuple[str, str, dict[str, Any], bool, int]] = [
    ("GET", "/", {}, False, 200),  # the page
    ("GET", "/static/app/main.js", {}, False, 200),
    ("GET", "/static/app/app.css", {}, False, 200),
    ("GET", "/docs", {}, False, 200),
    ("GET", "/static/docs/swagger-ui-bundle.js", {}, False, 200),
    ("GET", "/openapi.json", {}, False, 200),
    ("GET", "/api/me", {}, True, 200),
    ("GET", "/api/programs/p1/matches/mia-al/heatmap", {}, True, 200),
    ("GET", "/api/me", {}, False, 401),
    ("GET", "/api/programs/nope", {}, True, 404),
    ("GET", "/nope", {}, False, 404),
    ("GET", "/static/nope.js", {}, False, 404),
    ("GET", "/redoc", {}, False, 404),  # no ReDoc: it would load from a CDN
    ("DELETE", "/", {}, False, 405),
    ("POST", "/api/programs", {"content": b"[" * 200_000, "headers": JSON}, True, 413),
    ("POST", "/api/programs", {"content": MALFORMED, "headers": JSON}, True, 422),
    ("POST", "/api/programs/p1/matches/mia-al/proposals", {"json": {"limit": 0}}, True, 422),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "auth", "status"),
    ROUTES,
    ids=[f"{r[0]} {r[1]} {r[4]}" for r in ROUTES],
)
def test_every_response_carries_the_security_headers(edge, method, path, kwargs, auth, status):
    """Page, static files, docs, API answers and every kind of error carry CSP, nosniff,
    Referrer-Policy and X-Frame-Options."""
    server, admin = edge
    with server.client(admin if auth else None) as api:
        r = api.request(method, path, **kwargs)
    assert r.status_code == status, r.text[:300]
    _assert_secured(r.headers)


def _assert_secured(headers: httpx.Headers) -> None:
    for name, value in HEADERS.items():
        assert headers.get_list(name) == [value], name
    [csp] = headers.get_list("content-security-policy")
    directives = [d.strip() for d in csp.split(";")]
    for must in CSP_MUST:
        assert must in directives, must
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_a_500_carries_the_security_headers_too(tmp_path: Path):
    """Starlette's outermost error middleware answers a crash; its 500 is secured too."""
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}"))

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/crash")

    try:
        r = asyncio.run(get())
    finally:
        app.state.executor.shutdown()
        app.state.engine.dispose()
    assert r.status_code == 500
    _assert_secured(r.headers)


class _Refs(HTMLParser):
    """What an HTML page loads, and any inline script, style or event handler in it."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "link", "img"):  # what loads (an <a> is only a link)
            self.refs += [v for k, v in attrs if k in ("src", "href") and v]
        self.inline += [f"<{tag} {k}=…>" for k, _ in attrs if k == "style" or k.startswith("on")]
        if tag == "style":
            self.inline.append("<style>")
        self._in_script = tag == "script"
        if tag == "script" and not a.get("src"):
            self.inline.append("<script> without src")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("script text")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


@pytest.mark.parametrize("page", ["/", "/docs"])
def test_pages_load_only_their_own_assets_and_have_no_inline_script(edge, page):
    """The page and /docs name no other host, have no inline script, style or handler (the
    CSP would block them), and every asset they load answers 200 from the app."""
    server, _ = edge
    with server.client() as api:
        r = api.get(page)
        assert r.status_code == 200
        refs = _Refs()
        refs.feed(r.text)
        assert refs.inline == []
        assert refs.refs, "the page loads nothing?"
        for ref in refs.refs:
            assert ref.startswith("/") and not ref.startswith("//"), ref
            asset = api.get(ref)
            assert asset.status_code == 200, ref
            assert re.match(
                r"text/(css|javascript)|image/svg\+xml", asset.headers["content-type"]
            ), ref
    if page == "/docs":
        assert "/static/docs/swagger-ui-bundle.js" in refs.refs
        assert "/static/docs/swagger-ui.css" in refs.refs


def _json_operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, ops in openapi["paths"].items()
        for method, op in ops.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [(HUGE_INT, "more than 4300 digits"), (MALFORMED, "Expecting")],
    ids=["5000-digit integer", "malformed"],
)
def test_unreadable_json_is_a_422_on_every_json_route(edge, body, problem):
    """Every route that takes a JSON body answers a 5,000-digit integer or broken JSON with
    422 and the standard error body saying "malformed JSON" and why (was a bare 400)."""
    server, admin = edge
    ids = {"pid": "p1", "mid": "al", "xid": "mia-al", "oid": "nope", "jid": "nope", "sid": "nope"}
    with server.client(admin) as api:
        operations = _json_operations(api.get("/openapi.json").json())
        assert ("PUT", "/api/programs/{pid}/members/{mid}/calendar") in operations
        assert len(operations) >= 8
        for method, path in operations:
            url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
            r = api.request(method, url, content=body, headers=JSON)
            where = f"{method} {path}"
            assert r.status_code == 422, f"{where}: {r.status_code} {r.text[:200]}"
            detail = r.json()["detail"]
            assert detail.startswith("malformed JSON: "), where
            assert problem in detail, f"{where}: {detail}"


def test_every_documented_error_refers_to_the_error_body_schema(tmp_path):
    """Every error response in the OpenAPI document refers to an ErrorBody component that
    exists and is pydantic's schema of errors.ErrorBody (it is added once, not per route)."""
    doc = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}")).openapi()
    schemas = doc["components"]["schemas"]
    body = TypeAdapter(ErrorBody).json_schema(mode="serialization")
    assert schemas["ErrorBody"]["required"] == body["required"] == ["detail"]
    assert set(schemas["ErrorBody"]["properties"]) == set(body["properties"])
    assert {"FieldProblem", "Clash"} <= set(schemas)
    errors = [
        response["content"]["application/json"]["schema"]
        for ops in doc["paths"].values()
        for op in ops.values()
        for status, response in op["responses"].items()
        if status.startswith(("4", "5"))
    ]
    assert len(errors) > 100
    assert all(schema == {"$ref": "#/components/schemas/ErrorBody"} for schema in errors)
