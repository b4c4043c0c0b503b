"""benchmarks.apply runs end to end on a small program (its numbers are the README's)."""

from __future__ import annotations

from benchmarks.apply import _text, run


def test_small_apply_run_books_the_plan_and_times_the_other_client():
    """The whole plan is booked, every invite it owes is built and sent, and the
    other client's requests are timed before and during the apply."""
    out = run(matches=30, chunk=5, interval=0.01, idle=5)
    assert out["booked"] == out["planned"] > 5
    assert out["invites_built"] == out["invites_owed"] > out["booked"]
    assert out["apply_s"] <= out["invites_built_s"] <= out["invites_sent_s"]
    assert {"idle", "during apply"} <= set(out["probes"])
    assert all(s["n"] > 0 for s in out["probes"]["idle"].values())
    assert "series booked" in _text(out)
