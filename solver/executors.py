"""Where plan() runs its CP-SAT models: in this process, a local process pool, or Dask.

``executor_for`` picks the executor (the one rule for it lives here, see
``LOCAL_POOL_MIN_MATCHES``); ``Dispatcher`` sends ``SolveTask``s to any
``concurrent.futures.Executor`` in chunks and hands the results back as they finish.
Dask is imported only when a scheduler address is given, so a plain plan never loads it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from typing import Generic, Protocol, TypeVar, cast

from ingest.extras import import_extra

from .model import ModelResult
from .tasks import SolveTask, solve_tasks, warm_up

K = TypeVar("K")
log = logging.getLogger(__name__)

# A local process pool costs about 0.5 s of start-up (a Python importing numpy and
# OR-Tools) and the pickling of every model; it pays off once the models take a few
# seconds in one process. Medians on generated programs, 2 cores (benchmarks/results/
# scaling*.md): M (1,000 matches, under 1 s of CP-SAT) 1.8 s in process, 2.1 s in a pool
# of two; 2,500 matches 5.3 s and 4.1 s; L (5,000 matches, about 4.5 s of CP-SAT) 8.9 s
# and 6.2 s. The number of matches is known before scoring, so the pool can start its
# processes while plan() scores.
LOCAL_POOL_MIN_MATCHES = 2_500
# Models are sent in chunks of at least this many variables (one model at least): a
# typical component's model takes about 10 ms to solve, not much more than what a task
# costs on Dask (scheduling, round trip, pickling the program's week array, which a chunk
# pickles once). L makes about 40 chunks: enough to keep every worker busy to the end.
CHUNK_VARIABLES = 1_500
CONNECT_TIMEOUT_S = 10.0


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler at ``address`` did not answer."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot reach the Dask scheduler at {address} ({reason})")
        self.address = address


def capacity(executor: Executor) -> int:
    """How many tasks ``executor`` runs at once (1 when it cannot tell)."""
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None:
        return max(1, sum(cast(_DaskClient, client).nthreads().values()))
    return max(1, int(getattr(executor, "_max_workers", 1)))


def uses_pool(matches: int, processes: int | None = None) -> bool:
    """Whether ``executor_for(None, processes, matches=...)`` starts a process pool."""
    if processes is not None:
        return processes > 1
    return (os.cpu_count() or 1) > 1 and matches >= LOCAL_POOL_MIN_MATCHES


@contextmanager
def executor_for(
    scheduler: str | None, processes: int | None = None, *, matches: int = 0
) -> Iterator[Executor | None]:
    """The executor for a plan of ``matches`` matches; None means plan() solves in process.

    - ``scheduler`` (``tcp://host:8786``): the Dask cluster behind it. Its workers need
      this package installed (the same version). ``SchedulerUnreachable`` when it does
      not answer within ``CONNECT_TIMEOUT_S``.
    - else ``processes`` > 1: a local pool of that many processes; 1: in process.
    - else (the default): one process per core when the plan has at least
      ``LOCAL_POOL_MIN_MATCHES`` matches and the machine more than one core; smaller
      plans are solved in process and never pay a pool's start-up.
    """
    if scheduler:
        with _dask(scheduler) as executor:
            yield executor
        return
    if not uses_pool(matches, processes):
        yield None
        return
    with local_pool(processes or os.cpu_count() or 1) as pool:
        yield pool


def local_pool(processes: int) -> ProcessPoolExecutor:
    """A pool of ``processes`` local processes, started on demand. Never forked from this
    process (the service plans from a thread of a threaded server): they fork from a
    forkserver that has imported the solver, so only the first pool of a process waits
    for Python and OR-Tools to start (about 0.5 s)."""
    return ProcessPoolExecutor(processes, mp_context=_context())


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["solver.tasks"])
        return ctx
    return multiprocessing.get_context("spawn")


class _DaskClient(Protocol):
    """What this module calls of ``distributed.Client``, typed: distributed does not
    annotate these methods, and typed code may not call them as they are."""

    def start(self, **kwargs: object) -> None: ...
    def close(self, timeout: float | None = None) -> object: ...
    def get_executor(self, *, pure: bool) -> Executor: ...
    def nthreads(self) -> dict[str, int]: ...


@contextmanager
def _dask(address: str) -> Iterator[Executor]:
    import_extra("distributed", "distributed", "solving on a Dask cluster")
    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port

    class _Client(Client):
        def start(self, **kwargs: object) -> None:
            try:
                cast(_DaskClient, super()).start(**kwargs)
            except BaseException:
                # Closed now, while its event loop runs: left to the garbage collector, a
                # half-made client hangs at exit trying to close.
                with suppress(Exception):
                    cast(_DaskClient, self).close(timeout=2)
                raise

    connect: Callable[..., _DaskClient] = _Client

    try:
        scheme, location = parse_address(address, strict=True)
        if scheme in ("tcp", "tls", "ws", "wss"):
            # Dask retries a refused connection until its timeout; a plain connect says
            # at once why the scheduler cannot be reached.
            with socket.create_connection(parse_host_port(location), CONNECT_TIMEOUT_S):
                pass
        client = connect(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError) as exc:  # TimeoutError is an OSError
        raise SchedulerUnreachable(address, str(exc) or type(exc).__name__) from None
    except Exception as exc:
        # Something answered, but not as a Dask scheduler does (e.g. a proxy or a web
        # server: Dask then reads garbage as a message length, and fails however).
        log.debug("%s is not a Dask scheduler", address, exc_info=exc)
        raise SchedulerUnreachable(address, "what answered there is not a Dask scheduler") from None
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


class Dispatcher(Generic[K]):
    """Sends ``SolveTask``s to an executor in chunks; ``completed`` yields each task's key
    and result as its chunk finishes. ``deadline`` is on ``time.perf_counter``'s clock."""

    eager = False  # results come from ``completed``, as their chunks finish

    def __init__(
        self, executor: Executor, deadline: float, chunk_variables: int | None = None
    ) -> None:
        self.executor = executor
        self.slots = capacity(executor)
        self.chunk_variables = CHUNK_VARIABLES if chunk_variables is None else chunk_variables
        # Workers may be other hosts: they get the deadline on the wall clock.
        self.deadline = time.time() + (deadline - time.perf_counter())
        self.chunks = 0
        self._keys: list[K] = []
        self._tasks: list[SolveTask] = []
        self._size = 0
        self._pending: dict[Future[list[ModelResult]], list[K]] = {}

    def warm_up(self) -> None:
        """Start every worker now (a process pool starts its processes on demand)."""
        for _ in range(self.slots):
            self.executor.submit(warm_up)

    def add(self, key: K, task: SolveTask, *, alone: bool = False) -> None:
        self._keys.append(key)
        self._tasks.append(task)
        self._size += task.variables
        if alone or self._size >= self.chunk_variables:
            self.flush()

    def flush(self) -> None:
        if self._tasks:
            future = self.executor.submit(solve_tasks, self._tasks, self.deadline)
            self._pending[future] = self._keys
            self.chunks += 1
            self._keys, self._tasks, self._size = [], [], 0

    def completed(self) -> Iterator[tuple[K, ModelResult]]:
        self.flush()
        pending, self._pending = self._pending, {}
        try:
            for future in as_completed(pending):
                yield from zip(pending[future], future.result(), strict=True)
        finally:
            for future in pending:
                future.cancel()  # after an error, or when the caller stops early
