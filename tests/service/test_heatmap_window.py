"""Heat-map responses are bounded: a window of weeks, free times as bitmaps (issue 12,
item 9)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from benchmarks.generate import year_group_program
from ingest.availability import build_availability
from ingest.document import parse_program
from service.serialize import _bitmaps
from solver.heatmap import heatmap
from tests.service.live import LiveServer, admin_token, free_slots, view_rows

GROUP = 120


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[httpx.Client]:
    tmp: Path = tmp_path_factory.mktemp("window")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    token = admin_token(url)
    server = LiveServer(url, outbox=tmp / "outbox").start()
    try:
        with server.client(token) as client:
            assert client.post("/api/programs", json=year_group_program(GROUP)).status_code == 201
            yield client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def reference():
    """The whole-horizon heat map, computed in process."""
    doc = parse_program(year_group_program(GROUP))
    members = [m.id for m in doc.members]
    return heatmap(build_availability(doc, members=members), members, 60)


@given(arrays(bool, st.tuples(st.integers(0, 40), st.integers(1, 5))))
def test_free_bitmaps_match_a_brute_force_reference(attend):
    """Each member's bitmap gives back exactly the slots that are free, in
    ceil(slots / 8) bytes."""
    heat = {"free": _bitmaps(attend), "window": {"first_slot": 7, "slots": attend.shape[0]}}
    assert len(heat["free"]) == attend.shape[1]
    for j in range(attend.shape[1]):
        assert sorted(free_slots(heat, j)) == (np.flatnonzero(attend[:, j]) + 7).tolist()
        assert len(base64.b64decode(heat["free"][j])) == -(-attend.shape[0] // 8)


def test_year_long_group_heat_map_is_a_window_of_bounded_size(api, reference):
    """A 120-member group over a year of 5-minute slots answers 13 weeks, in a few MB
    (whole-horizon answers were about 20 MB here, 381 MB at 600 members)."""
    r = api.get("/api/programs/year/matches/all/heatmap", params={"tz": "Europe/Berlin"})
    assert r.status_code == 200, r.text
    assert len(r.content) < 3_000_000, len(r.content)
    hm = r.json()
    w = hm["window"]
    assert (w["first_slot"], w["first_date"], w["earlier"], w["later"]) == (
        0,
        "2027-01-04",
        False,
        True,
    )
    assert len(hm["view"]["dates"]) == 13 * 7 and w["last_date"] == "2027-04-04"
    # The grid is sent compactly: a number per date, a list only where the times of day
    # are not consecutive slots (Berlin's spring-forward date) and each is at its time.
    rows = zip(hm["view"]["dates"], hm["view"]["slots"], strict=True)
    lists = [d for d, r in rows if isinstance(r, list)]
    assert lists == ["2027-03-28"]
    grid, zone = reference.availability.grid, ZoneInfo("Europe/Berlin")
    day = hm["view"]["dates"].index("2027-03-28")
    for t, s in enumerate(view_rows(hm)[day]):
        clock = hm["view"]["times"][t]
        if s < 0:
            assert "02:00" <= clock < "03:00"  # the hour that does not exist that night
        else:
            at = grid.slot_start(s).astimezone(zone)
            assert (at.date().isoformat(), f"{at:%H:%M}") == ("2027-03-28", clock)
    lo, n = w["first_slot"], w["slots"]
    assert hm["counts"] == reference.counts[lo : lo + n].tolist()
    everyone = reference.everyone
    assert hm["everyone"] == everyone[(everyone >= lo) & (everyone < lo + n)].tolist()
    for j in (0, 7, GROUP - 1):
        assert (
            sorted(free_slots(hm, j))
            == (np.flatnonzero(reference.attend[lo : lo + n, j]) + lo).tolist()
        )


def test_heat_map_window_from_a_date_for_some_weeks(api, reference):
    """?from=&weeks= picks the window; its slots and cells are absolute and agree."""
    r = api.get(
        "/api/programs/year/matches/all/heatmap",
        params={"tz": "America/New_York", "from": "2027-12-20", "weeks": 4},
    )
    assert r.status_code == 200, r.text
    hm = r.json()
    w = hm["window"]
    assert w["first_date"] == "2027-12-20" and w["earlier"] and not w["later"]
    zone = ZoneInfo("America/New_York")
    grid = reference.availability.grid
    first = grid.slot_start(w["first_slot"]).astimezone(zone)
    assert first.date().isoformat() == "2027-12-20" and (first.hour, first.minute) == (0, 0)
    slots = [s for row in view_rows(hm) for s in row if s >= 0]
    counts = reference.counts  # a property: computed on each access
    assert slots and all(hm["counts"][s - w["first_slot"]] == counts[s] for s in slots)
    assert len(hm["counts"]) == w["slots"]
    # Each slot sits at its own date and time of day in the viewer's zone.
    sample = [(d, t, s) for d, row in enumerate(view_rows(hm)) for t, s in enumerate(row)]
    for d, t, s in sample[:: max(1, len(sample) // 200)]:
        if s < 0:
            continue
        at = grid.slot_start(s).astimezone(zone)
        assert at.date().isoformat() == hm["view"]["dates"][d]
        assert f"{at:%H:%M}" == hm["view"]["times"][t]


@pytest.mark.parametrize("query", [{"weeks": 27}, {"weeks": 0}, {"from": "20271220"}])
def test_heat_map_window_bad_query(api, query):
    """A window past 26 weeks, or a date that is not one, is a 422 naming the parameter."""
    r = api.get("/api/programs/year/matches/all/heatmap", params=query)
    assert r.status_code == 422, r.text
    assert next(iter(query)) in r.text
