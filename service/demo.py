"""A small realistic demo program, so a newcomer sees heat maps and proposals at once.

Mentors in three continents, mentees with narrow windows and a vacation, two facilitated
groups; it starts next Monday and runs twelve weeks.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

DEMO_ID = "demo"
# The demo program's admin by email (signs in with a link the demo prints).
DEMO_ADMIN = "admin@demo.example"

_PEOPLE = [
    # id, name, zone, (days, start, end) windows or None for working hours
    ("ana", "Ana Silva", "Europe/Lisbon", [("MO TU TH", "14:00", "18:30")]),
    (
        "ben",
        "Ben Okafor",
        "America/New_York",
        [("TU TH", "08:00", "12:00"), ("WE", "15:00", "17:00")],
    ),
    ("cara", "Cara Nguyen", "America/Los_Angeles", None),
    ("dan", "Dan Weiss", "America/Chicago", [("MO WE FR", "10:00", "13:00")]),
    ("eve", "Eve Adeyemi", "Africa/Lagos", [("TU WE TH", "15:00", "19:00")]),
    ("fay", "Fay Larsen", "Europe/Oslo", [("MO TU", "16:00", "20:00")]),
    ("gus", "Gus Moreno", "America/Mexico_City", None),
    ("hana", "Hana Sato", "Asia/Tokyo", [("TU WE TH", "16:00", "19:00")]),
    ("ian", "Ian Kelly", "Europe/Dublin", [("MO TU WE TH FR", "12:00", "14:00")]),
    ("jo", "Jo Mensah", "Europe/London", [("WE TH", "09:00", "17:00")]),
    ("kai", "Kai Fischer", "Europe/Berlin", None),
    ("lea", "Lea Rossi", "Europe/Rome", [("MO TH", "17:00", "21:00")]),
    ("max", "Max Cohen", "America/Toronto", [("TU TH FR", "09:00", "11:30")]),
    ("nia", "Nia Patel", "Asia/Kolkata", [("MO TU WE", "12:30", "15:00")]),
    ("oli", "Oli Brown", "Australia/Sydney", [("MO TU WE TH", "18:00", "21:00")]),
    ("pia", "Pia Novak", "Europe/Prague", None),
]

_MATCHES = [
    ("ana-ben", ["ana", "ben"], 60, "weekly", 12, {"days": ["TU"]}),
    ("cara-dan", ["cara", "dan"], 45, "biweekly", 6, None),
    ("eve-fay", ["eve", "fay"], 30, "weekly", 12, None),
    ("ben-max", ["ben", "max"], 60, "weekly", 12, None),
    ("ian-jo", ["ian", "jo"], 60, "monthly", 3, None),
    ("nia-oli", ["nia", "oli"], 30, "weekly", 8, None),
    ("hana-oli", ["hana", "oli"], 45, "biweekly", 6, None),
]

_GROUPS = [
    (
        "circle-emea",
        "jo",
        ["jo", "ana", "eve", "fay", "ian", "kai", "lea", "pia"],
        60,
        "biweekly",
        6,
    ),
    ("circle-americas", "ben", ["ben", "cara", "dan", "gus", "max"], 45, "weekly", 10),
]


def next_monday(today: date) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def demo_program(today: date, weeks: int = 12, seed: int = 7) -> dict[str, Any]:
    """The demo program document (SPEC 6), starting the Monday after ``today``."""
    rng = random.Random(seed)
    start = next_monday(today)
    members = []
    for pid, name, zone, windows in _PEOPLE:
        m: dict[str, Any] = {
            "id": pid,
            "name": name,
            "email": f"{pid}@example.org",
            "timezone": zone,
            "max_sessions_per_week": 4,
        }
        if windows:
            m["weekly"] = [{"days": d.split(), "start": s, "end": e} for d, s, e in windows]
        if rng.random() < 0.35:  # a week of vacation somewhere in the term
            off = start + timedelta(days=rng.randrange(14, weeks * 7 - 7))
            m["unavailable"] = [
                {"start": off.isoformat(), "end": (off + timedelta(days=7)).isoformat()}
            ]
        members.append(m)
    matches: list[dict[str, Any]] = []
    for xid, who, minutes, freq, n, pref in _MATCHES:
        x: dict[str, Any] = {
            "id": xid,
            "members": who,
            "organizer": who[0],
            "duration_minutes": minutes,
            "frequency": freq,
            "sessions": n,
            "conferencing": {"video_url": f"https://meet.example.org/{xid}"},
            "agenda": "Goals for the term; what went well; next steps.",
        }
        if pref:
            x["preferred"] = pref
        matches.append(x)
    for xid, lead, who, minutes, freq, n in _GROUPS:
        matches.append(
            {
                "id": xid,
                "members": who,
                "organizer": lead,
                "duration_minutes": minutes,
                "frequency": freq,
                "sessions": n,
                "conferencing": {
                    "location": "Room 4.2, and online",
                    "video_url": f"https://meet.example.org/{xid}",
                },
                "agenda": "Round of updates, one deep dive, commitments.",
            }
        )
    return {
        "version": 1,
        "program": {
            "id": DEMO_ID,
            "name": "Demo cohort",
            "timezone": "America/New_York",
            "start": start.isoformat(),
            "end": (start + timedelta(weeks=weeks)).isoformat(),
            "granularity_minutes": 15,
        },
        "members": members,
        "matches": matches,
        "bookings": [],
    }


def demo_people() -> list[tuple[str, str, str]]:
    """(role, name, email) of three people to sign in as: the program admin, the
    facilitator of the first group, and a mentee (a member of a pair who organizes
    nothing)."""
    names = {pid: name for pid, name, _, _ in _PEOPLE}
    organizers = {who[0] for _, who, *_ in _MATCHES} | {lead for _, lead, *_ in _GROUPS}
    lead = _GROUPS[0][1]
    mentee = next(m for _, who, *_ in _MATCHES for m in who if m not in organizers)
    return [
        ("program admin", "Demo admin", DEMO_ADMIN),
        (f"facilitator of {_GROUPS[0][0]}", names[lead], f"{lead}@example.org"),
        ("mentee", names[mentee], f"{mentee}@example.org"),
    ]
