"""The sender process (``slotwise send``) looks for *new* work every
SLOTWISE_SENDER_POLL_SECONDS, but an invite that could not be sent is retried every
SLOTWISE_RETRY_SECONDS (docs/rules.md, "The background sender"), not at every poll."""

from __future__ import annotations

import time

from sqlalchemy import select

from service.store import deliveries, make_engine
from tests.helpers import free_port, wait_for
from tests.service.live import LiveServer, admin_token, book
from tests.service.sample import program


def _attempts(db_url: str) -> list[int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [r.attempts for r in conn.execute(select(deliveries)).all()]
    finally:
        engine.dispose()


def test_smtp_down_invites_are_retried_every_retry_seconds_not_every_poll(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    admin = admin_token(db_url)
    port = free_port()  # nothing listens: every send fails with "connection refused"
    server = LiveServer(
        db_url,
        smtp_url=f"smtp://127.0.0.1:{port}",
        env={
            "SLOTWISE_RETRY_SECONDS": "30",
            "SLOTWISE_SENDER_POLL_SECONDS": "0.1",
            "SLOTWISE_UNDO_SECONDS": "0",
        },
    ).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
        book(server, admin, "mia-al", "2027-03-02T10:00:00-05:00")
        # The first try of each invite, found by a poll.
        assert wait_for(lambda: (a := _attempts(db_url)) and all(n >= 1 for n in a), 15)
        time.sleep(3)  # 30 polls, no retry due
        attempts = _attempts(db_url)
    finally:
        server.stop()
    assert len(attempts) == 2
    assert max(attempts) <= 2, f"retried at every poll: attempts {attempts}"
