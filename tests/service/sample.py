"""The small program the service tests share, and a member calendar for it."""

from __future__ import annotations

TUESDAY_BUSY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:busy-1@test
DTSTAMP:20270101T000000Z
DTSTART;TZID=America/New_York:20270302T100000
DTEND;TZID=America/New_York:20270302T110000
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""


def program(pid: str = "p1") -> dict:
    """Eight weeks across the March DST change; a mentor shared by three pairs and a group."""
    people = [
        ("mia", "America/New_York"),
        ("al", "Europe/London"),
        ("bo", "America/Chicago"),
        ("cy", "America/New_York"),
    ]
    return {
        "version": 1,
        "program": {
            "id": pid,
            "name": "Test cohort",
            "timezone": "America/New_York",
            "start": "2027-03-01",
            "end": "2027-04-26",
            "granularity_minutes": 15,
            "now": "2027-03-01T00:00:00Z",
        },
        "members": [
            {"id": m, "name": m.title(), "email": f"{m}@example.org", "timezone": z}
            for m, z in people
        ],
        "matches": [
            *(
                {
                    "id": f"mia-{m}",
                    "members": ["mia", m],
                    "organizer": "mia",
                    "duration_minutes": 60,
                    "frequency": "weekly",
                    "sessions": 4,
                }
                for m in ("al", "bo", "cy")
            ),
            {
                "id": "circle",
                "members": ["mia", "al", "bo", "cy"],
                "organizer": "mia",
                "duration_minutes": 60,
                "frequency": "biweekly",
                "sessions": 2,
            },
        ],
    }
