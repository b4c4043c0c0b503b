"""Plans and heat maps as the JSON documents of SPEC 6 and 7."""

from __future__ import annotations

import base64
import csv
import io
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from pydantic_core import to_json

from ingest.document import format_clock
from solver.heatmap import Heatmap, day_grid
from solver.result import Occurrence, Plan, Series


def occurrence_dict(o: Occurrence) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": o.start.isoformat(),
        "end": o.end.isoformat(),
        "holds": o.holds,
        "attending": list(o.attending),
        "missing": list(o.missing),
    }
    if o.alternative is not None:
        out["alternative"] = o.alternative.isoformat()
    return out


def series_dict(s: Series) -> dict[str, Any]:
    return {
        "match": s.match,
        "timezone": s.timezone,
        "frequency": s.frequency,
        "rrule": s.rrule,
        "first_start": s.first_start.isoformat(),
        "duration_minutes": s.duration_minutes,
        "score": {
            "held": s.score.held,
            "attendance": s.score.attendance,
            "preferred": s.score.preferred,
        },
        "occurrences": [occurrence_dict(o) for o in s.occurrences],
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    """SPEC 6's plan document."""
    return {
        "status": plan.status,
        "objective": {
            "held": plan.objective.held,
            "attendance": plan.objective.attendance,
            "preferred": plan.objective.preferred,
        },
        "bound": {"held": plan.bound.held, "attendance": plan.bound.attendance},
        "solve_seconds": plan.solve_seconds,
        "series": [series_dict(s) for s in plan.series],
        "unscheduled": [{"match": u.match, "reason": u.reason} for u in plan.unscheduled],
    }


# A heat map answers for a window of weeks, so its size does not grow with the horizon:
# a quarter by default, half a year at most (issue 12: a 366-day 5-minute horizon made
# responses of hundreds of MB).
HEATMAP_WEEKS = 13
MAX_HEATMAP_WEEKS = 26


def heatmap_window(
    hm: Heatmap, zone: ZoneInfo, first_day: date | None = None, weeks: int = HEATMAP_WEEKS
) -> dict[str, Any]:
    """The heat map over ``weeks`` weeks of dates in the viewer's ``zone`` from
    ``first_day`` (default: the horizon's first), as the API answers it (without the
    match and names: see :func:`heatmap_json`).

    SPEC 7's fields, with ``counts`` for the window's slots only (``counts[i]`` is slot
    ``window.first_slot + i``; every other slot index is absolute), the first slot not in
    the past (``past``), the viewer-zone day x time grid (``view.slots``, see
    :func:`_day_rows`) and, per member, a bitmap of the
    start slots they can attend (``free``). Each number is sent once: the page looks a
    cell's count up in ``counts``, so the answer does not grow by an object per cell.
    Keys come in ``schemas.HeatmapPublic``'s order.
    """
    return _heatmap_dict(hm, zone, first_day, weeks)


def heatmap_json(
    hm: Heatmap,
    zone: ZoneInfo,
    first_day: date | None,
    weeks: int,
    match: str,
    names: dict[str, str],
) -> bytes:
    """:func:`heatmap_window` with the match and its members' names, as the bytes of the
    API's answer: the JSON FastAPI writes for ``schemas.HeatmapPublic`` (its key order,
    compact UTF-8), encoded once instead of validated again on the way out
    (``tests/service/test_heatmap_json.py`` checks the two are the same bytes)."""
    _, out = _heatmap_parts(hm, zone, first_day, weeks, match, names)
    out["counts"] = _ints_json(out["counts"])
    # Encoded a field at a time, so that the two big ones skip the generic encoder: the
    # counts (two thirds of the bytes) from numpy straight to digits, and the window's
    # day x time grid as the bytes encoded once per window. 0.42 ms before, for a pair's
    # 13-week answer of 25 KB.
    fields = [
        b'"' + key.encode() + b'":' + (value if isinstance(value, bytes) else to_json(value))
        for key, value in out.items()
    ]
    return b"{" + b",".join(fields) + b"}"


def _ints_json(a: np.ndarray) -> bytes:
    """A 1-D array of integers as a JSON list: the bytes ``to_json(a.tolist())`` writes.
    Counts of under ten members are one digit each, written in one numpy pass (about
    10 us for 8,000 slots against 100 us for ``tolist`` and as much again to encode)."""
    if a.size and int(a.min()) >= 0 and int(a.max()) <= 9:
        text = np.full(2 * a.size + 1, ord(","), dtype=np.uint8)
        text[0], text[-1] = ord("["), ord("]")
        text[1:-1:2] = a + ord("0")
        return text.tobytes()
    return to_json(a.tolist())


def _heatmap_dict(
    hm: Heatmap,
    zone: ZoneInfo,
    first_day: date | None,
    weeks: int,
    match: str | None = None,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    w, out = _heatmap_parts(hm, zone, first_day, weeks, match, names)
    out["counts"] = out["counts"].tolist()  # Python ints: numpy per cell is slow
    out["view"], out["window"] = dict(w.view), dict(w.window)
    return out


def _heatmap_parts(
    hm: Heatmap,
    zone: ZoneInfo,
    first_day: date | None,
    weeks: int,
    match: str | None,
    names: dict[str, str] | None,
) -> tuple[_Window, dict[str, Any]]:
    """The answer's fields in ``schemas.HeatmapPublic``'s order, ``counts`` as the numpy
    array of the window and ``view`` as its JSON (see :func:`heatmap_json`)."""
    grid = hm.availability.grid
    w = _window(grid.zone, grid.start, grid.end, grid.granularity_minutes, zone, first_day, weeks)
    everyone = hm.everyone
    out: dict[str, Any] = {
        "start": grid.t0.isoformat(),
        "granularity_minutes": grid.granularity_minutes,
        "duration_minutes": hm.duration_minutes,
        "members": list(hm.members),
        "counts": hm.counts[w.lo : w.hi],
        "everyone": everyone[(everyone >= w.lo) & (everyone < w.hi)].tolist(),
        "past": int(hm.past),
        "view": w.view_json,
    }
    if match is not None:
        out["match"] = match
    if names is not None:
        out["names"] = names
    out["free"] = _bitmaps(hm.attend[w.lo : w.hi])
    out["window"] = w.window_json
    return w, out


@dataclass(frozen=True)
class _Window:
    """What a window of a heat map shows that depends only on the grid, the viewer's
    zone and the dates asked for (shared between answers: never changed)."""

    lo: int
    hi: int
    window: dict[str, Any]
    view: dict[str, Any]
    window_json: bytes
    view_json: bytes


@lru_cache(maxsize=256)
def _window(
    program_zone: ZoneInfo,
    start: date,
    end: date,
    granularity_minutes: int,
    zone: ZoneInfo,
    first_day: date | None,
    weeks: int,
) -> _Window:
    """The slots, dates and day x time grid of a window: the same for every match of a
    program (and every ``now``), so built once per grid, zone and window, not per answer."""
    grid = day_grid(program_zone, start, end, granularity_minutes, zone)
    d0 = 0 if first_day is None else bisect_left(grid.dates, first_day.isoformat())
    rows = grid.slot[d0 : d0 + 7 * weeks]
    inside = rows[rows >= 0]
    lo, hi = (int(inside.min()), int(inside.max()) + 1) if inside.size else (0, 0)
    dates = grid.dates[d0 : d0 + 7 * weeks]
    window = {
        "first_slot": lo,
        "slots": hi - lo,
        "first_date": dates[0] if dates else None,
        "last_date": dates[-1] if dates else None,
        "earlier": d0 > 0,
        "later": d0 + 7 * weeks < len(grid.dates),
    }
    view = {
        "timezone": grid.zone,
        "dates": dates,
        "times": [format_clock(t) for t in grid.times],
        "slots": _day_rows(rows),
    }
    return _Window(lo, hi, window, view, to_json(window), to_json(view))


def _day_rows(rows: np.ndarray) -> list[int | list[int]]:
    """Each date's slots (one per time of day), compactly: a date whose times are
    consecutive slots (every date but those of a DST change or the horizon's ends) is the
    slot of its first time, an int; any other date is the list of its slots (-1: none).
    A 13-week answer holds about a hundred numbers instead of nine thousand."""
    if rows.size == 0:
        return [[] for _ in range(len(rows))]
    first = rows[:, 0]
    regular = (first >= 0) & (rows == first[:, None] + np.arange(rows.shape[1])).all(axis=1)
    return [int(f) if ok else row.tolist() for f, ok, row in zip(first, regular, rows, strict=True)]


def _bitmaps(attend: np.ndarray) -> list[str]:
    """Per column of a (slots, members) bool matrix, its bits packed little-endian (bit i
    of byte i // 8 is row i) and base64-encoded: a fixed size per member, however their
    free time is cut up."""
    packed = np.packbits(attend.T, axis=1, bitorder="little")
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in packed]


def heatmap_csv(hm: Heatmap, zone: ZoneInfo) -> str:
    """One row per start slot: local start in ``zone``, count, everyone free, who is free."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["slot", "start", "count", "everyone", "past", "free"])
    grid = hm.availability.grid
    counts, n = hm.counts, len(hm.members)
    for i in range(grid.n_slots):
        free, _ = hm.who(i)
        writer.writerow(
            [
                i,
                grid.slot_start(i).astimezone(zone).isoformat(),
                int(counts[i]),
                int(counts[i] == n),
                int(i < hm.past),
                " ".join(free),
            ]
        )
    return buf.getvalue()
