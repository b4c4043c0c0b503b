"""CalDAV busy time against a real Radicale server: events in with caldav, busy time out."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import caldav
import pytest

from ingest.caldav_source import busy_from_caldav
from ingest.errors import CalendarError

NEW_YORK = ZoneInfo("America/New_York")
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))


def _event(uid: str, *lines: str) -> str:
    body = "".join(f"{line}\r\n" for line in lines)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//slotwise tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T120000Z\r\n{body}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


WEEKLY = _event(
    "weekly",
    "SUMMARY:Weekly",
    "DTSTART:20270105T150000Z",
    "DTEND:20270105T160000Z",
    "RRULE:FREQ=WEEKLY;COUNT=3",
)
ONCE = _event(
    "once",
    "SUMMARY:Once",
    "DTSTART;TZID=Europe/Berlin:20270107T100000",
    "DTEND;TZID=Europe/Berlin:20270107T113000",
)
FREE = _event(
    "free",
    "SUMMARY:Focus",
    "TRANSP:TRANSPARENT",
    "DTSTART:20270108T150000Z",
    "DTEND:20270108T160000Z",
)
OUTSIDE = _event("later", "SUMMARY:Later", "DTSTART:20270310T150000Z", "DTEND:20270310T160000Z")
PERSONAL = _event("dentist", "SUMMARY:Dentist", "DTSTART:20270111T090000", "DTEND:20270111T100000")


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def account(radicale_url: str) -> str:
    """Principal URL of user 'ana' with a 'Work' and a 'Personal' calendar."""
    with caldav.DAVClient(radicale_url, username="ana", password="any") as client:
        principal = client.principal()
        work = principal.make_calendar(name="Work")
        for data in (WEEKLY, ONCE, FREE, OUTSIDE):
            work.save_event(data)
        principal.make_calendar(name="Personal").save_event(PERSONAL)
        return str(principal.url)


WORK_BUSY = [
    (_utc(5, 15), _utc(5, 16)),
    (_utc(7, 9), _utc(7, 10, 30)),
    (_utc(12, 15), _utc(12, 16)),
    (_utc(19, 15), _utc(19, 16)),
]
# Floating 09:00 read in New York (EST): 14:00Z.
PERSONAL_BUSY = [(_utc(11, 14), _utc(11, 15))]


def test_all_calendars_of_the_principal(account):
    """SPEC 2: every calendar of the account counts; recurring expanded, transparent ignored."""
    busy = busy_from_caldav(account, NEW_YORK, *WINDOW, username="ana", password="any")
    assert busy == sorted(WORK_BUSY + PERSONAL_BUSY)


def test_calendar_by_display_name(account):
    """Guards choosing one calendar by its display name."""
    busy = busy_from_caldav(
        account, NEW_YORK, *WINDOW, username="ana", password="any", calendar="Personal"
    )
    assert busy == PERSONAL_BUSY


def test_calendar_url_itself(account):
    """Guards reading a calendar collection URL directly, and choosing by URL path."""
    with caldav.DAVClient(account, username="ana", password="any") as client:
        work = next(c for c in client.principal().calendars() if c.get_display_name() == "Work")
        work_url = str(work.url)
    assert (
        busy_from_caldav(work_url, NEW_YORK, *WINDOW, username="ana", password="any") == WORK_BUSY
    )
    path = work_url.split("//", 1)[1].split("/", 1)[1]
    assert (
        busy_from_caldav(
            account, NEW_YORK, *WINDOW, username="ana", password="any", calendar=f"/{path}"
        )
        == WORK_BUSY
    )


def test_unknown_calendar_name(account):
    """Guards that a calendar name that matches nothing is an error listing what exists."""
    with pytest.raises(CalendarError, match=r"no calendar named 'Holidays'.*'Personal'"):
        busy_from_caldav(
            account, NEW_YORK, *WINDOW, username="ana", password="any", calendar="Holidays"
        )


def test_refused_without_credentials(account):
    """Guards that a server refusing access (no credentials) is an error, not a free calendar."""
    with pytest.raises(CalendarError, match="authorization failed"):
        busy_from_caldav(account, NEW_YORK, *WINDOW)


def test_wrong_url(radicale_url):
    """Guards that a URL the server does not know is a CalendarError, not an empty calendar."""
    with pytest.raises(CalendarError, match="not found"):
        busy_from_caldav(
            f"{radicale_url}nobody/no-such-calendar/", NEW_YORK, *WINDOW, username="nobody"
        )


def test_server_down():
    """Guards that an unreachable server is a CalendarError naming the host only."""
    with pytest.raises(CalendarError, match=r"cannot reach CalDAV server http://127\.0\.0\.1:9"):
        busy_from_caldav("http://127.0.0.1:9/dav/secret-path/", NEW_YORK, *WINDOW, timeout=3)
