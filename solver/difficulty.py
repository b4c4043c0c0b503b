"""Who is hardest to schedule, and why: each member's tightest match, with the reasons a
coordinator can act on (few free hours, narrow windows, a wide time-zone gap)."""

from __future__ import annotations

import pandas as pd

from ingest.availability import Availability, build_availability
from ingest.document import ProgramDocument
from ingest.members import free_hours_per_week, longest_free_hours, utc_offset_hours

from .heatmap import heatmap

# Thresholds of the reasons given in the ``why`` column.
FEW_FREE_HOURS = 10.0  # a week
NARROW_WINDOW_HOURS = 3.0
WIDE_ZONE_GAP_HOURS = 3.0

DIFFICULTY_COLUMNS = (
    "timezone",
    "free_h_per_week",
    "match",
    "with",
    "mutual_h_per_week",
    "zone_gap_h",
    "longest_window_h",
    "why",
)


def hardest_to_schedule(doc: ProgramDocument, avail: Availability | None = None) -> pd.DataFrame:
    """One row per member (index ``member``), hardest to schedule first.

    For each of a member's matches: the hours a week at which they and the people who must
    attend with them (both of a pair, a group's organizer: ``doc.required_members``) can
    all start a session of the match's length. The match with the fewest such hours
    (``match``, ``with``, ``mutual_h_per_week``) decides; ``zone_gap_h`` is the largest
    UTC-offset gap to those people at the program's start, ``free_h_per_week`` and
    ``longest_window_h`` (longest stretch of free time) are the member's own, and ``why``
    lists the reasons past the thresholds above ("-" for none). A member in no match has
    NaN in the match columns and comes last.
    """
    avail = avail or build_availability(doc)
    grid = avail.grid
    weeks = (grid.end - grid.start).days / 7
    offset = {m.id: utc_offset_hours(doc, m.id, grid.t0) for m in doc.members}
    rows = []
    for m in doc.members:
        for x in (x for x in doc.matches if m.id in x.members):
            with_them = sorted(set(doc.required_members(x)) | {m.id})
            mutual = heatmap(avail, with_them, x.duration_minutes)
            others = [p for p in with_them if p != m.id]
            rows.append(
                {
                    "member": m.id,
                    "match": x.id,
                    "with": ", ".join(others) or "(organizer)",
                    "mutual_h_per_week": len(mutual.everyone)
                    * grid.granularity_minutes
                    / 60
                    / weeks,
                    "zone_gap_h": max((abs(offset[p] - offset[m.id]) for p in others), default=0.0),
                }
            )
    pairs = pd.DataFrame(
        rows, columns=["member", "match", "with", "mutual_h_per_week", "zone_gap_h"]
    )
    tightest = pairs.loc[pairs.groupby("member")["mutual_h_per_week"].idxmin()]
    ids = [m.id for m in doc.members]
    hard = pd.DataFrame(
        {
            "timezone": [doc.member_zone(i).key for i in ids],
            "free_h_per_week": [free_hours_per_week(avail, i) for i in ids],
        },
        index=pd.Index(ids, name="member"),
    ).join(tightest.set_index("member"))
    hard["longest_window_h"] = [longest_free_hours(avail, i) for i in ids]
    hard["why"] = [_why(row) for _, row in hard.iterrows()]
    return hard.sort_values("mutual_h_per_week")


def _why(row: pd.Series) -> str:
    reasons = []
    if row.free_h_per_week < FEW_FREE_HOURS:
        reasons.append(f"few free hours ({row.free_h_per_week:.1f} h/week)")
    if row.longest_window_h <= NARROW_WINDOW_HOURS:
        reasons.append(f"narrow windows (at most {row.longest_window_h:g} h)")
    if row.zone_gap_h >= WIDE_ZONE_GAP_HOURS:
        reasons.append(f"{row.zone_gap_h:g} h zone gap to {row['with']}")
    if row.mutual_h_per_week == 0:
        reasons.append(f"never free together with {row['with']} for {row.match}")
    return "; ".join(reasons) or "-"
