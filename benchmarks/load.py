"""Load: many facilitators at once against a running slotwise on 127.0.0.1.

Each simulated facilitator takes its share of a generated program's matches and, for
each match, does what a person on the page does: open the heat map, ask for proposals,
book the best one (on a 409 clash, the next one, up to three). All facilitators run at
once from one asyncio client, so matches that share a mentor really race.

The client is aiohttp, not httpx: on this 2-core machine the client shares the CPU with
the server it measures, and httpx spent 6.3-6.7 ms of CPU per request against aiohttp's
0.47 ms (2,000 ``GET /api/me`` from 32 tasks against the same server), which made the
client, not the server, half of what was measured. ``--client httpx`` runs the old one,
to compare with figures measured before.

Reported: requests per second, p50 / p99 latency per endpoint, and the outcome counts.
Then the database itself is checked: no member has two scheduled sessions that overlap
(no double booking) and every series the API answered 201 for is stored with all its
sessions, and nothing else is (no lost or phantom write).

    python -m benchmarks.load                       # SQLite file, 1 and 2 workers
    python -m benchmarks.load --db postgresql       # also a throw-away PostgreSQL
    python -m benchmarks.load --quick               # a small run, for a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import select

from benchmarks.generate import generate_program
from service.store import make_engine, series, session_members, sessions
from tests.service.live import LiveServer, admin_token

RESULTS = Path(__file__).parent / "results"


@dataclass
class Tally:
    """What the facilitators saw."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: Counter[tuple[str, int]] = field(default_factory=Counter)
    booked: dict[str, int] = field(default_factory=dict)  # series id -> sessions
    unbooked: int = 0

    async def call(
        self, api: Client, name: str, method: str, url: str, parse: bool = True, **kw: Any
    ) -> tuple[int, Any]:
        """The answer's status and, with ``parse``, its JSON body (None when it is not
        JSON: a plain-text 500 is counted, not fatal); its time, to the last byte of the
        body read and before any parsing, recorded."""
        t = time.perf_counter()
        status, raw = await api.request(method, url, **kw)
        self.latency[name].append(time.perf_counter() - t)
        self.codes[(name, status)] += 1
        if not parse:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None


class Client:
    """Keep-alive connections to the server, one per facilitator: ``request`` answers
    ``(status, JSON body)``. aiohttp by default; ``httpx`` for the client measured before."""

    def __init__(self, url: str, token: str, users: int, kind: str = "aiohttp") -> None:
        self.url, self.kind = url, kind
        self.headers = {"Authorization": f"Bearer {token}"}
        self.users = users

    async def __aenter__(self) -> Client:
        if self.kind == "httpx":
            limits = httpx.Limits(max_connections=self.users, max_keepalive_connections=self.users)
            self.hx = httpx.AsyncClient(
                base_url=self.url, timeout=120, limits=limits, headers=self.headers
            )
        else:
            self.ah = aiohttp.ClientSession(
                self.url,
                headers=self.headers,
                connector=aiohttp.TCPConnector(limit=self.users),
                timeout=aiohttp.ClientTimeout(total=120),
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await (self.hx.aclose() if self.kind == "httpx" else self.ah.close())

    async def request(self, method: str, url: str, **kw: Any) -> tuple[int, bytes]:
        """The status and the whole body's bytes."""
        if self.kind == "httpx":
            r = await self.hx.request(method, url, **kw)
            return r.status_code, r.content
        async with self.ah.request(method, url, **kw) as a:
            return a.status, await a.read()


async def facilitator(api: Client, pid: str, match_ids: list[str], tally: Tally) -> None:
    for xid in match_ids:
        base = f"/api/programs/{pid}/matches/{xid}"
        await tally.call(api, "heatmap", "GET", base + "/heatmap", parse=False)
        _, body = await tally.call(api, "proposals", "POST", base + "/proposals", json={"limit": 3})
        for p in (body or {}).get("proposals", [])[:3]:
            status, b = await tally.call(
                api,
                "book",
                "POST",
                base + "/series",
                json={
                    "first_start": p["first_start"],
                    "duration_minutes": body["duration_minutes"],
                    "frequency": body["frequency"],
                    "sessions": body["sessions"],
                    "agenda": "Load test",
                },
            )
            if status == 201 and b is not None:
                tally.booked[b["id"]] = len(b["sessions"])
                break
        else:
            tally.unbooked += 1


async def drive(
    url: str, token: str, pid: str, match_ids: list[str], users: int, client: str = "aiohttp"
) -> tuple[Tally, float]:
    tally = Tally()
    async with Client(url, token, users, client) as api:
        shares = [match_ids[i::users] for i in range(users)]
        t = time.perf_counter()
        await asyncio.gather(*(facilitator(api, pid, s, tally) for s in shares if s))
        return tally, time.perf_counter() - t


def check_database(db_url: str, pid: str, booked: dict[str, int]) -> dict[str, Any]:
    """No member in two overlapping scheduled sessions; stored series == answered 201s."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = {
                r.id: r
                for r in conn.execute(
                    select(series.c.id, series.c.status).where(series.c.program_id == pid)
                )
            }
            per_series = Counter(
                conn.execute(
                    select(sessions.c.series_id).where(sessions.c.program_id == pid)
                ).scalars()
            )
            rows = conn.execute(
                select(session_members.c.member_id, sessions.c.start, sessions.c.end)
                .join(sessions, sessions.c.id == session_members.c.session_id)
                .where((sessions.c.program_id == pid) & (sessions.c.status == "scheduled"))
                .order_by(session_members.c.member_id, sessions.c.start)
            ).all()
    finally:
        engine.dispose()
    double, member, reach = 0, None, 0  # reach: the latest end so far of this member
    for r in rows:
        if r.member_id != member:
            member, reach = r.member_id, r.end
            continue
        double += r.start < reach
        reach = max(reach, r.end)
    lost = sorted(set(booked) - set(stored))
    phantom = sorted(set(stored) - set(booked))
    short = sorted(s for s, n in booked.items() if per_series.get(s, 0) != n)
    return {
        "member_sessions": len(rows),
        "double_bookings": double,
        "lost_writes": len(lost),
        "phantom_writes": len(phantom),
        "series_missing_sessions": len(short),
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_once(
    db_url: str,
    workers: int,
    program: dict[str, Any],
    users: int,
    outbox: Path,
    client: str = "aiohttp",
) -> dict[str, Any]:
    token = admin_token(db_url)
    server = LiveServer(db_url, outbox=outbox, workers=workers).start()
    try:
        r = httpx.post(
            server.url + "/api/programs",
            json=program,
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        pid = program["program"]["id"]
        ids = [m["id"] for m in program["matches"]]
        tally, seconds = asyncio.run(drive(server.url, token, pid, ids, users, client))
    finally:
        server.stop()
    every = [x for v in tally.latency.values() for x in v]
    out: dict[str, Any] = {
        "workers": workers,
        "users": users,
        "client": client,
        "matches": len(ids),
        "seconds": round(seconds, 2),
        "requests": len(every),
        "requests_per_second": round(len(every) / seconds, 1),
        "p50_ms": round(1000 * statistics.median(every), 1),
        "p99_ms": round(1000 * pct(every, 0.99), 1),
        "endpoints": {
            name: {
                "requests": len(v),
                "p50_ms": round(1000 * statistics.median(v), 1),
                "p99_ms": round(1000 * pct(v, 0.99), 1),
            }
            for name, v in sorted(tally.latency.items())
        },
        "codes": {f"{n} {c}": k for (n, c), k in sorted(tally.codes.items())},
        "booked": len(tally.booked),
        "gave_up": tally.unbooked,
        "server_errors": sum(k for (_n, c), k in tally.codes.items() if c >= 500),
    }
    out.update(check_database(db_url, pid, tally.booked))
    return out


def postgres_cluster() -> Any:
    """A throw-away PostgreSQL cluster on a free port (the tests' helper)."""
    from tests.pg import PostgresCluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    return PostgresCluster(bindir).start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--matches", type=int, default=300)
    ap.add_argument("--users", default="4,32", help="facilitators at once (comma list)")
    ap.add_argument("--workers", default="1,2", help="uvicorn worker counts to run")
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="40 matches, 8 users, 1 worker")
    ap.add_argument(
        "--runs", type=int, default=1, help="rounds of every setting, interleaved (medians)"
    )
    ap.add_argument(
        "--client", choices=["aiohttp", "httpx"], default="aiohttp", help="the HTTP client"
    )
    ap.add_argument("--out", default=str(RESULTS / "load"))
    args = ap.parse_args(argv)
    if args.quick:
        args.matches, args.users, args.workers = 40, "8", "1"
    program = generate_program({"matches": args.matches}, seed=args.seed)
    program["program"]["id"] = "load"
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    runs = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for backend in backends:
            cluster = None
            for round_ in range(args.runs):
                for users in (int(u) for u in args.users.split(",")):
                    for workers in (int(w) for w in args.workers.split(",")):
                        name = f"load-{users}-{workers}-{round_}"
                        if backend == "sqlite":
                            url = f"sqlite:///{tmp / f'{name}.sqlite'}"
                        else:
                            cluster = cluster or postgres_cluster()
                            url = cluster.create_database()
                        res = run_once(url, workers, program, users, tmp / name, args.client)
                        res["database"] = backend
                        res["round"] = round_
                        runs.append(res)
                        print(json.dumps(res))
            if cluster is not None:
                cluster.stop()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "python -m benchmarks.load " + " ".join(argv or []),
        "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(report, indent=2) + "\n")
    Path(args.out + ".md").write_text(markdown(report))
    print(markdown(report))
    bad = [
        r
        for r in runs
        if r["double_bookings"]
        or r["lost_writes"]
        or r["phantom_writes"]
        or r["series_missing_sessions"]
        or r["server_errors"]
    ]
    return 1 if bad else 0


def summary(runs: list[dict[str, Any]]) -> list[str]:
    """One row per setting: the median of each measure over its runs, with the range of
    req/s and p99, and the outcome counts summed over the runs."""
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(r["database"], r["workers"], r["users"])].append(r)
    lines = [
        "| database | workers | users | runs | req/s, median (range) | p50 | p99, median "
        "(range) | heat map p99 | proposals p99 | book p99 | 5xx | double bookings "
        "| lost writes |",
        "|" + " --- |" * 13,
    ]

    def med(rs: list[dict[str, Any]], get: Any) -> float:
        return round(float(statistics.median(get(r) for r in rs)), 1)

    for (db, workers, users), rs in groups.items():
        rate = [r["requests_per_second"] for r in rs]
        p99 = [r["p99_ms"] for r in rs]
        ends = {n: med(rs, lambda r, n=n: r["endpoints"][n]["p99_ms"]) for n in rs[0]["endpoints"]}
        lines.append(
            f"| {db} | {workers} | {users} | {len(rs)} "
            f"| {med(rs, lambda r: r['requests_per_second'])} ({min(rate)}–{max(rate)}) "
            f"| {med(rs, lambda r: r['p50_ms'])} ms "
            f"| {med(rs, lambda r: r['p99_ms'])} ms ({min(p99)}–{max(p99)}) "
            f"| {ends['heatmap']} ms | {ends['proposals']} ms | {ends['book']} ms "
            f"| {sum(r['server_errors'] for r in rs)} | {sum(r['double_bookings'] for r in rs)} "
            f"| {sum(r['lost_writes'] + r['phantom_writes'] for r in rs)} |"
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Load benchmark, {report['when']}, {report['machine']['cpus']} CPUs "
        f"(client and server on the same machine; client: {report['runs'][0]['client']}).",
        "",
        *summary(report["runs"]),
        "",
        "Every run:",
        "",
        "| database | workers | users | requests | req/s | p50 | p99 | heat map p99 "
        "| proposals p99 | book p99 | booked | 409s | 5xx | double bookings "
        "| lost writes |",
        "|" + " --- |" * 15,
    ]
    for r in report["runs"]:
        e = r["endpoints"]
        clashes = r["codes"].get("book 409", 0)
        lines.append(
            f"| {r['database']} | {r['workers']} | {r['users']} | {r['requests']:,} "
            f"| {r['requests_per_second']} | {r['p50_ms']} ms | {r['p99_ms']} ms "
            f"| {e['heatmap']['p99_ms']} ms | {e['proposals']['p99_ms']} ms "
            f"| {e['book']['p99_ms']} ms | {r['booked']} | {clashes} | {r['server_errors']} "
            f"| {r['double_bookings']} | {r['lost_writes'] + r['phantom_writes']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
