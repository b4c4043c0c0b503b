"""Shared fixtures: small valid program documents to build tests on, a real CalDAV server,
a throw-away PostgreSQL cluster."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tests.pg import REQUIRE_ENV, PostgresCluster, find_bindir

BASE_PROGRAM: dict[str, Any] = {
    "version": 1,
    "program": {
        "id": "spring-2027",
        "name": "Spring cohort",
        "timezone": "America/New_York",
        "start": "2027-01-04",
        "end": "2027-04-05",
        "granularity_minutes": 15,
        "now": "2027-01-04T14:00:00Z",
    },
    "members": [
        {
            "id": "ana",
            "name": "Ana Silva",
            "email": "ana@example.org",
            "timezone": "Europe/Lisbon",
            "weekly": [{"days": ["TU", "TH"], "start": "14:00", "end": "18:30"}],
            "unavailable": [{"start": "2027-02-15T00:00", "end": "2027-02-20T00:00"}],
        },
        {
            "id": "ben",
            "name": "Ben Okafor",
            "email": "ben@example.org",
            "timezone": "America/New_York",
        },
    ],
    "matches": [
        {
            "id": "ana-ben",
            "members": ["ana", "ben"],
            "organizer": "ana",
            "duration_minutes": 60,
            "sessions": 8,
            "frequency": "weekly",
        },
    ],
}


@pytest.fixture
def program_dict() -> dict[str, Any]:
    """A fresh, valid program document as a dict (mutate freely)."""
    return copy.deepcopy(BASE_PROGRAM)


@pytest.fixture(scope="session")
def radicale_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real Radicale CalDAV server, one per session.

    ``auth type = none``: any user name and password log in (give both: without a password
    the caldav client sends no credentials and the server refuses). Calendars live in a
    temporary folder; use a distinct user name per test module to keep tests apart.
    """
    folder: Path = tmp_path_factory.mktemp("radicale")
    port = free_port()
    config = folder / "config"
    config.write_text(
        f"""[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"""
        f"""[storage]\nfilesystem_folder = {folder / "collections"}\n"""
        f"""[logging]\nlevel = warning\n""",
        encoding="utf-8",
    )
    log = (folder / "radicale.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"radicale exited: {(folder / 'radicale.log').read_text()}")
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except urllib.error.HTTPError as exc:  # it answers, whatever the status
                exc.close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise RuntimeError("radicale did not answer within 20 s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of our own (``initdb`` + ``pg_ctl`` on a free port), one per
    session; use ``pg_url`` for a database of your own. Skipped when PostgreSQL is not
    installed, unless SLOTWISE_REQUIRE_POSTGRES=1 (CI sets it): then it is an error."""
    bindir = find_bindir()
    if bindir is None:
        reason = (
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in "
            "/usr/lib/postgresql/*/bin; apt-get install postgresql)"
        )
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
            pytest.fail(f"{reason} and {REQUIRE_ENV} is set", pytrace=False)
        pytest.skip(f"{reason}; set {REQUIRE_ENV}=1 to make this an error")
    cluster = PostgresCluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (its SQLAlchemy URL)."""
    url = postgres.create_database()
    try:
        yield url
    finally:
        postgres.drop_database(url)
