"""A real slotwise server (uvicorn in a subprocess) on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def admin_token(db_url: str) -> str:
    """A site-admin token in the database at ``db_url`` (its tables created first)."""
    from service.auth import create_token
    from service.store import init_db, make_engine

    engine = make_engine(db_url)
    try:
        init_db(engine)
        return create_token(engine, "admin")
    finally:
        engine.dispose()


class LiveServer:
    """``slotwise serve`` on a free port with its own database file and mail settings."""

    def __init__(
        self,
        db_url: str,
        *,
        smtp_url: str | None = None,
        outbox: Path | None = None,
        workers: int = 1,
        env: dict[str, str] | None = None,
        sender: str = "process",
    ) -> None:
        self.db_url, self.smtp_url, self.outbox, self.workers = db_url, smtp_url, outbox, workers
        self.sender = sender  # slotwise serve --sender: process, threads or none
        self.extra_env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        env = {**os.environ, "SLOTWISE_DB": self.db_url}
        env.pop("SLOTWISE_SMTP_URL", None)
        if self.smtp_url:
            # Over SMTP the default sender is refused (docs/rules.md): tests name one.
            env["SLOTWISE_SMTP_URL"] = self.smtp_url
            env["SLOTWISE_SENDER"] = "slotwise tests <invites@slotwise.example>"
        # Invites go out at once unless a test asks for an undo window: tests wait for
        # booking mail.
        env["SLOTWISE_UNDO_SECONDS"] = "0"
        env.update(self.extra_env)
        if self.outbox:
            env["SLOTWISE_OUTBOX"] = str(self.outbox)
        # A file, not a pipe: nobody reads the log while the server runs, and a full pipe
        # would stall every worker that writes an access log line. Both streams (uvicorn
        # writes its access log to stdout), unbuffered, so ``log_text`` sees every line.
        env["PYTHONUNBUFFERED"] = "1"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--sender",
                self.sender,
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
            # Its own process group: ``stop(kill=True)`` kills the workers too, as a
            # crash of the machine would, instead of leaving them serving as orphans.
            start_new_session=True,
        )
        # Ready when every worker answered (X-Slotwise-Worker): all of them ran init_db.
        self.workers_seen: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                text = self.log.read().decode(errors="replace")[-2000:]
                self.log.close()
                self.proc = None
                raise RuntimeError("server exited: " + text)
            if not self._listening():
                # Still importing and building the app: look again soon (a refused
                # connection costs microseconds; an HTTP client, milliseconds).
                time.sleep(0.02)
                continue
            try:
                # A fresh connection each time, so every worker gets a turn to answer.
                r = httpx.get(self.url + "/api/auth/session", timeout=1)
                if r.status_code == 200:
                    self.workers_seen.add(r.headers["x-slotwise-worker"])
                    if len(self.workers_seen) >= self.workers:
                        return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"server did not start within 60 s ({len(self.workers_seen)} of "
            f"{self.workers} workers answered)"
        )

    def _listening(self) -> bool:
        """Whether anything accepts connections on the server's port yet."""
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, workers shut down cleanly) or, with ``kill``, SIGKILL
        every process of it at once."""
        if self.proc is None:
            return
        if kill:
            self._kill_group()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._kill_group()  # a worker that outlived its supervisor
        self._wait_port_free()  # killed workers close their sockets as they die
        self.log.close()
        self.proc = None

    def _kill_group(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _wait_port_free(self, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", self.port))
                    return
                except OSError:
                    time.sleep(0.05)

    def log_text(self) -> str:
        """What the server has written so far (its start-up messages and access log)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def book(server: LiveServer, token: str, match: str, start: str) -> None:
    """Book ``match`` of program p1 (tests/service/sample.py) at ``start`` (answered 201)."""
    with server.client(token) as api:
        r = api.post(f"/api/programs/p1/matches/{match}/series", json={"first_start": start})
        assert r.status_code == 201, r.text


def free_slots(heat: dict, j: int) -> set[int]:
    """The start slots member ``j`` can attend, from a heat-map answer's ``free`` bitmap."""
    import base64

    bits = base64.b64decode(heat["free"][j])
    first, n = heat["window"]["first_slot"], heat["window"]["slots"]
    return {first + i for i in range(n) if bits[i >> 3] >> (i & 7) & 1}


def view_rows(heat: dict) -> list[list[int]]:
    """A heat-map answer's viewer grid as one list of slots per date (-1: none), from its
    compact ``view.slots`` (a date whose times are consecutive slots is its first one)."""
    n = len(heat["view"]["times"])
    return [list(range(r, r + n)) if isinstance(r, int) else r for r in heat["view"]["slots"]]


def finished_plan(api: httpx.Client, pid: str, seconds: float = 60, **body: object) -> str:
    """Start a batch plan of program ``pid`` and wait (at most ``seconds``) until it is
    done; its job id."""
    r = api.post(f"/api/programs/{pid}/plans", json=body)
    assert r.status_code == 202, r.text
    jid = r.json()["job"]
    deadline = time.monotonic() + seconds
    while api.get(f"/api/jobs/{jid}").json()["status"] != "done":
        assert time.monotonic() < deadline, f"plan {jid} not done after {seconds} s"
        time.sleep(0.1)
    return jid
