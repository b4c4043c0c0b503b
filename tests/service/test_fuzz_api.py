"""SPEC 8 / issue 8: schemathesis fuzzes every operation of the app's own OpenAPI schema.

In process (ASGI, no network), against a SQLite file seeded with the demo program, a
booked series and a finished plan. Most requests carry a real admin token and real ids, so
authorised paths are exercised, not only 401s and 404s. Every response must be no 5xx,
have a documented status code and content type, and match its documented schema.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from datetime import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import ingest.fetch
from service.app import create_app
from service.auth import create_token
from service.config import Settings
from service.demo import DEMO_ID, demo_program
from service.signin import new_link
from tests.service.clock import program_now

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ICS = Path(__file__).parents[1] / "data" / "ics"
CALENDAR = (ICS / "google_xwr_timezone.ics").read_bytes()
# Real calendars, good and broken, sent as text/calendar bodies some of the time.
CALENDARS = [p.read_bytes() for p in sorted(ICS.glob("*.ics"))]


@schemathesis.serializer("message/rfc822")
def _raw_mail(_: Any, value: Any) -> bytes:
    """The inbound webhook's body is a raw mail message: what was generated, as bytes."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


SEED = 20270104
# Series shapes that fit a demo program (the match's own, a one-off, a short monthly one).
FITTING = [
    {},
    {"frequency": "once", "sessions": 1},
    {"frequency": "monthly", "sessions": 2, "duration_minutes": 30},
]


def _config(phase: str) -> schemathesis.Config:
    """One phase: "examples" (the schema's own examples) or "fuzzing" (bounded by
    max_examples); a fixed seed, so CI reproduces a run."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"database": "none"},
            "phases": {
                name: {"enabled": name == phase}
                for name in ("examples", "coverage", "fuzzing", "stateful")
            },
        }
    )


def _seed(client: ASGIClient, token: str) -> dict[str, list[str]]:
    """The demo program, one booked series, one finished plan: real ids for every path."""
    client.headers["Authorization"] = f"Bearer {token}"
    try:
        return _seed_demo(client)
    finally:
        del client.headers["Authorization"]


def _seed_demo(client: ASGIClient) -> dict[str, list[str]]:
    doc = demo_program(date.today())
    assert client.post("/api/programs", json=doc).status_code == 201
    starts = [
        p["first_start"]
        for x in ("ana-ben", "eve-fay", "circle-emea")
        for p in client.post(
            f"/api/programs/{DEMO_ID}/matches/{x}/proposals", json={"limit": 3}
        ).json()["proposals"]
    ]
    booked = client.post(
        f"/api/programs/{DEMO_ID}/matches/ana-ben/series", json={"first_start": starts[0]}
    )
    assert booked.status_code == 201, booked.text
    series = booked.json()
    job = client.post(
        f"/api/programs/{DEMO_ID}/plans", json={"time_limit": 1, "matches": ["eve-fay"]}
    ).json()["job"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/jobs/{job}").json()["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the seed plan did not finish"
        time.sleep(0.1)
    link = client.post(f"/api/programs/{DEMO_ID}/members/ana/feed-token").json()["url"]
    return {
        "pid": [DEMO_ID],
        "mid": [m["id"] for m in doc["members"]],
        "feed": [link.rsplit("/", 1)[1].removesuffix(".ics")],
        "xid": [x["id"] for x in doc["matches"]],
        "sid": [series["id"]],
        "oid": [s["id"] for s in series["sessions"]],
        "jid": [job],
        "start": starts + [s["start"] for s in series["sessions"]],
    }


def _openapi() -> dict[str, Any]:
    """The app's OpenAPI document, read at collection time (operations become test ids)."""
    app = create_app(Settings(db_url="sqlite://"))
    try:
        return app.openapi()
    finally:
        app.state.executor.shutdown()
        app.state.engine.dispose()


# from_dict, not from_fixture: schemathesis' lazy fixture schemas do not run on pytest 9.
OPENAPI = _openapi()
examples = schemathesis.openapi.from_dict(OPENAPI, config=_config("examples"))
fuzzing = schemathesis.openapi.from_dict(OPENAPI, config=_config("fuzzing"))


@contextmanager
def _seeded_app(
    tmp: Path, undo_seconds: int = 0
) -> Iterator[tuple[ASGIClient, str, dict[str, list[str]]]]:
    """(in-process client, admin token, real ids by path parameter) of a seeded app; its
    bookings can be undone for ``undo_seconds`` (none by default: fuzzed undos would
    remove the seeded series)."""
    app = create_app(
        Settings(
            db_url=f"sqlite:///{tmp / 'db.sqlite'}",
            outbox=tmp / "outbox",
            plan_time_limit=1,
            max_plan_time_limit=1,
            retry_seconds=3600,
            undo_seconds=undo_seconds,
        )
    )
    token = create_token(app.state.engine, "admin")
    # Calendar URLs are fetched; these tests stay off the network.
    mp = pytest.MonkeyPatch()

    async def fetch(url: str, **_: object) -> bytes:
        return CALENDAR

    mp.setattr(ingest.fetch, "fetch_ics_async", fetch)
    # Requests over ASGI, in process. Not entered, so it starts no lifespan: schemathesis
    # ends every lifespan after each test, and the app's executor does not outlive one.
    client = ASGIClient(app)
    try:
        yield client, token, _seed(client, token)
    finally:
        app.state.executor.shutdown(wait=True, cancel_futures=True)
        app.state.engine.dispose()
        mp.undo()


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory):
    """The seeded app the examples and the fuzzing share."""
    with _seeded_app(tmp_path_factory.mktemp("fuzz_api")) as target:
        yield target


def _send(client: ASGIClient, case: Any, token: str | None) -> Any:
    """Send ``case`` (with ``token`` if given); check the response against the schema."""
    headers = dict(case.headers or {})
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    case.headers = headers
    # case.call() would go through requests' connection accounting, which this urllib3
    # breaks; the in-process client sends the same request.
    response = client.request(**case.as_transport_kwargs(base_url="http://testserver"))
    case.validate_response(response, checks=CHECKS)
    return response


@examples.include(
    name=[
        "POST /api/programs",
        "PUT /api/programs/{pid}/members/{mid}",
        "PUT /api/programs/{pid}/members/{mid}/calendar",
        "POST /api/programs/{pid}/matches",
    ]
).parametrize()
@settings(deadline=None, database=None)
def test_api_examples(case: Any, fuzz_target: Any) -> None:
    """The schema's own request examples, with real ids: accepted, and documented."""
    client, token, ids = fuzz_target
    for name in case.path_parameters or {}:
        case.path_parameters[name] = ids[name][0]
    _send(client, case, token)


@fuzzing.parametrize()
@fuzzing.given(data=st.data())
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_fuzz(case: Any, data: st.DataObject, fuzz_target: Any) -> None:
    """No 5xx; every status code, content type and body is the one the OpenAPI page names."""
    client, token, ids = fuzz_target
    for name in list(case.path_parameters or {}):
        if name in ids:
            generated = case.path_parameters[name]
            case.path_parameters[name] = data.draw(
                st.sampled_from(ids[name]) | st.just(generated), label=name
            )
    # Some of the time a grid-aligned start inside the program and a length and count that
    # fit it, so bookings and moves can succeed.
    body = case.body
    if (
        isinstance(body, dict)
        and {"first_start", "start"} & set(body)
        and data.draw(st.booleans(), label="real start")
    ):
        for key in {"first_start", "start"} & set(body):
            body[key] = data.draw(st.sampled_from(ids["start"]), label=key)
        for key in ("duration_minutes", "frequency", "sessions"):
            body.pop(key, None)
        if "first_start" in body:
            body.update(data.draw(st.sampled_from(FITTING), label="series"))
    if case.media_type == "text/calendar" and data.draw(st.booleans(), label="real calendar"):
        case.body = data.draw(st.sampled_from(CALENDARS), label="calendar")
    # Mostly the admin token (authorised paths); sometimes none or a wrong one.
    _send(
        client,
        case,
        data.draw(st.sampled_from([token, token, token, None, "sw_bogus"]), label="token"),
    )


def test_api_happy_paths(tmp_path: Path) -> None:
    """Every operation once the way the web page uses it, on its own seeded app: a 2xx
    whose body is the documented one (random fuzzing seldom books a series that fits)."""
    with _seeded_app(tmp_path, undo_seconds=600) as (client, token, _):

        def call(method: str, path: str, status: int, **parts: Any) -> Any:
            names = re.findall(r"\{(\w+)\}", path)  # also {feed}.ics
            values = {n: parts.pop(n) for n in names}
            case = fuzzing[path][method].Case(path_parameters=values, **parts)
            response = _send(client, case, token)
            assert response.status_code == status, response.text
            return response.json() if "json" in response.headers.get("content-type", "") else None

        demo = {"pid": DEMO_ID}
        call("GET", "/api/me", 200)
        call("GET", "/api/programs", 200)
        call("GET", "/api/programs/{pid}", 200, **demo)
        member = {
            "timezone": "Europe/Paris",
            "weekly": [{"days": ["MO"], "start": "09:00", "end": "12:00"}],
        }
        call("PUT", "/api/programs/{pid}/members/{mid}", 201, **demo, mid="zoe", body=member)
        call("PUT", "/api/programs/{pid}/members/{mid}", 200, **demo, mid="zoe", body=member)
        call(
            "PUT",
            "/api/programs/{pid}/members/{mid}/calendar",
            200,
            **demo,
            mid="zoe",
            body=CALENDAR.decode(),
            media_type="text/calendar",
        )
        call(
            "PUT",
            "/api/programs/{pid}/members/{mid}/calendar",
            200,
            **demo,
            mid="gus",
            body={"ics_url": "https://calendar.example.org/gus.ics"},
            media_type="application/json",
        )
        call(
            "POST",
            "/api/programs/{pid}/matches",
            201,
            **demo,
            body={"id": "zoe-kai", "members": ["zoe", "kai"], "duration_minutes": 30},
        )
        call(
            "GET",
            "/api/programs/{pid}/matches/{xid}/heatmap",
            200,
            **demo,
            xid="zoe-kai",
            query={"tz": "Asia/Tokyo", "duration": 60},
        )
        series = {}
        for xid, shape in (
            ("cara-dan", {"frequency": "once", "sessions": 1}),
            ("ian-jo", {"frequency": "monthly", "sessions": 2}),
            ("nia-oli", {}),
        ):
            found = call(
                "POST",
                "/api/programs/{pid}/matches/{xid}/proposals",
                200,
                **demo,
                xid=xid,
                body={"limit": 2, **shape, "preferred": {"days": ["TU", "WE"]}},
            )
            start = found["proposals"][0]["first_start"]
            call(
                "POST",
                "/api/programs/{pid}/matches/{xid}/series/preview",
                200,
                **demo,
                xid=xid,
                body={"first_start": start, **shape},
            )
            series[xid] = call(
                "POST",
                "/api/programs/{pid}/matches/{xid}/series",
                201,
                **demo,
                xid=xid,
                body={"first_start": start, **shape},
            )
            call("GET", "/api/programs/{pid}/matches/{xid}/series", 200, **demo, xid=xid)
        sid = series["nia-oli"]["id"]
        call("GET", "/api/programs/{pid}/series/{sid}", 200, **demo, sid=sid)
        call("GET", "/api/programs/{pid}/series/{sid}/invite.ics", 200, **demo, sid=sid)
        first, second, third = series["nia-oli"]["sessions"][:3]
        later = (dt.fromisoformat(first["start"]) + timedelta(minutes=15)).isoformat()
        call(
            "PATCH",
            "/api/programs/{pid}/sessions/{oid}",
            200,
            **demo,
            oid=first["id"],
            body={"start": later},
        )
        call(
            "PATCH",
            "/api/programs/{pid}/sessions/{oid}",
            200,
            **demo,
            oid=second["id"],
            body={"status": "cancelled"},
        )
        # The program's time moves past the third session, so it can be marked held.
        with program_now(f"sqlite:///{tmp_path / 'db.sqlite'}", DEMO_ID, third["end"]):
            call(
                "POST", "/api/programs/{pid}/sessions/{oid}/complete", 200, **demo, oid=third["id"]
            )
        call("GET", "/api/programs/{pid}/members/{mid}/sessions.ics", 200, **demo, mid="nia")
        link = call("POST", "/api/programs/{pid}/members/{mid}/feed-token", 201, **demo, mid="nia")[
            "url"
        ]
        call("GET", "/api/feeds/{feed}.ics", 200, feed=link.rsplit("/", 1)[1].removesuffix(".ics"))
        call("GET", "/api/programs/{pid}/members/{mid}/freebusy.ifb", 200, **demo, mid="nia")
        call("GET", "/api/programs/{pid}/matches/{xid}/freebusy.ifb", 200, **demo, xid="nia-oli")
        call("GET", "/api/feeds/{feed}.ifb", 200, feed=link.rsplit("/", 1)[1].removesuffix(".ics"))
        call("DELETE", "/api/programs/{pid}/members/{mid}/feed-token", 204, **demo, mid="nia")
        call(
            "POST", "/api/programs/{pid}/series/{sid}/undo", 200, **demo, sid=series["ian-jo"]["id"]
        )
        call(
            "DELETE", "/api/programs/{pid}/series/{sid}", 200, **demo, sid=series["cara-dan"]["id"]
        )
        call(
            "POST",
            "/api/programs/{pid}/series/{sid}/cancel",
            200,
            **demo,
            sid=sid,
            body={"note": "Désolé, 来週に"},
        )
        job = call(
            "POST",
            "/api/programs/{pid}/plans",
            202,
            **demo,
            body={"time_limit": 1, "matches": ["hana-oli"]},
        )["job"]
        deadline = time.monotonic() + 60
        while call("GET", "/api/jobs/{jid}", 200, jid=job)["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the plan did not finish"
            time.sleep(0.1)
        call("POST", "/api/programs/{pid}/plans/{jid}/apply", 200, **demo, jid=job)
        call("GET", "/api/programs/{pid}/members", 200, **demo, query={"q": "ö", "limit": 5})
        zoe = call("GET", "/api/programs/{pid}/members/{mid}", 200, **demo, mid="zoe")
        call(
            "POST",
            "/api/programs/{pid}/import",
            200,
            **demo,
            body="member,day,start,end\nzoe,WE,09:00,11:00\n",
            media_type="text/csv",
        )
        call(
            "POST",
            "/api/programs/{pid}/import",
            200,
            **demo,
            body={"members": [{**zoe, "name": "Zoë Ångström"}]},
            media_type="application/json",
        )
        call("PUT", "/api/programs/{pid}/admins/{email}", 201, **demo, email="jörg@example.de")
        call("PUT", "/api/programs/{pid}/admins/{email}", 200, **demo, email="JÖRG@example.de")
        call("GET", "/api/programs/{pid}/admins", 200, **demo)
        call("POST", "/api/auth/link", 202, body={"email": "jörg@example.de"})
        engine = client.app.state.engine
        link = new_link(engine, Settings(), "jörg@example.de").split("#token=")[1]
        call("POST", "/api/auth/session", 200, body={"token": link})
        call("DELETE", "/api/auth/session", 204)
        call("DELETE", "/api/programs/{pid}/admins/{email}", 204, **demo, email="jörg@example.de")
