"""Issue 13: a limit that a program document and an API request body share lives in one
place (ingest/document.py), so the document refuses what the API refuses."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from ingest.document import parse_program
from ingest.errors import DocumentError
from service import uploads
from service.config import Settings
from service.schemas import CalendarUpdate
from tests.service.inprocess import admin_app, call

# Calendar URLs the API's calendar body (PUT …/calendar) has always refused and a program
# document used to take: too long, white space inside, nothing after the scheme.
REFUSED_URLS = [
    "https://calendar.example.org/" + "a" * 2000 + ".ics",
    "https://calendar.example.org/my calendar.ics",
    "webcal://",
]


def program() -> dict:
    return {
        "version": 1,
        "program": {
            "id": "p1",
            "timezone": "America/New_York",
            "start": "2027-03-01",
            "end": "2027-04-26",
        },
        "members": [{"id": "mia"}, {"id": "al", "timezone": "Europe/London"}],
        "matches": [{"id": "mia-al", "members": ["mia", "al"]}],
    }


def _with_calendar(url: str) -> dict:
    doc = program()
    doc["members"][0]["calendars"] = [{"ics_url": url}]
    return doc


@pytest.mark.parametrize("url", REFUSED_URLS, ids=["too-long", "white-space", "empty"])
def test_a_document_refuses_the_calendar_urls_the_api_refuses(url):
    """The same ics_url limit in a program document as in the API's calendar body, with
    the field named."""
    with pytest.raises(ValidationError):
        CalendarUpdate.model_validate({"ics_url": url})
    with pytest.raises(DocumentError) as info:
        parse_program(_with_calendar(url))
    assert [e.path for e in info.value.errors] == ["members[0].calendars[0].ics_url"]


@pytest.mark.parametrize("url", REFUSED_URLS, ids=["too-long", "white-space", "empty"])
def test_a_stored_document_keeps_a_calendar_url_older_versions_let_in(url):
    """A document read back from the store is taken as stored (docs/rules.md): the limit
    applies where a URL enters, so what an older version stored does not lock a program."""
    doc = parse_program(_with_calendar(url), stored=True)
    assert doc.members[0].calendars[0].ics_url == url


@pytest.mark.parametrize("url", REFUSED_URLS, ids=["too-long", "white-space", "empty"])
def test_a_member_with_a_refused_calendar_url_is_a_422_before_any_fetch(
    url, tmp_path: Path, monkeypatch
):
    """PUT …/members/{id} with such a URL is a 422 naming calendars[0].ics_url, and nothing
    is fetched."""

    async def no_fetch(wanted: dict[str, str], _settings: Settings) -> dict[str, str]:
        assert not wanted, "a refused URL was fetched"
        return {}

    monkeypatch.setattr(uploads, "_fetch_all", no_fetch)
    member = {**program()["members"][0], "calendars": [{"ics_url": url}]}

    async def put(api: httpx.AsyncClient) -> httpx.Response:
        assert (await api.post("/api/programs", json=program())).status_code == 201
        return await api.put("/api/programs/p1/members/mia", json=member)

    with admin_app(Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}")) as (app, token):
        r = call(app, token, put)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "calendars[0].ics_url"


def test_a_plan_time_limit_has_one_cap_the_setting(tmp_path):
    """A plan may ask for any time: SLOTWISE_MAX_PLAN_TIME_LIMIT caps it (the request body
    had a second, fixed cap of 3,600 s that refused what a raised setting allowed)."""
    from sqlalchemy import select

    from service.store import jobs

    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", plan_time_limit=1, max_plan_time_limit=7200
    )

    async def start(api: httpx.AsyncClient) -> httpx.Response:
        assert (await api.post("/api/programs", json=program())).status_code == 201
        return await api.post("/api/programs/p1/plans", json={"time_limit": 5000})

    with admin_app(settings) as (app, token):
        r = call(app, token, start)
        assert r.status_code == 202, r.text
        with app.state.engine.connect() as conn:
            params = conn.execute(select(jobs.c.params)).scalar_one()
    assert '"time_limit":5000' in params.replace(" ", "")


def test_broken_limits_are_said_in_plain_words(tmp_path):
    """A bad video link, an over-long place and a count out of range are explained as
    people read them, not in pydantic's wording (review finding)."""
    from service.config import Settings
    from tests.service.inprocess import admin_app, call
    from tests.service.sample import program

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path / "out")
    with admin_app(settings) as (app, admin):

        async def steps(api):
            assert (await api.post("/api/programs", json=program())).status_code == 201
            url = "/api/programs/p1/matches/mia-al/series/preview"
            out = {}
            for name, body in {
                "video": {
                    "first_start": "2027-03-02T10:00:00-05:00",
                    "conferencing": {"video_url": "ftp://meet.example.org/x"},
                },
                "place": {
                    "first_start": "2027-03-02T10:00:00-05:00",
                    "conferencing": {"location": "x" * 501},
                },
                "count": {"first_start": "2027-03-02T10:00:00-05:00", "sessions": 900},
            }.items():
                r = await api.post(url, json=body)
                assert r.status_code == 422, r.text
                out[name] = r.json()["detail"]
            return out

        said = call(app, admin, steps)
    assert said["video"] == (
        "conferencing.video_url: must be a web address starting with https:// (or http://)"
    )
    assert said["place"] == "conferencing.location: is too long: at most 500 characters"
    assert said["count"].startswith("sessions: must be at most ")
    assert not any("should" in text for text in said.values())
