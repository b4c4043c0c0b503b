"""Make plan()'s CP-SAT models small before they are built: split the program into
independent components (matches linked by shared members), and drop candidates that
cannot be in an optimal plan.

Exchange argument: a neighbour match (one sharing a member) takes one series, and one
series overlaps at most B of this match's candidates. If a match keeps its best
``1 + sum of B over its neighbours`` candidates, then in any plan at least one kept
candidate is free of every neighbour's series, and it scores better than any dropped
one; so no optimal plan uses a dropped candidate and the model's bound stays a bound of
the whole problem. Under weekly caps the argument is made within candidates that put
their occurrences in the same weeks, so swapping one for another never moves a cap.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .candidates import Candidates
from .matches import ScoredMatch


def offsets(first: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Every distinct distance from a candidate's first occurrence to its others."""
    return np.unique(slots - first[:, None])


@lru_cache(maxsize=4096)
def _blocking(d_own: bytes, k_own: int, width: int, d_other: bytes, k_other: int) -> int:
    own = np.frombuffer(d_own, dtype=np.int64)
    other = np.frombuffer(d_other, dtype=np.int64)
    # Candidate c (first s) and the neighbour's series (first s') overlap only if
    # s - s' lies in D; the own firsts span `width` slots, so count D in such a window.
    base = np.unique((other[:, None] - own[None, :]).ravel())
    reach = np.arange(-k_own + 1, k_other)
    diffs = np.unique((base[:, None] + reach[None, :]).ravel())
    ends = np.searchsorted(diffs, diffs + width, side="right")
    return int((ends - np.arange(len(diffs))).max())


def shape(first: np.ndarray, slots: np.ndarray) -> tuple[bytes, int]:
    """What ``blocking`` needs of one match's candidates: their offsets and the width of
    their first starts (computed once per match, used for each neighbour)."""
    return offsets(first, slots).astype(np.int64).tobytes(), int(first.max() - first.min())


def blocking(
    first: np.ndarray,
    slots: np.ndarray,
    k: int,
    other_first: np.ndarray,
    other_slots: np.ndarray,
    other_k: int,
) -> int:
    """Upper bound on how many of these candidates one series of the neighbour overlaps."""
    if not len(first) or not len(other_first):
        return 0
    own, width = shape(first, slots)
    return _blocking(own, k, width, shape(other_first, other_slots)[0], other_k)


def blocking_of(own: tuple[bytes, int], k: int, other: tuple[bytes, int], other_k: int) -> int:
    """``blocking`` from the ``shape`` of both matches."""
    return _blocking(own[0], k, own[1], other[0], other_k)


def keep(n_candidates: int, limit: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Indices of the best ``limit`` candidates (they come best first), per group if given."""
    if groups is None:
        return np.arange(min(n_candidates, limit))
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    start = np.searchsorted(g, g, side="left")
    rank = np.arange(len(g)) - start
    return np.sort(order[rank < limit])


def components(matches: list[ScoredMatch]) -> list[list[int]]:
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


def _neighbours(matches: list[ScoredMatch], comp: list[int]) -> dict[int, list[int]]:
    by_person: dict[int, list[int]] = {}
    for i in comp:
        for p in matches[i].people.tolist():
            by_person.setdefault(p, []).append(i)
    out: dict[int, set[int]] = {i: set() for i in comp}
    for ms in by_person.values():
        for i in ms:
            out[i].update(j for j in ms if j != i)
    return {i: sorted(js) for i, js in out.items()}


def prune_component(
    matches: list[ScoredMatch], comp: list[int], week: np.ndarray
) -> dict[int, Candidates]:
    """Each match's candidates that an optimal plan may use (see solver/prune.py)."""
    nbrs = _neighbours(matches, comp)
    shapes = {i: shape(matches[i].cands.first, matches[i].cands.slots) for i in comp}
    kept = {}
    for i in comp:
        c = matches[i].cands
        limit = 1 + sum(blocking_of(shapes[i], c.k, shapes[j], matches[j].cands.k) for j in nbrs[i])
        groups = None
        if matches[i].cap_people and len(c):
            weeks = week[c.slots]
            _, groups = np.unique(weeks, axis=0, return_inverse=True)
            groups = groups.ravel()
        kept[i] = c.take(keep(len(c), limit, groups))
    return kept


def _compatible(
    choices: list[tuple[np.ndarray, int, np.ndarray]], week: np.ndarray, caps: dict[int, int]
) -> bool:
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


def prune(
    matches: list[ScoredMatch], comp: list[int], week: np.ndarray, caps: dict[int, int]
) -> dict[int, Candidates] | None:
    """The component's kept candidates, or None when every match can take its best."""
    kept = prune_component(matches, comp, week)
    tops = [(matches[i].people, kept[i].k, kept[i].slots[0]) for i in comp]
    return None if _compatible(tops, week, caps) else kept
