"""A slow-loris HTTP server on 127.0.0.1: it sends its response headers one byte at a time."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nX-Trickle: " + b"z" * 10_000


class TrickleServer:
    """Every connection gets one header byte each ``interval`` s, for at most ``seconds``
    (then it is closed). ``open`` counts the connections being trickled to right now; one
    the client closes is noticed within ``interval``."""

    def __init__(self, interval: float = 0.5, seconds: float = 20) -> None:
        self.interval, self.seconds = interval, seconds
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.sock.settimeout(0.2)
        self.open = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow.ics"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.open += 1
            thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _trickle(self, conn: socket.socket) -> None:
        end = time.monotonic() + self.seconds
        try:
            with conn:
                for i in range(len(HEAD)):
                    if self._stop.is_set() or time.monotonic() > end:
                        return
                    conn.sendall(HEAD[i : i + 1])
                    readable, _, _ = select.select([conn], [], [], self.interval)
                    if readable and not conn.recv(65536):  # the request, or the client left
                        return
        except OSError:  # the client went away
            pass
        finally:
            with self._lock:
                self.open -= 1

    def wait_open(self, count: int, within: float) -> bool:
        """Whether ``count`` connections are open at some point within ``within`` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.open >= count:
                return True
            time.sleep(0.05)
        return self.open >= count


@contextlib.contextmanager
def trickle_server(interval: float = 0.5, seconds: float = 20) -> Iterator[TrickleServer]:
    """A running :class:`TrickleServer`; stopped (every connection closed) on exit."""
    server = TrickleServer(interval, seconds)
    acceptor = threading.Thread(target=server._accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server._stop.set()
        acceptor.join(5)
        server.sock.close()
        for thread in server._threads:
            thread.join(5)
