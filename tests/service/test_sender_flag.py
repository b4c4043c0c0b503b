"""``slotwise serve --sender threads`` runs the sender in the web workers even when the
environment says SLOTWISE_SENDER_THREADS=0 (left from a deployment whose sender ran as
``slotwise send``): the flag names where invites are sent, and with neither a process
nor threads nobody would send them."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import wait_for
from tests.service.live import LiveServer, admin_token, book
from tests.service.sample import program


def test_sender_threads_flag_wins_over_the_environment(tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    admin = admin_token(db_url)
    outbox = tmp_path / "outbox"
    server = LiveServer(
        db_url, outbox=outbox, sender="threads", env={"SLOTWISE_SENDER_THREADS": "0"}
    ).start()
    try:
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
        book(server, admin, "mia-al", "2027-03-02T10:00:00-05:00")
        assert wait_for(lambda: len(list(outbox.glob("*.eml"))) == 2, 10)
    finally:
        server.stop()
