"""Scaling benchmark: plan() wall time in process, in a local process pool, on Dask.

Run from the repository root::

    .venv/bin/python -m benchmarks.scaling                  # L, 3 rounds
    .venv/bin/python -m benchmarks.scaling --size M --size 2500 --size L --rounds 5

For each size (a preset or a number of matches): generate the program (seed 0 unless
``--seed``), build its availability, then time ``plan()`` (time limit 60 s, CP-SAT seed
as the program's) in each setting:

- ``in process``: no executor, the default for small programs;
- ``process pool, N``: ``local_pool(N)`` (what ``executor_for`` starts), a fresh pool per
  plan, whose workers fork from a forkserver that has imported the solver. Only the
  first pool of a process pays for starting that forkserver: it is timed once, before
  the rounds, and a ``slotwise plan`` run pays it on top of the pool's time;
- ``Dask LocalCluster, N``: a running cluster of N single-threaded worker processes,
  reached through ``executor_for(address)`` (connecting is part of the time; starting
  the cluster is not, it runs before and after the plan).

Rounds go through the settings in turn, so a burst of load from other processes on the
machine spreads over all of them; the table gives the median and the range, the load
average before each round and whether every plan equals the in-process one (status,
objective, bound, every series). Writes ``benchmarks/results/scaling.{md,json}`` (other
sizes or seeds: ``scaling-<sizes>[-seed<N>]``). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.generate import PRESETS, generate_program
from benchmarks.solver import machine_info
from ingest.availability import build_availability
from ingest.document import parse_program
from solver import executors
from solver.executors import executor_for, local_pool
from solver.planner import SolveParams, plan
from solver.result import Plan
from solver.tasks import warm_up

RESULTS = Path(__file__).parent / "results"
TIME_LIMIT_S = 60.0
WORKERS = 2  # CP-SAT workers of a model that is big enough for more than one

Setting = Callable[[], AbstractContextManager[Any]]


@contextmanager
def _in_process() -> Iterator[None]:
    yield None


def _pool(n: int) -> Setting:
    return lambda: local_pool(n)


def _dask(address: str) -> Setting:
    return lambda: executor_for(address)


def _essence(p: Plan) -> tuple[Any, ...]:
    return p.status, p.objective, p.bound, p.series, p.unscheduled


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _time(doc: Any, avail: Any, setting: Setting, seed: int) -> tuple[dict[str, Any], Plan]:
    load = os.getloadavg()[0]
    cpu = _self_cpu_s()
    t = time.perf_counter()
    with setting() as executor:
        t_plan = time.perf_counter()
        params = SolveParams(time_limit=TIME_LIMIT_S, workers=WORKERS, seed=seed)
        result = plan(doc, avail, params=params, executor=executor)
        plan_s = time.perf_counter() - t_plan
    total_s = time.perf_counter() - t
    st = result.stats
    return {
        "plan_s": plan_s,
        "with_executor_s": total_s,
        "load_before": load,
        "parent_cpu_s": _self_cpu_s() - cpu,
        "status": result.status,
        "models": st.models,
        "chunks": st.chunks,
        "slots": st.parallel_slots,
        "model_build_solve_s": st.build_seconds + st.solve_seconds,
    }, result


def bench_size(size: str, seed: int, rounds: int) -> dict[str, Any]:
    from distributed import LocalCluster

    doc = parse_program(generate_program(size if size in PRESETS else {"matches": int(size)}, seed))
    avail = build_availability(doc, calendars=False)
    # The first pool of a process starts the forkserver (a CLI run pays this once).
    t = time.perf_counter()
    with local_pool(1) as pool:
        pool.submit(warm_up).result()
    first_pool_s = time.perf_counter() - t
    clusters, settings = [], {"in process": lambda: _in_process()}
    settings["process pool, 1"] = _pool(1)
    settings["process pool, 2"] = _pool(2)
    started = {}
    for n in (1, 2):
        t = time.perf_counter()
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        started[n] = time.perf_counter() - t
        clusters.append(cluster)
        settings[f"Dask LocalCluster, {n}"] = _dask(cluster.scheduler_address)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in settings}
    reference: Plan | None = None
    try:
        for _ in range(rounds):
            for name, setting in settings.items():
                row, result = _time(doc, avail, setting, seed)
                reference = reference or result
                row["same_plan"] = _essence(result) == _essence(reference)
                runs[name].append(row)
                print(
                    f"{size} {name:22s} {row['plan_s']:6.2f} s  load {row['load_before']:.1f}",
                    flush=True,
                )
    finally:
        for cluster in clusters:
            cluster.close()
    out = []
    for name, rows in runs.items():
        times = [r["plan_s"] for r in rows]
        out.append(
            {
                "setting": name,
                "rounds": rows,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "same_plan": all(r["same_plan"] for r in rows),
            }
        )
    return {
        "size": size,
        "seed": seed,
        "matches": len(doc.matches),
        "models": runs["in process"][0]["models"],
        "first_pool_start_s": first_pool_s,
        "cluster_start_s": {str(n): s for n, s in started.items()},
        "settings": out,
    }


def table(result: dict[str, Any]) -> str:
    head = (
        "| size | setting | plan() median | range | speed-up vs in process "
        "| chunks | same plan | load before (each round) |"
    )
    lines = [head, "|" + " --- |" * head.count(" | ") + " --- |"]
    for r in result["sizes"]:
        base = next(s for s in r["settings"] if s["setting"] == "in process")["median_s"]
        for s in r["settings"]:
            loads = ", ".join(f"{x['load_before']:.1f}" for x in s["rounds"])
            lines.append(
                f"| {r['size']} | {s['setting']} | {s['median_s']:.2f} s "
                f"| {s['min_s']:.2f}–{s['max_s']:.2f} s "
                f"| {base / s['median_s']:.2f}× | {s['rounds'][0]['chunks']} "
                f"| {'yes' if s['same_plan'] else '**no**'} | {loads} |"
            )
    lines.append("")
    m = result["machine"]
    lines.append(
        f"plan() from availability to plan (time limit {TIME_LIMIT_S:.0f} s), "
        f"{result['rounds']} rounds per setting, taken in turn. Local pools start inside "
        "plan(), which warms them up while it scores; the first pool of a process also "
        "starts the forkserver they fork from ("
        + "; ".join(f"{r['size']}: {r['first_pool_start_s']:.2f} s" for r in result["sizes"])
        + ", not in the table). Dask clusters were started before the rounds ("
        + "; ".join(
            f"{r['size']}: 1 worker {r['cluster_start_s']['1']:.1f} s, 2 workers "
            f"{r['cluster_start_s']['2']:.1f} s"
            for r in result["sizes"]
        )
        + "); a "
        "LocalCluster's scheduler runs inside the planning process and competes with it, "
        "as a remote scheduler would not. "
        f"This machine has {m['cpu_count']} cores: two workers are all it can run at "
        "once, and the parent process (scoring, pruning, bookkeeping) shares them. "
        "Load is the 1-minute load average before each round; it counts this benchmark's "
        "own earlier rounds (a pool of two keeps it near 2), so well above 2 means other "
        "processes competed for the cores. Same plan: status, objective, bound and every series "
        "equal the first in-process plan."
    )
    lines += [
        "",
        f"Python {m['python']}, numpy {m['numpy']}, OR-Tools {m['ortools']}, "
        f"{m['cpu_count']} CPUs, {m['platform']}; chunks of at least "
        f"{executors.CHUNK_VARIABLES:,} variables; seed {result['seed']}.",
    ]
    return "\n".join(lines)


def _size(text: str) -> str:
    if text in PRESETS or (text.isdigit() and int(text) > 0):
        return text
    raise argparse.ArgumentTypeError(f"expected S, M, L or a number of matches, got {text!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling",
        description="Time plan() in process, in local processes and on a Dask LocalCluster.",
    )
    parser.add_argument(
        "--size",
        type=_size,
        action="append",
        help="S, M, L or a number of matches (repeatable; default L)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = args.size or ["L"]
    result: dict[str, Any] = {
        "benchmark": "scaling",
        "seed": args.seed,
        "rounds": args.rounds,
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "sizes": [],
    }
    for size in sizes:
        result["sizes"].append(bench_size(size, args.seed, args.rounds))
    text = table(result)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stem = "scaling" if sizes == ["L"] else f"scaling-{'-'.join(sizes)}"
    stem += f"-seed{args.seed}" if args.seed else ""
    (RESULTS / f"{stem}.md").write_text(text + "\n", encoding="utf-8")
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
