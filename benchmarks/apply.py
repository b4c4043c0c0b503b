"""Applying a batch plan, and what other programs' requests feel meanwhile (issue 15).

Stores a generated program of ``--matches`` matches (``benchmarks.generate``; 1,000 is
the M preset) and a small second program through the app in this process (SQLite file,
invites to an outbox folder, no SMTP), plans the first through the API's plan job
(``POST …/plans``, polling ``GET /api/jobs/{jid}``: the plan document is the service's
own), starts the background sender (``notify.RetryLoop``, as the server's lifespan does),
then times ``POST …/plans/{jid}/apply`` and reports:

- the series booked and the apply request's wall time;
- how long from sending the apply until every invite of the plan is built into
  ``deliveries`` (an invite per member of each series), and until every one is sent;
- while the apply runs, then until its invites are built and sent, the p50 and max of
  ``GET /api/me`` and of a heat map of the *other* program, sent by another client every
  ``--interval`` seconds (the same requests before the apply give the idle baseline).

    python -m benchmarks.apply                      # M: 1,000 matches
    python -m benchmarks.apply --matches 40 --json  # small, as JSON

Run from another checkout (``PYTHONPATH=/path/to/checkout python benchmarks/apply.py``)
to measure that code the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.generate import generate_program
from service import notify
from service.config import Settings
from service.store import deliveries
from tests.service.inprocess import admin_app


def _summary(times: list[float]) -> dict[str, Any]:
    if not times:
        return {"n": 0, "p50_ms": None, "max_ms": None}
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "max_ms": round(max(times), 2),
    }


def run(
    matches: int, chunk: int = 50, interval: float = 0.05, seed: int = 0, idle: int = 40
) -> dict[str, Any]:
    doc = generate_program({"matches": matches}, seed=seed)
    other = generate_program({"matches": 20}, seed=seed + 1)
    pid, oid = doc["program"]["id"], other["program"]["id"]
    emails = {m["id"] for m in doc["members"] if m.get("email")}
    members_of = {x["id"]: x["members"] for x in doc["matches"]}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db_url=f"sqlite:///{Path(tmp) / 'db.sqlite'}",
            outbox=Path(tmp) / "outbox",
            apply_chunk=chunk,
        )
        with admin_app(settings) as (app, token):
            engine = app.state.engine
            sender = notify.RetryLoop(engine, settings)

            def built(*where: Any) -> int:
                with engine.connect() as conn:
                    n: int = conn.execute(
                        select(func.count())
                        .select_from(deliveries)
                        .where(deliveries.c.program_id == pid, *where)
                    ).scalar_one()
                    return n

            async def steps() -> dict[str, Any]:
                transport = httpx.ASGITransport(app)
                headers = {"Authorization": f"Bearer {token}"}
                async with (
                    httpx.AsyncClient(
                        transport=transport, base_url="http://t", headers=headers, timeout=600
                    ) as api,
                    httpx.AsyncClient(
                        transport=transport, base_url="http://t", headers=headers
                    ) as prober,
                ):
                    for d in (doc, other):
                        r = await api.post("/api/programs", json=d)
                        assert r.status_code == 201, r.text
                    r = await api.post(f"/api/programs/{pid}/plans", json={"time_limit": 120})
                    assert r.status_code == 202, r.text
                    jid = r.json()["job"]
                    t0 = time.perf_counter()
                    while (job := (await api.get(f"/api/jobs/{jid}")).json())["status"] not in (
                        "done",
                        "failed",
                    ):
                        await asyncio.sleep(0.2)
                    assert job["status"] == "done", job
                    plan_seconds = time.perf_counter() - t0
                    planned = job["plan"]["series"]
                    owed = sum(len(set(members_of[s["match"]]) & emails) for s in planned)
                    heat = f"/api/programs/{oid}/matches/{other['matches'][0]['id']}/heatmap"
                    probes: dict[str, dict[str, list[float]]] = {}

                    async def probe(phase: str) -> None:
                        for name, path in (("me", "/api/me"), ("heatmap", heat)):
                            t = time.perf_counter()
                            r = await prober.get(path)
                            ms = (time.perf_counter() - t) * 1000
                            assert r.status_code == 200, r.text
                            probes.setdefault(phase, {}).setdefault(name, []).append(ms)

                    for _ in range(3):  # the app's first requests build what it keeps
                        await probe("warm-up")
                    for _ in range(idle):
                        await probe("idle")
                        await asyncio.sleep(interval)

                    start = time.perf_counter()
                    applying = asyncio.create_task(
                        api.post(f"/api/programs/{pid}/plans/{jid}/apply")
                    )
                    while not applying.done():
                        await probe("during apply")
                        await asyncio.sleep(interval)
                    answer = await applying
                    apply_s = time.perf_counter() - start
                    assert answer.status_code == 200, answer.text
                    at_answer = await asyncio.to_thread(built)
                    while (n := await asyncio.to_thread(built)) < owed:
                        await probe("until invites built")
                        await asyncio.sleep(interval)
                    built_s = time.perf_counter() - start
                    sent = deliveries.c.status == "sent"
                    while await asyncio.to_thread(built, sent) < owed:
                        await probe("until invites sent")
                        await asyncio.sleep(interval)
                    sent_s = time.perf_counter() - start
                    return {
                        "plan_seconds": round(plan_seconds, 2),
                        "planned": len(planned),
                        "booked": answer.json()["booked"],
                        "apply_s": round(apply_s, 3),
                        "invites_owed": owed,
                        "invites_built_at_answer": at_answer,
                        "invites_built": n,
                        "invites_built_s": round(built_s, 3),
                        "invites_sent_s": round(sent_s, 3),
                        "probes": {
                            phase: {name: _summary(t) for name, t in by.items()}
                            for phase, by in probes.items()
                            if phase != "warm-up"
                        },
                    }

            sender.start()
            try:
                out = asyncio.run(steps())
            finally:
                sender.stop()
    return {
        "matches": matches,
        "chunk": chunk,
        "interval_s": interval,
        "load": [round(x, 2) for x in os.getloadavg()],
        **out,
    }


def _text(out: dict[str, Any]) -> str:
    lines = [
        f"{out['booked']} of {out['planned']} series booked ({out['matches']} matches, chunks "
        f"of {out['chunk']}; plan job {out['plan_seconds']} s): apply request "
        f"{out['apply_s']} s; every invite built into deliveries ({out['invites_built']} of "
        f"{out['invites_owed']}; {out['invites_built_at_answer']} when the apply answered) "
        f"{out['invites_built_s']} s after the apply was sent, all sent (outbox) after "
        f"{out['invites_sent_s']} s. Load {out['load']}.",
        "Another client, one request of each every "
        f"{out['interval_s'] * 1000:.0f} ms (p50 / max, ms):",
    ]
    for phase, by in out["probes"].items():
        cells = ", ".join(
            f"{name} {s['p50_ms']} / {s['max_ms']} (n={s['n']})" for name, s in by.items()
        )
        lines.append(f"  {phase}: {cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=1000, help="1,000 is the M preset")
    parser.add_argument("--chunk", type=int, default=50, help="SLOTWISE_APPLY_CHUNK")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between probes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = run(args.matches, args.chunk, args.interval, args.seed)
    print(json.dumps(out) if args.json else _text(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
