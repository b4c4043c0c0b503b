"""Free/busy out (issue 16.6): a member's or a match's busy time as VFREEBUSY (RFC 5545
3.6.4), checked against the scheduler's own availability (the heat map), read back by
icalendar, ical.js and slotwise's own calendar reader, behind the heat map's access rules.

The program runs in Australia/Lord_Howe (a 30-minute DST change, on Sunday 4 April 2027 at
02:00 the clocks go back to 01:30) on a 15-minute grid.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from ingest.grid import SlotGrid
from ingest.ics_source import busy_from_ics
from service.auth import create_token
from service.config import Settings
from service.freebusy import BUSY, FBTYPES, FREE, UNAVAILABLE, _freebusy_lines, busy_periods
from tests.service.inprocess import admin_app, call
from tests.service.live import free_slots

JS = Path(__file__).parents[1] / "js"
LH = ZoneInfo("Australia/Lord_Howe")
DAY = "2027-04-05"  # Monday after the change (+10:30)
DENTIST = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:dentist@test
DTSTAMP:20270101T000000Z
DTSTART;TZID=Australia/Lord_Howe:20270405T100000
DTEND;TZID=Australia/Lord_Howe:20270405T110000
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""


def lh(text: str) -> datetime:
    """Wall-clock in Lord Howe (first pass in a fold) as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=LH).astimezone(UTC)


def program() -> dict:
    """Two weeks over the April change: Lea (Lord Howe; weekdays 09:00-17:00 and Sundays
    01:00-03:00, over the repeated half hour; away on 7 April; a dentist's appointment on
    5 April), Ben (Berlin) and Jörg (Lord Howe, no address) in a pair and a group."""
    weekdays = ["MO", "TU", "WE", "TH", "FR"]
    return {
        "version": 1,
        "program": {
            "id": "lh",
            "timezone": "Australia/Lord_Howe",
            "start": "2027-03-29",
            "end": "2027-04-12",
            "granularity_minutes": 15,
            "now": "2027-03-01T00:00:00Z",
        },
        "members": [
            {
                "id": "lea",
                "name": "Léa Nguyễn",
                "email": "lea@example.org",
                "timezone": "Australia/Lord_Howe",
                "weekly": [
                    {"days": weekdays, "start": "09:00", "end": "17:00"},
                    {"days": ["SU"], "start": "01:00", "end": "03:00"},
                ],
                "unavailable": [{"start": "2027-04-07", "end": "2027-04-08"}],
                "calendars": [{"ics_text": DENTIST}],
            },
            {
                "id": "ben",
                "name": "Ben",
                "email": "ben@example.org",
                "timezone": "Europe/Berlin",
                "weekly": [{"days": [*weekdays, "SA", "SU"], "start": "00:00", "end": "24:00"}],
            },
            {"id": "jorg", "name": "Jörg", "timezone": "Australia/Lord_Howe"},
        ],
        "matches": [
            {"id": "lea-ben", "members": ["lea", "ben"], "organizer": "lea"},
            {"id": "trio", "members": ["lea", "ben", "jorg"], "organizer": "ben"},
        ],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The program stored, a once-off session booked for lea-ben on Tuesday 6 April
    10:00 Lord Howe time, member tokens for Lea and Ben and Jörg; the app and the
    admin's token."""
    tmp = tmp_path_factory.mktemp("freebusy")
    settings = Settings(db_url=f"sqlite:///{tmp / 'db.sqlite'}", outbox=tmp / "out")
    with admin_app(settings) as (app, admin):

        async def setup(api):
            r = await api.post("/api/programs", json=program())
            assert r.status_code == 201, r.text
            r = await api.post(
                "/api/programs/lh/matches/lea-ben/series",
                json={"first_start": "2027-04-06T10:00:00+10:30", "frequency": "once"},
            )
            assert r.status_code == 201, r.text

        call(app, admin, setup)
        engine = app.state.engine
        tokens = {m: create_token(engine, "member", "lh", m) for m in ("lea", "ben", "jorg")}
        yield app, admin, tokens


def get(world, who: str, path: str, **params: str):
    app, admin, tokens = world

    async def steps(api):
        return await api.get(path, params=params)

    return call(app, admin if who == "admin" else tokens[who], steps)


def components(data: bytes) -> list:
    return Calendar.from_ical(data).walk("VFREEBUSY")


def periods(fb) -> list[tuple[datetime, datetime, str]]:
    """(start, end, FBTYPE) of every FREEBUSY period of a component, as icalendar reads it."""
    props = fb.get("FREEBUSY", [])
    out = []
    for prop in props if isinstance(props, list) else [props]:
        start, end = prop.dt
        out.append((start, end, str(prop.params.get("FBTYPE", "BUSY"))))
    return sorted(out)


def icaljs(data: bytes) -> list[dict]:
    """Every VFREEBUSY as ical.js reads it (tests/js/freebusy.mjs)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the ical.js cross-check needs Node.js")
    result = subprocess.run(
        [node, str(JS / "freebusy.mjs")], input=data, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    parsed: list[dict] = json.loads(result.stdout)
    return parsed


# --- the periods -----------------------------------------------------------------------


def test_busy_periods_are_the_runs_of_busy_slots():
    """Runs of equal state become one period each, free slots none, cut to the range."""
    grid = SlotGrid(ZoneInfo("UTC"), datetime(2027, 1, 4).date(), datetime(2027, 1, 5).date(), 60)
    state = np.full(24, FREE, dtype=np.int8)
    state[0:9] = UNAVAILABLE
    state[10:12] = BUSY
    state[12:13] = UNAVAILABLE
    state[17:] = UNAVAILABLE
    t = grid.t0
    got = busy_periods(state, grid, t + timedelta(minutes=30), t + timedelta(hours=20))
    assert [(p.start - t, p.end - t, p.fbtype) for p in got] == [
        (timedelta(minutes=30), timedelta(hours=9), "BUSY-UNAVAILABLE"),
        (timedelta(hours=10), timedelta(hours=12), "BUSY"),
        (timedelta(hours=12), timedelta(hours=13), "BUSY-UNAVAILABLE"),
        (timedelta(hours=17), timedelta(hours=20), "BUSY-UNAVAILABLE"),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([FREE, BUSY, UNAVAILABLE]), min_size=1, max_size=60),
    st.integers(-700, 60 * 900),
    st.integers(1, 60 * 900),
    st.sampled_from([5, 15, 60]),
    st.sampled_from(["UTC", "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns"]),
)
def test_busy_lines_match_a_slot_by_slot_reference(states, shift, length, minutes, zone):
    """The numpy periods and their FREEBUSY lines equal a plain loop's: each slot of
    ``[lo, hi)`` cut to it, equal neighbours joined, free ones left out, strftime'd."""
    grid = SlotGrid(ZoneInfo(zone), date(2027, 4, 3), date(2027, 4, 5), minutes)
    state = np.resize(np.array(states, dtype=np.int8), grid.n_slots)
    lo = grid.t0 + timedelta(seconds=shift)
    hi = lo + timedelta(seconds=length)
    want: list[list] = []
    for i in range(grid.n_slots):
        s, e = max(grid.slot_start(i), lo), min(grid.slot_start(i + 1), hi)
        if s >= e or state[i] == FREE:
            continue
        if want and want[-1][1] == s and want[-1][2] == state[i]:
            want[-1][1] = e
        else:
            want.append([s, e, int(state[i])])
    got = busy_periods(state, grid, lo, hi)
    assert [(p.start, p.end, p.fbtype) for p in got] == [(s, e, FBTYPES[k]) for s, e, k in want]
    z = "%Y%m%dT%H%M%SZ"
    assert _freebusy_lines(got).decode() == "".join(
        f"FREEBUSY;FBTYPE={FBTYPES[k]}:{s:{z}}/{e:{z}}\r\n" for s, e, k in want
    )


def test_member_freebusy_matches_the_heat_map_across_the_dst_change(world):
    """Lea's FREEBUSY periods cover exactly the slots the heat map (15-minute sessions)
    says she cannot attend, over the whole program, the Lord Howe change included."""
    r = get(world, "admin", "/api/programs/lh/members/lea/freebusy.ifb")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    (fb,) = components(r.content)
    heat = get(world, "admin", "/api/programs/lh/matches/lea-ben/heatmap", duration="15").json()
    assert heat["window"]["first_slot"] == 0
    n = heat["window"]["slots"]
    t0 = fb.decoded("DTSTART")
    assert t0 == lh("2027-03-29T00:00") and fb.decoded("DTEND") == lh("2027-04-12T00:00")
    busy = set()
    for start, end, _ in periods(fb):
        assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
        first, last = (int((x - t0).total_seconds()) // 900 for x in (start, end))
        busy |= set(range(first, last))
    assert busy == set(range(n)) - free_slots(heat, heat["members"].index("lea"))


def test_member_freebusy_types_and_the_repeated_half_hour(world):
    """Time away and outside the weekly windows is BUSY-UNAVAILABLE; the calendar's
    dentist and the booked session are BUSY; the Sunday window 01:00-03:00 on the change
    day is free for its 2.5 real hours."""
    (fb,) = components(get(world, "lea", "/api/programs/lh/members/lea/freebusy.ifb").content)
    got = periods(fb)

    def kind_at(instant: datetime) -> str:
        return next((k for s, e, k in got if s <= instant < e), "FREE")

    assert (lh(f"{DAY}T10:00"), lh(f"{DAY}T11:00"), "BUSY") in got  # the dentist
    assert (lh("2027-04-06T10:00"), lh("2027-04-06T11:00"), "BUSY") in got  # the session
    assert kind_at(lh("2027-04-07T12:00")) == "BUSY-UNAVAILABLE"  # away
    assert kind_at(lh(f"{DAY}T08:45")) == "BUSY-UNAVAILABLE"  # before her day
    assert kind_at(lh(f"{DAY}T09:00")) == "FREE"
    free_sunday = (datetime(2027, 4, 3, 14, tzinfo=UTC), datetime(2027, 4, 3, 16, 30, tzinfo=UTC))
    assert lh("2027-04-04T01:00") == free_sunday[0]
    assert any(e == free_sunday[0] for _, e, _ in got)
    assert any(s == free_sunday[1] for s, _, _ in got)
    assert all(not (s < free_sunday[1] and e > free_sunday[0]) for s, e, _ in got)
    assert str(fb["ORGANIZER"]) == "mailto:lea@example.org"
    assert fb["ORGANIZER"].params["CN"] == "Léa Nguyễn"
    assert "ATTENDEE" not in fb and fb["UID"] and fb.decoded("DTSTAMP").tzinfo is not None


def test_icaljs_and_the_calendar_reader_read_the_same_periods(world):
    """ical.js and slotwise's own VFREEBUSY reader find the periods icalendar finds."""
    data = get(world, "lea", "/api/programs/lh/members/lea/freebusy.ifb").content
    (fb,) = components(data)
    mine = [(s, e, k) for s, e, k in periods(fb)]
    (js,) = icaljs(data)
    assert js["uid"] == str(fb["UID"]) and js["organizer"] == "mailto:lea@example.org"
    assert [
        (datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]), p["fbtype"])
        for p in js["periods"]
    ] == mine
    start, end = fb.decoded("DTSTART"), fb.decoded("DTEND")
    read = busy_from_ics(data, LH, start, end)
    merged: list[tuple[datetime, datetime]] = []
    for s, e, _ in mine:
        if merged and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    joined: list[tuple[datetime, datetime]] = []
    for s, e in read:
        if joined and joined[-1][1] == s:
            joined[-1] = (joined[-1][0], e)
        else:
            joined.append((s, e))
    assert joined == merged


def test_a_range_cuts_the_periods(world):
    """start/end (a date in the member's zone, a date-time with offset) bound DTSTART,
    DTEND and every period."""
    r = get(
        world,
        "lea",
        "/api/programs/lh/members/lea/freebusy.ifb",
        start=DAY,
        end="2027-04-05T10:30:00+10:30",
    )
    assert r.status_code == 200, r.text
    (fb,) = components(r.content)
    assert fb.decoded("DTSTART") == lh(f"{DAY}T00:00")
    assert fb.decoded("DTEND") == lh(f"{DAY}T10:30")
    assert periods(fb) == [
        (lh(f"{DAY}T00:00"), lh(f"{DAY}T09:00"), "BUSY-UNAVAILABLE"),
        (lh(f"{DAY}T10:00"), lh(f"{DAY}T10:30"), "BUSY"),
    ]


def test_match_freebusy_one_component_per_member(world):
    """A match answers one VFREEBUSY per member (ATTENDEE: the member, ORGANIZER: the
    match's organizer); a member of it sees their own types, the others' as plain BUSY;
    an admin sees every type; a member without an address has no ATTENDEE."""
    r = get(world, "ben", "/api/programs/lh/matches/trio/freebusy.ifb")
    assert r.status_code == 200, r.text
    lea, ben, jorg = components(r.content)
    assert "ATTENDEE" not in lea and lea["ORGANIZER"] == ben["ORGANIZER"]  # Lea's is hidden
    assert str(ben["ATTENDEE"]) == "mailto:ben@example.org" == str(lea["ORGANIZER"])
    assert "ATTENDEE" not in jorg
    assert {k for *_, k in periods(lea)} == {"BUSY"}
    assert {k for *_, k in periods(jorg)} == {"BUSY"}
    assert (lh("2027-04-06T10:00"), lh("2027-04-06T11:00"), "BUSY") in periods(ben)
    seen = get(world, "admin", "/api/programs/lh/matches/trio/freebusy.ifb")
    assert str(components(seen.content)[0]["ATTENDEE"]) == "mailto:lea@example.org"
    typed = {k for *_, k in periods(components(seen.content)[0])}
    assert typed == {"BUSY", "BUSY-UNAVAILABLE"}
    # Plain BUSY hides the kind, not the time: the same slots are busy either way.
    assert sum((e - s for s, e, _ in periods(lea)), timedelta()) == sum(
        (e - s for s, e, _ in periods(components(seen.content)[0])), timedelta()
    )
    assert len({str(c["UID"]) for c in (lea, ben, jorg)}) == 3


# --- who may read it, and bad requests ---------------------------------------------------


def test_a_member_gets_no_other_members_address(world):
    """A match's free/busy tells a member no address ``GET /api/programs/{pid}`` hides from
    them (it shows other members' id, name and time zone only): Ben reading lea-ben (Lea
    organizes) gets neither Lea's ATTENDEE nor her ORGANIZER, only his own address."""
    r = get(world, "ben", "/api/programs/lh/matches/lea-ben/freebusy.ifb")
    assert r.status_code == 200, r.text
    assert b"lea@example.org" not in r.content.replace(b"\r\n ", b"")
    lea, ben = components(r.content)
    assert "ATTENDEE" not in lea and "ORGANIZER" not in lea and "ORGANIZER" not in ben
    assert str(ben["ATTENDEE"]) == "mailto:ben@example.org"
    shown = get(world, "ben", "/api/programs/lh").json()["members"]
    assert [m.get("email") for m in shown if m["id"] == "lea"] == [None]


def test_an_unencoded_plus_in_the_offset_is_read_as_plus(world):
    """A query written by hand with ``+10:30`` (which a query string decodes to a space)
    gives the same range as ``%2B10:30``, not a 422."""
    app, _, tokens = world
    path = "/api/programs/lh/members/lea/freebusy.ifb"

    async def steps(api):
        plain = await api.get(f"{path}?start=2027-04-05T09:00:00+10:30&end=2027-04-06T00:00+10:30")
        coded = await api.get(
            f"{path}?start=2027-04-05T09:00:00%2B10:30&end=2027-04-06T00:00%2B10:30"
        )
        return plain, coded

    plain, coded = call(app, tokens["lea"], steps)
    assert plain.status_code == 200 == coded.status_code, plain.text
    (fb,) = components(plain.content)
    assert fb.decoded("DTSTART") == lh(f"{DAY}T09:00")
    assert periods(fb) == periods(components(coded.content)[0])


def test_access_follows_the_heat_maps(world):
    """Another member may not read a member's free/busy, nor a match they are not in;
    unknown programs, members and matches are 404."""
    assert get(world, "ben", "/api/programs/lh/members/lea/freebusy.ifb").status_code == 403
    assert get(world, "jorg", "/api/programs/lh/matches/lea-ben/freebusy.ifb").status_code == 403
    assert get(world, "jorg", "/api/programs/lh/matches/trio/freebusy.ifb").status_code == 200
    for path in (
        "/api/programs/nope/members/lea/freebusy.ifb",
        "/api/programs/lh/members/nobody/freebusy.ifb",
        "/api/programs/lh/matches/nothing/freebusy.ifb",
        "/api/programs/nope/matches/trio/freebusy.ifb",
    ):
        r = get(world, "admin", path)
        assert r.status_code == 404, (path, r.text)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"start": "next tuesday"}, "start", "is not a date"),
        ({"start": "2027-04-31"}, "start", "is not a date"),
        ({"end": "2027-04-05T10:00"}, "end", "no UTC offset"),
        ({"start": "2027-04-05", "end": "2027-04-05"}, "end", "must be after start"),
        ({"start": "2027-04-06", "end": "2027-04-05"}, "end", "must be after start"),
        ({"start": "2026-01-01", "end": "2027-04-05"}, "end", "at most 366 days"),
        ({"start": "2027-03-01"}, "start", "outside the program"),
        ({"end": "2027-05-01"}, "end", "after the program ends"),
        ({"start": "9999-12-31T23:59:59-23:59"}, "start", "outside the years 1 to 9999"),
        ({"end": "0001-01-01T00:00:00+14:00"}, "end", "outside the years 1 to 9999"),
        (
            {"start": "2027-04-05T00:00:00.2+10:30", "end": "2027-04-05T00:00:00.7+10:30"},
            "end",
            "must be after start",
        ),
    ],
)
def test_a_bad_range_is_a_422_naming_the_field(world, params, field, words):
    """Unreadable dates, a range that ends before it starts, one too long and one outside
    the program are refused with the field named, never a 500."""
    r = get(world, "lea", "/api/programs/lh/members/lea/freebusy.ifb", **params)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and words in r.json()["detail"], r.text


def test_the_feed_link_opens_the_members_freebusy(world):
    """A feed link comes with a free/busy link (same token, .ifb) that needs no header,
    answers the member's free/busy with a range, and dies with the link."""
    app, _, tokens = world

    async def steps(api):
        link = (await api.post("/api/programs/lh/members/lea/feed-token")).json()
        assert link["freebusy_url"] == link["url"].removesuffix(".ics") + ".ifb"
        path = link["freebusy_url"].removeprefix("http://t")
        api.headers.pop("Authorization")
        opened = await api.get(path, params={"start": DAY, "end": "2027-04-06"})
        api.headers["Authorization"] = f"Bearer {tokens['lea']}"
        own = await api.get(
            "/api/programs/lh/members/lea/freebusy.ifb", params={"start": DAY, "end": "2027-04-06"}
        )
        await api.delete("/api/programs/lh/members/lea/feed-token")
        api.headers.pop("Authorization")
        return opened, own, await api.get(path)

    opened, own, revoked = call(app, tokens["lea"], steps)
    assert opened.status_code == 200, opened.text
    assert periods(components(opened.content)[0]) == periods(components(own.content)[0])
    assert revoked.status_code == 401


def test_the_api_docs_list_the_routes(world):
    """The OpenAPI page documents the three free/busy routes as text/calendar."""
    app, _, _ = world
    paths = app.openapi()["paths"]
    for path in (
        "/api/programs/{pid}/members/{mid}/freebusy.ifb",
        "/api/programs/{pid}/matches/{xid}/freebusy.ifb",
        "/api/feeds/{feed}.ifb",
    ):
        assert "text/calendar" in paths[path]["get"]["responses"]["200"]["content"], path
