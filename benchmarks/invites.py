"""What invites cost the server (issue 15, "Fast answers under load"): building a series'
invites and sending them, through the same functions the server uses.

Books ``--series`` series of a generated program (``benchmarks.generate``) through the app
in this process (SQLite file, no server), then times, per series:

- ``ics``: the series' calendar alone (``notify.series_ics``: the series read and its
  iCalendar written);
- ``build``: everything its invite job does (``notify._series_rows``: the calendar, the
  text per reader zone and one message per attendee), and per message, (build - ics) /
  attendees;

and the sender's round (``notify.flush``) over every queued invite, per message: into the
outbox (no SMTP) and to a real SMTP server on 127.0.0.1 (aiosmtpd).

    python -m benchmarks.invites                    # 100 series, 300 matches
    python -m benchmarks.invites --series 40 --json

Run from another checkout (``PYTHONPATH=/path/to/checkout python -m benchmarks.invites``)
to measure that code with the same work: only functions both have are called.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from benchmarks.generate import generate_program
from service import notify
from service.config import Settings
from service.store import deliveries
from tests.helpers import free_port
from tests.service.inprocess import admin_app, call
from tests.service.smtp import Collector, SmtpServer


def _book(api_steps_doc: dict[str, Any], count: int) -> Any:
    doc = api_steps_doc
    pid = doc["program"]["id"]
    zone = ZoneInfo(doc["program"]["timezone"])
    first = datetime(2027, 1, 4, tzinfo=zone) + timedelta(weeks=1)

    async def steps(api: httpx.AsyncClient) -> list[str]:
        r = await api.post("/api/programs", json=doc)
        assert r.status_code == 201, r.text
        booked = []
        for i, match in enumerate(doc["matches"][:count]):
            body = {
                "first_start": (first + timedelta(minutes=45 * i)).isoformat(),
                "duration_minutes": 30,
                "sessions": 8,
                "frequency": "weekly",
            }
            r = await api.post(f"/api/programs/{pid}/matches/{match['id']}/series", json=body)
            if r.status_code == 201:
                booked.append(r.json()["id"])
        return booked

    return steps


def _per(total_s: float, n: int) -> float:
    return round(1000 * total_s / max(n, 1), 3)


def _flush_all(engine: Any, settings: Settings) -> tuple[float, int]:
    with engine.begin() as conn:
        conn.execute(update(deliveries).values(status="pending", attempts=0, not_before=None))
        n = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    t = time.perf_counter()
    sent = 0
    while sent < n:
        got = notify.flush(engine, settings)
        if not got:
            break
        sent += got
    return time.perf_counter() - t, sent


def run(count: int, matches: int) -> dict[str, Any]:
    doc = generate_program({"matches": matches})
    pid = doc["program"]["id"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db_url=f"sqlite:///{Path(tmp) / 'db.sqlite'}",
            outbox=Path(tmp) / "outbox",
            undo_seconds=0,
            sender="slotwise <invites@slotwise.example>",
        )
        with admin_app(settings) as (app, token):
            booked = call(app, token, _book(doc, count))
            engine = app.state.engine
            ics_ms, build_ms, per_message_ms, messages = [], [], [], 0
            with engine.connect() as conn:
                for sid in booked:
                    t = time.perf_counter()
                    notify.series_ics(conn, settings, pid, sid, "REQUEST")
                    ics = time.perf_counter() - t
                    t = time.perf_counter()
                    rows = notify._series_rows(conn, settings, pid, sid, "REQUEST")
                    build = time.perf_counter() - t
                    ics_ms.append(1000 * ics)
                    build_ms.append(1000 * build)
                    per_message_ms.append(1000 * (build - ics) / max(len(rows), 1))
                    messages += len(rows)
            outbox_s, outbox_n = _flush_all(engine, settings)
            server = SmtpServer("127.0.0.1", free_port())
            controller = Controller(Collector(server), hostname=server.host, port=server.port)
            controller.start()
            try:
                smtp_settings = settings.model_copy(update={"smtp_url": server.url})
                smtp_s, smtp_n = _flush_all(engine, smtp_settings)
            finally:
                controller.stop()
    return {
        "series": len(booked),
        "messages": messages,
        "ics_ms_p50": round(statistics.median(ics_ms), 3),
        "build_series_ms_p50": round(statistics.median(build_ms), 3),
        "build_message_ms_p50": round(statistics.median(per_message_ms), 3),
        "send_outbox_ms_per_message": _per(outbox_s, outbox_n),
        "send_smtp_ms_per_message": _per(smtp_s, smtp_n),
        "sent_outbox": outbox_n,
        "sent_smtp": smtp_n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--matches", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = run(args.series, args.matches)
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
