"""This server process: who it is as the owner of batch jobs, whether a recorded owner is
still alive, and the response header that names the worker that answered.

Several uvicorn workers (and several machines) can serve one database; a job belongs to
the process that accepted it. An owner is its host name, the kernel's boot id, the PID
namespace, the PID and the process's start time: on the same machine (same boot and PID
namespace) that tells for sure whether the owner still runs, even after its PID was
reused. Elsewhere nobody can tell, and the job's heartbeat decides (``store``).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from functools import lru_cache
from typing import Any

_identity: dict[int, str] = {}  # by PID, so a forked child does not inherit its parent's


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """The start time of a live process (clock ticks after boot), None if there is none:
    no such PID, or only a zombie left of it."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after "pid (comm)", which may hold spaces
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def identity() -> str:
    """This process as a job owner (JSON)."""
    pid = os.getpid()
    if pid not in _identity:
        _identity.clear()
        _identity[pid] = json.dumps(
            {
                "host": socket.gethostname(),
                "boot": _read("/proc/sys/kernel/random/boot_id"),
                "pidns": _pid_namespace(),
                "pid": pid,
                "start": _start_time(pid),
            },
            separators=(",", ":"),
        )
    return _identity[pid]


def owner_alive(owner: str) -> bool | None:
    """Whether the process ``owner`` (an :func:`identity`) still runs: True or False when
    this machine can tell, None when it cannot (another machine, container or boot)."""
    try:
        them: dict[str, Any] = json.loads(owner)
    except ValueError:
        return None
    me = json.loads(identity())
    if not (them.get("start") and me["boot"] and me["pidns"]):
        return None
    if any(them.get(k) != me[k] for k in ("host", "boot", "pidns")):
        return None
    return bool(_start_time(int(them["pid"])) == them["start"])


@lru_cache(maxsize=8)
def tag(owner: str) -> str:
    """A short opaque name of a worker, for the ``X-Slotwise-Worker`` header."""
    return hashlib.sha256(owner.encode()).hexdigest()[:12]


def worker_tag() -> bytes:
    """This process's ``X-Slotwise-Worker`` value: an opaque name, to see which of several
    workers answered."""
    return tag(identity()).encode()
