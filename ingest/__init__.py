"""Who is available when: program documents, calendars and the availability matrix.

The notebook API (docs/python-api.md) can be imported from here, e.g. ``from ingest import
load_program, build_availability``. Each name is loaded from its module on first use, so
``import ingest`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exports import lazy_exports

# name -> the module of this package that defines it
_EXPORTS = {
    "Availability": "availability",
    "build_availability": "availability",
    "DocumentError": "errors",
    "CalendarError": "errors",
    "ProgramDocument": "document",
    "load_program": "document",
    "parse_program": "document",
    "free_hours_per_week": "members",
    "longest_free_hours": "members",
    "utc_offset_hours": "members",
    "with_weekly_cap": "members",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # `X as X`: re-exported, for type checkers and editors
    from .availability import Availability as Availability
    from .availability import build_availability as build_availability
    from .document import ProgramDocument as ProgramDocument
    from .document import load_program as load_program
    from .document import parse_program as parse_program
    from .errors import CalendarError as CalendarError
    from .errors import DocumentError as DocumentError
    from .members import free_hours_per_week as free_hours_per_week
    from .members import longest_free_hours as longest_free_hours
    from .members import utc_offset_hours as utc_offset_hours
    from .members import with_weekly_cap as with_weekly_cap


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
