"""notebooks/: every notebook runs top to bottom in a fresh kernel and draws real figures;
the committed files carry no outputs and match their builder."""

import base64
import importlib.util
import os
import struct
import time
from pathlib import Path

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
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.perf_counter()
    client.execute(env={**os.environ, "MPLBACKEND": "Agg"})  # raises on a cell error
    seconds = time.perf_counter() - started
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{name} wrote to stderr:\n" + "".join(stderr)
    pngs = [base64.b64decode(o.data["image/png"]) for o in outputs
            if "image/png" in o.get("data", {})]
    assert pngs, f"{name} displayed no figure"
    for png in pngs:
        width, height = _png_size(png)
        assert width >= 200 and height >= 200 and len(png) > 5_000
    assert seconds < 60, f"{name} took {seconds:.0f} s; keep notebooks under ~30 s"


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_stripped_and_built_from_its_cells(name):
    """What git holds has no outputs or execution counts, and its cells are exactly those
    of notebooks/build_notebooks.py (so editing one without the other shows up)."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  NOTEBOOKS / "build_notebooks.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    cells = {"explore_availability": builder.EXPLORE, "batch_planning": builder.BATCH}[name]
    assert [(c.cell_type, c.source) for c in nb.cells] == [
        (c.cell_type, c.source) for c in cells]
