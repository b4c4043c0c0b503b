"""`pip install .` (not editable) gives a working server: the wheel ships the web page and
the vendored Swagger UI (issue "Trust at the edges", 26)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the wheel is built from; a copy, so the build leaves nothing in the source tree.
SOURCES = ["pyproject.toml", "README.md", "ingest", "solver", "service"]

# Runs in a fresh interpreter (-I: no PYTHONPATH, no user site, no cwd on the path) from a
# directory outside the source tree, with the installed wheel first on sys.path. The venv's
# editable install of the source tree is still there: the paths printed prove which copy
# was imported.
PROBE = r"""
import asyncio, re, sys
sys.path.insert(0, sys.argv[1])
import httpx, ingest, service, solver
from service.app import create_app
from service.config import Settings
MODULES = sys.argv[3].split(",")

print("FILES", service.__file__, ingest.__file__, solver.__file__)
app = create_app(Settings(db_url="sqlite:///" + sys.argv[2]))

async def get_all():
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        docs = await client.get("/docs")
        assets = re.findall(r'(?:src|href)="(/[^"]*)"', docs.text)
        for path in ["/", *MODULES, "/docs", *assets]:
            r = await client.get(path)
            print("GET", path, r.status_code, len(r.content))

asyncio.run(get_all())
app.state.executor.shutdown()
app.state.engine.dispose()
"""


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_installed_wheel_serves_the_page_and_the_docs(tmp_path: Path) -> None:
    """A wheel built from the sources, installed outside the source tree, answers 200 for
    the page, its scripts and styles, /docs and every asset /docs loads."""
    import setuptools

    # Older ones cannot read pyproject.toml; `make test` (pip install --group dev) updates it.
    assert int(setuptools.__version__.split(".")[0]) >= 77, (
        f"setuptools {setuptools.__version__} in this venv is too old to build the wheel"
    )
    src = tmp_path / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    # Offline: the venv's own setuptools builds it (the dev group asks for one that reads
    # pyproject.toml's PEP 639 license).
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-q",
        "-w",
        tmp_path / "dist",
        src,
        cwd=tmp_path,
    )
    [wheel] = (tmp_path / "dist").glob("slotwise-*.whl")
    site = tmp_path / "site"
    _run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        "--target",
        site,
        wheel,
        cwd=tmp_path,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Every file of the web app in the source tree must be served from the installed wheel.
    app = ",".join(f"/static/app/{f.name}" for f in sorted((ROOT / "service/static/app").iterdir()))
    out = _run(sys.executable, "-I", "-c", PROBE, site, tmp_path / "db.sqlite", app, cwd=elsewhere)

    files = next(line.split()[1:] for line in out.splitlines() if line.startswith("FILES"))
    assert all(Path(f).is_relative_to(site) for f in files), files
    answers = [line.split() for line in out.splitlines() if line.startswith("GET")]
    paths = {a[1] for a in answers}
    assert {
        "/static/docs/swagger-ui-bundle.js",
        "/static/docs/swagger-ui.css",
        "/static/docs/docs.js",
    } <= paths
    for _, path, status, size in answers:
        assert (status, int(size) > 0) == ("200", True), path
