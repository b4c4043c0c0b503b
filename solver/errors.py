"""Errors of the solver layer: ValueErrors that carry the input they are about, so the
service can name the field without reading the message."""

from __future__ import annotations


class SolverError(ValueError):
    """An input the solver cannot work with; ``field`` names it (e.g. ``duration_minutes``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
