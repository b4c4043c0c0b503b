"""Headers put on every HTTP response: the security headers, and which worker answered."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere (the page and /docs load theirs from /static); Swagger
# UI's icons are data: images in its CSS. Nothing may frame the page (clickjacking).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

Headers = list[tuple[bytes, bytes]]


class ResponseHeaders:
    """Put ``headers()`` on every HTTP response, replacing any of the same names a route
    set. A plain ASGI middleware (not BaseHTTPMiddleware): it wraps errors and streams
    alike."""

    def __init__(self, app: ASGIApp, headers: Callable[[], Headers]) -> None:
        self.app, self.headers = app, headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers()
        names = {name for name, _ in extra}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
