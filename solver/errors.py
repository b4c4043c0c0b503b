"""Errors of the solver layer: ValueErrors that carry the input they are about, so the
service can name the field without reading the message; and ModelInvalid, the one error
that is never the input's fault."""

from __future__ import annotations


class SolverError(ValueError):
    """An input the solver cannot work with; ``field`` names it (e.g. ``duration_minutes``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ModelInvalid(RuntimeError):
    """CP-SAT rejected a model this package built (MODEL_INVALID): a bug here, not a
    mistake in the input. Not a ValueError on purpose: the service answers ValueErrors
    (``SolverError``) as the caller's mistake (422), and some of its handlers catch any
    ValueError; this must surface as an internal error (500, or a plan job failed with
    "internal error"). ``reason`` is CP-SAT's own explanation (``CpModel.validate()``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)  # the one argument, so that it pickles from a worker
        self.reason = reason

    def __str__(self) -> str:
        return f"CP-SAT rejected the model as invalid (a bug in slotwise): {self.reason}"
