"""Heat maps, proposals and plans as pandas DataFrames, for notebooks and analysis.

pandas stays in this module (and ``wallclock``, ``difficulty``): the rest of the solver
works on numpy arrays and dataclasses. Every instant in a frame is a UTC ``Timestamp``; a series'
``timezone`` column says which zone it recurs in (``df.start.dt.tz_convert(zone)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ingest.availability import Availability
from ingest.document import Frequency, ProgramDocument, format_clock

from .heatmap import Heatmap
from .proposals import propose
from .result import Plan, Series
from .spec import Preference

# Heat-map columns by weekday: the document's days (ingest.document.DAYS, Monday first) as
# people read them. Not calendar.day_abbr, which follows the locale a notebook may set.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

SERIES_COLUMNS = (
    "match",
    "first_start",
    "timezone",
    "frequency",
    "rrule",
    "duration_minutes",
    "sessions",
    "held",
    "attendance",
    "preferred",
)
OCCURRENCE_COLUMNS = (
    "match",
    "occurrence",
    "start",
    "end",
    "holds",
    "attending",
    "missing",
    "alternative",
)
UNSCHEDULED_COLUMNS = ("match", "reason")
UTC_TIME = "datetime64[ns, UTC]"  # one resolution whatever pandas infers (s, us or ns)


def heatmap_frame(
    hm: Heatmap,
    zone: ZoneInfo | str,
    by: Literal["date", "weekday"] = "date",
    value: Literal["count", "share", "everyone"] = "count",
) -> pd.DataFrame:
    """A heat map as times of day (rows, ``"HH:MM"`` in ``zone``) x dates or weekdays.

    ``by="date"``: one column per local date (``"YYYY-MM-DD"``); a cell is ``hm.counts``
    of the slot starting then, NaN where no slot starts (outside the horizon in ``zone``,
    or inside a DST gap). At a fall-back fold the first of the two slots is shown, as in
    every heat-map view. Past slots count 0: nobody is available in the past (SPEC 1).
    ``by="weekday"``: one column per weekday (``"Mon"`` .. ``"Sun"``, all seven), the mean
    over the dates of that weekday that have the slot.
    ``value="share"`` divides counts by the number of members; ``value="everyone"`` is 1.0
    where every member can attend ("everyone is free", SPEC 3), else 0.0, so its weekday
    mean is the fraction of weeks in which everyone can meet then.
    """
    if by not in ("date", "weekday"):
        raise ValueError(f'by must be "date" or "weekday", not {by!r}')
    if value not in ("count", "share", "everyone"):
        raise ValueError(f'value must be "count", "share" or "everyone", not {value!r}')
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    days = hm.day_grid(zone)
    n = len(hm.members)
    values = hm.counts.astype(np.float64)
    if value == "share":
        values = values / n if n else np.full_like(values, np.nan)
    elif value == "everyone":
        values = (hm.counts == n).astype(np.float64) if n else np.zeros_like(values)
    cells = np.where(days.slot >= 0, values[np.maximum(days.slot, 0)], np.nan)  # (dates, times)
    frame = pd.DataFrame(
        cells.T,
        index=pd.Index(_clock(days.times), name="time"),
        columns=pd.Index(days.dates, name="date"),
    )
    if by == "date":
        return frame
    weekday = np.array([date.fromisoformat(d).weekday() for d in days.dates], dtype=np.int64)
    means = frame.T.groupby(weekday).mean().T.reindex(columns=range(7))
    means.columns = pd.Index(WEEKDAYS, name="weekday")
    return means


def _clock(minutes: Iterable[int]) -> list[str]:
    return [format_clock(t) for t in minutes]


def series_frame(series_list: Iterable[Series]) -> pd.DataFrame:
    """One row per series, in the given order: when it starts, how it recurs, its score.

    ``first_start`` is UTC; ``sessions`` counts occurrences; ``held``, ``attendance`` and
    ``preferred`` are SPEC 5's criteria (occurrences that hold, members attending them,
    those in the preferred window).
    """
    rows = [
        (
            s.match,
            s.first_start,
            s.timezone,
            s.frequency,
            s.rrule,
            s.duration_minutes,
            len(s.occurrences),
            s.score.held,
            s.score.attendance,
            s.score.preferred,
        )
        for s in series_list
    ]
    frame = pd.DataFrame(rows, columns=list(SERIES_COLUMNS))
    frame["first_start"] = pd.to_datetime(frame["first_start"], utc=True)
    ints = ["duration_minutes", "sessions", "held", "attendance", "preferred"]
    return frame.astype(
        {
            **dict.fromkeys(["match", "timezone", "frequency"], "str"),
            "first_start": UTC_TIME,
            **dict.fromkeys(ints, "int64"),
        }
    )


def occurrence_frame(series_list: Iterable[Series]) -> pd.DataFrame:
    """One row per occurrence of every series: when, whether it holds, who can come.

    ``occurrence`` numbers a series' occurrences from 1; ``attending`` is how many members
    can attend; ``missing`` lists those who cannot, comma-separated (``""`` when nobody
    is missing); ``alternative`` is SPEC 6's one-off move (NaT when there is none).
    ``start``, ``end`` and ``alternative`` are UTC.
    """
    rows = [
        (s.match, j, o.start, o.end, o.holds, len(o.attending), ", ".join(o.missing), o.alternative)
        for s in series_list
        for j, o in enumerate(s.occurrences, start=1)
    ]
    frame = pd.DataFrame(rows, columns=list(OCCURRENCE_COLUMNS))
    for col in ("start", "end", "alternative"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.astype(
        {
            "match": "str",
            "occurrence": "int64",
            "start": UTC_TIME,
            "end": UTC_TIME,
            "holds": "bool",
            "attending": "int64",
            "missing": "str",
            "alternative": UTC_TIME,
        }
    )


def plan_frames(plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A plan as (series, occurrences, unscheduled) frames; unscheduled has match, reason."""
    unscheduled = pd.DataFrame(
        [(u.match, u.reason) for u in plan.unscheduled], columns=list(UNSCHEDULED_COLUMNS)
    ).astype("str")
    return series_frame(plan.series), occurrence_frame(plan.series), unscheduled


def proposals(
    doc: ProgramDocument,
    match_id: str,
    avail: Availability | None = None,
    limit: int = 5,
    *,
    duration_minutes: int | None = None,
    frequency: Frequency | None = None,
    sessions: int | None = None,
    preferred: Preference | None = None,
) -> list[Series]:
    """The ``limit`` best candidate series of one match alone (SPEC 5), best first; an
    empty list means no series holds even once. See :func:`solver.proposals.propose`."""
    return propose(
        doc,
        match_id,
        avail,
        limit,
        duration_minutes=duration_minutes,
        frequency=frequency,
        sessions=sessions,
        preferred=preferred,
    ).series


def best_weekly_time(hm: Heatmap, zone: ZoneInfo | str) -> str | None:
    """The weekday and local time (``"Tue 14:00"`` in ``zone``) at which every member of
    ``hm`` can attend in the most weeks; None when they never can."""
    weeks_free = heatmap_frame(hm, zone, by="weekday", value="everyone").stack()
    if not weeks_free.max() > 0:
        return None
    clock, weekday = cast(tuple[str, str], weeks_free.idxmax())
    return f"{weekday} {clock}"


def first_come_first_served_frame(
    doc: ProgramDocument, avail: Availability | None = None
) -> pd.DataFrame:
    """``solver.peers.first_come_first_served`` as a frame: one row per match (index
    ``match``, document order), its series' ``held`` and ``attendance`` (0 when it got
    none)."""
    from .peers import first_come_first_served

    return pd.DataFrame(
        [
            (m, s.held if s else 0, s.attendance if s else 0)
            for m, s in first_come_first_served(doc, avail)
        ],
        columns=["match", "held", "attendance"],
    ).set_index("match")
