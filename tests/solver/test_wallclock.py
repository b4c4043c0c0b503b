"""Wall-clock facts of slots (weekday, minute, date, week) in any zone, without pandas.

pandas converted the slot starts before; it stays the oracle here, where importing it
costs nothing that matters. A server must not import it to answer a heat map: that took
half a second of the first heat map each process answered.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from ingest.grid import SlotGrid, utc_offsets
from solver.wallclock import wall_clock

ROOT = Path(__file__).resolve().parents[2]

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # 30-minute DST
    "Asia/Kathmandu",  # +05:45
    "Pacific/Chatham",  # +12:45 / +13:45
    "Africa/Casablanca",  # DST suspended for Ramadan: two changes a year and back
    "America/St_Johns",  # -03:30 / -02:30
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "America/Sao_Paulo",  # DST abolished in 2019
]


def _pandas_clock(grid: SlotGrid, zone: ZoneInfo) -> dict[str, np.ndarray]:
    starts = pd.to_datetime(grid.slot_starts_epoch(), unit="s", utc=True).tz_convert(zone)
    naive = starts.tz_localize(None)
    day = (naive.normalize() - pd.Timestamp("0001-01-01")).days.to_numpy(np.int64) + 1
    return {
        "minute": (naive.hour * 60 + naive.minute).to_numpy(np.int64),
        "day": day,
        "weekday": naive.day_of_week.to_numpy(np.int64),
        "week": (day - date(2024, 1, 1).toordinal()) // 7,
    }


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize(
    ("grid_zone", "start", "end", "minutes"),
    [
        ("UTC", date(2026, 1, 1), date(2027, 1, 1), 15),
        ("Pacific/Chatham", date(2026, 3, 20), date(2026, 4, 20), 5),
        ("America/New_York", date(2011, 12, 1), date(2012, 1, 10), 30),
        ("Asia/Kathmandu", date(2019, 1, 1), date(2020, 6, 1), 60),
    ],
)
def test_wall_clock_matches_pandas(zone_name, grid_zone, start, end, minutes):
    """Every slot's weekday, minute of the day, local date and week, in the reader's
    zone, are pandas' on grids in other zones, across DST changes, 30- and 45-minute
    offsets and a skipped day."""
    wall_clock.cache_clear()
    grid = SlotGrid(ZoneInfo(grid_zone), start, end, minutes)
    zone = ZoneInfo(zone_name)
    ours = wall_clock(grid, zone)
    theirs = _pandas_clock(grid, zone)
    for name, expected in theirs.items():
        got = getattr(ours, name)
        assert got.dtype == np.int64
        bad = np.flatnonzero(got != expected)
        assert len(bad) == 0, (name, [grid.slot_start(int(i)).isoformat() for i in bad[:3]])


def test_utc_offsets_at_the_second_of_a_change():
    """The offset changes exactly at the transition: the second before keeps the old
    one (New York, spring 2027: 07:00 UTC)."""
    at = datetime(2027, 3, 14, 7, tzinfo=UTC).timestamp()
    epochs = np.array([at - 3600, at - 1, at, at + 1], dtype=np.int64)
    assert utc_offsets(ZoneInfo("America/New_York"), epochs).tolist() == [
        -5 * 3600,
        -5 * 3600,
        -4 * 3600,
        -4 * 3600,
    ]
    assert utc_offsets(ZoneInfo("Europe/Berlin"), np.zeros(0, dtype=np.int64)).tolist() == []


def test_heat_map_and_proposals_do_not_import_pandas(tmp_path):
    """A server process answers a heat map, proposals and a booking without importing
    pandas (the notebooks' library). Run in a fresh interpreter: this test process has
    pandas already."""
    script = f"""
import json, sys
from pathlib import Path
from service.config import Settings
from tests.service.inprocess import admin_app, call
from benchmarks.generate import generate_program

doc = generate_program({{"matches": 4}})
pid, xid = doc["program"]["id"], doc["matches"][0]["id"]
tmp = Path({str(tmp_path)!r})
settings = Settings(db_url=f"sqlite:///{{tmp / 'db.sqlite'}}", outbox=tmp / "outbox")
with admin_app(settings) as (app, token):
    async def steps(api):
        codes = [(await api.post("/api/programs", json=doc)).status_code]
        before = "pandas" in sys.modules
        codes.append((await api.get(f"/api/programs/{{pid}}/matches/{{xid}}/heatmap")).status_code)
        r = await api.post(f"/api/programs/{{pid}}/matches/{{xid}}/proposals", json={{}})
        codes.append(r.status_code)
        first = r.json()["proposals"][0]["first_start"]
        b = await api.post(
            f"/api/programs/{{pid}}/matches/{{xid}}/series", json={{"first_start": first}}
        )
        codes.append(b.status_code)
        return codes, before
    codes, before = call(app, token, steps)
print(json.dumps({{"codes": codes, "before": before, "after": "pandas" in sys.modules}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["codes"] == [201, 200, 200, 201]
    assert seen == {"codes": [201, 200, 200, 201], "before": False, "after": False}
