"""Very large programs: plan() wall time by stage and the peak memory of every process.

Run from the repository root::

    .venv/bin/python -m benchmarks.memory                       # XL in process, 100,000 on Dask
    .venv/bin/python -m benchmarks.memory --row xl --rounds 3   # one row, three runs

Rows (each run in a fresh Python process, so a peak is that run's own):

- ``xl``: 20,000 matches (``benchmarks.generate '{"matches": 20000}'``, about 32,000
  people) planned in one process: availability, then ``plan()`` to its proof;
- ``xl-pool``: the same program with a local pool of two processes, which is what
  ``slotwise plan`` and the service use for it on this machine: the pool plans it in
  parts (``solver.parts``), so availability is built in the workers;
- ``100k``: 100,000 matches on a Dask ``LocalCluster`` of two single-threaded worker
  processes: the planning process reads the document and sends parts
  (``solver.parts``); the workers build each part's availability, score and solve it.

Memory is each process's resident set size, sampled every 50 ms from the run's start
(the planning process, and for Dask its nanny and worker processes); ``peak`` is the
largest of any one process, ``sum`` the largest total at one moment. The load average
(2 cores) is noted before each run. Writes ``benchmarks/results/memory.{md,json}`` (one
row: ``memory-<row>``). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.generate import generate_program
from benchmarks.solver import machine_info

RESULTS = Path(__file__).parent / "results"
ROWS: dict[str, dict[str, Any]] = {
    "xl": {"matches": 20_000, "setting": "in process", "time_limit": 120.0},
    "xl-pool": {"matches": 20_000, "setting": "process pool, 2", "time_limit": 120.0},
    "100k": {"matches": 100_000, "setting": "Dask LocalCluster, 2", "time_limit": 900.0},
}
TARGETS = {
    "xl": {"seconds": 40.0, "peak_mb": 1536.0},
    "xl-pool": {"seconds": 40.0, "peak_mb": 1536.0},
    "100k": {"peak_mb": 4096.0},
}
WORKERS = 2  # CP-SAT workers per model
# plan()'s stages as PlanStats names them, in the table's order.
STAGES = (
    "score_seconds",
    "fcfs_seconds",
    "prune_seconds",
    "build_seconds",
    "solve_seconds",
    "assemble_seconds",
)
MB = 2**20


class Sampler:
    """Largest resident set of each process of this run (this one and its children)."""

    def __init__(self, every: float = 0.05) -> None:
        import psutil

        self.me = psutil.Process()
        self.every = every
        self.peak: dict[int, tuple[str, int]] = {}
        self.peak_sum = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.every)

    def sample(self) -> None:
        import psutil

        total = 0
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                rss = p.memory_info().rss
                name = "planning process" if p.pid == self.me.pid else _role(p)
            except psutil.Error:
                continue
            total += rss
            if rss > self.peak.get(p.pid, ("", 0))[1]:
                self.peak[p.pid] = (name, rss)
        self.peak_sum = max(self.peak_sum, total)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def _role(p: Any) -> str:
    line = " ".join(p.cmdline())
    if "spawn_main" in line or "distributed" in line:
        return "Dask worker"
    if "forkserver" in line:  # a local pool's workers fork from its forkserver
        return "pool worker" if "forkserver" in " ".join(p.parent().cmdline()) else "forkserver"
    return "child process"


@contextmanager
def _executor(setting: str) -> Iterator[Any]:
    from solver.executors import executor_for, local_pool

    if setting == "in process":
        yield None
        return
    n = int(setting.rsplit(",", 1)[1])
    if setting.startswith("process pool"):
        with local_pool(n) as pool:
            yield pool
        return
    from distributed import LocalCluster

    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            memory_limit=0,  # measured here, not managed by Dask
        ) as cluster,
        executor_for(cluster.scheduler_address) as executor,
    ):
        yield executor


def run_one(name: str, seed: int) -> dict[str, Any]:
    """One run of row ``name`` in this process."""
    from ingest.availability import build_availability
    from ingest.document import parse_program
    from solver.planner import SolveParams, plan

    row = ROWS[name]
    load = os.getloadavg()[0]
    out: dict[str, Any] = {"row": name, "load_before": load, **row}
    with Sampler() as mem:
        t = time.perf_counter()
        doc = parse_program(generate_program({"matches": row["matches"]}, seed))
        out["document_s"] = time.perf_counter() - t
        out["people"] = len(doc.members)
        with _executor(row["setting"]) as executor:
            t = time.perf_counter()
            avail = None if executor else build_availability(doc, calendars=False)
            out["availability_s"] = time.perf_counter() - t
            params = SolveParams(time_limit=row["time_limit"], workers=WORKERS, seed=seed)
            t = time.perf_counter()
            result = plan(doc, avail, params=params, executor=executor)
            out["plan_s"] = time.perf_counter() - t
    st = result.stats
    out |= {
        "status": result.status,
        "held": result.objective.held,
        "attendance": result.objective.attendance,
        "preferred": result.objective.preferred,
        "bound_held": result.bound.held,
        "bound_attendance": result.bound.attendance,
        "series": len(result.series),
        "stages": st.to_dict(),
        "plan_and_availability_s": out["availability_s"] + out["plan_s"],
        "peak_mb": max(rss for _, rss in mem.peak.values()) / MB,
        "peak_sum_mb": mem.peak_sum / MB,
        "processes": sorted(
            ({"role": role, "peak_mb": rss / MB} for role, rss in mem.peak.values()),
            key=lambda p: -p["peak_mb"],
        ),
    }
    return out


def _fmt_s(x: float) -> str:
    return f"{x:.1f} s"


def _summary(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def rng(key: str, fmt: str = "{:.1f}") -> str:
        vals = [r[key] for r in runs]
        return fmt.format(min(vals)) + "–" + fmt.format(max(vals))

    first = runs[0]
    stages = {k: statistics.median(r["stages"][k] for r in runs) for k in STAGES}
    target = TARGETS[name]
    met_time = "seconds" not in target or med("plan_and_availability_s") <= target["seconds"]
    met_mem = max(r["peak_mb"] for r in runs) <= target["peak_mb"]
    return {
        "row": name,
        "matches": first["matches"],
        "people": first["people"],
        "setting": first["setting"],
        "runs": len(runs),
        "status": sorted({r["status"] for r in runs}),
        "same_objective": len({(r["held"], r["attendance"]) for r in runs}) == 1,
        "availability_s": med("availability_s"),
        "plan_s": med("plan_s"),
        "plan_s_range": rng("plan_s"),
        "total_s": med("plan_and_availability_s"),
        "stages": stages,
        "peak_mb": max(r["peak_mb"] for r in runs),
        "peak_sum_mb": max(r["peak_sum_mb"] for r in runs),
        "loads": [round(r["load_before"], 1) for r in runs],
        "target": target,
        "met": met_time and met_mem,
    }


def markdown(summaries: list[dict[str, Any]], runs: dict[str, list[dict[str, Any]]]) -> str:
    head = (
        "| row | matches | people | setting | status | availability | plan() median (range) "
        "| availability + plan | largest process | all processes | target | met | load before |"
    )
    lines = [head, "|" + " --- |" * 13]
    for s in summaries:
        t = s["target"]
        target = " and ".join(
            ([f"≤ {t['seconds']:.0f} s"] if "seconds" in t else [])
            + [f"≤ {t['peak_mb'] / 1024:.1f} GB per process"]
        )
        avail = "in the workers" if s["setting"] != "in process" else _fmt_s(s["availability_s"])
        lines.append(
            f"| {s['row']} | {s['matches']:,} | {s['people']:,} | {s['setting']} | "
            f"{', '.join(s['status'])} | {avail} | {_fmt_s(s['plan_s'])} ({s['plan_s_range']} s) "
            f"| {_fmt_s(s['total_s'])} | {s['peak_mb'] / 1024:.2f} GB | "
            f"{s['peak_sum_mb'] / 1024:.2f} GB | {target} | {'yes' if s['met'] else 'no'} | "
            f"{', '.join(map(str, s['loads']))} |"
        )
    lines += ["", "Stages of plan() (medians; on Dask summed over the workers' parts):", ""]
    lines += ["| row | scoring | first come | pruning | model build | solve | assemble |"]
    lines += ["|" + " --- |" * 7]
    for s in summaries:
        st = s["stages"]
        lines.append(f"| {s['row']} | " + " | ".join(_fmt_s(st[k]) for k in STAGES) + " |")
    lines += ["", "Processes of the last run of each row (peak resident set):", ""]
    for name, rs in runs.items():
        procs = ", ".join(f"{p['role']} {p['peak_mb']:.0f} MB" for p in rs[-1]["processes"])
        lines.append(f"- {name}: {procs}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", choices=sorted(ROWS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", choices=sorted(ROWS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.seed)))
        return 0
    names = args.row or list(ROWS)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for name in names:
            cmd = [sys.executable, "-m", "benchmarks.memory", "--one", name]
            done = subprocess.run(
                [*cmd, "--seed", str(args.seed)], capture_output=True, text=True, check=True
            )
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = runs[name][-1]
            print(
                f"{name}: {r['status']} availability {r['availability_s']:.1f} s, plan "
                f"{r['plan_s']:.1f} s, largest process {r['peak_mb']:.0f} MB "
                f"(load {r['load_before']:.1f})",
                flush=True,
            )
    summaries = [_summary(n, rs) for n, rs in runs.items()]
    md = markdown(summaries, runs)
    md += (
        f"\nCommand: `python -m benchmarks.memory {' '.join(argv or sys.argv[1:])}`; "
        f"{datetime.now(UTC):%Y-%m-%d}; seed {args.seed}; CP-SAT workers {WORKERS}. "
        + ", ".join(f"{k} {v}" for k, v in machine_info().items() if v)
        + "\n"
    )
    stem = "memory" if len(names) == len(ROWS) else "memory-" + "-".join(names)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.md").write_text(md, encoding="utf-8")
    payload = {"summaries": summaries, "runs": runs, "machine": machine_info()}
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
