"""plan(): many matches at once, split into independent components (SPEC 5)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.availability import Availability, build_availability
from ingest.document import ProgramDocument

from .attend import can_attend
from .candidates import Candidates, score
from .explain import blocked_reason, no_candidate_reason
from .model import BatchInstance, BatchMatch, solve
from .prune import blocking, keep
from .result import Plan, Score, Series, Status, Unscheduled
from .series import build_series
from .spec import MatchSpec, match_spec
from .wallclock import wall_clock

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]


@dataclass
class _Match:
    spec: MatchSpec
    all: Candidates  # every candidate (for reasons)
    cands: Candidates  # viable (>= 1 occurrence holds), best first
    people: np.ndarray
    cap_people: bool = False


def _attend_cache(avail: Availability) -> Callable[[int], np.ndarray]:
    cache: dict[int, np.ndarray] = {}

    def get(k: int) -> np.ndarray:
        if k not in cache:
            cache[k] = can_attend(avail.matrix, k)
        return cache[k]
    return get


def score_matches(doc: ProgramDocument, avail: Availability,
                  specs: Sequence[MatchSpec]) -> list[_Match]:
    attend = _attend_cache(avail)
    caps = {m.id for m in doc.members if m.max_sessions_per_week is not None}
    out = []
    for spec in specs:
        cands = score(avail, spec, attend(spec.slots(avail.grid)))
        out.append(_Match(spec, cands, cands.viable(), avail.indices(spec.members),
                          bool(caps & set(spec.members))))
    return out


def components(matches: list[_Match]) -> list[list[int]]:
    """Groups of matches linked by shared members (union-find over people)."""
    parent = list(range(len(matches)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    for i, m in enumerate(matches):
        for p in m.people.tolist():
            if p in owner:
                parent[find(i)] = find(owner[p])
            else:
                owner[p] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(matches)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=len, reverse=True)


def _neighbours(matches: list[_Match], comp: list[int]) -> dict[int, list[int]]:
    by_person: dict[int, list[int]] = {}
    for i in comp:
        for p in matches[i].people.tolist():
            by_person.setdefault(p, []).append(i)
    out: dict[int, set[int]] = {i: set() for i in comp}
    for ms in by_person.values():
        for i in ms:
            out[i].update(j for j in ms if j != i)
    return {i: sorted(js) for i, js in out.items()}


def prune_component(matches: list[_Match], comp: list[int], week: np.ndarray
                    ) -> dict[int, Candidates]:
    """Each match's candidates that an optimal plan may use (see solver/prune.py)."""
    nbrs = _neighbours(matches, comp)
    kept = {}
    for i in comp:
        c = matches[i].cands
        limit = 1 + sum(blocking(c.first, c.slots, c.k, matches[j].cands.first,
                                 matches[j].cands.slots, matches[j].cands.k) for j in nbrs[i])
        groups = None
        if matches[i].cap_people and len(c):
            weeks = week[c.slots]
            _, groups = np.unique(weeks, axis=0, return_inverse=True)
            groups = groups.ravel()
        kept[i] = c.take(keep(len(c), limit, groups))
    return kept


def _compatible(choices: list[tuple[np.ndarray, int, np.ndarray]], week: np.ndarray,
                caps: dict[int, int]) -> bool:
    """No person in two overlapping sessions and no cap exceeded, for (people, k, slots)."""
    taken: dict[int, list[tuple[int, int]]] = {}
    for people, k, slots in choices:
        for p in people.tolist():
            taken.setdefault(p, []).extend((int(s), int(s) + k) for s in slots)
    for p, spans in taken.items():
        spans.sort()
        if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
            return False
        if p in caps and np.bincount(week[[s for s, _ in spans]]).max() > caps[p]:
            return False
    return True


def plan(doc: ProgramDocument, avail: Availability | None = None, *,
         match_ids: Sequence[str] | None = None, time_limit: float = 60.0, workers: int = 2,
         seed: int = 0, progress: Progress | None = None) -> Plan:
    """Plan every match (or ``match_ids``) together: SPEC 5's lexicographic optimum."""
    t_start = time.perf_counter()
    avail = avail or build_availability(doc)
    grid = avail.grid
    wanted = [doc.match(x) for x in match_ids] if match_ids else list(doc.matches)
    specs = [match_spec(doc, x, grid) for x in wanted]
    matches = score_matches(doc, avail, specs)
    t_scored = time.perf_counter()
    week = wall_clock(grid, doc.program.zone).week
    week = week - week.min()
    caps = {avail.index(m.id): m.max_sessions_per_week for m in doc.members
            if m.max_sessions_per_week is not None and m.id in avail.members}
    weight = sum(int(m.cands.attendance.max()) for m in matches if len(m.cands)) + 1

    choice: dict[int, int | None] = {}
    primary_bound = 0
    statuses: list[Status] = []
    comps = components(matches)
    total = sum(len(c) for c in comps)
    done, build_s, solve_s, models = 0, 0.0, 0.0, 0
    for comp in comps:
        comp = [i for i in comp if len(matches[i].cands)]
        for i in comp:
            choice[i] = 0
        if len(comp) > 1:
            kept = prune_component(matches, comp, week)
            tops = [(matches[i].people, kept[i].k, kept[i].slots[0]) for i in comp]
            if not _compatible(tops, week, caps):
                share = max(0.2, (time_limit - (time.perf_counter() - t_start))
                            * len(comp) / max(total - done, 1))
                inst = BatchInstance(
                    [BatchMatch(matches[i].people, kept[i].k, kept[i].slots, kept[i].held,
                                kept[i].attendance, kept[i].preferred,
                                kept[i].first - kept[i].first.min()) for i in comp],
                    week, {p: c for p, c in caps.items()
                           if any(p in matches[i].people for i in comp)}, weight)
                res = solve(inst, time_limit=share, workers=workers, seed=seed)
                models += 1
                build_s += res.build_seconds
                solve_s += res.solve_seconds
                statuses.append(res.status)
                primary_bound += res.primary_bound
                picked = res.choice
                if res.status not in ("optimal", "feasible"):
                    picked = _first_come([kept[i] for i in comp],
                                         [matches[i].people for i in comp], week, inst.caps)
                for i, c in zip(comp, picked, strict=True):
                    choice[i] = None if c is None else int(
                        np.flatnonzero(matches[i].cands.first == kept[i].first[c])[0])
                done += len(comp)
                if progress:
                    progress(done / max(total, 1), f"planned {done} of {total} matches")
                continue
        primary_bound += sum(int(matches[i].cands.held[0]) * weight
                             + int(matches[i].cands.attendance[0]) for i in comp)
        done += len(comp)
    t_solved = time.perf_counter()

    series, unscheduled = _assemble(doc, avail, matches, choice, caps)
    objective = sum((s.score for s in series), Score())
    status: Status = "optimal" if all(s == "optimal" for s in statuses) else "feasible"
    held_b, att_b = divmod(primary_bound, weight)
    pref_b = sum(int(m.cands.preferred.max()) for m in matches if len(m.cands))
    return Plan(status, objective, Score(held_b, att_b, pref_b),
                round(time.perf_counter() - t_start, 3), tuple(series), tuple(unscheduled),
                {"score_seconds": t_scored - t_start, "build_seconds": build_s,
                 "solve_seconds": solve_s, "models": models, "components": len(comps),
                 "total_seconds": t_solved - t_start})


def _assemble(doc: ProgramDocument, avail: Availability, matches: list[_Match],
              choice: dict[int, int | None], caps: dict[int, int]
              ) -> tuple[list[Series], list[Unscheduled]]:
    attend = _attend_cache(avail)
    series, unscheduled = [], []
    busy_by: dict[str, np.ndarray] = {}
    for i, m in enumerate(matches):
        c = choice.get(i)
        if c is None:
            continue
        cands = m.cands
        for member in m.spec.members:
            taken = busy_by.setdefault(member, np.zeros(avail.grid.n_slots + 1, bool))
            for s in cands.slots[c].tolist():
                taken[s:s + cands.k] = True
        can = attend(cands.k)[:, avail.indices(m.spec.members)]
        series.append(build_series(avail, cands, c, can=can))
    capped = {avail.members[p] for p in caps}
    for i, m in enumerate(matches):
        if choice.get(i) is not None:
            continue
        can = attend(m.all.k)[:, avail.indices(m.spec.members)]
        if not len(m.cands):
            reason = no_candidate_reason(avail, m.all, can)
        else:
            others = {k: v for k, v in busy_by.items() if k in m.spec.members}
            reason = blocked_reason(m.cands, others, capped & _at_cap(matches, choice, m))
        unscheduled.append(Unscheduled(m.spec.id, reason))
    return series, unscheduled


def _at_cap(matches: list[_Match], choice: dict[int, int | None], m: _Match) -> set[str]:
    return set(m.spec.members) if m.cap_people else set()


def _first_come(cands: list[Candidates], people: list[np.ndarray], week: np.ndarray,
                caps: dict[int, int]) -> list[int | None]:
    """Each match in turn takes its best candidate that fits what is already booked."""
    picked: list[int | None] = []
    booked: list[tuple[np.ndarray, int, np.ndarray]] = []
    for c, p in zip(cands, people, strict=True):
        chosen = None
        for idx in range(len(c)):
            trial = (p, c.k, c.slots[idx])
            if _compatible([*booked, trial], week, caps):
                chosen = idx
                booked.append(trial)
                break
        picked.append(chosen)
    return picked


def first_come_first_served(doc: ProgramDocument, avail: Availability | None = None
                            ) -> list[tuple[str, Score | None]]:
    """The peer booking tools use: matches in document order each take their best free
    series. Returns each match's score (None when it got nothing)."""
    avail = avail or build_availability(doc)
    specs = [match_spec(doc, x, avail.grid) for x in doc.matches]
    matches = score_matches(doc, avail, specs)
    week = wall_clock(avail.grid, doc.program.zone).week
    caps = {avail.index(m.id): m.max_sessions_per_week for m in doc.members
            if m.max_sessions_per_week is not None}
    # Occupancy per person as a slot bitmap keeps this linear in the program's size.
    taken = np.zeros((avail.grid.n_slots + 1, len(avail.members)), dtype=bool)
    per_week: dict[int, np.ndarray] = {p: np.zeros(week.max() + 1, np.int64) for p in caps}
    out: list[tuple[str, Score | None]] = []
    for m in matches:
        c = m.cands
        got = None
        if len(c):
            span = (c.slots[:, :, None] + np.arange(c.k)).reshape(len(c), -1)
            clash = taken[span][:, :, m.people].any(axis=(1, 2))
            for idx in np.flatnonzero(~clash).tolist():
                weeks = week[c.slots[idx]]
                if any(p in caps and (per_week[p] + np.bincount(
                        weeks, minlength=len(per_week[p]))).max() > caps[p]
                        for p in m.people.tolist()):
                    continue
                got = idx
                break
        if got is None:
            out.append((m.spec.id, None))
            continue
        for s in c.slots[got].tolist():
            taken[s:s + c.k, m.people] = True
        for p in m.people.tolist():
            if p in caps:
                np.add.at(per_week[p], week[c.slots[got]], 1)
        out.append((m.spec.id, Score(int(c.held[got]), int(c.attendance[got]),
                                     int(c.preferred[got]))))
    return out


def per_match_upper_bound(doc: ProgramDocument, avail: Availability | None = None) -> Score:
    """Every match alone at its best: no plan can do better (the peer bound)."""
    avail = avail or build_availability(doc)
    specs = [match_spec(doc, x, avail.grid) for x in doc.matches]
    total = Score()
    for m in score_matches(doc, avail, specs):
        if len(m.cands):
            total = total + Score(int(m.cands.held[0]), int(m.cands.attendance[0]),
                                  int(m.cands.preferred[0]))
    return total
