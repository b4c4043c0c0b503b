"""SLOTWISE_* variables: read into Settings; a bad value names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main
from service.config import ENVIRONMENT, Settings


def test_every_variable_reaches_its_setting(monkeypatch):
    given = {
        "SLOTWISE_DB": "sqlite:///x.sqlite",
        "SLOTWISE_SMTP_URL": "smtp://mail:25",
        "SLOTWISE_OUTBOX": "/tmp/out",
        "SLOTWISE_SENDER": "Programs <p@example.org>",
        "SLOTWISE_MAX_BODY_BYTES": "1000",
        "SLOTWISE_SCHEDULER": "tcp://dask:8786",
        "SLOTWISE_PLAN_PROCESSES": "3",
        "SLOTWISE_ALLOW_PRIVATE_URLS": "yes",
        "SLOTWISE_RETRY_SECONDS": "0.5",
        "SLOTWISE_MAX_MEMBERS": "40",
        "SLOTWISE_MAX_MATCHES": "30",
        "SLOTWISE_APPLY_CHUNK": "7",
        "SLOTWISE_MAX_PLAN_JOBS": "2",
        "SLOTWISE_ICS_TIMEOUT": "2.5",
        "SLOTWISE_ICS_MAX_FETCHES": "7",
        "SLOTWISE_DB_BUSY_SECONDS": "1.5",
        "SLOTWISE_ICS_MAX_URLS": "4",
        "SLOTWISE_PLAN_TIME_LIMIT": "5",
        "SLOTWISE_MAX_PLAN_TIME_LIMIT": "50",
        "SLOTWISE_ICS_MAX_BYTES": "1000000",
        "SLOTWISE_UNDO_SECONDS": "0",
        "SLOTWISE_PUBLIC_URL": "https://mentoring.example.org/",
        "SLOTWISE_SIGNIN_LINK_MINUTES": "30",
        "SLOTWISE_SESSION_DAYS": "7",
        "SLOTWISE_AVAILABILITY_CACHE_MB": "64",
        "SLOTWISE_INBOUND_PORT": "2525",
        "SLOTWISE_INBOUND_HOST": "0.0.0.0",
        "SLOTWISE_INBOUND_LMTP": "yes",
        "SLOTWISE_INBOUND_SECRET": "a-long-enough-shared-secret",
        "SLOTWISE_INBOUND_MAX_BYTES": "50000",
        "SLOTWISE_WRITEBACK_TIMEOUT": "3",
        "SLOTWISE_WRITEBACK_ATTEMPTS": "4",
        "SLOTWISE_WRITEBACK_BACKOFF_SECONDS": "60",
        "SLOTWISE_SENDER_THREADS": "no",
        "SLOTWISE_SENDER_POLL_SECONDS": "0.1",
        "SLOTWISE_COMPUTE_SLOTS": "3",
    }
    assert set(given) == set(ENVIRONMENT)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    s = Settings.from_env(db_url="sqlite:///override.sqlite")
    assert (s.db_url, s.smtp_url, s.outbox, s.sender) == (
        "sqlite:///override.sqlite",
        "smtp://mail:25",
        Path("/tmp/out"),
        "Programs <p@example.org>",
    )
    assert (
        s.max_body_bytes,
        s.scheduler,
        s.plan_processes,
        s.allow_private_urls,
        s.retry_seconds,
        s.ics_timeout,
        s.ics_max_fetches,
    ) == (1000, "tcp://dask:8786", 3, True, 0.5, 2.5, 7)
    assert (s.max_members, s.max_matches, s.db_busy_seconds, s.ics_max_urls) == (40, 30, 1.5, 4)
    assert (s.apply_chunk, s.max_plan_jobs) == (7, 2)
    assert (s.plan_time_limit, s.max_plan_time_limit, s.ics_max_bytes) == (5, 50, 1_000_000)
    assert s.undo_seconds == 0
    assert (s.writeback_timeout, s.writeback_attempts, s.writeback_backoff_seconds) == (3, 4, 60)
    assert s.availability_cache_mb == 64
    assert (s.sender_threads, s.sender_poll_seconds, s.compute_slots) == (False, 0.1, 3)
    assert (s.inbound_port, s.inbound_host, s.inbound_lmtp, s.inbound_max_bytes) == (
        2525,
        "0.0.0.0",
        True,
        50_000,
    )
    assert s.inbound_secret == "a-long-enough-shared-secret"
    assert (s.public_url, s.signin_link_minutes, s.session_days) == (
        "https://mentoring.example.org",
        30,
        7,
    )
    monkeypatch.setenv("SLOTWISE_ALLOW_PRIVATE_URLS", "0")
    assert Settings.from_env().allow_private_urls is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLOTWISE_MAX_BODY_BYTES", "2MB"),
        ("SLOTWISE_MAX_BODY_BYTES", "0"),
        ("SLOTWISE_PLAN_PROCESSES", "-1"),
        ("SLOTWISE_RETRY_SECONDS", "soon"),
        ("SLOTWISE_ALLOW_PRIVATE_URLS", "maybe"),
        ("SLOTWISE_UNDO_SECONDS", "-1"),
        ("SLOTWISE_UNDO_SECONDS", "2.5"),
        ("SLOTWISE_PUBLIC_URL", "mentoring.example.org"),
        ("SLOTWISE_PUBLIC_URL", "https://user@mentoring.example.org"),
        ("SLOTWISE_SESSION_DAYS", "0"),
        ("SLOTWISE_WRITEBACK_ATTEMPTS", "0"),
        ("SLOTWISE_INBOUND_PORT", "70000"),
        ("SLOTWISE_INBOUND_PORT", "smtp"),
        ("SLOTWISE_INBOUND_LMTP", "maybe"),
        ("SLOTWISE_INBOUND_MAX_BYTES", "0"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name}: .*{value!r}"):
        Settings.from_env()


def test_a_bad_secret_is_named_but_never_repeated(monkeypatch):
    """A shared secret too short to be safe is refused, and the message does not carry
    it (it ends up in logs and terminals)."""
    monkeypatch.setenv("SLOTWISE_INBOUND_SECRET", "hunter2")
    with pytest.raises(ValueError, match=r"^SLOTWISE_INBOUND_SECRET: .*16 characters") as err:
        Settings.from_env()
    assert "hunter2" not in str(err.value)


def test_cli_reports_a_bad_setting_without_a_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SLOTWISE_RETRY_SECONDS", "soon")
    code = main(["serve", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "--port", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "SLOTWISE_RETRY_SECONDS" in err and "Traceback" not in err


def test_only_from_env_reads_the_environment(monkeypatch):
    """Settings(...) in code and tests is what its arguments say, whatever the shell has
    set; Settings.from_env reads SLOTWISE_*, and its arguments win over them."""
    monkeypatch.setenv("SLOTWISE_SMTP_URL", "smtp://mail.example.org:25")
    monkeypatch.setenv("SLOTWISE_MAX_MEMBERS", "7")
    plain = Settings(max_matches=5)
    assert (plain.smtp_url, plain.max_members, plain.max_matches) == (None, 20_000, 5)
    read = Settings.from_env(max_members=9)
    assert isinstance(read, Settings)
    assert (read.smtp_url, read.max_members) == ("smtp://mail.example.org:25", 9)
