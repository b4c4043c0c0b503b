"""Drop candidates that cannot be in an optimal plan, before the model is built.

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


def blocking(first: np.ndarray, slots: np.ndarray, k: int,
             other_first: np.ndarray, other_slots: np.ndarray, other_k: int) -> int:
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
