"""The notebook API: what `ingest` and `solver` re-export is the documented functions, and
importing the packages stays light."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ingest
import solver

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "pandas", "pydantic", "ortools", "matplotlib", "sqlalchemy", "IPython")


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("package", [ingest, solver], ids=lambda p: p.__name__)
def test_every_export_is_the_object_its_module_defines(package):
    """Each name in __all__ is the very object of the module _EXPORTS names, and shows in
    dir() for completion."""
    for name in package.__all__:
        module = importlib.import_module(f"{package.__name__}.{package._EXPORTS[name]}")
        assert getattr(package, name) is getattr(module, name), name
        assert name in dir(package)


def test_an_unknown_name_is_an_attribute_error():
    """A name that is not exported fails as on any module."""
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = solver.nothing
    with pytest.raises(ImportError):
        from ingest import nothing  # noqa: F401


def test_importing_the_packages_loads_nothing_heavy():
    """`import ingest, solver` in a fresh interpreter loads none of numpy, pandas, pydantic,
    OR-Tools, matplotlib, SQLAlchemy or IPython; a name loads its module when used."""
    code = (
        f"import sys, ingest, solver; print([m for m in {HEAVY!r} if m in sys.modules]); "
        f"from ingest import load_program; print('ingest.document' in sys.modules)"
    )
    assert _python(code).splitlines() == ["[]", "True"]


def test_submodules_are_never_shadowed_by_a_function():
    """`solver.heatmap` and `solver.proposals` stay the modules (no function re-exported
    under a submodule's name), however the imports are ordered."""
    code = (
        "import solver, inspect; import solver.heatmap as h; import solver.frames; "
        "print(inspect.ismodule(h), inspect.ismodule(solver.heatmap), "
        "inspect.ismodule(solver.proposals))"
    )
    assert _python(code) == "True True True"
    assert not {"heatmap", "proposals"} & set(solver.__all__)


def test_every_function_the_python_api_doc_names_exists():
    """docs/python-api.md names functions by module path (`solver.frames.proposals(...)`):
    each of them can be imported from there."""
    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`((?:ingest|solver|service)(?:\.\w+)+)\(", text))
    assert len(names) > 10
    for dotted in sorted(names):
        module, _, name = dotted.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), dotted
