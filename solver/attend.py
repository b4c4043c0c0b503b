"""Who can attend a session of k slots starting at each slot (SPEC 3), vectorised."""

from __future__ import annotations

from typing import cast

import numpy as np


def can_attend(free: np.ndarray, k: int) -> np.ndarray:
    """``out[i, j]``: column j is free for all of slots ``i .. i+k-1`` (False past the end).

    A sliding AND by doubling: after each step ``run[i]`` covers ``span`` slots, so k slots
    take O(log k) whole-array operations and no extra memory beyond one copy.
    """
    if k < 1:
        raise ValueError("a session lasts at least one slot")
    n = free.shape[0]
    run = np.array(free, dtype=bool, copy=True)
    if k > n:
        run[:] = False
        return run
    span = 1
    while span < k:
        shift = min(span, k - span)
        run[: n - shift] &= run[shift:]
        run[n - shift :] = False
        span += shift
    return run


def attend_counts(free: np.ndarray, k: int) -> np.ndarray:
    """Number of columns that can attend a k-slot session starting at each slot."""
    return row_counts(can_attend(free, k))


def row_counts(matrix: np.ndarray) -> np.ndarray:
    """Trues per row of a boolean matrix, as int64. (numpy's stubs type a reduction with
    ``dtype=`` as Any; this is where it becomes an array again.)"""
    return cast(np.ndarray, matrix.sum(axis=1, dtype=np.int64))
