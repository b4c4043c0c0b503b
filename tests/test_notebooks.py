"""notebooks/: every notebook runs top to bottom in a fresh kernel and draws real figures;
the committed files carry no outputs and are in sync with their py:percent source."""

import base64
import os
import struct
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["explore_availability", "batch_planning"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first chunk, right after the signature)."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", "not a PNG image"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_draws_figures(name):
    """The notebook executes without a cell error or any stderr output (warnings included)
    and displays at least one real PNG figure; matplotlib runs on Agg, as in CI."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    started = time.perf_counter()
    client.execute(env={**os.environ, "MPLBACKEND": "Agg"})  # raises on a cell error
    seconds = time.perf_counter() - started
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{name} wrote to stderr:\n" + "".join(stderr)
    pngs = [
        base64.b64decode(o.data["image/png"]) for o in outputs if "image/png" in o.get("data", {})
    ]
    assert pngs, f"{name} displayed no figure"
    for png in pngs:
        width, height = _png_size(png)
        assert width >= 200 and height >= 200 and len(png) > 5_000
    assert seconds < 60, f"{name} took {seconds:.0f} s; keep notebooks under ~30 s"


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_stripped_and_built_from_its_cells(name):
    """What git holds has no outputs or execution counts, and its cells are exactly those
    of its paired notebooks/<name>.py (so editing one without the other shows up)."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    cells = jupytext.read(NOTEBOOKS / f"{name}.py").cells
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in cells]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_and_its_source_round_trip(name):
    """The .ipynb is paired with its py:percent source, and jupytext writes that source
    back from it unchanged (cell markers and metadata included), but for the header line
    naming jupytext's version. After editing either: jupytext --sync notebooks/<name>.py"""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"

    def text(source: str) -> list[str]:
        return [line for line in source.splitlines() if "jupytext_version:" not in line]

    source = (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8")
    assert text(jupytext.writes(nb, fmt="py:percent")) == text(source)
