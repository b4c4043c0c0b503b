"""docs/rules.md's table of SLOTWISE_* variables is the one generated from Settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import ENVIRONMENT, TABLE_END, TABLE_START, markdown_table, with_table

RULES = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_the_checked_in_table_is_the_generated_one():
    """The table between the markers in docs/rules.md equals markdown_table(); after a
    change to Settings run `python -m service.config --write docs/rules.md`."""
    text = RULES.read_text(encoding="utf-8")
    assert with_table(text) == text


def test_the_table_lists_every_variable_once():
    """One row per variable, in the order of the model's fields."""
    rows = [line.split("`")[1] for line in markdown_table().splitlines()[2:]]
    assert rows == list(ENVIRONMENT)


def test_with_table_replaces_only_the_generated_block():
    """The text around the markers is kept; a file without them is refused."""
    text = f"before\n{TABLE_START}\n| old |\n{TABLE_END}\nafter\n"
    assert with_table(text) == f"before\n{TABLE_START}\n{markdown_table()}{TABLE_END}\nafter\n"
    with pytest.raises(ValueError, match="no "):
        with_table("no markers here\n")


def test_the_module_prints_the_table():
    """`python -m service.config --markdown` prints markdown_table()."""
    done = subprocess.run(
        [sys.executable, "-m", "service.config", "--markdown"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == markdown_table()
