"""Heat-map size and server memory for a big group over a year (issue 12, item 9).

Starts ``slotwise serve`` on a SQLite file, posts a group of N members over a 366-day
5-minute horizon (``benchmarks.generate.year_group_program``), asks for its heat map and
reports the response size, the time and the server process's peak resident memory
(VmHWM), one fresh server per size so peaks do not mix. Run from the repository root::

    .venv/bin/python -m benchmarks.heatmap              # 150 and 600 members
    .venv/bin/python -m benchmarks.heatmap --members 600

Prints a markdown table and writes ``benchmarks/results/heatmap.{md,json}``.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.generate import year_group_program
from tests.service.live import LiveServer, admin_token

RESULTS = Path(__file__).parent / "results"


def _peak_mib(pid: int) -> float:
    """The process's peak resident memory so far (Linux VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def measure(members: int, query: dict[str, str], chopped: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'db.sqlite'}"
        token = admin_token(url)
        # The chopped documents (144 windows per member) are larger than the default limit.
        server = LiveServer(
            url, outbox=Path(tmp) / "outbox", env={"SLOTWISE_MAX_BODY_BYTES": "100000000"}
        ).start()
        try:
            assert server.proc is not None
            with server.client(token) as api:
                api.timeout = 600
                r = api.post("/api/programs", json=year_group_program(members, chopped=chopped))
                r.raise_for_status()
                before = _peak_mib(server.proc.pid)
                t = time.perf_counter()
                r = api.get("/api/programs/year/matches/all/heatmap", params=query)
                seconds = time.perf_counter() - t
                r.raise_for_status()
                return {
                    "members": members,
                    "chopped": chopped,
                    "query": query,
                    "status": r.status_code,
                    "response_bytes": len(r.content),
                    "seconds": round(seconds, 2),
                    "peak_mib_before": round(before, 1),
                    "peak_mib": round(_peak_mib(server.proc.pid), 1),
                }
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[150, 600])
    args = parser.parse_args()
    rows = [
        measure(n, {"tz": "Europe/Berlin", **({"duration": "5"} if chopped else {})}, chopped)
        for chopped in (False, True)
        for n in args.members
    ]
    lines = [
        "| group members | free time | response | time | server peak RSS (after upload) |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['members']} | {'5 min of every 10' if r['chopped'] else 'weekly windows'}"
        f" | {r['response_bytes'] / 1e6:.1f} MB | {r['seconds']:.2f} s | "
        f"{r['peak_mib']:.0f} MiB ({r['peak_mib_before']:.0f}) |"
        for r in rows
    ]
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "heatmap.md").write_text(table + "\n")
    (RESULTS / "heatmap.json").write_text(
        json.dumps(
            {"machine": platform.platform(), "python": platform.python_version(), "rows": rows},
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
