"""Fault injection for the crash tests: make a server stop where it hurts most.

Inert unless ``SLOTWISE_FAILPOINT`` is set (only the tests set it). The one failpoint is
``series-commit``: a transaction that has written a booked series (a booking or a batch
plan being applied) stops just before it commits, with every row written but nothing
committed. With ``series-commit=pause`` the server writes ``SLOTWISE_FAILPOINT_MARK``
(a file path) and waits there for the test to kill it with SIGKILL; with
``series-commit=exit`` it ends itself at once (``os._exit``, no clean-up, as a crash).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

ENV = "SLOTWISE_FAILPOINT"
MARK_ENV = "SLOTWISE_FAILPOINT_MARK"


def install(engine: Engine) -> None:
    """Arm the failpoint named by the environment on ``engine``, if any."""
    spec = os.environ.get(ENV, "")
    if not spec:
        return
    name, _, action = spec.partition("=")
    if name != "series-commit" or action not in ("pause", "exit"):
        raise ValueError(f'{ENV}: unknown failpoint "{spec}" (series-commit=pause|exit)')

    @event.listens_for(engine, "before_cursor_execute")
    def _watch(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SERIES"):
            conn.info["failpoint"] = True

    @event.listens_for(engine, "commit")
    def _stop(conn: Any) -> None:
        if not conn.info.pop("failpoint", False):
            return
        if action == "exit":
            os._exit(70)
        mark = os.environ.get(MARK_ENV)
        if mark:
            Path(mark).write_text(str(os.getpid()))
        while True:  # until the test kills the process
            time.sleep(1)
