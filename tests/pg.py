"""A throw-away PostgreSQL cluster for the tests: ``initdb`` into a temporary folder,
``pg_ctl start`` on a free 127.0.0.1 port, one database per test, everything deleted at
the end.

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` user
(Debian's package creates it). The Debian package may also start its own cluster on 5432;
this one uses its own port and socket folder, so the two never meet.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.helpers import free_port

REQUIRE_ENV = "SLOTWISE_REQUIRE_POSTGRES"


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's
    ``/usr/lib/postgresql/<version>/bin`` (newest version), where its wrapper scripts
    in /usr/bin do not reach."""
    found = shutil.which("initdb")
    if found:
        bindir = Path(os.path.realpath(found)).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    return Path(candidates[-1]).parent if candidates else None


class PostgresCluster:
    """One ``initdb`` + ``pg_ctl`` cluster: ``start()``, ``create_database()``, ``stop()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="slotwise-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root and there is no 'postgres' user to run "
                    "PostgreSQL as (initdb refuses root)"
                ) from None
            # The temporary folder is root's (mode 0700): hand it to the server's user.
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = {
                "user": user.pw_uid,
                "group": user.pw_gid,
                "extra_groups": [],
                "env": {
                    **os.environ,
                    "HOME": str(self.folder),
                    "USER": "postgres",
                    "LOGNAME": "postgres",
                },
            }

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **self._as,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{args[0]} failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')[-2000:]}\n{log}"
            )

    def start(self) -> PostgresCluster:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        # fsync off: the cluster is thrown away. The socket goes to our folder, not to
        # /var/run/postgresql where a system cluster may live.
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = "t_" + secrets.token_hex(6)
        self._admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        # FORCE: a test's server may still hold connections (or a worker it killed).
        self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
