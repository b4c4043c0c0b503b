"""CalDAV write-back (issue 16, item 3): what it costs a booking, and a write.

``booking``: the request time of ``POST …/matches/{xid}/series`` on the service tests'
sample program (four bookings per round: three pairs and a group, in process through
ASGI, SQLite file), for this tree with nobody connected, this tree with the organizer's
calendar connected (the row is inserted directly: no network in a booking either way),
and, with ``--old DIR``, an older tree. Each round runs each variant in a fresh process,
alternating (A, B, C, A, B, C, …) so they share whatever load the machine has.

``write``: the time of ``service.caldav_write.flush`` against a local Radicale (started
here): the four series written for the first time, then one rewritten after a move.

    .venv/bin/python -m benchmarks.writeback --old /tmp/writeback-old --rounds 5

Prints a markdown table and writes ``benchmarks/results/writeback.{md,json}``.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parents[1]
STARTS = {
    "mia-al": "2027-03-02T10:00:00-05:00",
    "mia-bo": "2027-03-03T10:00:00-05:00",
    "mia-cy": "2027-03-04T10:00:00-05:00",
    "circle": "2027-03-05T10:00:00-05:00",
}


def _bookings(folder: Path, connected: bool) -> list[float]:
    """Seconds each booking request took, in this process (whatever tree is on the path)."""
    import httpx

    from service.config import Settings
    from tests.service.inprocess import admin_app
    from tests.service.sample import program

    settings = Settings(db_url=f"sqlite:///{folder / 'db.sqlite'}", outbox=folder / "out")
    times: list[float] = []
    with admin_app(settings) as (app, token):
        if connected:
            from service.store import caldav_links, now_epoch

            engine = app.state.engine

        async def run() -> None:
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://t",
                headers={"Authorization": f"Bearer {token}"},
            ) as api:
                assert (await api.post("/api/programs", json=program())).status_code == 201
                if connected:
                    with engine.begin() as conn:
                        conn.execute(
                            caldav_links.insert().values(
                                program_id="p1",
                                member_id="mia",
                                url="http://127.0.0.1:9/mia/cal/",
                                username="mia",
                                password="x",
                                status="ok",
                                created_at=now_epoch(),
                            )
                        )
                for xid, start in STARTS.items():
                    began = time.perf_counter()
                    r = await api.post(
                        f"/api/programs/p1/matches/{xid}/series", json={"first_start": start}
                    )
                    times.append(time.perf_counter() - began)
                    assert r.status_code == 201, r.text

        asyncio.run(run())
    return times


def _writes(folder: Path) -> dict[str, float]:
    """Seconds of the first flush (4 new events) and of one rewrite after a move."""
    import httpx

    from service import caldav_write, writeback
    from service.config import Settings
    from tests.helpers import free_port
    from tests.service.inprocess import admin_app, call
    from tests.service.sample import program

    port = free_port()
    config = folder / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {folder / 'cals'}\n[logging]\nlevel = warning\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/mia/cal/"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.05)
        httpx.request("MKCALENDAR", url, auth=("mia", "x")).raise_for_status()
        settings = Settings(
            db_url=f"sqlite:///{folder / 'w.sqlite'}",
            outbox=folder / "out",
            undo_seconds=0,
            allow_private_urls=True,
        )
        with admin_app(settings) as (app, token):
            engine = app.state.engine

            async def book(api: httpx.AsyncClient) -> str:
                assert (await api.post("/api/programs", json=program())).status_code == 201
                sid = ""
                for xid, start in STARTS.items():
                    r = await api.post(
                        f"/api/programs/p1/matches/{xid}/series", json={"first_start": start}
                    )
                    sid = sid or r.json()["sessions"][1]["id"]
                return sid

            session = call(app, token, book)
            writeback.connect(engine, "p1", "mia", url, "mia", "x")
            began = time.perf_counter()
            assert caldav_write.flush(engine, settings) == 4
            first = time.perf_counter() - began

            async def move(api: httpx.AsyncClient) -> None:
                r = await api.patch(
                    f"/api/programs/p1/sessions/{session}",
                    json={"start": "2027-03-10T11:00:00-05:00"},
                )
                assert r.status_code == 200, r.text

            call(app, token, move)
            began = time.perf_counter()
            assert caldav_write.flush(engine, settings) == 1
            rewrite = time.perf_counter() - began
        return {"first_four": first, "rewrite_one": rewrite}
    finally:
        proc.terminate()
        proc.wait()


def _child(kind: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "write":
            result: Any = _writes(Path(tmp))
        else:
            result = _bookings(Path(tmp), connected=kind == "connected")
    out.write_text(json.dumps(result))


def _run(tree: Path, kind: str) -> Any:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        # This file run as a script, with only ``tree`` on the path: the old tree has no
        # benchmarks/writeback.py, and its service and tests are the ones measured.
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--to", out.name],
            env=env,
            cwd=tree,
            check=True,
        )
        return json.loads(Path(out.name).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.writeback")
    parser.add_argument("--old", type=Path, help="an older tree to compare bookings with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.to)
        return 0
    load = os.getloadavg()[0]
    variants = [
        ("new, nobody connected", ROOT, "plain"),
        ("new, organizer connected", ROOT, "connected"),
    ]
    if args.old:
        variants.append(("old (main)", args.old, "plain"))
    booking: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    writes: list[dict[str, float]] = []
    for _ in range(args.rounds):
        for name, tree, kind in variants:
            booking[name] += _run(tree, kind)
        writes.append(_run(ROOT, "write"))
    command = "python -m benchmarks.writeback " + " ".join(argv or sys.argv[1:])
    head = (
        f"`{command}` ({platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; 1-minute load {load:.2f} before)."
    )
    lines = [
        "# CalDAV write-back: the cost to a booking, and of a write",
        "",
        head + " Booking: `POST …/series` request time, 4 bookings per round in a fresh "
        "process (in process, ASGI, SQLite), variants alternating. Write: "
        "`caldav_write.flush` against a local Radicale.",
        "",
        "| what | median | min–max | n |",
        "| --- | --- | --- | --- |",
    ]
    table: dict[str, Any] = {}
    for name, times in booking.items():
        ms = [t * 1000 for t in times]
        table[f"booking: {name}"] = ms
        lines.append(
            f"| booking, {name} | {statistics.median(ms):.1f} ms | "
            f"{min(ms):.1f}–{max(ms):.1f} ms | {len(ms)} |"
        )
    for key, label in (
        ("first_four", "first write of 4 series"),
        ("rewrite_one", "rewrite of 1 after a move"),
    ):
        ms = [w[key] * 1000 for w in writes]
        table[f"write: {label}"] = ms
        lines.append(
            f"| {label} | {statistics.median(ms):.1f} ms | {min(ms):.1f}–{max(ms):.1f} ms "
            f"| {len(ms)} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "writeback.md").write_text(text, encoding="utf-8")
    (RESULTS / "writeback.json").write_text(
        json.dumps({"command": command, "load_before": load, "ms": table}, indent=1) + "\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    # Run as a script (the children), this folder is not to shadow anything.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.exit(main())
