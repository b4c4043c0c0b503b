"""Service settings, read once from the environment (``SLOTWISE_*``) or given by the CLI."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from ingest.text import address_problem

DEFAULT_DB = "sqlite:///slotwise.sqlite"
DEFAULT_SENDER = "slotwise <slotwise@localhost>"


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told; defaults make ``make run`` work anywhere."""

    db_url: str = DEFAULT_DB
    # smtp://host:port, smtps://..., smtp+starttls://...; None writes .eml files to ``outbox``.
    smtp_url: str | None = None
    outbox: Path = field(default_factory=lambda: Path("outbox"))
    sender: str = DEFAULT_SENDER
    max_body_bytes: int = 2_000_000
    # How long a request waits for a database another writer holds (SQLite's busy
    # timeout); past it the request answers 503 with Retry-After, never 500.
    db_busy_seconds: float = 30.0
    max_members: int = 20_000
    max_matches: int = 20_000
    plan_time_limit: float = 60.0
    max_plan_time_limit: float = 600.0
    # Calendar URLs may not point into the server's own network unless this is set.
    allow_private_urls: bool = False
    # One deadline for each calendar URL fetch: resolving, connecting, headers and body.
    ics_timeout: float = 10.0
    ics_max_bytes: int = 5_000_000
    # Calendar URL fetches under way at once per process (each holds a socket and up to
    # ics_max_bytes); a request beyond them gets 503 with Retry-After.
    ics_max_fetches: int = 50
    # Calendar URLs one request may name (fetched together; each may be ics_max_bytes).
    ics_max_urls: int = 20
    retry_seconds: float = 30.0
    # Batch plans solve their models on the Dask cluster of this scheduler
    # (tcp://host:8786) when set; else in local processes when a plan is large enough
    # (solver/executors.py), ``plan_processes`` of them (default: one per core).
    scheduler: str | None = None
    plan_processes: int | None = None
    # Applying a plan books this many series per transaction, so it never holds the
    # database (SQLite: every program's writes) for long (service/jobs.py).
    apply_chunk: int = 50
    # Plan jobs one program may have queued or running at once (1 running + 2 waiting);
    # one more is refused with 429.
    max_plan_jobs: int = 3

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from ``SLOTWISE_*`` variables (see ``ENVIRONMENT``); a bad value is a
        ValueError that names the variable."""
        env = os.environ
        values: dict[str, object] = {}
        for name, (attr, kind) in ENVIRONMENT.items():
            raw = env.get(name, "")
            if raw == "":
                continue
            try:
                values[attr] = _convert(raw, kind)
            except ValueError:
                raise ValueError(f"{name}: {_EXPECTED[kind]}, not {raw!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


    def check_mail(self) -> None:
        """Refuse mail settings that cannot work: a SLOTWISE_SENDER that is no address, or
        the default one (``slotwise@localhost``, which no recipient can reply to) while
        invites really go out by SMTP, or a SLOTWISE_SMTP_URL that cannot be read.
        ValueError naming the variable."""
        from .email import SmtpSettings  # email uses redact from here

        if self.smtp_url and self.smtp_url.strip():
            SmtpSettings.from_url(self.smtp_url)  # raises naming SLOTWISE_SMTP_URL
        address = parseaddr(self.sender)[1]
        problem = address_problem(address) if address else "no address in it"
        if problem is not None:
            raise ValueError(f"SLOTWISE_SENDER: {redact(self.sender)!r} is not a sender "
                             f"address: {problem}")
        if self.smtp_url and self.smtp_url.strip() and \
                address == parseaddr(DEFAULT_SENDER)[1]:
            raise ValueError(f"SLOTWISE_SENDER: invites go out by SMTP (SLOTWISE_SMTP_URL "
                             f"is set), so set the address they come from; the default "
                             f"{address} cannot be replied to")


def redact(url: str) -> str:
    """``url`` fit to print or log: the password of ``user:password@`` (and a
    ``password=`` query parameter) replaced by ``***``. Every URL slotwise shows goes
    through here (SMTP and database URLs)."""
    # The user info ends at the last @: a password may hold @, /, ?, # or : (unencoded,
    # the URL does not even parse, and must not be printed all the same). Redacting too
    # much (an @ later in a path or query) is harmless; too little is not. A file path
    # (sqlite:///path) has no user info.
    found = _USERINFO.match(url)
    if found and not found.group(1).endswith("///"):
        user, colon, _ = found.group(2).partition(":")
        url = found.group(1) + (f"{user}:***" if colon else "***") + url[found.end(2):]
    return _SECRET_PARAM.sub(r"\1***", url)


# A scheme (or a bare user: ahead of host), its slashes, then everything up to the last @.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)?(.*)@")
# A query, fragment or option that names a secret, its = sign plain or %-encoded.
_SECRET_PARAM = re.compile(r"(?i)((?:password|passwd|pwd|pass|secret|token|key|auth|"
                           r"credential)[^=&#;/@\s]*?(?:=|%3D))[^&#;%\s]*")


# Every variable the service reads: (Settings field, kind of value).
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "SLOTWISE_DB": ("db_url", "text"),
    "SLOTWISE_SMTP_URL": ("smtp_url", "text"),
    "SLOTWISE_OUTBOX": ("outbox", "path"),
    "SLOTWISE_SENDER": ("sender", "text"),
    "SLOTWISE_MAX_BODY_BYTES": ("max_body_bytes", "count"),
    "SLOTWISE_DB_BUSY_SECONDS": ("db_busy_seconds", "seconds"),
    "SLOTWISE_MAX_MEMBERS": ("max_members", "count"),
    "SLOTWISE_MAX_MATCHES": ("max_matches", "count"),
    "SLOTWISE_SCHEDULER": ("scheduler", "text"),
    "SLOTWISE_PLAN_PROCESSES": ("plan_processes", "count"),
    "SLOTWISE_ALLOW_PRIVATE_URLS": ("allow_private_urls", "flag"),
    "SLOTWISE_RETRY_SECONDS": ("retry_seconds", "seconds"),
    "SLOTWISE_APPLY_CHUNK": ("apply_chunk", "count"),
    "SLOTWISE_MAX_PLAN_JOBS": ("max_plan_jobs", "count"),
    "SLOTWISE_ICS_TIMEOUT": ("ics_timeout", "seconds"),
    "SLOTWISE_ICS_MAX_FETCHES": ("ics_max_fetches", "count"),
    "SLOTWISE_ICS_MAX_URLS": ("ics_max_urls", "count"),
}

_EXPECTED = {"count": "must be a whole number above 0",
             "seconds": "must be a number of seconds above 0",
             "flag": "must be 1, true, yes, 0, false or no"}


def _convert(raw: str, kind: str) -> object:
    if kind == "text":
        return raw
    if kind == "path":
        return Path(raw)
    if kind == "flag":
        low = raw.strip().lower()
        if low not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError(raw)
        return low in ("1", "true", "yes")
    value = int(raw) if kind == "count" else float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value
