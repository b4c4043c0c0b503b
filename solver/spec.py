"""What the solver needs to know of one match: plain values, resolved from the document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ingest.document import DAYS, Frequency, Match, ProgramDocument
from ingest.grid import SlotGrid, as_instant


@dataclass(frozen=True)
class Preference:
    """Preferred weekdays (0 = Monday) and a time window in the organizer's zone, minutes."""

    days: frozenset[int] | None = None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class MatchSpec:
    """One match, ready for scoring: who, how long, how often, from when."""

    id: str
    members: tuple[str, ...]
    required: tuple[str, ...]
    quorum: int
    zone: ZoneInfo
    frequency: Frequency
    sessions: int
    duration_minutes: int
    earliest: datetime
    preferred: Preference | None = None

    def slots(self, grid: SlotGrid) -> int:
        return self.duration_minutes // grid.granularity_minutes


def earliest_start(doc: ProgramDocument, match: Match, grid: SlotGrid) -> datetime:
    """SPEC 4: the later of program start, now and the match's earliest_start."""
    earliest = grid.t0
    if grid.now is not None:
        earliest = max(earliest, grid.now)
    if match.earliest_start is not None:
        earliest = max(earliest, as_instant(match.earliest_start, doc.organizer_zone(match)))
    return earliest


def match_spec(
    doc: ProgramDocument,
    match: Match,
    grid: SlotGrid,
    *,
    duration_minutes: int | None = None,
    frequency: Frequency | None = None,
    sessions: int | None = None,
    preferred: Preference | None = None,
) -> MatchSpec:
    """The match as the solver sees it; keyword overrides come from the proposals wizard."""
    required = tuple(doc.required_members(match))
    pref = preferred
    if pref is None and match.preferred is not None:
        p = match.preferred
        pref = Preference(
            frozenset(DAYS.index(d) for d in p.days) if p.days else None, p.start, p.end
        )
    return MatchSpec(
        id=match.id,
        members=tuple(match.members),
        required=required,
        # A group with nobody required holds when at least two members can come
        # (docs/rules.md); otherwise the required members decide.
        quorum=0 if required else min(2, len(match.members)),
        zone=doc.organizer_zone(match),
        frequency=frequency or match.frequency,
        sessions=sessions or match.sessions,
        duration_minutes=duration_minutes or match.duration_minutes,
        earliest=earliest_start(doc, match, grid),
        preferred=pref,
    )
