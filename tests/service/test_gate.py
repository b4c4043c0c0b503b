"""The compute gate (service/gate.py): at most N requests of a process compute at once,
in order; one waiting for a program's lock frees its slot and, holding the lock, goes
first."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from service.config import Settings
from service.gate import ComputeGate
from service.store import locked
from tests.service.inprocess import admin_app
from tests.service.sample import program


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
        assert not t.is_alive()


def test_at_most_slots_compute_at_once_in_order_of_arrival():
    gate = ComputeGate(2)
    inside, most, order = [0], [0], []
    mutex = threading.Lock()

    def work(i: int) -> None:
        with gate.slot():
            with mutex:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                order.append(i)
            time.sleep(0.05)
            with gate.slot():  # within a slot, a no-op (no second slot, no deadlock)
                pass
            with mutex:
                inside[0] -= 1

    threads = []
    for i in range(8):
        threads.append(threading.Thread(target=work, args=(i,)))
    for t in threads:
        t.start()
        time.sleep(0.01)  # arrive in order
    for t in threads:
        t.join(10)
    assert most[0] == 2
    assert order == list(range(8))


def test_a_thread_waiting_for_a_lock_frees_its_slot_and_then_goes_first():
    gate = ComputeGate(1)
    lock = threading.Lock()
    lock.acquire()
    events: list[str] = []
    paused = threading.Event()

    def booking() -> None:
        with gate.slot():
            with gate.paused():
                paused.set()
                with lock:  # waits for the lock, holding no slot
                    pass
            events.append("booking holds its lock and a slot again")
            time.sleep(0.05)

    def reader(name: str) -> None:
        with gate.slot():
            events.append(name)
            time.sleep(0.05)

    b = threading.Thread(target=booking)
    b.start()
    assert paused.wait(5)
    # With the booking's slot free, a reader computes while the lock is held elsewhere.
    _run([threading.Thread(target=reader, args=("reader while the lock is held",))])
    # Now readers queue while a slot is busy; the lock is released meanwhile: the
    # booking (holding the lock) gets the next slot before the queued readers.
    hold = threading.Thread(target=reader, args=("reader holding the slot",))
    hold.start()
    time.sleep(0.01)
    later = [threading.Thread(target=reader, args=(f"queued reader {i}",)) for i in range(2)]
    for t in later:
        t.start()
    time.sleep(0.01)
    lock.release()
    for t in [hold, *later, b]:
        t.join(10)
    assert events == [
        "reader while the lock is held",
        "reader holding the slot",
        "booking holds its lock and a slot again",
        "queued reader 0",
        "queued reader 1",
    ]


def test_bookings_queued_behind_a_held_lock_do_not_block_another_program(tmp_path: Path):
    """One compute slot. Program p1's lock is held (as by a plan being applied) while
    three bookings of p1 wait for it: a heat map of program p2 still answers, and the
    bookings go through once the lock is free."""
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "o", compute_slots=1
    )
    with admin_app(settings) as (app, token):
        engine = app.state.engine
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with locked(engine, "p1"):
                holding.set()
                release.wait(20)

        async def steps() -> tuple[int, bool, list[int]]:
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://t",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ) as api:
                for pid in ("p1", "p2"):
                    r = await api.post("/api/programs", json=program(pid))
                    assert r.status_code == 201, r.text
                holder = threading.Thread(target=hold)
                holder.start()
                assert holding.wait(5)
                bookings = [
                    asyncio.create_task(
                        api.post(
                            "/api/programs/p1/matches/mia-al/series",
                            json={"first_start": "2027-03-02T10:00:00-05:00"},
                        )
                    )
                    for _ in range(3)
                ]
                await asyncio.sleep(0.5)  # they are waiting for p1's lock
                heat = await asyncio.wait_for(
                    api.get("/api/programs/p2/matches/mia-al/heatmap"), 10
                )
                still_held = not release.is_set() and not any(b.done() for b in bookings)
                release.set()
                codes = sorted([(await b).status_code for b in bookings])
                holder.join(10)
                return heat.status_code, still_held, codes

        heat, still_held, codes = asyncio.run(steps())
    assert heat == 200
    assert still_held
    assert codes == [201, 409, 409]
