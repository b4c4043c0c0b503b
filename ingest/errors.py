"""Errors of the ingest layer: every one is a ValueError that names where the problem is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


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

    A broken calendar is never silently taken as "free". What the message quotes from
    the calendar is kept apart: ``problem`` is a template whose ``{fields}`` are filled
    from ``quoted`` (values read from the calendar), and ``line`` is the offending line
    (``line_number`` its number in the file). :meth:`without_content` drops all of it.
    """

    def __init__(
        self,
        problem: str,
        *,
        member: str | None = None,
        source: str | None = None,
        line: str | None = None,
        line_number: int | None = None,
        field: str | None = None,
        **quoted: object,
    ) -> None:
        self.template = problem
        self.quoted: dict[str, Any] = quoted  # spread into a new CalendarError by _with
        self.problem = problem.format(**quoted) if quoted else problem
        self.member = member
        self.source = source
        self.line = line
        self.line_number = line_number
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
        at = [f"line {self.line_number}"] if self.line_number else []
        at += [repr(self.line)] if self.line else []
        if at:
            text += f" (at {': '.join(at)})"
        return text

    def _with(self, **changes: Any) -> CalendarError:
        kept: dict[str, Any] = {
            "member": self.member,
            "source": self.source,
            "line": self.line,
            "line_number": self.line_number,
            "field": self.field,
        }
        return CalendarError(self.template, **{**kept, **changes}, **self.quoted)

    def for_member(self, member: str, source: str | None = None) -> CalendarError:
        """The same error, attributed to a member (and source) by the caller that knows them."""
        return self._with(member=member, source=source or self.source)

    def placed(self, source: str, field: str) -> CalendarError:
        """The same error, placed in its document by the caller that knows where."""
        return self._with(source=source, field=field)

    def at_line(self, number: int | None) -> CalendarError:
        """The same error with the number of its line in the file."""
        return self._with(line_number=number)

    def without_content(self) -> CalendarError:
        """The same error quoting nothing from the calendar: the line's number instead of
        the line, and "…" for each value read from it (iCalendar names and numbers stay).
        For calendars fetched from a URL: what a server answered must never be echoed to
        whoever named the URL (it may be an internal service's page)."""
        hidden: dict[str, Any] = {
            name: value if _is_name(value) else _HIDDEN for name, value in self.quoted.items()
        }
        return CalendarError(
            self.template,
            member=self.member,
            source=self.source,
            line_number=self.line_number,
            field=self.field,
            **hidden,
        )


class _Hidden:
    """Stands for a value read from a calendar, whichever way a template formats it."""

    def __format__(self, spec: str) -> str:
        return "…"

    def __repr__(self) -> str:  # {x!r}
        return "…"

    __str__ = __repr__  # {x!s}


_HIDDEN = _Hidden()
# Words of RFC 5545 (component and property names) that a message may name even for a
# fetched calendar: they say what is wrong without quoting what the server sent.
_ICAL_WORDS = re.compile(
    r"(?:V(?:CALENDAR|EVENT|TODO|JOURNAL|FREEBUSY|TIMEZONE|ALARM)|STANDARD"
    r"|DAYLIGHT|DTSTART|DTEND|DURATION|RRULE|RDATE|EXDATE|EXRULE"
    r"|RECURRENCE-ID|FREEBUSY|TZOFFSETFROM|TZOFFSETTO|STATUS|TRANSP|UID"
    r"|SEQUENCE|X-WR-TIMEZONE|X-MICROSOFT-CDO-BUSYSTATUS|TZID)"
)


def _is_name(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and _ICAL_WORDS.fullmatch(value) is not None
    )


class CsvError(IngestError):
    """A CSV availability file has a bad row; names the line and the column."""

    def __init__(self, line: int, column: str, problem: str) -> None:
        self.line = line
        self.column = column
        self.problem = problem
        super().__init__(f"line {line}, {column}: {problem}")
