"""A sample series and its invite email, shared by the mail tests."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from service.email import imip_message
from service.invites import InviteSeries, Person, series_calendar

NY = ZoneInfo("America/New_York")
ANA = Person("ana", "Ana Silva", "ana@example.org")
BEN = Person("ben", "Bén Okafor", "ben@example.org")
SENDER = "Slotwise <invites@slotwise.example>"
SERIES = InviteSeries(
    uid="series-7@slotwise.example",
    sequence=0,
    summary="Mentoring: Ana & Ben",
    agenda="Goals for the term",
    zone="America/New_York",
    first_start=datetime(2026, 3, 3, 9, tzinfo=NY),
    duration_minutes=60,
    frequency="weekly",
    sessions=8,
    organizer=ANA,
    attendees=[ANA, BEN],
    required={"ana", "ben"},
    video_url="https://meet.example.org/ana-ben",
)
STAMP = datetime(2026, 1, 2, 12, tzinfo=UTC)


def invite(method: str = "REQUEST") -> tuple[bytes, EmailMessage]:
    ics = series_calendar(SERIES, method, STAMP)  # type: ignore[arg-type]
    text = "Ana invites you to 8 weekly sessions.\nJoin: https://meet.example.org/ana-ben"
    return ics, imip_message(SENDER, BEN, "Invitation: Mentoring: Ana & Ben", text, ics, method)
