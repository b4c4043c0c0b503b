"""Service settings, read once from the environment (``SLOTWISE_*``) or given by the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DB = "sqlite:///slotwise.sqlite"


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told; defaults make ``make run`` work anywhere."""

    db_url: str = DEFAULT_DB
    # smtp://host:port, smtps://..., smtp+starttls://...; None writes .eml files to ``outbox``.
    smtp_url: str | None = None
    outbox: Path = field(default_factory=lambda: Path("outbox"))
    sender: str = "slotwise <slotwise@localhost>"
    max_body_bytes: int = 2_000_000
    max_members: int = 20_000
    max_matches: int = 20_000
    plan_time_limit: float = 60.0
    max_plan_time_limit: float = 600.0
    # Calendar URLs may not point into the server's own network unless this is set.
    allow_private_urls: bool = False
    ics_timeout: float = 10.0
    ics_max_bytes: int = 5_000_000
    retry_seconds: float = 30.0
    # Batch plans solve their models on the Dask cluster of this scheduler
    # (tcp://host:8786) when set; else in local processes when a plan is large enough
    # (solver/executors.py), ``plan_processes`` of them (default: one per core).
    scheduler: str | None = None
    plan_processes: int | None = None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {}
        if "SLOTWISE_DB" in env:
            values["db_url"] = env["SLOTWISE_DB"]
        if env.get("SLOTWISE_SMTP_URL"):
            values["smtp_url"] = env["SLOTWISE_SMTP_URL"]
        if "SLOTWISE_OUTBOX" in env:
            values["outbox"] = Path(env["SLOTWISE_OUTBOX"])
        if "SLOTWISE_SENDER" in env:
            values["sender"] = env["SLOTWISE_SENDER"]
        if "SLOTWISE_MAX_BODY_BYTES" in env:
            values["max_body_bytes"] = int(env["SLOTWISE_MAX_BODY_BYTES"])
        if env.get("SLOTWISE_SCHEDULER"):
            values["scheduler"] = env["SLOTWISE_SCHEDULER"]
        if env.get("SLOTWISE_PLAN_PROCESSES"):
            values["plan_processes"] = int(env["SLOTWISE_PLAN_PROCESSES"])
        if env.get("SLOTWISE_ALLOW_PRIVATE_URLS", "").lower() in ("1", "true", "yes"):
            values["allow_private_urls"] = True
        if "SLOTWISE_RETRY_SECONDS" in env:
            values["retry_seconds"] = float(env["SLOTWISE_RETRY_SECONDS"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
