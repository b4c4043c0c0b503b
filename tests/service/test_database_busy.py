"""A database held by another writer past the busy timeout is a 503 with Retry-After,
never a 500; the request then goes through once it is free (issue 12, item 6)."""

from __future__ import annotations

import sqlite3

from tests.service.live import LiveServer, admin_token
from tests.service.sample import program


def test_a_database_locked_past_the_busy_timeout_answers_503(tmp_path):
    """While another process holds SQLite's write lock, a write answers 503 (not 500)
    after SLOTWISE_DB_BUSY_SECONDS, and succeeds once the lock is released."""
    path = tmp_path / "db.sqlite"
    url = f"sqlite:///{path}"
    token = admin_token(url)
    server = LiveServer(
        url, outbox=tmp_path / "outbox", env={"SLOTWISE_DB_BUSY_SECONDS": "0.5"}
    ).start()
    try:
        with server.client(token) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                r = api.put("/api/programs/p1/members/al", json={"timezone": "Asia/Tokyo"})
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "5"
                assert "busy" in r.json()["detail"]
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            r = api.put("/api/programs/p1/members/al", json={"timezone": "Asia/Tokyo"})
            assert r.status_code == 200, r.text
    finally:
        server.stop()
