"""A program's members for analysis: their UTC offsets and free time, and what-ifs on caps."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from .availability import Availability
from .document import ProgramDocument, parse_program


def utc_offset_hours(doc: ProgramDocument, member_id: str, at: datetime) -> float:
    """The member's UTC offset at the instant ``at`` (aware), in hours: their zone's, else
    the program's (``doc.member_zone``)."""
    offset = at.astimezone(doc.member_zone(member_id)).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset.total_seconds() / 3600


def free_hours_per_week(avail: Availability, member_id: str) -> float:
    """Hours the member is free, on average per week of the grid."""
    weeks = (avail.grid.end - avail.grid.start).days / 7
    return int(avail.column(member_id).sum()) * avail.grid.granularity_minutes / 60 / weeks


def longest_free_hours(avail: Availability, member_id: str) -> float:
    """The member's longest stretch of consecutive free slots, in hours (0 if never free)."""
    edges = np.flatnonzero(np.diff(np.r_[0, avail.column(member_id).astype(int), 0]))
    runs = np.diff(edges)[::2]  # (start, end) pairs of free runs
    return (int(runs.max()) if len(runs) else 0) * avail.grid.granularity_minutes / 60


def with_weekly_cap(doc: ProgramDocument, cap: int | None) -> ProgramDocument:
    """``doc`` with every member's ``max_sessions_per_week`` set to ``cap`` (None: no cap),
    validated again like any document. Availability does not depend on caps, so one
    ``build_availability(doc)`` serves every variant."""
    data = doc.model_dump(mode="json", exclude_none=True)
    for member in data["members"]:
        member.pop("max_sessions_per_week", None)
        if cap is not None:
            member["max_sessions_per_week"] = cap
    changed = parse_program(data)
    changed._base_dir = doc.base_dir
    return changed
