"""benchmarks.latency runs end to end on a small program (its numbers are the README's)."""

from __future__ import annotations

import pytest

from benchmarks.latency import markdown, run


@pytest.mark.parametrize("via", ["asgi", "httpx"])
def test_small_latency_run_times_every_request_cold_and_warm(via):
    """Every request kind is timed, straight into the app or through httpx, booked matches
    are left out of the sample, and the table names each row with its ratio to /api/me."""
    out = run(matches=20, booked=4, sample=3, runs=1, via=via)
    assert out["booked"] >= 1
    assert set(out["rows"]) == {
        "me",
        "heatmap cold",
        "proposals cold",
        "heatmap warm",
        "proposals warm",
    }
    assert out["rows"]["me"]["x_me"] == 1.0
    assert all(r["p50_ms"] > 0 and r["bytes"] > 0 for r in out["rows"].values())
    assert out["rows"]["heatmap cold"]["bytes"] == out["rows"]["heatmap warm"]["bytes"]
    table = markdown(out)
    assert "| heatmap warm |" in table and "× `/api/me`" in table
    assert ("straight into the ASGI app" in table) == (via == "asgi")
