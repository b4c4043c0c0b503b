"""solver/prune.py: the blocking bound really bounds, so pruning keeps an optimum."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.prune import blocking, keep


def overlaps(a_slots, k_a, b_slots, k_b):
    return any(s < t + k_b and t < s + k_a for s in a_slots for t in b_slots)


@st.composite
def series_sets(draw):
    period = draw(st.integers(5, 30))
    n = draw(st.integers(1, 4))
    firsts = sorted(
        draw(st.lists(st.integers(0, period - 1), min_size=1, max_size=period, unique=True))
    )
    jitter = draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n))
    slots = np.array(
        [[f + j * period + (jitter[j] if j else 0) for j in range(n)] for f in firsts],
        dtype=np.int64,
    )
    return np.array(firsts, dtype=np.int64), slots, draw(st.integers(1, 4))


@settings(max_examples=200, deadline=None)
@given(series_sets(), series_sets())
def test_blocking_is_an_upper_bound(own, other):
    """No single neighbour series overlaps more candidates than `blocking` says."""
    f, s, k = own
    of, os_, ok = other
    bound = blocking(f, s, k, of, os_, ok)
    worst = max(sum(overlaps(s[c], k, os_[c2], ok) for c in range(len(f))) for c2 in range(len(of)))
    assert worst <= bound


def test_keep_per_group():
    """keep() takes the best `limit` of each group, in rank order."""
    assert keep(5, 2).tolist() == [0, 1]
    assert keep(6, 1, np.array([1, 0, 1, 0, 2, 2])).tolist() == [0, 1, 4]
