"""Moving a stored program's ``now`` (SPEC 6) for a test's set-up: a session can only be
marked complete once it has started, and a program that fixes ``now`` books only after
it, so tests book first and then let the program's time pass their sessions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select, update

from service.store import make_engine, programs


@contextmanager
def program_now(db: Engine | str, pid: str, now: str | None) -> Iterator[None]:
    """Program ``pid``'s ``now`` set to ``now`` (None: the real clock) in the database
    ``db`` (an engine or a URL; a live server reads it on its next request), and set back
    to what it was afterwards."""
    engine = make_engine(db) if isinstance(db, str) else db
    try:
        before = _set(engine, pid, now)
        try:
            yield
        finally:
            _set(engine, pid, before)
    finally:
        if isinstance(db, str):
            engine.dispose()


def _set(engine: Engine, pid: str, now: str | None) -> str | None:
    """Write ``now`` into the program's header; what it was."""
    with engine.begin() as conn:
        header = json.loads(
            conn.execute(select(programs.c.header).where(programs.c.id == pid)).scalar_one()
        )
        before = header.get("now")
        header["now"] = now
        if now is None:
            del header["now"]
        conn.execute(update(programs).where(programs.c.id == pid).values(header=json.dumps(header)))
    return before
