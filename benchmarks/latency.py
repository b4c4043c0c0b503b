"""A match's heat map and proposals against an authenticated no-op, side by side (issue 15).

On a generated program of ``--matches`` matches (``benchmarks.generate``), stored through
the app in this process (SQLite file, no server), with ``--booked`` of its matches booked
first (their best proposal), times one request after another:

- ``GET /api/me`` (authentication and an answer, nothing else: the yardstick);
- ``GET …/matches/{id}/heatmap`` and ``POST …/matches/{id}/proposals`` for ``--sample``
  matches not booked, each **cold** (the first request for that match since the program
  was stored: nothing of it cached) and **warm** (the same requests again).

Reports the median (p50) and p90 of each, the ratio of each p50 to ``/api/me``'s, and the
answers' median sizes. Every timing is the whole request through the ASGI app (routing,
authentication, the database, the work, JSON), called directly with the ASGI message
dicts a server passes it (``asgi``), so what is timed is the server's work only. Through
``httpx.ASGITransport`` (``--via httpx``, how figures before 2026-12-02 were measured)
each request also carries about 1 ms of the client's own work, the same for every
request, which made every ratio to ``/api/me`` look smaller than it is (cold heat map
1.97x through httpx, 2.42x direct, same run).

    python -m benchmarks.latency                 # 300 matches, 60 sampled, 5 runs
    python -m benchmarks.latency --runs 1 --json

Run from another checkout (``PYTHONPATH=/path/to/checkout python benchmarks/latency.py``)
to measure that code the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.generate import generate_program
from service.config import Settings
from tests.service.inprocess import admin_app

RESULTS = Path(__file__).parent / "results"
VIA = {"asgi": "sent straight into the ASGI app", "httpx": "sent through httpx.ASGITransport"}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _timed(send: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    status, body = await send()
    ms = (time.perf_counter() - t0) * 1000
    assert status == 200, body[:500]
    return ms, len(body)


async def asgi_request(
    app: Any, method: str, path: str, token: str, body: Any = None
) -> tuple[int, bytes]:
    """One request straight into the ASGI app, as a server would hand it over: the
    status and the body's bytes."""
    data = b"" if body is None else json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"t"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("t", 80),
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the answer is written
        raise AssertionError("unreachable")

    status, chunks = 0, []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def run_once(matches: int, booked: int, sample: int, via: str = "asgi") -> dict[str, Any]:
    doc = generate_program({"matches": matches})
    pid = doc["program"]["id"]
    ids = [m["id"] for m in doc["matches"]]
    chosen = ids[booked : booked + sample]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_url=f"sqlite:///{Path(tmp) / 'db.sqlite'}", outbox=Path(tmp) / "o")
        with admin_app(settings) as (app, token):

            async def steps() -> dict[str, Any]:
                transport = httpx.ASGITransport(app)
                async with httpx.AsyncClient(
                    transport=transport,
                    base_url="http://t",
                    headers={"Authorization": f"Bearer {token}"},
                ) as api:
                    r = await api.post("/api/programs", json=doc)
                    assert r.status_code == 201, r.text
                    made = 0
                    for xid in ids[:booked]:
                        r = await api.post(f"/api/programs/{pid}/matches/{xid}/proposals", json={})
                        best = r.json()["proposals"]
                        if best:
                            b = await api.post(
                                f"/api/programs/{pid}/matches/{xid}/series",
                                json={"first_start": best[0]["first_start"]},
                            )
                            made += b.status_code == 201
                    times: dict[str, list[float]] = {}
                    sizes: dict[str, list[int]] = {}

                    async def request(
                        method: str, path: str, body: Any = None
                    ) -> tuple[int, bytes]:
                        if via == "httpx":
                            r = await api.request(method, path, json=body)
                            return r.status_code, r.content
                        return await asgi_request(app, method, path, token, body)

                    async def measure(name: str, method: str, path: str, body: Any = None) -> None:
                        ms, size = await _timed(lambda: request(method, path, body))
                        times.setdefault(name, []).append(ms)
                        sizes.setdefault(name, []).append(size)

                    for _ in range(3):  # the app's first requests build what it keeps
                        await request("GET", "/api/me")
                    for temperature in ("cold", "warm"):
                        for xid in chosen:
                            match = f"/api/programs/{pid}/matches/{xid}"
                            await measure("me", "GET", "/api/me")
                            await measure(f"heatmap {temperature}", "GET", match + "/heatmap")
                            await measure(
                                f"proposals {temperature}", "POST", match + "/proposals", {}
                            )
                    return {"booked": made, "times": times, "sizes": sizes}

            return asyncio.run(steps())


def run(matches: int, booked: int, sample: int, runs: int, via: str = "asgi") -> dict[str, Any]:
    rounds = [run_once(matches, booked, sample, via) for _ in range(runs)]
    rows = {}
    for name in rounds[0]["times"]:
        p50s = [statistics.median(r["times"][name]) for r in rounds]
        rows[name] = {
            "p50_ms": round(statistics.median(p50s), 2),
            "p50_range_ms": [round(min(p50s), 2), round(max(p50s), 2)],
            "p90_ms": round(statistics.median([_pct(r["times"][name], 90) for r in rounds]), 2),
            "bytes": int(statistics.median(rounds[0]["sizes"][name])),
        }
    me = rows["me"]["p50_ms"]
    for row in rows.values():
        row["x_me"] = round(row["p50_ms"] / me, 2)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
        "matches": matches,
        "booked": rounds[0]["booked"],
        "sample": sample,
        "runs": runs,
        "via": via,
        "rows": rows,
    }


def markdown(out: dict[str, Any]) -> str:
    lines = [
        f"Latency, {out['when']} ({out['machine']}): {out['matches']} matches, "
        f"{out['booked']} booked, {out['sample']} matches sampled, median of {out['runs']} runs, "
        f"requests {VIA[out.get('via', 'httpx')]}.",
        "",
        "| request | p50 | p50 over runs | p90 | × `/api/me` | answer |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in out["rows"].items():
        lo, hi = r["p50_range_ms"]
        lines.append(
            f"| {name} | {r['p50_ms']:.1f} ms | {lo:.1f}–{hi:.1f} ms | {r['p90_ms']:.1f} ms "
            f"| {r['x_me']:.2f} | {r['bytes'] / 1000:.1f} KB |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=300)
    parser.add_argument("--booked", type=int, default=60)
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--via",
        choices=["asgi", "httpx"],
        default="asgi",
        help="time the app alone (asgi) or with httpx's client work added (how it was before)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/latency.*")
    args = parser.parse_args(argv)
    out = run(args.matches, args.booked, args.sample, args.runs, args.via)
    if args.save:
        (RESULTS / "latency.json").write_text(json.dumps(out, indent=2) + "\n")
        (RESULTS / "latency.md").write_text(markdown(out))
    print(json.dumps(out) if args.json else markdown(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
