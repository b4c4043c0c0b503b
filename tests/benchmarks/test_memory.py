"""benchmarks.memory runs end to end on small programs (its numbers are the README's)."""

from __future__ import annotations

import pytest

from benchmarks import memory
from solver import parts, planner


def test_small_runs_measure_every_process_and_render(monkeypatch: pytest.MonkeyPatch):
    """A small 'xl' in process and a small '100k' in parts on Dask: both proven optimal
    with the same objective, the Dask run's workers measured, and the table written."""
    monkeypatch.setitem(memory.ROWS, "xl", {**memory.ROWS["xl"], "matches": 120})
    monkeypatch.setitem(memory.ROWS, "100k", {**memory.ROWS["100k"], "matches": 120})
    monkeypatch.setattr(planner, "PARTS_MIN_MATCHES", 50)
    monkeypatch.setattr(parts, "PART_MIN_MATCHES", 20)
    here, split = memory.run_one("xl", 0), memory.run_one("100k", 0)
    assert here["status"] == split["status"] == "optimal"
    assert (here["held"], here["attendance"]) == (split["held"], split["attendance"])
    # (Processes earlier tests left, such as a pool's forkserver, are measured too.)
    roles = [p["role"] for p in here["processes"]]
    assert "planning process" in roles and not {"Dask worker", "pool worker"} & set(roles)
    assert sum(p["role"] == "Dask worker" for p in split["processes"]) >= 2
    assert split["stages"]["score_seconds"] > 0 and split["stages"]["chunks"] >= 2
    assert 0 < here["peak_mb"] <= here["peak_sum_mb"]
    runs = {"xl": [here], "100k": [split]}
    md = memory.markdown([memory._summary(n, rs) for n, rs in runs.items()], runs)
    assert "| xl | 120 |" in md and "Dask LocalCluster, 2" in md and "in the workers" in md
