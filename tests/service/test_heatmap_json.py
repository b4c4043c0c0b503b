"""The heat map's answer is encoded by the route itself (issue 15): the bytes FastAPI would
write for ``HeatmapPublic``, and a window shared between answers is the one asked for."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import TypeAdapter

from ingest.availability import build_availability
from ingest.document import parse_program
from service.config import Settings
from service.schemas import HeatmapPublic
from service.serialize import _window, heatmap_window
from solver.heatmap import heatmap
from tests.service.inprocess import admin_app, call
from tests.service.sample import program

NAMES = {"mia": "Jörg Müller", "al": "ألف", "bo": "李小龍", "cy": ""}


def _document() -> dict:
    doc = program()
    for m in doc["members"]:
        m["name"] = NAMES[m["id"]]
    return doc


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"tz": "Asia/Kathmandu", "from": "2027-03-08", "weeks": "2", "duration": "30"},
        {"tz": "Australia/Lord_Howe", "weeks": "26"},
    ],
)
def test_answer_is_what_fastapi_writes_for_the_response_model(tmp_path: Path, query):
    """The route's own bytes equal HeatmapPublic's validated JSON of the same answer (key
    order, compact UTF-8 names in any script, a nameless member by id) and say JSON."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    adapter = TypeAdapter(HeatmapPublic)

    async def steps(api: httpx.AsyncClient) -> list[httpx.Response]:
        assert (await api.post("/api/programs", json=_document())).status_code == 201
        return [
            await api.get(f"/api/programs/p1/matches/{x}/heatmap", params=query)
            for x in ("mia-al", "circle")
        ]

    with admin_app(settings) as (app, token):
        answers = call(app, token, steps)
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.content == adapter.dump_json(adapter.validate_json(r.content))
    names = answers[1].json()["names"]
    assert names == {"mia": "Jörg Müller", "al": "ألف", "bo": "李小龍", "cy": "cy"}
    assert "Jörg Müller".encode() in answers[1].content


def test_a_cached_window_is_the_one_asked_for():
    """Windows for other zones, dates and lengths on the same grid, asked one after the
    other, each equal one built afresh (nothing of one leaks into the next)."""
    doc = parse_program(program())
    ids = ["mia", "al"]
    hm = heatmap(build_availability(doc, members=ids), ids, 60)
    asks = [
        (ZoneInfo("America/New_York"), None, 13),
        (ZoneInfo("Asia/Kathmandu"), None, 13),
        (ZoneInfo("Asia/Kathmandu"), date(2027, 3, 15), 13),
        (ZoneInfo("Asia/Kathmandu"), date(2027, 3, 15), 1),
        (ZoneInfo("Australia/Lord_Howe"), date(2027, 4, 1), 4),
    ]
    seen = []
    for zone, first_day, weeks in asks:
        got = heatmap_window(hm, zone, first_day, weeks)
        _window.cache_clear()
        assert got == heatmap_window(hm, zone, first_day, weeks), (zone, first_day, weeks)
        seen.append((got["window"], got["view"]))
    assert len({repr(s) for s in seen}) == len(asks)  # each ask did differ


@pytest.mark.parametrize(
    "values",
    [[], [0], [9, 0, 3], list(range(10)) * 50, [10], [3, 12, 0], [-1, 2], [0] * 8060],
)
def test_counts_are_the_json_of_their_list(values):
    """The one-digit fast path and the generic one write what ``to_json(list)`` writes."""
    import numpy as np
    from pydantic_core import to_json

    from service.serialize import _ints_json

    for dtype in (np.int64, np.int32):
        a = np.asarray(values, dtype=dtype)
        assert _ints_json(a) == to_json(values)
