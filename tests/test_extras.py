"""Optional parts (pyproject's extras): without their package, each says which extra to
install instead of failing on an ImportError."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.caldav_source import busy_from_caldav
from ingest.errors import CalendarError
from ingest.extras import MissingExtra, import_extra
from service.cli import main
from service.store import make_engine
from solver.executors import executor_for


def _uninstall(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``import module`` fail as if the package were not installed."""
    monkeypatch.setitem(sys.modules, module, None)


def test_import_extra_returns_the_module_when_installed():
    """An installed module is imported and returned as is."""
    assert import_extra("json", "none", "testing") is sys.modules["json"]


def test_import_extra_names_the_extra_when_missing(monkeypatch):
    """A missing module is MissingExtra (an ImportError) naming what needs it and the
    pip command that installs it."""
    _uninstall(monkeypatch, "caldav")
    with pytest.raises(
        MissingExtra,
        match=r"^reading X needs the Python package 'caldav', "
        r"which is not installed: pip install "
        r"'slotwise\[caldav\]'$",
    ) as caught:
        import_extra("caldav", "caldav", "reading X")
    assert isinstance(caught.value, ImportError) and caught.value.extra == "caldav"


def test_import_extra_lets_a_broken_dependency_speak_for_itself(monkeypatch, tmp_path):
    """When the module is there but one of its own imports is missing, that error is
    raised unchanged: installing the extra would not help."""
    (tmp_path / "slotwise_probe.py").write_text("import slotwise_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slotwise_probe", raising=False)
    with pytest.raises(ModuleNotFoundError) as caught:
        import_extra("slotwise_probe", "probe", "testing")
    assert not isinstance(caught.value, MissingExtra)
    assert caught.value.name == "slotwise_missing_dependency"


def test_a_dask_scheduler_without_distributed_names_the_extra(monkeypatch):
    """executor_for(scheduler) without Dask's distributed: MissingExtra for
    slotwise[distributed], before any connection is tried."""
    _uninstall(monkeypatch, "distributed")
    with (
        pytest.raises(MissingExtra, match=r"slotwise\[distributed\]"),
        executor_for("tcp://127.0.0.1:1"),
    ):
        pass


def test_serve_with_a_scheduler_but_no_distributed_refuses_to_start(monkeypatch, capsys, tmp_path):
    """`slotwise serve` with SLOTWISE_SCHEDULER and no distributed exits at once with one
    line naming the extra, no traceback."""
    _uninstall(monkeypatch, "distributed")
    monkeypatch.setenv("SLOTWISE_SCHEDULER", "tcp://127.0.0.1:1")
    monkeypatch.setattr("uvicorn.run", _must_not_serve)
    code = main(["serve", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "--port", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "slotwise[distributed]" in err and "Traceback" not in err


def _must_not_serve(*args: object, **kwargs: object) -> None:
    raise AssertionError("the server started")


def test_postgresql_without_psycopg_names_the_extra(monkeypatch):
    """A postgresql:// database URL without psycopg: MissingExtra for slotwise[postgres]."""
    _uninstall(monkeypatch, "psycopg")
    with pytest.raises(MissingExtra, match=r"PostgreSQL .* pip install 'slotwise\[postgres\]'"):
        make_engine("postgresql://slotwise@127.0.0.1:1/slotwise")


def test_caldav_without_caldav_is_a_calendar_error_naming_the_extra(monkeypatch):
    """A CalDAV source without the caldav package: a CalendarError (the member's calendar
    cannot be read) that says to install slotwise[caldav]."""
    _uninstall(monkeypatch, "caldav")
    with pytest.raises(CalendarError, match=r"slotwise\[caldav\]"):
        busy_from_caldav(
            "http://127.0.0.1:1/dav/",
            ZoneInfo("UTC"),
            datetime(2027, 1, 1, tzinfo=UTC),
            datetime(2027, 2, 1, tzinfo=UTC),
        )
