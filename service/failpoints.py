"""Fault injection for the crash tests: make a server stop where it hurts most.

Inert unless ``SLOTWISE_FAILPOINT`` is set (only the tests set it). The failpoints:

- ``series-commit``: a transaction that has written a booked series (a booking or a chunk
  of a batch plan being applied) stops just before it commits, with every row written but
  nothing committed;
- ``apply-chunk``: a plan being applied stops after a chunk of its series has committed
  and before the next one starts (``reached("apply-chunk")`` in service/plan_apply.py);
- ``invites-queued``: a booking, move or cancellation has committed with its invite job
  and not built the invites yet (``notify.queued``).

With ``NAME=pause`` the server writes ``SLOTWISE_FAILPOINT_MARK`` (a file path) and waits
there for the test to kill it with SIGKILL; with ``NAME=exit`` it ends itself at once
(``os._exit``, no clean-up, as a crash).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

ENV = "SLOTWISE_FAILPOINT"
MARK_ENV = "SLOTWISE_FAILPOINT_MARK"


NAMES = ("series-commit", "apply-chunk", "invites-queued")


def _armed() -> tuple[str, str] | None:
    """(failpoint, action) from the environment, or None."""
    spec = os.environ.get(ENV, "")
    if not spec:
        return None
    name, _, action = spec.partition("=")
    if name not in NAMES or action not in ("pause", "exit"):
        raise ValueError(
            f'{ENV}: unknown failpoint "{spec}" '
            "(series-commit, apply-chunk or invites-queued, =pause or =exit)"
        )
    return name, action


def reached(name: str) -> None:
    """The code passes failpoint ``name``: stop here if the environment arms it."""
    armed = _armed()
    if armed is not None and armed[0] == name:
        _stop_here(armed[1])


def _stop_here(action: str) -> None:
    if action == "exit":
        os._exit(70)
    mark = os.environ.get(MARK_ENV)
    if mark:
        Path(mark).write_text(str(os.getpid()))
    while True:  # until the test kills the process
        time.sleep(1)


def install(engine: Engine) -> None:
    """Arm the ``series-commit`` failpoint on ``engine`` if the environment names it."""
    armed = _armed()
    if armed is None or armed[0] != "series-commit":
        return
    action = armed[1]

    @event.listens_for(engine, "before_cursor_execute")
    def _watch(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SERIES"):
            conn.info["failpoint"] = True

    @event.listens_for(engine, "commit")
    def _stop(conn: Any) -> None:
        if conn.info.pop("failpoint", False):
            _stop_here(action)
