"""SPEC 3: can-attend and counts equal a plain loop."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from solver.attend import attend_counts, can_attend


def reference(free, k):
    n, m = len(free), len(free[0])
    return [
        [i + k <= n and all(free[i + d][j] for d in range(k)) for j in range(m)] for i in range(n)
    ]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: arrays(bool, (n, 3))), st.integers(1, 12))
def test_can_attend_equals_loop(free, k):
    """A member can attend at i iff all k slots from i are free (never past the horizon)."""
    assert can_attend(free, k).tolist() == reference(free.tolist(), k)
    assert attend_counts(free, k).tolist() == [sum(r) for r in reference(free.tolist(), k)]


def test_session_longer_than_horizon():
    """A session longer than the horizon can never be attended."""
    assert not can_attend(np.ones((3, 2), bool), 4).any()
