"""The FastAPI application: settings, database, error mapping, body limits, routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Schema
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.errors import CalendarError, DocumentError, IngestError
from solver.errors import SolverError

from . import redact
from .cache import cache_of
from .config import Settings
from .errors import ServiceError, error_body_schemas, json_problem
from .gate import gate_of
from .headers import SECURITY_HEADERS, ResponseHeaders
from .process import worker_tag
from .store import init_db, make_engine

if TYPE_CHECKING:
    from .inbound import InboundListener

log = logging.getLogger("slotwise")
STATIC = Path(__file__).parent / "static"
# The web app's paths (service/static/app/main.js routes them); each answers the same page.
PAGES = ("/", "/signin", "/book/{xid}", "/matches/{xid}", "/plan", "/availability", "/people")


def error_body(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"detail": message}
    if field:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def _plain(error: Any) -> str | None:
    """Pydantic's wording of a broken limit ("String should match pattern '^https?://...'",
    "Value should have at most 500 items after validation") said as people read it."""
    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        if str(ctx.get("pattern", "")).startswith("^https?://"):
            return "must be a web address starting with https:// (or http://)"
        return "is not in the expected form"
    if kind in ("string_too_long", "too_long") and "max_length" in ctx:
        unit = "characters" if isinstance(error.get("input"), str) else "items"
        return f"is too long: at most {ctx['max_length']} {unit}"
    if kind in ("string_too_short", "too_short") and "min_length" in ctx:
        return (
            "must not be empty"
            if ctx["min_length"] == 1
            else f"is too short: at least {ctx['min_length']}"
        )
    bounds = {
        "less_than_equal": "le",
        "greater_than_equal": "ge",
        "less_than": "lt",
        "greater_than": "gt",
    }
    if kind in bounds and bounds[kind] in ctx:
        words = {"le": "at most", "ge": "at least", "lt": "below", "gt": "above"}[bounds[kind]]
        return f"must be {words} {ctx[bounds[kind]]}"
    return None


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        field = _loc(tuple(e.get("loc", ())))
        msg = _plain(e) or e.get("msg", "invalid").removeprefix("Value error, ")
        if e.get("type") == "json_invalid":
            field, msg = "", f"malformed JSON: {e.get('ctx', {}).get('error', msg)}"
        elif e.get("type") == "missing":
            msg = "is required"
        elif e.get("type") == "extra_forbidden":
            msg = "unknown field"
        errors.append({"field": field, "message": msg})
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    text = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return error_body(422, text, first["field"] or None, errors=errors)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI answers a JSON body it cannot decode (not UTF-8, nested too deeply, a number
    of more than 4,300 digits) with a bare 400; say what is wrong, as for any other
    malformed JSON."""
    if exc.status_code == 400 and isinstance(exc.__cause__, _TooLarge):
        # FastAPI reads a streamed (chunked) body itself and turns BodyLimit's refusal
        # into a 400: it is the size limit speaking.
        return exc.__cause__.response()
    problem = json_problem(exc.__cause__) if exc.status_code == 400 else None
    if problem is not None:
        return error_body(422, f"malformed JSON: {problem}")
    return await http_exception_handler(request, exc)


async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
    return error_body(exc.status, exc.message, exc.field, **exc.details)


async def _database_busy(_: Request, exc: OperationalError) -> JSONResponse:
    """A database that stays locked (another writer) or cannot be reached is the
    service's trouble, said as such: 503 with Retry-After, never a 500."""
    log.warning("database unavailable: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
    locked = "locked" in str(exc.orig).lower()
    response = error_body(
        503,
        "the database is busy with other writes; try again shortly"
        if locked
        else "the database cannot be reached; try again shortly",
    )
    response.headers["Retry-After"] = "5"
    return response


async def _ingest_error(_: Request, exc: IngestError) -> JSONResponse:
    if isinstance(exc, DocumentError):
        errors = [{"field": e.path, "message": e.message} for e in exc.errors]
        return error_body(422, str(exc.errors[0]), exc.errors[0].path or None, errors=errors)
    if isinstance(exc, CalendarError):
        return error_body(422, str(exc), exc.field or "calendar")
    return error_body(422, str(exc))


async def _solver_error(_: Request, exc: SolverError) -> JSONResponse:
    # What the solver refuses of a request (a duration off the grid, a frequency that does
    # not fit): the caller's mistake, with the field the error names.
    return error_body(422, str(exc), exc.field)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _TooLarge(self.limit).response()(scope, receive, send)


class _TooLarge(Exception):
    """A request body went past the limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit

    def response(self) -> JSONResponse:
        return error_body(413, f"request body is larger than {self.limit} bytes")


class _App(FastAPI):
    """FastAPI with the security headers (:class:`headers.ResponseHeaders`) outside
    everything, Starlette's own ``ServerErrorMiddleware`` included, so that a 500 carries
    them too (middleware added with ``add_middleware`` runs inside it)."""

    def build_middleware_stack(self) -> ASGIApp:
        return ResponseHeaders(super().build_middleware_stack(), lambda: SECURITY_HEADERS)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document with the :class:`errors.ErrorBody` schema that every error
        response refers to (``errors.error_responses``), in its place among the others."""
        if self.openapi_schema is None:
            doc = super().openapi()
            # Through FastAPI's own model of a schema, as its components went (key order).
            added = {
                name: jsonable_encoder(Schema(**schema), by_alias=True, exclude_none=True)
                for name, schema in error_body_schemas().items()
            }
            schemas = {**doc.get("components", {}).get("schemas", {}), **added}
            doc.setdefault("components", {})["schemas"] = dict(sorted(schemas.items()))
        return self.openapi_schema  # type: ignore[return-value]  # set by super().openapi()


def _start_listener(engine: Engine, settings: Settings) -> InboundListener | None:
    """The inbound mail listener (service/inbound.py) when ``SLOTWISE_INBOUND_PORT`` is
    set. With several worker processes only the first binds the port; the others say so
    and serve without one (any of them reads what the listener keeps)."""
    if settings.inbound_port is None:
        return None
    from .inbound import InboundListener

    listener = InboundListener(engine, settings)
    try:
        listener.start()
    except OSError as exc:
        log.warning(
            "inbound listener not started on %s:%s (%s): another process holds the port",
            settings.inbound_host,
            settings.inbound_port,
            exc.strerror or exc,
        )
        return None
    return listener


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    redact.install()  # before any request is logged: feed links hold tokens
    engine = make_engine(settings.db_url, settings.db_busy_seconds)
    cache_of(engine, settings.availability_cache_mb << 20)  # service/cache.py
    gate_of(engine, settings.compute_slots)  # service/gate.py
    init_db(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from .notify import RetryLoop

        # The background sender: threads of this process, unless it runs as a process of
        # its own (slotwise serve, service/sender.py).
        retry = RetryLoop(engine, settings) if settings.sender_threads else None
        if retry is not None:
            retry.start()
        listener = _start_listener(engine, settings)
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
            if retry is not None:
                retry.stop()
            app.state.executor.shutdown(wait=False, cancel_futures=True)
            engine.dispose()

    # /docs is served below from the package (no CDN, no inline script); no ReDoc.
    app = _App(
        title="slotwise",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        description="Finds the recurring times most members of a mentoring "
        "match or group can attend, and books them with calendar "
        "invites. Authenticate with `Authorization: Bearer <token>` "
        "(`slotwise token create`).",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan")
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(IngestError, _ingest_error)  # type: ignore[arg-type]
    app.add_exception_handler(SolverError, _solver_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_busy)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    # Which of several worker processes answered.
    app.add_middleware(ResponseHeaders, headers=lambda: [(b"x-slotwise-worker", worker_tag())])

    from .api import router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page() -> FileResponse:
        """The web app's one HTML page; its modules pick the view from the path."""
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        """Swagger UI on the OpenAPI document, from the package's own copy of it."""
        return FileResponse(STATIC / "docs" / "index.html")

    return app
