"""Planner benchmark on dense programs and large components: ``plan()`` against the plain
one-stage CP-SAT model of the same objective (``benchmarks.plain``).

Run from the repository root::

    .venv/bin/python -m benchmarks.dense                  # 60/160 seeds 0-4, 2 runs, + rows
    .venv/bin/python -m benchmarks.dense --runs 3 --no-extra

Five dense programs (``{"people": 60, "matches": 160}``, seeds 0-4) are each planned by
``plan()`` and by the plain model, interleaved (plan, plain, then plain, plan in the next
run, so both see the same load), with 2 CP-SAT workers each. Every stage is timed
(scoring, pruning, model build, first-stage solve, tie-break) and the proof kept:
status and proven bound of both. Then one run each of the extra rows: 300 people in
800 matches, a popular mentor in 200 matches and a cohort of 400 in one group series;
when the time limit ends first, the gap to the proven bound is reported.

Prints a markdown table and writes ``benchmarks/results/dense.{md,json}``. Not part of
the test suite (``tests/benchmarks/test_dense.py`` runs it on a tiny size).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import solver.planner
from benchmarks.generate import describe, generate_program
from benchmarks.plain import plain_plan
from benchmarks.solver import machine_info
from ingest.availability import build_availability
from ingest.document import parse_program
from solver.passes import Runs
from solver.planner import plan
from solver.validate import validate

RESULTS = Path(__file__).parent / "results"
DENSE = {"people": 60, "matches": 160}
EXTRA: tuple[tuple[str, dict[str, Any], float], ...] = (
    ("300/800", {"people": 300, "matches": 800}, 60.0),
    ("popular mentor (200)", {"matches": 300, "popular_mentor_matches": 200}, 60.0),
    ("cohort of 400", {"matches": 300, "big_group": 400}, 60.0),
)
WORKERS = 2


class _Recorded(Runs):
    """plan()'s ``Runs``, kept so the benchmark can read the tie-break's seconds."""

    last: Runs | None = None

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        _Recorded.last = self


@contextmanager
def _recording() -> Iterator[None]:
    with mock.patch.object(solver.planner, "Runs", _Recorded):
        yield


def _gap_pct(value: int, bound: int) -> float:
    return 0.0 if bound <= 0 else 100.0 * (bound - value) / bound


def run_plan(doc: Any, avail: Any, limit: float) -> dict[str, Any]:
    """plan() with its stages and proof."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    with _recording():
        p = plan(doc, avail, time_limit=limit, workers=WORKERS)
    total = time.perf_counter() - t
    runs = _Recorded.last
    tie = runs.tie_break_s if runs is not None else 0.0
    st = p.stats
    return {
        "status": p.status,
        "held": p.objective.held,
        "attendance": p.objective.attendance,
        "preferred": p.objective.preferred,
        "bound_held": p.bound.held,
        "bound_attendance": p.bound.attendance,
        "gap_held_pct": _gap_pct(p.objective.held, p.bound.held),
        "gap_attendance_pct": _gap_pct(p.objective.attendance, p.bound.attendance),
        "valid": not validate(doc, avail, p),
        "models": st.models,
        "solver_runs": st.solver_runs,
        "variables": st.variables,
        "load": load,
        "times_s": {
            "scoring": st.score_seconds + st.fcfs_seconds,
            "pruning": st.prune_seconds,
            "build": st.build_seconds,
            "solve": st.solve_seconds - tie,
            "tie_break": tie,
            "total": total,
        },
    }


PLAIN_TIE_BREAK = False  # --plain-tie-break


def run_plain(doc: Any, avail: Any, limit: float) -> dict[str, Any]:
    """The plain model with its stages and proof."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    r = plain_plan(doc, avail, time_limit=limit, workers=WORKERS, tie_break=PLAIN_TIE_BREAK)
    total = time.perf_counter() - t
    return {
        "status": r.status,
        "held": r.held,
        "attendance": r.attendance,
        "preferred": r.preferred,
        "bound_held": r.bound_held,
        "bound_attendance": r.bound_attendance,
        "gap_held_pct": _gap_pct(r.held, r.bound_held),
        "gap_attendance_pct": _gap_pct(r.attendance, r.bound_attendance),
        "variables": r.variables,
        "load": load,
        "times_s": {
            "scoring": r.times["scoring"],
            "pruning": 0.0,
            "build": r.times["build"],
            "solve": r.times["solve"],
            "tie_break": r.times["tie_break"],
            "total": total,
        },
    }


def _program(size: dict[str, Any], seed: int) -> tuple[Any, Any, dict[str, Any]]:
    program = generate_program(size, seed)
    doc = parse_program(program)
    return doc, build_availability(doc, calendars=False), describe(program)


def bench_dense(
    size: dict[str, Any], seeds: list[int], runs: int, limit: float
) -> list[dict[str, Any]]:
    """Each program planned by both, interleaved, ``runs`` times; the order flips each run."""
    programs = {s: _program(size, s) for s in seeds}
    rows: dict[int, dict[str, Any]] = {
        s: {
            "seed": s,
            "people": programs[s][2]["members"],
            "matches": programs[s][2]["matches"],
            "largest_component": programs[s][2]["largest_component"],
            "plan": [],
            "plain": [],
        }
        for s in seeds
    }
    for r in range(runs):
        for s in seeds:
            doc, avail, _ = programs[s]
            order = ("plan", "plain") if r % 2 == 0 else ("plain", "plan")
            for who in order:
                run = run_plan if who == "plan" else run_plain
                rows[s][who].append(run(doc, avail, limit))
                print(f"run {r + 1} seed {s} {who}: {_brief(rows[s][who][-1])}", file=sys.stderr)
    return [_summarise(rows[s]) for s in seeds]


def _brief(run: dict[str, Any]) -> str:
    t = run["times_s"]
    return f"{run['status']} {run['held']}/{run['attendance']} in {t['total']:.2f} s"


def _median(runs: list[dict[str, Any]], stage: str) -> float:
    return statistics.median(r["times_s"][stage] for r in runs)


def _summarise(row: dict[str, Any]) -> dict[str, Any]:
    for who in ("plan", "plain"):
        row[f"{who}_median_s"] = {
            st: _median(row[who], st)
            for st in ("scoring", "pruning", "build", "solve", "tie_break", "total")
        }
        totals = [r["times_s"]["total"] for r in row[who]]
        row[f"{who}_range_s"] = [min(totals), max(totals)]
    row["ratio"] = row["plan_median_s"]["total"] / row["plain_median_s"]["total"]
    row["same_objective"] = all(
        (a["held"], a["attendance"]) == (b["held"], b["attendance"])
        for a in row["plan"]
        for b in row["plain"]
        if a["status"] == b["status"] == "optimal"
    )
    return row


def bench_extra(name: str, size: dict[str, Any], limit: float) -> dict[str, Any]:
    """One run of each on a large program (plan first)."""
    doc, avail, stats = _program(size, 0)
    out = {
        "name": name,
        "size": size,
        "time_limit_s": limit,
        "people": stats["members"],
        "matches": stats["matches"],
        "largest_component": stats["largest_component"],
    }
    for who, run in (("plan", run_plan), ("plain", run_plain)):
        out[who] = run(doc, avail, limit)
        print(f"{name} {who}: {_brief(out[who])}", file=sys.stderr)
    return out


def _s(x: float) -> str:
    return f"{x:.2f}"


def _stages(m: dict[str, float]) -> str:
    return " / ".join(_s(m[k]) for k in ("scoring", "pruning", "build", "solve", "tie_break"))


def _proof(run: dict[str, Any]) -> str:
    gap = ""
    if run["status"] != "optimal":
        gap = f", gap {run['gap_held_pct']:.2f}% / {run['gap_attendance_pct']:.2f}%"
    return (
        f"{run['status']} {run['held']:,}/{run['attendance']:,} "
        f"(bound {run['bound_held']:,}/{run['bound_attendance']:,}{gap})"
    )


def table(result: dict[str, Any]) -> str:
    size = json.dumps(result["dense_size"])
    lines = [
        f"Dense programs `{size}`, {result['runs']} runs each, interleaved; "
        f"time limit {result['time_limit_s']:.0f} s, {WORKERS} CP-SAT workers. "
        "Times are medians in seconds; stages are scoring / pruning / build / "
        "solve / tie-break. The plain model is one stage (held x W + attendance) "
        "unless run with --plain-tie-break.",
        "",
        "| seed | people | matches | plan total (range) | plain total (range) | ratio "
        "| plan stages | plain stages | plan proof | plain proof | same objective |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["dense"]:
        a, b = r["plan_median_s"], r["plain_median_s"]
        lines.append(
            f"| {r['seed']} | {r['people']} | {r['matches']} "
            f"| {_s(a['total'])} ({_s(r['plan_range_s'][0])}-{_s(r['plan_range_s'][1])}) "
            f"| {_s(b['total'])} ({_s(r['plain_range_s'][0])}-{_s(r['plain_range_s'][1])}) "
            f"| {r['ratio']:.2f}x | {_stages(a)} | {_stages(b)} | {_proof(r['plan'][-1])} "
            f"| {_proof(r['plain'][-1])} | {'yes' if r['same_objective'] else '**no**'} |"
        )
    s = result["summary"]
    lines += [
        "",
        f"Total of the medians: plan {_s(s['plan_total_s'])} s, plain "
        f"{_s(s['plain_total_s'])} s, ratio {s['total_ratio']:.2f}x; worst program "
        f"{s['worst_ratio']:.2f}x (seed {s['worst_seed']}). Load (1 min) during the runs: "
        f"{s['load_min']:.1f}-{s['load_max']:.1f} on {result['machine']['cpu_count']} CPUs.",
    ]
    if result["extra"]:
        lines += [
            "",
            "| program | people | matches | largest component | limit | plan total "
            "| plain total | plan stages | plain stages | plan proof | plain proof |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for e in result["extra"]:
            a, b = e["plan"], e["plain"]
            lines.append(
                f"| {e['name']} `{json.dumps(e['size'])}` | {e['people']:,} | {e['matches']:,} "
                f"| {e['largest_component']:,} | {e['time_limit_s']:.0f} s "
                f"| {_s(a['times_s']['total'])} | {_s(b['times_s']['total'])} "
                f"| {_stages(a['times_s'])} | {_stages(b['times_s'])} "
                f"| {_proof(a)} | {_proof(b)} |"
            )
    lines += ["", f"Command: `{result['command']}`"]
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    plan_total = sum(r["plan_median_s"]["total"] for r in rows)
    plain_total = sum(r["plain_median_s"]["total"] for r in rows)
    worst = max(rows, key=lambda r: r["ratio"])
    loads = [x["load"] for r in rows for who in ("plan", "plain") for x in r[who]]
    return {
        "plan_total_s": plan_total,
        "plain_total_s": plain_total,
        "total_ratio": plan_total / plain_total if plain_total else 0.0,
        "worst_ratio": worst["ratio"],
        "worst_seed": worst["seed"],
        "load_min": min(loads),
        "load_max": max(loads),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dense",
        description="plan() against the plain one-stage CP-SAT model on dense programs.",
    )
    parser.add_argument("--people", type=int, default=DENSE["people"])
    parser.add_argument("--matches", type=int, default=DENSE["matches"])
    parser.add_argument("--seeds", type=int, default=5, help="programs: seeds 0 to N-1")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument(
        "--plain-tie-break",
        action="store_true",
        help="the plain model also runs the tie-break stage (until the time limit)",
    )
    parser.add_argument("--no-extra", action="store_true", help="skip 300/800 and the knobs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for dense.{md,json}")
    args = parser.parse_args(argv)
    global PLAIN_TIE_BREAK
    PLAIN_TIE_BREAK = args.plain_tie_break
    size = {"people": args.people, "matches": args.matches}
    result: dict[str, Any] = {
        "benchmark": "dense",
        "command": "python -m benchmarks.dense " + " ".join(argv or sys.argv[1:]),
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "dense_size": size,
        "runs": args.runs,
        "time_limit_s": args.time_limit,
        "workers": WORKERS,
    }
    result["dense"] = bench_dense(size, list(range(args.seeds)), args.runs, args.time_limit)
    result["summary"] = summary(result["dense"])
    result["extra"] = [] if args.no_extra else [bench_extra(n, sz, lim) for n, sz, lim in EXTRA]
    text = table(result)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dense.md").write_text(text + "\n", encoding="utf-8")
    (args.out / "dense.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
