"""Plans and heat maps as the JSON documents of SPEC 6 and 7."""

from __future__ import annotations

import csv
import io
from typing import Any
from zoneinfo import ZoneInfo

from solver.heatmap import Heatmap
from solver.result import Occurrence, Plan, Series


def occurrence_dict(o: Occurrence) -> dict[str, Any]:
    out: dict[str, Any] = {"start": o.start.isoformat(), "end": o.end.isoformat(),
                           "holds": o.holds, "attending": list(o.attending),
                           "missing": list(o.missing)}
    if o.alternative is not None:
        out["alternative"] = o.alternative.isoformat()
    return out


def series_dict(s: Series) -> dict[str, Any]:
    return {"match": s.match, "timezone": s.timezone, "frequency": s.frequency,
            "rrule": s.rrule, "first_start": s.first_start.isoformat(),
            "duration_minutes": s.duration_minutes,
            "score": {"held": s.score.held, "attendance": s.score.attendance,
                      "preferred": s.score.preferred},
            "occurrences": [occurrence_dict(o) for o in s.occurrences]}


def plan_dict(plan: Plan) -> dict[str, Any]:
    """SPEC 6's plan document."""
    return {
        "status": plan.status,
        "objective": {"held": plan.objective.held, "attendance": plan.objective.attendance,
                      "preferred": plan.objective.preferred},
        "bound": {"held": plan.bound.held, "attendance": plan.bound.attendance},
        "solve_seconds": plan.solve_seconds,
        "series": [series_dict(s) for s in plan.series],
        "unscheduled": [{"match": u.match, "reason": u.reason} for u in plan.unscheduled],
    }


def heatmap_dict(hm: Heatmap, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """SPEC 7's heat map JSON, plus the day x time grid in ``zone`` when given."""
    out = hm.to_dict()
    if zone is not None:
        grid = hm.day_grid(zone)
        counts = hm.counts.tolist()  # Python ints: indexing numpy per cell is slow
        past = int(hm.past)
        out["view"] = {
            "timezone": grid.zone, "dates": grid.dates,
            "times": [f"{t // 60:02d}:{t % 60:02d}" for t in grid.times],
            "cells": [[None if s < 0 else {"slot": s, "count": counts[s], "past": s < past}
                       for s in row] for row in grid.slot.tolist()],
        }
    return out


def heatmap_csv(hm: Heatmap, zone: ZoneInfo) -> str:
    """One row per start slot: local start in ``zone``, count, everyone free, who is free."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["slot", "start", "count", "everyone", "past", "free"])
    grid = hm.availability.grid
    counts, n = hm.counts, len(hm.members)
    for i in range(grid.n_slots):
        free, _ = hm.who(i)
        writer.writerow([i, grid.slot_start(i).astimezone(zone).isoformat(), int(counts[i]),
                         int(counts[i] == n), int(i < hm.past), " ".join(free)])
    return buf.getvalue()
