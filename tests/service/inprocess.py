"""The app in this process, for API tests that need no real server: a site admin's token
and an httpx client on the ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from service.app import create_app
from service.auth import create_token
from service.config import Settings

T = TypeVar("T")


@contextmanager
def admin_app(settings: Settings) -> Iterator[tuple[Any, str]]:
    """The app built from ``settings`` and a site admin's token; stopped afterwards."""
    app = create_app(settings)
    try:
        yield app, create_token(app.state.engine, "admin")
    finally:
        app.state.executor.shutdown()
        app.state.engine.dispose()


def call(app: Any, token: str, steps: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run ``steps`` with a client of ``app`` that sends ``token``; what they return."""

    async def run() -> T:
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {token}"}
        ) as api:
            return await steps(api)

    return asyncio.run(run())
