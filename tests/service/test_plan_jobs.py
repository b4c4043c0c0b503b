"""Issue 8: where the service's plan jobs solve (SLOTWISE_SCHEDULER, SLOTWISE_PLAN_PROCESSES)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from service import jobs
from service.config import Settings
from service.programs import validated
from service.store import init_db, insert_program, make_engine
from tests.helpers import free_port


def test_settings_read_the_scheduler_and_processes(monkeypatch):
    """SLOTWISE_SCHEDULER and SLOTWISE_PLAN_PROCESSES reach the settings; unset means local."""
    monkeypatch.delenv("SLOTWISE_SCHEDULER", raising=False)
    monkeypatch.delenv("SLOTWISE_PLAN_PROCESSES", raising=False)
    assert (Settings.from_env().scheduler, Settings.from_env().plan_processes) == (None, None)
    monkeypatch.setenv("SLOTWISE_SCHEDULER", "tcp://10.0.0.5:8786")
    monkeypatch.setenv("SLOTWISE_PLAN_PROCESSES", "3")
    settings = Settings.from_env()
    assert (settings.scheduler, settings.plan_processes) == ("tcp://10.0.0.5:8786", 3)


def _run_job(tmp_path, program_dict, settings: Settings) -> dict:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    init_db(engine)
    with engine.begin() as conn:
        insert_program(conn, validated(program_dict).model_dump(mode="json", exclude_none=True))
    with ThreadPoolExecutor(max_workers=1) as executor:
        jid = jobs.submit(executor, engine, settings, "spring-2027", 10.0, None)
    return jobs.get(engine, jid)


def test_plan_job_with_an_unreachable_scheduler_fails_with_a_readable_reason(
    tmp_path, program_dict
):
    """The job fails, saying which scheduler it could not reach; no internal error."""
    port = free_port()
    job = _run_job(tmp_path, program_dict, Settings(scheduler=f"tcp://127.0.0.1:{port}"))
    assert job["status"] == "failed"
    assert job["error"].startswith(f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")


def test_plan_job_without_a_scheduler_plans_in_process(tmp_path, program_dict):
    """The default settings plan a small program in process, as before."""
    job = _run_job(tmp_path, program_dict, Settings())
    assert job["status"] == "done", job
    assert [s["match"] for s in job["plan"]["series"]] == ["ana-ben"]
