"""On a SQLite file, a program's lock is also an OS lock (``<file>-locks``), so that
processes take turns on it the way threads do: a waiting process sleeps in the kernel
and is woken when the holder lets go, instead of polling SQLite with back-off sleeps.
The lock goes with its process, and its file is closed when the last engine of the
database is gone."""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from service.programs import validated
from service.store import _lock_key, init_db, insert_program, locked, make_engine, programs
from tests.helpers import wait_for
from tests.service.sample import program

ROOT = Path(__file__).resolve().parents[2]

HOLD = """
import sys, time
from service.store import locked, make_engine
engine = make_engine(sys.argv[1])
with locked(engine, "p1"):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", time.time(), flush=True)
"""


def _engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    init_db(engine)
    with engine.begin() as conn:
        insert_program(conn, validated(program()).model_dump(mode="json", exclude_none=True))
    return engine


def _holder(tmp_path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, f"sqlite:///{tmp_path / 'db.sqlite'}", str(seconds)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def _byte_free(tmp_path: Path, key: int) -> bool:
    """Whether another process could take the program's byte of the lock file now
    (asked from a child: this process's own locks never block it)."""
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))\n"
        "except OSError:\n"
        "    sys.exit(1)\n"
    )
    path = str(tmp_path / "db.sqlite-locks")
    return subprocess.run([sys.executable, "-c", probe, path, str(key)]).returncode == 0


def test_another_process_waits_for_the_lock_and_then_sees_its_writes(tmp_path):
    engine = _engine(tmp_path)
    key = _lock_key(engine, "p1")
    assert isinstance(key, int)
    holder = _holder(tmp_path, 1.0)
    try:
        assert not _byte_free(tmp_path, key)  # the holder's OS lock
        with locked(engine, "p1") as conn:
            got = time.time()
            assert conn.execute(select(programs.c.id)).scalar() == "p1"
        assert holder.stdout is not None
        released = float(holder.stdout.readline().split()[1])
        assert got >= released - 0.05  # not before the holder let go
    finally:
        holder.wait(10)
        assert holder.stdout is not None
        holder.stdout.close()
    assert _byte_free(tmp_path, key)
    engine.dispose()


def test_a_killed_holder_leaves_no_lock(tmp_path):
    engine = _engine(tmp_path)
    holder = _holder(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    assert holder.stdout is not None
    holder.stdout.close()
    started = time.monotonic()
    with locked(engine, "p1"):
        pass
    assert time.monotonic() - started < 5
    engine.dispose()


def test_the_lock_file_is_closed_with_the_last_engine(tmp_path):
    mine = os.path.realpath(tmp_path / "db.sqlite-locks")

    def open_lock_files() -> int:
        return sum(
            1
            for fd in os.listdir("/proc/self/fd")
            if os.path.realpath(f"/proc/self/fd/{fd}") == mine
        )

    first = _engine(tmp_path)
    second = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with locked(first, "p1"):
        pass
    with locked(second, "p1"):
        pass
    assert open_lock_files() == 1  # one descriptor per file (closing one drops all locks)
    first.dispose()
    del first
    gc.collect()
    assert open_lock_files() == 1
    with locked(second, "p1"):
        assert not fcntl is None  # noqa: E714 (the lock is there on this system)
    second.dispose()
    del second
    assert wait_for(lambda: gc.collect() >= 0 and open_lock_files() == 0, 5)
