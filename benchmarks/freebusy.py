"""Free/busy out for a group over a year: a match of 8 over a 366-day range on a 5-minute
grid (issue 16, item 6), as ``GET …/matches/{xid}/freebusy.ifb`` answers it.

Two programs: ``calendars`` (weekly hours and 40 weekly-repeating events per member from
their calendars, in eight zones with 30- and 45-minute offsets) and ``chopped``
(``benchmarks.generate.year_group_program(8, chopped=True)``: free 5 minutes of every 10,
every day, the most periods a year can have). Stores the program in a SQLite file and
times :func:`service.freebusy.match_freebusy` as an admin (every kind shown), the median
of ``--runs`` calls after one warm-up, with tracemalloc's peak over one more call.

With ``--old DIR`` (an unpacked older tree, ``git archive main | tar -x -C DIR``) each
case runs in a fresh process per round, alternating this tree and DIR (A, B, A, B, …), so
both share whatever load the machine has. Run from the repository root::

    .venv/bin/python -m benchmarks.freebusy
    .venv/bin/python -m benchmarks.freebusy --old /tmp/fbreview-old --rounds 3

Prints a markdown table and writes ``benchmarks/results/freebusy.{md,json}``.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parents[1]
ZONES = [
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Europe/Berlin",
    "America/Santiago",
    "America/St_Johns",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/New_York",
]
# 366 days from each program's first midnight (Berlin): the longest range there is.
RANGES = {
    "calendars": ("2027-01-01T00:00:00+01:00", "2028-01-02T00:00:00+01:00"),
    "chopped": ("2027-01-04T00:00:00+01:00", "2028-01-05T00:00:00+01:00"),
}


def _calendar(i: int) -> str:
    """Forty weekly events for 60 weeks in member ``i``'s zone."""
    events = [
        "BEGIN:VEVENT\n"
        f"UID:e{i}-{k}@bench\nDTSTAMP:20270101T000000Z\n"
        f"DTSTART;TZID={ZONES[i]}:202701{k % 28 + 1:02d}T{8 + k % 9:02d}{k * 5 % 60:02d}00\n"
        f"DTEND;TZID={ZONES[i]}:202701{k % 28 + 1:02d}T{9 + k % 9:02d}{k * 5 % 60:02d}00\n"
        f"RRULE:FREQ=WEEKLY;COUNT=60\nSUMMARY:private {k}\nEND:VEVENT"
        for k in range(40)
    ]
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//bench//EN\n"
        + "\n".join(events)
        + ("\nEND:VCALENDAR\n")
    )


def calendars_program() -> dict[str, Any]:
    week = ["MO", "TU", "WE", "TH", "FR"]
    return {
        "version": 1,
        "program": {
            "id": "year",
            "timezone": "Europe/Berlin",
            "start": "2027-01-01",
            "end": "2028-01-02",
            "granularity_minutes": 5,
            "now": "2026-12-01T00:00:00Z",
        },
        "members": [
            {
                "id": f"m{i}",
                "name": f"M{i}",
                "email": f"m{i}@example.org",
                "timezone": zone,
                "weekly": [
                    {"days": week, "start": "08:05", "end": "12:10"},
                    {"days": ["MO", "WE"], "start": "13:35", "end": "19:55"},
                ],
                "calendars": [{"ics_text": _calendar(i)}],
            }
            for i, zone in enumerate(ZONES)
        ],
        "matches": [{"id": "g", "members": [f"m{i}" for i in range(8)], "organizer": "m0"}],
    }


def chopped_program() -> dict[str, Any]:
    from benchmarks.generate import year_group_program

    doc = year_group_program(8, chopped=True)
    doc["matches"] = [{"id": "g", "members": [m["id"] for m in doc["members"]], "organizer": "m0"}]
    return doc


def measure(case: str, runs: int, peak: bool = True) -> dict[str, Any]:
    """Store the case's program and time the match's free/busy (in this process)."""
    from service.auth import authenticate
    from service.config import Settings
    from service.freebusy import match_freebusy
    from tests.service.inprocess import admin_app, call

    doc = calendars_program() if case == "calendars" else chopped_program()
    pid = doc["program"]["id"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_url=f"sqlite:///{Path(tmp) / 'db.sqlite'}", outbox=Path(tmp))
        with admin_app(settings) as (app, admin):

            async def store(api: Any) -> None:
                r = await api.post("/api/programs", json=doc)
                assert r.status_code == 201, r.text

            call(app, admin, store)
            engine = app.state.engine
            who = authenticate(engine, admin)
            body = match_freebusy(engine, who, pid, "g", *RANGES[case])
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                match_freebusy(engine, who, pid, "g", *RANGES[case])
                times.append(time.perf_counter() - t)
            traced = None
            if peak:
                tracemalloc.start()
                match_freebusy(engine, who, pid, "g", *RANGES[case])
                traced = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
                tracemalloc.stop()
    return {
        "case": case,
        "seconds": times,
        "peak_mib": traced,
        "maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "bytes": len(body),
        "periods": body.count(b"\r\nFREEBUSY"),
    }


def _child(tree: Path, case: str, runs: int, peak: bool) -> dict[str, Any]:
    """``measure`` in a fresh process importing slotwise from ``tree`` (this file is
    loaded by its path: an older tree may not have it)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = (
        "import importlib.util, json\n"
        f"spec = importlib.util.spec_from_file_location('fb_bench', {str(Path(__file__))!r})\n"
        "bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)\n"
        f"print(json.dumps(bench.measure({case!r}, {runs}, {peak})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"{tree}: {out.stderr[-2000:]}")
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed calls per process")
    ap.add_argument("--rounds", type=int, default=1, help="processes per tree and case")
    ap.add_argument("--old", type=Path, help="an older tree to alternate with")
    ap.add_argument("--cases", default="calendars,chopped")
    ap.add_argument("--out", default="freebusy", help="results/<out>.{md,json}")
    ap.add_argument("--no-peak", action="store_true", help="skip the tracemalloc call")
    args = ap.parse_args()
    trees = [("new", ROOT)] + ([("old", args.old)] if args.old else [])
    load = os.getloadavg()[0]
    rows = []
    for case in args.cases.split(","):
        got: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
        for _ in range(args.rounds):
            for name, tree in trees:
                got[name].append(_child(tree, case, args.runs, not args.no_peak))
        for name, _ in trees:
            seconds = [s for r in got[name] for s in r["seconds"]]
            first = got[name][0]
            rows.append(
                {
                    "case": case,
                    "code": name,
                    "median_s": round(statistics.median(seconds), 3),
                    "min_s": round(min(seconds), 3),
                    "max_s": round(max(seconds), 3),
                    "calls": len(seconds),
                    "peak_mib": got[name][0]["peak_mib"],
                    "maxrss_mib": max(r["maxrss_mib"] for r in got[name]),
                    "periods": first["periods"],
                    "bytes": first["bytes"],
                }
            )
    command = "python -m benchmarks.freebusy " + " ".join(sys.argv[1:])
    meta = {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "load_1min_before": round(load, 2),
        "command": command,
        "ranges": RANGES,
    }
    lines = [
        "# Free/busy out: a match of 8 over 366 days on a 5-minute grid",
        "",
        f"`{command}` ({meta['machine']}; 1-minute load {meta['load_1min_before']} before). "
        "Time of `service.freebusy.match_freebusy` (median, min–max over all calls), "
        "tracemalloc peak of one call, the process's peak RSS (program set-up included), "
        "FREEBUSY lines and bytes answered.",
        "",
        "| program | code | median | min–max | calls | traced peak | max RSS | periods | answer |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r['case']} | {r['code']} | {r['median_s']:.3f} s | {r['min_s']:.3f}–"
            f"{r['max_s']:.3f} s | {r['calls']} | "
            f"{'–' if r['peak_mib'] is None else str(r['peak_mib']) + ' MiB'} | "
            f"{r['maxrss_mib']} MiB | {r['periods']:,} | "
            f"{r['bytes'] / 2**20:.1f} MiB |"
            for r in rows
        ),
    ]
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / f"{args.out}.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
