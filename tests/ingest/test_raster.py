"""ingest.raster.cover against a slot-by-slot fill, for every member count's copy path."""

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ingest.grid import SlotGrid
from ingest.raster import cover
from ingest.windows import Intervals


def _union(spans: list[tuple[int, int]]) -> list[list[int]]:
    """Sorted spans with the overlapping or touching ones joined, one by one."""
    joined: list[list[int]] = []
    for s, e in spans:
        if joined and s <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], e)
        else:
            joined.append([s, e])
    return joined


def _naive(grid: SlotGrid, iv: Intervals, k: int, inward: bool) -> np.ndarray:
    """Slot j is covered when [t_j, t_j + step) lies inside an interval (inward: a window
    holds the whole slot; a union of touching windows counts as one) or overlaps one
    (outward: busy time; an instant strictly inside a slot takes the slot)."""
    out = np.zeros((grid.n_slots, k), dtype=bool)
    starts = grid.t0_epoch + grid.step * np.arange(grid.n_slots)
    for j in range(k):
        mine = sorted(
            (int(s), int(e))
            for m, s, e in zip(iv.member, iv.start, iv.end, strict=True)
            if m == j and (e > s or not inward)
        )
        if inward:
            for s, e in _union(mine):
                out[:, j] |= (starts >= s) & (starts + grid.step <= e)
        else:
            for s, e in mine:
                out[:, j] |= (starts < e) & (starts + grid.step > s)
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 8, 9, 16, 17])
@pytest.mark.parametrize("inward", [True, False])
def test_cover_equals_a_slot_by_slot_fill(k, inward):
    """Under 8 members the result is copied through a transpose (column-major), at 8, 16
    members it is the mark matrix itself, otherwise a row-major copy: all the same
    cells."""
    grid = SlotGrid(ZoneInfo("UTC"), date(2027, 1, 4), date(2027, 1, 6), 15, None)
    rng = np.random.default_rng(k * 2 + inward)
    n = 6 * k
    start = grid.t0_epoch + rng.integers(-3600, 2 * 86400, n) // 300 * 300
    iv = Intervals(
        rng.integers(0, k, n).astype(np.int64),
        start.astype(np.int64),
        (start + rng.integers(0, 6 * 3600, n) // 300 * 300).astype(np.int64),
    )
    got = cover(grid, iv, k, inward=inward)
    assert got.shape == (grid.n_slots, k) and got.dtype == bool
    assert np.array_equal(got, _naive(grid, iv, k, inward))
    # The columns of a small group are contiguous (the cache keeps them one by one).
    assert got.flags.f_contiguous if k < 8 else got.flags.c_contiguous


@pytest.mark.parametrize("seed", range(6))
def test_merge_is_each_members_union(seed):
    """Overlapping and touching intervals join, per member and never across members;
    empty ones vanish; the result is sorted by member, then start."""
    from ingest.raster import merge

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    start = rng.integers(0, 200, n) * 10 + 1_800_000_000
    iv = Intervals(
        rng.integers(0, 4, n).astype(np.int64),
        start.astype(np.int64),
        (start + rng.integers(0, 8, n) * 10).astype(np.int64),
    )
    expected = []
    for j in range(4):
        spans = sorted(
            (int(s), int(e))
            for m, s, e in zip(iv.member, iv.start, iv.end, strict=True)
            if m == j and e > s
        )
        expected += [(j, s, e) for s, e in _union(spans)]
    got = merge(iv)
    assert list(zip(got.member.tolist(), got.start.tolist(), got.end.tolist(), strict=True)) == (
        expected
    )
