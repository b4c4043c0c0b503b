"""Issue 8: plan() on executors. A Dask LocalCluster and a local process pool give the
in-process plan; the pool is only used when it pays; an unreachable scheduler is a clear
error; a plain plan never imports Dask."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generate import generate_program
from ingest.availability import build_availability
from ingest.document import parse_program
from solver import executors
from solver.executors import executor_for, uses_pool
from solver.planner import plan
from solver.result import Plan
from solver.validate import validate
from tests.helpers import free_port

ROOT = Path(__file__).parent.parent.parent
# Several components that need a model (26 models, about 1,900 variables), 0.4 s in process.
PROGRAM = {"matches": 200, "weeks": 6, "sessions": 6}
TIME_LIMIT = 30.0


@pytest.fixture(scope="module")
def program() -> tuple[Any, Any, Plan]:
    """The generated program, its availability and its in-process plan."""
    doc = parse_program(generate_program(PROGRAM, seed=0))
    avail = build_availability(doc, calendars=False)
    return doc, avail, plan(doc, avail, time_limit=TIME_LIMIT)


def _essence(p: Plan) -> tuple[Any, ...]:
    """Everything of a plan but its timings."""
    return p.status, p.objective, p.bound, p.series, p.unscheduled


class Recording(Executor):
    """Passes every call on to ``inner`` and remembers the function's name."""

    def __init__(self, inner: ProcessPoolExecutor) -> None:
        self.inner = inner
        self._max_workers = inner._max_workers  # what solver.executors.capacity reads
        self.calls: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls.append(fn.__name__)
        return self.inner.submit(fn, *args, **kwargs)


def test_plan_on_a_local_dask_cluster_equals_the_in_process_plan(program):
    """The models run on the cluster's workers, and the plan is the in-process one."""
    from distributed import Client, LocalCluster, get_task_stream
    from distributed.utils import key_split

    doc, avail, expected = program
    assert expected.stats.models >= 10
    # Not dashboard_address=None: its HTTP server would then try port 8787 and warn when
    # another cluster on the machine has it.
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster, set_as_default=False) as observer,
        get_task_stream(observer) as stream,
        executor_for(cluster.scheduler_address) as executor,
    ):
        got = plan(doc, avail, time_limit=TIME_LIMIT, executor=executor)
        workers = set(cluster.scheduler_info["workers"])
    ran = [t for t in stream.data if key_split(t["key"]) == "solve_tasks"]
    assert got.stats.parallel_slots == 2
    assert len(ran) == got.stats.chunks >= 2
    assert {t["worker"] for t in ran} <= workers
    assert _essence(got) == _essence(expected)
    assert validate(doc, avail, got) == []


def test_plan_in_a_local_process_pool_equals_the_in_process_plan(program, monkeypatch):
    """One chunk per model, finishing in any order: still the in-process plan."""
    doc, avail, expected = program
    monkeypatch.setattr(executors, "CHUNK_VARIABLES", 1)
    with executor_for(None, processes=2) as pool:
        assert isinstance(pool, ProcessPoolExecutor)
        recording = Recording(pool)
        got = plan(doc, avail, time_limit=TIME_LIMIT, executor=recording)
    assert recording.calls.count("solve_tasks") == got.stats.chunks
    assert got.stats.chunks == expected.stats.models == got.stats.solver_runs
    assert recording.calls.count("warm_up") == 2
    assert _essence(got) == _essence(expected)


def test_small_plans_stay_in_process_unless_told():
    """docs/rules.md: a pool only from LOCAL_POOL_MIN_MATCHES matches, or when asked."""
    small, large = executors.LOCAL_POOL_MIN_MATCHES - 1, executors.LOCAL_POOL_MIN_MATCHES
    with executor_for(None, matches=small) as executor:
        assert executor is None
    with executor_for(None, processes=1, matches=large) as executor:
        assert executor is None
    assert not uses_pool(small)
    assert uses_pool(small, processes=2)
    assert uses_pool(large) == ((executors.os.cpu_count() or 1) > 1)


@pytest.fixture
def not_dask() -> Iterator[int]:
    """The port of a TCP server that answers every connection with an HTTP error."""
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.1)

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 8)
                    stop.wait(1.0)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield server.getsockname()[1]
        stop.set()
        thread.join(5)


@pytest.mark.parametrize(
    "address",
    [
        "tcp://127.0.0.1:{closed}",
        "http://127.0.0.1:{closed}",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:{not_dask}",
    ],
)
def test_unreachable_scheduler_is_a_clear_cli_error(
    address, program_dict, tmp_path, capsys, not_dask
):
    """`slotwise plan --scheduler` that cannot connect (nothing listens, a bad address,
    something that is not Dask answers): one line, exit 2, no traceback."""
    from service.cli import main

    path = tmp_path / "program.json"
    path.write_text(json.dumps(program_dict))
    address = address.format(closed=free_port(), not_dask=not_dask)
    assert main(["plan", str(path), "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert f"slotwise: error: cannot reach the Dask scheduler at {address} (" in err
    assert "Traceback" not in err


def test_a_plain_plan_never_imports_dask(program_dict, tmp_path):
    """Dask is imported only for a scheduler: the CLI's plan of a small program skips it."""
    path = tmp_path / "program.json"
    path.write_text(json.dumps(program_dict))
    code = (
        "import sys; from service.cli import main; "
        f"assert main(['plan', {str(path)!r}, '-o', {str(tmp_path / 'plan.json')!r}]) == 0; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
