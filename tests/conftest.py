"""Shared fixtures: small valid program documents to build tests on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

BASE_PROGRAM: dict[str, Any] = {
    "version": 1,
    "program": {
        "id": "spring-2027", "name": "Spring cohort", "timezone": "America/New_York",
        "start": "2027-01-04", "end": "2027-04-05", "granularity_minutes": 15,
        "now": "2027-01-04T14:00:00Z",
    },
    "members": [
        {"id": "ana", "name": "Ana Silva", "email": "ana@example.org",
         "timezone": "Europe/Lisbon",
         "weekly": [{"days": ["TU", "TH"], "start": "14:00", "end": "18:30"}],
         "unavailable": [{"start": "2027-02-15T00:00", "end": "2027-02-20T00:00"}]},
        {"id": "ben", "name": "Ben Okafor", "email": "ben@example.org",
         "timezone": "America/New_York"},
    ],
    "matches": [
        {"id": "ana-ben", "members": ["ana", "ben"], "organizer": "ana",
         "duration_minutes": 60, "sessions": 8, "frequency": "weekly"},
    ],
}


@pytest.fixture
def program_dict() -> dict[str, Any]:
    """A fresh, valid program document as a dict (mutate freely)."""
    return copy.deepcopy(BASE_PROGRAM)
