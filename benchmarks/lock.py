"""How long a booking holds its program's lock (issue 15, "Fast answers under load").

Books ``--bookings`` series, one after the other, on a generated program of ``--matches``
matches (``benchmarks.generate``) through the app in this process (SQLite file, no
server, no mail sent), and times each ``store.locked(...)`` block of the booking route:
from taking the program's lock to the end of its commit. Also the whole request. Every
series gets its own weekly time (30 minutes, 45 minutes apart: 200 fit in a week), so
none clashes with another; one that clashes with the program's own bookings is a 409
and not counted.

    python -m benchmarks.lock                       # 200 bookings, 300 matches
    python -m benchmarks.lock --bookings 50 --json  # smaller, as JSON

Run from another checkout (``PYTHONPATH=/path/to/checkout python benchmarks/lock.py``)
to measure that code with the same load: the route's ``locked`` is wrapped, whatever it
holds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

import service.api.routes.series as routes
from benchmarks.generate import generate_program
from service.config import Settings
from tests.service.inprocess import admin_app, call


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run(bookings: int, matches: int) -> dict[str, Any]:
    held: list[float] = []
    original = routes.locked

    @contextmanager
    def timed(engine: Any, program_id: str) -> Iterator[Any]:
        start = time.perf_counter()
        try:
            with original(engine, program_id) as conn:
                yield conn
        finally:
            held.append((time.perf_counter() - start) * 1000)

    doc = generate_program({"matches": matches})
    pid = doc["program"]["id"]
    zone = ZoneInfo(doc["program"]["timezone"])
    first = datetime(2027, 1, 4, tzinfo=zone) + timedelta(weeks=1)
    ids = [m["id"] for m in doc["matches"]][:bookings]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db_url=f"sqlite:///{Path(tmp) / 'db.sqlite'}",
            outbox=Path(tmp) / "outbox",
            undo_seconds=3600,
        )
        with admin_app(settings) as (app, token):

            async def steps(api: httpx.AsyncClient) -> list[tuple[int, float]]:
                r = await api.post("/api/programs", json=doc)
                assert r.status_code == 201, r.text
                out = []
                for i, xid in enumerate(ids):
                    body = {
                        "first_start": (first + timedelta(minutes=45 * i)).isoformat(),
                        "duration_minutes": 30,
                        "sessions": 4,
                        "frequency": "weekly",
                    }
                    t0 = time.perf_counter()
                    r = await api.post(f"/api/programs/{pid}/matches/{xid}/series", json=body)
                    out.append((r.status_code, (time.perf_counter() - t0) * 1000))
                return out

            routes.locked = timed  # type: ignore[assignment]
            try:
                answers = call(app, token, steps)
            finally:
                routes.locked = original  # type: ignore[assignment]
    booked = [k for k, (status, _) in enumerate(answers) if status == 201]
    in_lock = [held[k] for k in booked]
    request = [answers[k][1] for k in booked]
    return {
        "matches": matches,
        "bookings": len(ids),
        "booked": len(booked),
        "refused": dict(
            sorted({s: sum(1 for a in answers if a[0] == s) for s, _ in answers}.items())
        ),
        "lock_p50_ms": round(statistics.median(in_lock), 2),
        "lock_p99_ms": round(_pct(in_lock, 99), 2),
        "request_p50_ms": round(statistics.median(request), 2),
        "request_p99_ms": round(_pct(request, 99), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--matches", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = run(args.bookings, args.matches)
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"{out['booked']} of {out['bookings']} bookings on {out['matches']} matches "
            f"(answers {out['refused']}): inside the program's lock p50 "
            f"{out['lock_p50_ms']} ms, p99 {out['lock_p99_ms']} ms; whole request p50 "
            f"{out['request_p50_ms']} ms, p99 {out['request_p99_ms']} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
