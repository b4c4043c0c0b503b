"""The load benchmark: a small run against a live server, and its database checks."""

from __future__ import annotations

import itertools

from sqlalchemy import select, update

from benchmarks.generate import generate_program
from benchmarks.load import check_database, run_once
from service.store import make_engine, series, session_members, sessions


def test_small_load_run_books_without_double_booking_or_lost_writes(tmp_path):
    program = generate_program({"matches": 24}, seed=2)
    program["program"]["id"] = "load"
    url = f"sqlite:///{tmp_path / 'load.sqlite'}"
    res = run_once(url, 1, program, 6, tmp_path / "outbox")
    assert res["client"] == "aiohttp"
    assert res["requests"] >= 2 * 24 and res["server_errors"] == 0
    assert res["booked"] > 5 and res["member_sessions"] > 0
    assert res["codes"]["heatmap 200"] == res["codes"]["proposals 200"] == 24
    assert (
        res["double_bookings"],
        res["lost_writes"],
        res["phantom_writes"],
        res["series_missing_sessions"],
    ) == (0, 0, 0, 0)

    # The checks see what they are there for: a session moved onto another of the same
    # member is a double booking; a series the client never heard of is a phantom write;
    # one the client was told about but that is not stored is a lost write.
    engine = make_engine(url)
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                session_members.c.member_id,
                sessions.c.id,
                sessions.c.start,
                sessions.c.end,
                sessions.c.series_id,
            )
            .join(sessions, sessions.c.id == session_members.c.session_id)
            .order_by(session_members.c.member_id, sessions.c.start)
        ).all()
        a, b = next(
            (a, b)
            for a, b in itertools.pairwise(rows)
            if a.member_id == b.member_id and a.series_id != b.series_id
        )
        conn.execute(update(sessions).where(sessions.c.id == b.id).values(start=a.start, end=a.end))
        conn.execute(
            update(session_members)
            .where(session_members.c.session_id == b.id)
            .values(start=a.start, end=a.end)
        )
        stored = list(conn.execute(select(series.c.id)).scalars())
    engine.dispose()
    told = {sid: 0 for sid in stored[1:]} | {"s-never-stored": 0}
    checked = check_database(url, "load", told)
    assert checked["double_bookings"] >= 1
    assert checked["lost_writes"] == 1 and checked["phantom_writes"] == 1
    # Told "no sessions" about every stored series: each one's session count disagrees.
    assert checked["series_missing_sessions"] == len(stored) - 1


def test_the_httpx_client_runs_the_same_steps(tmp_path):
    """``--client httpx`` (how figures before 2026-12-02 were measured) still drives the
    whole flow: every match's heat map and proposals, bookings answered and stored."""
    program = generate_program({"matches": 8}, seed=3)
    program["program"]["id"] = "load"
    url = f"sqlite:///{tmp_path / 'load.sqlite'}"
    res = run_once(url, 1, program, 3, tmp_path / "outbox", client="httpx")
    assert res["client"] == "httpx" and res["server_errors"] == 0
    assert res["codes"]["heatmap 200"] == res["codes"]["proposals 200"] == 8
    assert res["booked"] > 0 and res["lost_writes"] == res["phantom_writes"] == 0


def test_a_plain_text_500_is_counted_not_fatal():
    """A server error answers text, not JSON: the facilitator counts it and goes on (the
    run reports its 5xx and checks the database) instead of dying on the parse."""
    import asyncio

    from aiohttp import web

    from benchmarks.load import Client, Tally, facilitator

    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=500, text="Internal Server Error")

    async def scenario() -> Tally:
        app = web.Application()
        app.router.add_get("/api/programs/p/matches/{x}/heatmap", broken)
        app.router.add_post("/api/programs/p/matches/{x}/proposals", broken)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        tally = Tally()
        try:
            async with Client(f"http://127.0.0.1:{port}", "t", 1) as api:
                await facilitator(api, "p", ["x", "y"], tally)
        finally:
            await runner.cleanup()
        return tally

    tally = asyncio.run(scenario())
    assert tally.codes == {("heatmap", 500): 2, ("proposals", 500): 2}
    assert tally.unbooked == 2 and not tally.booked
