"""Progress of plan(): where its phases end on a 0-1 scale, and a reporter that throttles."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]
# Where plan()'s phases end on the progress scale: scoring, first pass, second pass.
SCORING, SECOND_PASS = 0.3, 0.9


class Reporter:
    """Calls ``progress`` at the start, about every 5 %, and at the end, not per model."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.last = -1.0

    def __call__(self, fraction: float, message: str) -> None:
        if self.progress is None:
            return
        if fraction <= 0.0 or fraction >= 1.0 or fraction - self.last >= 0.05:
            if fraction == self.last == 1.0:
                return
            self.last = max(fraction, 0.0)
            self.progress(fraction, message)
