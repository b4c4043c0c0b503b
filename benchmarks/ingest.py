"""Ingest benchmark: the availability matrix of a large program, and ICS calendar throughput.

Run from the repository root::

    .venv/bin/python -m benchmarks.ingest            # L preset, 1,000 calendars
    .venv/bin/python -m benchmarks.ingest --quick    # M preset, 100 calendars

Prints a markdown table and writes ``benchmarks/results/ingest{,-quick}.{md,json}``.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from benchmarks.generate import describe, generate_ics_calendars_with_zones, generate_program
from ingest.availability import build_availability
from ingest.document import ProgramDocument, parse_program

RESULTS = Path(__file__).parent / "results"
BUILD_TARGET_S = 1.0
PROGRAM_START = date(2027, 1, 4)
WEEKS = 12

# Functions of the build whose cumulative time the profile reports, in the order shown.
PROFILED = (
    ("document.py", "member", "ProgramDocument.member (id lookup)"),
    ("document.py", "_members_by_id", "  of which: rebuild id -> member dict"),
    ("document.py", "member_zone", "ProgramDocument.member_zone"),
    ("availability.py", "_rules", "weekly rules per member (_rules)"),
    ("grid.py", "as_instant", "one-off intervals to UTC (as_instant)"),
    ("windows.py", "from_rows", "Intervals.from_rows"),
    ("windows.py", "expand_weekly", "window expansion (expand_weekly)"),
    ("raster.py", "merge", "merge windows (raster.merge)"),
    ("raster.py", "cover", "raster (raster.cover, both calls)"),
    ("availability.py", "_booking_rows", "bookings (_booking_rows)"),
)


def machine_info() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
    }


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), times


def _maxrss_mb() -> float:
    # ru_maxrss is kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def bench_matrix(size: str, seed: int, repeats: int) -> tuple[dict[str, Any], ProgramDocument]:
    """Parse and build times (best of ``repeats``) and peak memory of the build."""
    program = generate_program(size, seed)
    stats = describe(program)
    parse_best, parse_all = best_of(repeats, lambda: parse_program(program))
    doc = parse_program(program)

    rss_before = _maxrss_mb()
    t = time.perf_counter()
    availability = build_availability(doc, calendars=False)
    first = time.perf_counter() - t
    rss_delta = _maxrss_mb() - rss_before
    build_best, build_all = best_of(repeats - 1, lambda: build_availability(doc, calendars=False))
    build_all = [first, *build_all]
    build_best = min(build_all)

    tracemalloc.start()
    build_availability(doc, calendars=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    slots, members = availability.matrix.shape
    return {
        "preset": size,
        "seed": seed,
        "members": members,
        "slots": slots,
        "matches": stats["matches"],
        "weekly_windows": sum(len(m.weekly) for m in doc.members),
        "intervals": sum(len(m.unavailable) + len(m.available) for m in doc.members),
        "parse_s": parse_best,
        "parse_runs_s": parse_all,
        "build_s": build_best,
        "build_runs_s": build_all,
        "build_target_s": BUILD_TARGET_S,
        "peak_tracemalloc_mb": peak / 1e6,
        "maxrss_delta_first_build_mb": rss_delta,
        "matrix_mb": availability.matrix.nbytes / 1e6,
        "available_share": float(availability.matrix.mean()),
    }, doc


def profile_build(doc: ProgramDocument) -> dict[str, Any]:
    """Where the build's time goes: cProfile cumulative times of its parts."""
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.runcall(build_availability, doc, calendars=False)
    total = time.perf_counter() - t
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    parts = []
    for file, func, label in PROFILED:
        calls, cum = 0, 0.0
        for (path, _, name), (_, ncalls, _, cumtime, _) in stats.items():
            if name == func and path.endswith(os.sep + file):
                calls, cum = calls + ncalls, cum + cumtime
        parts.append({"part": label, "calls": calls, "cumulative_s": cum})
    # The id lookups once more, without the profiler, as the build does them (2 per member).
    ids = [m.id for m in doc.members]
    t = time.perf_counter()
    for m_id in ids:
        doc.member(m_id)
        doc.member_zone(m_id)
    lookups = time.perf_counter() - t
    return {"profiled_total_s": total, "parts": parts, "id_lookups_unprofiled_s": lookups}


def bench_ics(n: int, seed: int) -> dict[str, Any]:
    """busy_from_ics over ``n`` generated calendars: calendars, events and intervals per second."""
    try:
        from ingest.ics_source import busy_from_ics
    except ImportError as exc:
        return {"skipped": f"ingest.ics_source not importable: {exc}"}
    calendars = generate_ics_calendars_with_zones(n, seed, PROGRAM_START, WEEKS)
    zone = ZoneInfo("America/New_York")
    t0 = datetime(2027, 1, 4, tzinfo=zone).astimezone(UTC)
    start, end = t0 - timedelta(days=1), t0 + timedelta(weeks=WEEKS, days=1)
    busy_from_ics(calendars[0][0], ZoneInfo(calendars[0][1]), start, end)  # imports, caches

    intervals, errors = 0, []
    t = time.perf_counter()
    for i, (text, owner_zone) in enumerate(calendars):
        try:
            intervals += len(busy_from_ics(text, ZoneInfo(owner_zone), start, end))
        except ValueError as exc:
            errors.append(f"calendar {i}: {exc}")
    elapsed = time.perf_counter() - t
    vevents = sum(text.count("BEGIN:VEVENT") for text, _ in calendars)
    return {
        "calendars": n,
        "vevents": vevents,
        "busy_intervals": intervals,
        "bytes": sum(len(text.encode()) for text, _ in calendars),
        "seconds": elapsed,
        "calendars_per_s": n / elapsed,
        "vevents_per_s": vevents / elapsed,
        "busy_intervals_per_s": intervals / elapsed,
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def _fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(result: dict[str, Any]) -> str:
    m, ics, machine = result["matrix"], result["ics"], result["machine"]
    shape = f"{m['members']:,} members × {m['slots']:,} slots (preset {m['preset']})"
    build_ok = "yes" if m["build_s"] < m["build_target_s"] else "**no**"
    rows = [
        ("availability matrix", shape, "parse_program (best of 3)", _fmt_s(m["parse_s"]), ""),
        (
            "",
            f"{m['weekly_windows']:,} weekly windows, {m['intervals']:,} intervals",
            "build_availability (best of 3)",
            _fmt_s(m["build_s"]),
            f"< 1 s: {build_ok}",
        ),
        (
            "",
            "",
            "peak memory of build (tracemalloc)",
            f"{m['peak_tracemalloc_mb']:.0f} MB",
            f"matrix itself {m['matrix_mb']:.0f} MB",
        ),
        (
            "",
            "",
            "max RSS growth, first build (getrusage)",
            f"{m['maxrss_delta_first_build_mb']:.0f} MB",
            "",
        ),
    ]
    if "skipped" in ics:
        rows.append(("ICS ingest", "", "busy_from_ics", "skipped", ics["skipped"]))
    else:
        errors = f"{ics['errors']} calendars raised" if ics["errors"] else ""
        rows += [
            (
                "ICS ingest (busy_from_ics)",
                f"{ics['calendars']:,} calendars, {ics['vevents']:,} VEVENTs, "
                f"{ics['bytes'] / 1e6:.1f} MB",
                "total time",
                _fmt_s(ics["seconds"]),
                errors,
            ),
            (
                "",
                f"{ics['busy_intervals']:,} busy intervals out",
                "calendars per second",
                f"{ics['calendars_per_s']:,.0f}",
                "",
            ),
            ("", "", "VEVENTs per second", f"{ics['vevents_per_s']:,.0f}", ""),
            ("", "", "busy intervals per second", f"{ics['busy_intervals_per_s']:,.0f}", ""),
        ]
    lines = ["| benchmark | input | measure | value | note |", "| --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    lines.append(
        f"Python {machine['python']}, numpy {machine['numpy']}, "
        f"{machine['cpu_count']} CPUs, {machine['platform']}."
    )
    if result.get("profile"):
        p = result["profile"]
        lines += [
            "",
            f"Profile of one build (cProfile, {_fmt_s(p['profiled_total_s'])} under the profiler):",
            "",
            "| part | calls | cumulative |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {x['part']} | {x['calls']:,} | {_fmt_s(x['cumulative_s'])} |" for x in p["parts"]
        ]
        lines += [
            "",
            f"The build's {2 * m['members']:,} id lookups alone, without the "
            f"profiler: {_fmt_s(p['id_lookups_unprofiled_s'])}.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest", description="Benchmark availability ingest."
    )
    parser.add_argument(
        "--quick", action="store_true", help="M preset and 100 calendars; writes ingest-quick.*"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calendars", type=int, help="number of ICS calendars")
    parser.add_argument(
        "--profile", action="store_true", help="profile the build even when it meets the target"
    )
    args = parser.parse_args(argv)
    size = "M" if args.quick else "L"
    n_calendars = args.calendars or (100 if args.quick else 1_000)

    matrix, doc = bench_matrix(size, args.seed, repeats=3)
    profile = profile_build(doc) if args.profile or matrix["build_s"] > BUILD_TARGET_S else None
    del doc
    result = {
        "benchmark": "ingest",
        "quick": args.quick,
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "matrix": matrix,
        "ics": bench_ics(n_calendars, args.seed),
        "profile": profile,
    }
    text = table(result)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stem = "ingest-quick" if args.quick else "ingest"
    (RESULTS / f"{stem}.md").write_text(text + "\n", encoding="utf-8")
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
