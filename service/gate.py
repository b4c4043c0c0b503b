"""How many requests of a process compute at once (``SLOTWISE_COMPUTE_SLOTS``).

A heat map, proposals and a booking are CPU work in Python, and one process runs Python
on one core at a time (the interpreter lock). With 32 such requests in 32 threads, each
ran for a moment in turn: every request took 32 times as long, and a booking holding its
program's lock held it that much longer while the next 20 bookings queued behind it
(``benchmarks/load.py``: the lock's waits were 0.56 s at the median). The gate lets
``compute_slots`` requests compute at a time, the rest wait their turn in order, blocked
and not competing, so each runs at full speed and the queue moves.

Two rules keep a slot from being held while waiting for something else:

- a request waiting for a program's lock (:func:`service.store.locked`) gives its slot
  back while it waits (:meth:`ComputeGate.paused`): a booking queued behind a plan being
  applied does not hold up other programs' requests;
- once it holds the lock it gets a slot before anyone waiting for a fresh one (urgent),
  so the lock is released as soon as possible.

Routes that wait on the network (calendar URLs, CalDAV) take no slot.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

DEFAULT_SLOTS = 2


class ComputeGate:
    """A first-come, first-served semaphore with a queue that goes first (``urgent``);
    a slot is handed straight to the next waiter, so none wakes for nothing."""

    def __init__(self, slots: int = DEFAULT_SLOTS) -> None:
        self.slots = slots
        self._mutex = threading.Lock()
        self._busy = 0
        self._urgent: deque[threading.Lock] = deque()
        self._normal: deque[threading.Lock] = deque()
        self._held = threading.local()

    def _depth(self) -> int:
        return getattr(self._held, "depth", 0)

    def _acquire(self, urgent: bool) -> None:
        with self._mutex:
            if self._busy < self.slots and not self._urgent and not self._normal:
                self._busy += 1
                return
            waiter = threading.Lock()
            waiter.acquire()
            (self._urgent if urgent else self._normal).append(waiter)
        waiter.acquire()  # released by _release, which handed us its slot

    def _release(self) -> None:
        with self._mutex:
            queue = self._urgent or self._normal
            if queue:
                queue.popleft().release()
            else:
                self._busy -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Compute in a slot (waiting for one first); within one, a no-op."""
        depth = self._depth()
        if depth == 0:
            self._acquire(urgent=False)
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth
            if depth == 0:
                self._release()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """While this thread waits for something (a lock), its slot is free for others;
        afterwards it gets one back before those waiting for a fresh one."""
        depth = self._depth()
        if depth == 0:
            yield
            return
        self._held.depth = 0
        self._release()
        try:
            yield
        finally:
            self._acquire(urgent=True)
            self._held.depth = depth


_gates: WeakKeyDictionary[Engine, ComputeGate] = WeakKeyDictionary()
_gates_lock = threading.Lock()


def gate_of(engine: Engine, slots: int | None = None) -> ComputeGate:
    """The gate of the app serving ``engine`` (``slots`` sets it, at start-up)."""
    with _gates_lock:
        gate = _gates.get(engine)
        if gate is None:
            gate = _gates[engine] = ComputeGate(slots or DEFAULT_SLOTS)
        elif slots is not None:
            gate.slots = slots
        return gate


def computing(engine: Engine) -> AbstractContextManager[None]:
    """A slot of the gate of requests on ``engine``: ``with computing(db): ...``."""
    return gate_of(engine).slot()
