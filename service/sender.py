"""The background sender as a process of its own (``slotwise send``).

Building an invite (its calendar and MIME body) and sending it is CPU work in Python: in a
server process it took the interpreter lock from the requests, a third of it at four
facilitators booking at once (``benchmarks/load.py``, a py-spy profile). ``slotwise serve``
therefore runs the sender (:class:`service.notify.RetryLoop`: the invite sender and the
CalDAV calendar writer) as one process beside its web workers, which then run none
(``SLOTWISE_SENDER_THREADS=0``). Nobody in that process is told when a request commits
work, so it looks every ``sender_poll_seconds`` (a round that finds nothing is three
indexed reads). It stops on SIGTERM or SIGINT, and when the process that started it is
gone (it is not left sending as an orphan).

Several senders may run against one database (each claims what it builds or sends), so
``slotwise send`` can also run on a host of its own, with ``slotwise serve --sender
none`` on the web hosts.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

from .config import Settings
from .notify import RetryLoop
from .store import init_db, make_engine

log = logging.getLogger("slotwise.sender")


def run(settings: Settings, parent: int | None = None) -> None:
    """Send until SIGTERM or SIGINT, or until process ``parent`` is no longer ours."""
    engine = make_engine(settings.db_url, settings.db_busy_seconds)
    init_db(engine)
    stop = threading.Event()

    def stopping(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    # Ctrl-C in a terminal reaches the whole process group: a sender started by a server
    # leaves it to the server, which stops it (SIGTERM) once its workers are done.
    signal.signal(signal.SIGINT, signal.SIG_IGN if parent is not None else stopping)
    loop = RetryLoop(engine, settings)
    loop.start()
    log.info("background sender running (looks for work every %ss)", settings.sender_poll_seconds)
    try:
        while not stop.wait(settings.sender_poll_seconds):
            if parent is not None and os.getppid() != parent:
                log.info("the server that started this sender is gone: stopping")
                break
            loop.wake()
    finally:
        loop.stop()
        engine.dispose()


class SenderProcess:
    """``slotwise send`` beside the web workers of ``slotwise serve``, started again (after
    a pause that doubles while it keeps exiting at once, at most a minute) if it exits
    while the server runs."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self.proc = self._start()
        self._watch = threading.Thread(target=self._watchdog, name="sender-watch", daemon=True)
        self._watch.start()

    def _start(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "service.cli", "send", "--parent", str(os.getpid())]
        return subprocess.Popen(command)

    def _watchdog(self) -> None:
        pause = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            code = self.proc.wait()
            if time.monotonic() - started > 60:
                pause = 1.0
            if self._stopping.wait(pause):
                return
            log.error("the background sender exited (code %s); starting it again", code)
            pause = min(pause * 2, 60.0)
            self.proc = self._start()

    def stop(self) -> None:
        self._stopping.set()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
