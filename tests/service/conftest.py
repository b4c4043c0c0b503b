"""Service fixtures: a real SMTP server on 127.0.0.1 that keeps what it receives, the
databases a live server can run on (a SQLite file; PostgreSQL with several workers), and
the browser ones (tests/service/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.helpers import free_port
from tests.service.browser import browser, no_console_errors  # noqa: F401 (fixtures)
from tests.service.live import LiveServer
from tests.service.smtp import Collector, SmtpServer


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free 127.0.0.1 port, collecting every message;
    it offers SMTPUTF8 (RFC 6531; aiosmtpd's Controller default, said here on purpose)."""
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(
        Collector(server), hostname=server.host, port=server.port, enable_SMTPUTF8=True
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


# Several workers on PostgreSQL: bookings sent to different processes must still never
# double-book, and jobs must survive other workers starting.
PG_WORKERS = 2


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a SQLite file, or a database of the test PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    """An engine on ``db_url`` with the tables created."""
    from service.store import init_db, make_engine

    engine = make_engine(db_url)
    init_db(engine)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Backend:
    """A database for a live server and how many uvicorn workers to run on it."""

    db_url: str
    workers: int

    def server(self, **options: Any) -> LiveServer:
        return LiveServer(self.db_url, workers=self.workers, **options)


@pytest.fixture
def backend(db_url: str) -> Backend:
    """The same tests on a SQLite file (one worker) and on PostgreSQL with PG_WORKERS
    workers: the service keeps no state outside its database, so more processes change
    nothing."""
    return Backend(db_url, 1 if db_url.startswith("sqlite") else PG_WORKERS)
