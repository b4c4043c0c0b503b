"""A match's own slice of the program answers exactly as the whole program does."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.generate import generate_program
from ingest.availability import build_availability
from service.auth import create_token
from service.errors import NotFound
from service.programs import solving_document
from service.store import init_db, make_engine
from solver.heatmap import heatmap
from solver.proposals import propose
from tests.service.live import LiveServer


@pytest.fixture(scope="module")
def booked_program(tmp_path_factory):
    """A generated program (document bookings, shared mentors, groups) with series
    booked through the API, so busy time comes from the document and from sessions."""
    tmp = tmp_path_factory.mktemp("focus")
    url = f"sqlite:///{tmp / 'slotwise.sqlite'}"
    engine = make_engine(url)
    init_db(engine)
    token = create_token(engine, "admin")
    data = generate_program({"matches": 40}, seed=3)
    data["program"]["now"] = "2027-01-01T00:00:00Z"
    pid = data["program"]["id"]
    server = LiveServer(url, outbox=tmp / "outbox").start()
    booked = 0
    with server.client(token) as api:
        assert api.post("/api/programs", json=data).status_code == 201
        for x in data["matches"][::2]:
            base = f"/api/programs/{pid}/matches/{x['id']}"
            found = api.post(base + "/proposals", json={"limit": 1}).json()
            for p in found["proposals"]:
                r = api.post(base + "/series", json={"first_start": p["first_start"]})
                booked += r.status_code == 201
    server.stop()
    assert booked >= 5 and data["bookings"]
    yield engine, data
    engine.dispose()


def test_match_slice_gives_the_same_heat_map_and_proposals(booked_program):
    engine, data = booked_program
    pid = data["program"]["id"]
    with engine.connect() as conn:
        whole = solving_document(conn, pid)
        for x in data["matches"]:
            part = solving_document(conn, pid, match=x["id"])
            assert len(part.members) <= len(whole.members)
            members = list(x["members"])
            a = heatmap(build_availability(whole, members=members), members, x["duration_minutes"])
            b = heatmap(build_availability(part, members=members), members, x["duration_minutes"])
            assert np.array_equal(a.attend, b.attend), x["id"]
            pa, pb = propose(whole, x["id"], limit=3), propose(part, x["id"], limit=3)
            assert [s.first_start for s in pa.series] == [s.first_start for s in pb.series]
            assert [s.score for s in pa.series] == [s.score for s in pb.series]
    # The slices are small: a pair's slice holds its members and their partners only.
    # (One connection, closed: a dropped one goes back to the pool only when the garbage
    # collector gets to it, and 40 of them outlast the pool.)
    with engine.connect() as conn:
        sizes = [len(solving_document(conn, pid, match=x["id"]).members) for x in data["matches"]]
    assert sum(sizes) < len(data["matches"]) * len(whole.members) / 4


def test_unknown_match_is_not_found(booked_program):
    engine, data = booked_program
    with engine.connect() as conn, pytest.raises(NotFound, match="unknown match"):
        solving_document(conn, data["program"]["id"], match="nobody")
