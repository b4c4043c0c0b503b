"""Errors of the ingest layer: every one is a ValueError that names where the problem is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem at one place of a document, e.g. ``members[3].timezone``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class IngestError(ValueError):
    """Root of every error raised while reading availability."""


class DocumentError(IngestError):
    """A program document (or part of one) is invalid; carries every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @classmethod
    def at(cls, path: str, message: str) -> DocumentError:
        return cls([FieldError(path, message)])


class CalendarError(IngestError):
    """A calendar could not be read; names the member, the source and the problem.

    A broken calendar is never silently taken as "free".
    """

    def __init__(self, problem: str, *, member: str | None = None, source: str | None = None,
                 line: str | None = None, field: str | None = None) -> None:
        self.problem = problem
        self.member = member
        self.source = source
        self.line = line
        # Where the calendar sits in its document (``members[2].calendars[0]``), if known.
        self.field = field
        super().__init__(self._text())

    def _text(self) -> str:
        where = []
        if self.member:
            where.append(f"member {self.member!r}")
        if self.source:
            where.append(self.source)
        text = f"{', '.join(where)}: {self.problem}" if where else self.problem
        if self.line:
            text += f" (at {self.line!r})"
        return text

    def for_member(self, member: str, source: str | None = None) -> CalendarError:
        """The same error, attributed to a member (and source) by the caller that knows them."""
        return CalendarError(self.problem, member=member, source=source or self.source,
                             line=self.line, field=self.field)


class CsvError(IngestError):
    """A CSV availability file has a bad row; names the line and the column."""

    def __init__(self, line: int, column: str, problem: str) -> None:
        self.line = line
        self.column = column
        self.problem = problem
        super().__init__(f"line {line}, {column}: {problem}")
