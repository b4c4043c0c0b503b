"""Issue 16, item 1: each recipient's invite mail gives the times in their own zone, with
the organizer's beside them."""

from __future__ import annotations

from email import message_from_string, policy

import httpx
from sqlalchemy import select

from service import notify
from service.config import Settings
from service.store import deliveries
from tests.service.inprocess import admin_app, call
from tests.service.sample import program


def _texts(tmp_path, book: dict) -> dict[str, str]:
    """Book mia-al as ``book`` says; the plain-text part of each queued invite, by address."""

    async def run(api: httpx.AsyncClient) -> None:
        assert (await api.post("/api/programs", json=program())).status_code == 201
        r = await api.post("/api/programs/p1/matches/mia-al/series", json=book)
        assert r.status_code == 201, r.text

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", outbox=tmp_path)
    with admin_app(settings) as (app, token):
        call(app, token, run)
        notify.build_jobs(app.state.engine, settings)  # the background sender's part
        with app.state.engine.connect() as conn:
            rows = conn.execute(select(deliveries.c.recipient, deliveries.c.message)).all()
    out = {}
    for recipient, raw in rows:
        msg = message_from_string(raw, policy=policy.default)
        out[recipient] = msg.get_body(preferencelist=("plain",)).get_content()
    return out


def test_each_recipient_reads_the_first_session_in_their_own_zone(tmp_path):
    """Al (London) reads 15:00 his time and 10:00 New York beside it; Mia, the organizer
    in New York, reads 10:00 New York time alone."""
    texts = _texts(tmp_path, {"first_start": "2027-03-02T10:00:00-05:00"})
    al, mia = texts["al@example.org"], texts["mia@example.org"]
    assert (
        "First session: Tuesday 02 March 2027, 15:00 your time (Europe/London); "
        "Tuesday 02 March 2027, 10:00 (America/New_York)" in al
    )
    assert "First session: Tuesday 02 March 2027, 10:00 (America/New_York)," in mia
    assert "your time" not in mia and "Europe/London" not in mia


def test_a_reader_across_midnight_gets_their_own_date(tmp_path):
    """A session at 20:00 in New York is the next day, 01:00, in London: the date follows
    the reader's zone too."""
    texts = _texts(tmp_path, {"first_start": "2027-03-02T20:00:00-05:00"})
    assert "Wednesday 03 March 2027, 01:00 your time (Europe/London)" in texts["al@example.org"]
