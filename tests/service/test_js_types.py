"""The web page's ES modules type-check (JSDoc types, ``tsc --checkJs --strict``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[1] / "js"
TSC = JS / "node_modules" / "typescript" / "bin" / "tsc"


def test_page_modules_type_check():
    """Every module in service/static/app passes TypeScript's strict checks (a wrong call,
    a possibly-null value put on the page, a misspelt property fail here)."""
    node = shutil.which("node")
    if node is None or not TSC.exists():
        pytest.fail("node and tests/js's TypeScript are needed (make test installs them)")
    done = subprocess.run(
        [node, str(TSC), "-p", str(JS / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
