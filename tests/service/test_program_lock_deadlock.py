"""Two server processes, each with one request holding one program's lock and another
waiting for the other program's: no real deadlock (each holder finishes and lets go),
but POSIX record locks belong to the *process*, so the kernel's deadlock detection sees
process A waiting for B and B waiting for A and fails the lock with EDEADLK."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from service.programs import validated
from service.store import _lock_key, init_db, insert_program, locked, make_engine
from tests.service.sample import program

ROOT = Path(__file__).resolve().parents[2]

OTHER = """
import sys, threading, time
from service.store import locked, make_engine
engine = make_engine(sys.argv[1])

def hold_p1():
    with locked(engine, "p1"):
        print("holds p1", flush=True)
        time.sleep(2.0)

def want_p2():
    with locked(engine, "p2"):
        print("got p2", flush=True)

t = threading.Thread(target=hold_p1)
t.start()
sys.stdin.readline()  # the test process holds p2's OS lock now
w = threading.Thread(target=want_p2)
w.start()
t.join()
w.join()
print("done", flush=True)
"""


def test_two_processes_crossing_two_programs_do_not_fail_with_edeadlk(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    init_db(engine)
    with engine.begin() as conn:
        for pid in ("p1", "p2"):
            doc = validated(program(pid)).model_dump(mode="json", exclude_none=True)
            insert_program(conn, doc)
    assert _lock_key(engine, "p1") != _lock_key(engine, "p2")
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER, url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdin is not None and other.stdout is not None
    errors: list[BaseException] = []

    def run(pid: str) -> None:
        try:
            with locked(engine, pid):
                pass
        except BaseException as exc:
            errors.append(exc)

    try:
        assert other.stdout.readline().strip() == "holds p1"
        # A booking of p2 here: its OS lock taken, it waits for SQLite's (p1's holder).
        p2 = threading.Thread(target=run, args=("p2",))
        p2.start()
        threading.Event().wait(0.3)
        other.stdin.write("go\n")
        other.stdin.flush()  # the other process now waits for p2's OS lock (ours)
        threading.Event().wait(0.3)
        # A booking of p1 here: waits for p1's OS lock (the other process's).
        p1 = threading.Thread(target=run, args=("p1",))
        p1.start()
        p1.join(30)
        p2.join(30)
        assert other.wait(30) == 0
    finally:
        if other.poll() is None:
            other.kill()
        other.stdin.close()
        other.stdout.close()
        engine.dispose()
    assert errors == []
