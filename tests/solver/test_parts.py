"""Issue 15: a very large program planned in parts on an executor, each part planned
whole (availability, scoring, models) by a worker: parts never share a member, and the
plan is the one a single process finds."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.generate import generate_program
from ingest.availability import build_availability
from ingest.document import parse_program
from solver import parts, planner
from solver.executors import executor_for
from solver.planner import plan
from solver.result import Plan
from solver.validate import validate

PROGRAM = {"matches": 200, "weeks": 6, "sessions": 6}
TIME_LIMIT = 30.0


def _essence(p: Plan) -> tuple[Any, ...]:
    """Everything of a plan but its timings."""
    return p.status, p.objective, p.bound, p.series, p.unscheduled


@pytest.fixture(scope="module")
def program() -> tuple[Any, Any]:
    doc = parse_program(generate_program(PROGRAM, seed=1))
    return doc, build_availability(doc, calendars=False)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts from 100 matches on, of 20 to 60 matches: several parts of this program."""
    monkeypatch.setattr(planner, "PARTS_MIN_MATCHES", 100)
    monkeypatch.setattr(parts, "PART_MIN_MATCHES", 20)
    monkeypatch.setattr(parts, "PART_MAX_MATCHES", 60)


def test_parts_cover_every_match_once_and_share_no_member(program):
    """split(): every match in one part, no member in two, parts within the size unless
    one component is larger, largest first."""
    doc, _ = program
    ids = [x.id for x in doc.matches]
    got = parts.split(doc, ids, 30)
    assert sorted(x for p in got for x in p) == sorted(ids)
    owner: dict[str, int] = {}
    for i, p in enumerate(got):
        for x in p:
            for m in doc.match(x).members:
                assert owner.setdefault(m, i) == i, f"{m} in parts {owner[m]} and {i}"
    assert [len(p) for p in got] == sorted((len(p) for p in got), reverse=True)
    assert len(got) > 3 and all(len(p) <= 30 for p in got[1:])


def test_a_part_document_keeps_its_members_and_their_bookings(program):
    """A part's document holds its matches, their members and the bookings naming them."""
    doc, _ = program
    ids = parts.split(doc, [x.id for x in doc.matches], 30)[-1]
    part = parts.part_document(doc, ids)
    people = {m for x in ids for m in doc.match(x).members}
    assert [x.id for x in part.matches] == ids
    assert {m.id for m in part.members} == people
    assert all(part.member(m).id == m for m in people)
    kept = {x.id for x in part.matches}
    assert all(b.match in kept or people & set(b.members or ()) for b in part.bookings)


def test_plan_in_parts_on_a_process_pool_equals_the_in_process_plan(program, small_parts):
    """Parts planned whole in worker processes, with the caller's availability (here with
    a member made busy for a week, as the service's booked sessions do): the same plan."""
    doc, plain = program
    busy_member = doc.matches[0].members[0]
    start = plain.grid.t0 + timedelta(days=7)
    avail = build_availability(
        doc, calendars=False, busy={busy_member: [(start, start + timedelta(days=7))]}
    )
    expected = plan(doc, avail, time_limit=TIME_LIMIT)
    with executor_for(None, processes=2) as pool:
        got = plan(doc, avail, time_limit=TIME_LIMIT, executor=pool)
    assert got.stats.chunks >= 4  # parts sent
    assert expected.stats.chunks == 0
    assert _essence(got) == _essence(expected)
    assert validate(doc, avail, got) == []
    # The busy week was honoured in the part that planned that member.
    assert _essence(got) != _essence(plan(doc, plain, time_limit=TIME_LIMIT))


def test_plan_in_parts_on_a_local_dask_cluster(program, small_parts):
    """On Dask, the workers run plan_part (scoring and models there), and the plan is the
    in-process one; the progress ends at one."""
    from distributed import Client, LocalCluster, get_task_stream
    from distributed.utils import key_split

    doc, avail = program
    expected = plan(doc, avail, time_limit=TIME_LIMIT)
    seen: list[float] = []
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster, set_as_default=False) as observer,
        get_task_stream(observer) as stream,
        executor_for(cluster.scheduler_address) as executor,
    ):
        got = plan(
            doc, time_limit=TIME_LIMIT, executor=executor, progress=lambda f, _: seen.append(f)
        )
    ran = Counter(key_split(t["key"]) for t in stream.data)
    assert ran["plan_part"] == got.stats.chunks >= 4
    assert ran["solve_tasks"] == 0
    assert _essence(got) == _essence(expected)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
