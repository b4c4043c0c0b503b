"""``slotwise serve`` runs the background sender as a process of its own (service/sender.py).

Invites still go out, with the web workers running no sender; the sender process is
started again if it dies, stops with the server, and does not outlive a server that was
killed outright.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.helpers import wait_for
from tests.service.live import LiveServer, admin_token, book
from tests.service.sample import program


def _senders(parent: int) -> list[int]:
    """Pids of the ``slotwise send`` processes started by process ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if b"send" in words and b"--parent" in words and str(parent).encode() in words:
            found.append(int(entry.name))
    return found


def _mails(outbox: Path) -> int:
    return len(list(outbox.glob("*.eml")))


def test_the_sender_is_a_process_of_its_own_and_comes_back(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    admin = admin_token(db_url)
    outbox = tmp_path / "outbox"
    server = LiveServer(db_url, outbox=outbox).start()
    try:
        assert server.proc is not None
        with server.client(admin) as api:
            assert api.post("/api/programs", json=program()).status_code == 201
        assert wait_for(lambda: len(_senders(server.proc.pid)) == 1)
        (first,) = _senders(server.proc.pid)
        # The web process sends nothing itself: with the sender frozen, a booking's
        # invites wait, and go out once it runs again.
        os.kill(first, signal.SIGSTOP)
        try:
            book(server, admin, "mia-al", "2027-03-02T10:00:00-05:00")
            time.sleep(1.5)
            assert _mails(outbox) == 0
        finally:
            os.kill(first, signal.SIGCONT)
        assert wait_for(lambda: _mails(outbox) == 2), "the sender process sent the invites"

        # A sender that dies is started again, and sends what was booked meanwhile.
        os.kill(first, signal.SIGKILL)
        book(server, admin, "mia-bo", "2027-03-03T10:00:00-05:00")
        assert wait_for(lambda: _senders(server.proc.pid) not in ([], [first]), 15)
        assert wait_for(lambda: _mails(outbox) == 4, 15)
        (second,) = _senders(server.proc.pid)
        assert second != first and "starting it again" in server.log_text()
    finally:
        server.stop()
    # Stopped with the server.
    assert wait_for(lambda: not Path(f"/proc/{second}").exists() or _zombie(second), 10)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def test_the_sender_does_not_outlive_a_killed_server(tmp_path):
    """SIGINT alone does not stop a server's sender (the server stops it). SIGKILL to the
    server's own process (no chance to stop its sender): the sender sees that its parent
    is gone and stops within a poll or two."""
    db_url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    server = LiveServer(db_url, outbox=tmp_path / "outbox").start()
    try:
        assert server.proc is not None
        assert wait_for(lambda: len(_senders(server.proc.pid)) == 1)
        (sender,) = _senders(server.proc.pid)
        # Running (its signal handlers set), not still importing.
        assert wait_for(lambda: "background sender running" in server.log_text(), 30)
        # Ctrl-C reaches the whole process group: the sender leaves stopping to its server.
        os.kill(sender, signal.SIGINT)
        time.sleep(0.6)
        assert _senders(server.proc.pid) == [sender] and not _zombie(sender)
        os.kill(server.proc.pid, signal.SIGKILL)
        started = time.monotonic()
        assert wait_for(lambda: not Path(f"/proc/{sender}").exists() or _zombie(sender), 10)
        assert time.monotonic() - started < 5
    finally:
        server.stop(kill=True)
