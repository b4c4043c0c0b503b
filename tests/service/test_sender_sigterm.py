"""SIGTERM (what systemd, Docker and Kubernetes send) to ``slotwise serve`` with one
worker, the default: the server stops its sender before it exits, as ``cmd_serve``'s
``finally`` means to, not leaving it running as an orphan until its next look at its
parent. (uvicorn raises a SIGTERM it caught again once it has shut down.)"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import wait_for
from tests.service.live import LiveServer
from tests.service.test_sender_process import _senders, _zombie


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or _zombie(pid)


def test_sigterm_to_a_one_worker_server_stops_its_sender_first(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'slotwise.sqlite'}"
    # A sender that looks at its parent rarely: only the server's own stop ends it soon.
    server = LiveServer(
        db_url, outbox=tmp_path / "outbox", env={"SLOTWISE_SENDER_POLL_SECONDS": "30"}
    ).start()
    try:
        assert server.proc is not None
        assert wait_for(lambda: len(_senders(server.proc.pid)) == 1)
        (sender,) = _senders(server.proc.pid)
        server.proc.terminate()
        code = server.proc.wait(15)
        gone_with_server = _gone(sender)
        log = server.log_text()
    finally:
        server.stop(kill=True)
    assert gone_with_server, f"the sender outlived the server (exit {code}):\n{log[-1500:]}"
    assert code in (0, 143, -15)
