"""CSV availability import: weekly windows and one-off intervals, errors naming line/column."""

import numpy as np
import pytest

from ingest.availability import build_availability
from ingest.csv_source import apply_csv, read_availability_csv
from ingest.document import parse_program
from ingest.errors import CsvError

GOOD = """member,day,start,end,type
ben,WE,09:00,10:00,
ben,2027-01-08,13:00,14:00,available
ben,,2027-01-13T00:00,2027-01-14T00:00,unavailable
"""


def test_rows_become_windows_and_intervals():
    """Weekly, dated and full date-time rows land in the right lists."""
    rows = read_availability_csv(GOOD)["ben"]
    assert [(w.days, w.start, w.end) for w in rows.weekly] == [(["WE"], 540, 600)]
    assert rows.available[0].start.isoformat() == "2027-01-08T13:00:00"
    assert rows.unavailable[0].end.isoformat() == "2027-01-14T00:00:00"


def test_applied_csv_changes_availability(program_dict):
    """With replace=True the CSV is the member's whole availability."""
    doc = apply_csv(parse_program(program_dict), GOOD, replace=True)
    col = build_availability(doc, calendars=False).column("ben")
    # 13 Wednesdays of 4 slots, minus the blocked 13 January, plus 4 slots on 8 January.
    assert int(np.sum(col)) == 13 * 4 - 4 + 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("member,day,start\nben,WE,09:00\n", "line 1, header: missing column(s): end"),
        ("member,day,start,end\nben,XX,09:00,10:00\n", "line 2, day: expected MO..SU or a date"),
        ("member,day,start,end\nben,WE,10:00,09:00\n", "line 2, end: must be after start"),
        ("member,day,start,end\nben,WE,9am,10:00\n", "line 2, start: expected a time of day"),
        ("member,day,start,end,type\nben,WE,09:00,10:00,busy\n", "line 2, type: must be"),
        ("member,day,start,end,type\nben,WE,09:00,10:00,unavailable\n", "line 2, type: a weekly"),
        ("member,day,start,end\n,WE,09:00,10:00\n", "line 2, member: is empty"),
    ],
)
def test_bad_rows_name_line_and_column(text, message):
    """Every bad cell is reported with its line number and column name."""
    with pytest.raises(CsvError) as info:
        read_availability_csv(text)
    assert message in str(info.value)


def test_unknown_member_is_refused(program_dict):
    """A CSV naming someone outside the program is an error, not a silent skip."""
    with pytest.raises(CsvError, match='line 5, member: unknown member "zed"'):
        apply_csv(parse_program(program_dict), GOOD + "zed,MO,09:00,10:00,\n")


def test_unreadable_csv_names_the_line():
    """Regression (fuzzing): the csv module's own errors (here a cell over its size limit)
    escaped as _csv.Error."""
    with pytest.raises(CsvError, match="line 2, row: field larger than field limit"):
        read_availability_csv("member,day,start,end\nben,WE,09:00," + "1" * 200_000 + "\n")


def test_old_mac_line_ends_are_read():
    """Regression (fuzzing): a lone CR ended a line for csv but not for the reader
    (_csv.Error "new-line character seen in unquoted field")."""
    rows = read_availability_csv("member,day,start,end\rben,WE,09:00,10:00\r")["ben"]
    assert [(w.days, w.start, w.end) for w in rows.weekly] == [(["WE"], 540, 600)]


def test_every_bad_row_is_collected_when_asked(program_dict):
    """With an errors list, each bad row (and unknown member) is reported, in one reading,
    and only the good rows are applied."""
    text = GOOD + "ben,XX,09:00,10:00,\nzed,MO,09:00,10:00,\nben,TH,11:00,10:00,\n"
    errors: list[CsvError] = []
    doc = apply_csv(parse_program(program_dict), text, replace=True, errors=errors)
    assert [(e.line, e.column) for e in errors] == [(5, "day"), (7, "end"), (6, "member")]
    ben = doc.member("ben")
    assert [(w.days, w.start) for w in ben.weekly] == [(["WE"], 540)]
