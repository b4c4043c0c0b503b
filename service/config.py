"""Service settings, read once from the environment (``SLOTWISE_*``) or given by the CLI.

Every field is set by ``SLOTWISE_<FIELD>`` (``db_url`` by ``SLOTWISE_DB``). The table of
them in docs/rules.md is generated from the model: ``python -m service.config --markdown``
prints it, ``--write docs/rules.md`` puts it in place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ingest.text import address_problem

from .redact import redact_url

DEFAULT_DB = "sqlite:///slotwise.sqlite"
DEFAULT_SENDER = "slotwise <slotwise@localhost>"
PREFIX = "SLOTWISE_"

_EXPECTED = {
    "count": "must be a whole number above 0",
    "seconds": "must be a number of seconds above 0",
    "flag": "must be 1, true, yes, 0, false or no",
    "whole seconds": "must be a whole number of seconds, 0 or more",
    "port": "must be a port number from 1 to 65535",
    "secret": "must be at least 16 characters, without spaces",
}
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _above_zero(kind: str, parse: Callable[[str], float]) -> BeforeValidator:
    """Text (from the environment) read with ``parse``; any number must be above 0."""

    def check(value: object) -> object:
        if value is None:
            return None  # only where the field allows None; else pydantic refuses it
        try:
            number = parse(value) if isinstance(value, str) else value
            if number > 0:  # type: ignore[operator]  # TypeError: not a number
                return number
        except (TypeError, ValueError):
            pass
        raise ValueError(_EXPECTED[kind])

    return BeforeValidator(check)


def _flag(value: object) -> object:
    if isinstance(value, str):
        if value.strip().lower() not in _FLAGS:
            raise ValueError(_EXPECTED["flag"])
        return _FLAGS[value.strip().lower()]
    return value


def _whole_seconds(value: object) -> object:
    """A whole number of seconds, 0 or more (from the environment: text)."""
    try:
        number = int(value) if isinstance(value, str) else value
    except ValueError:
        number = None
    if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
        return number
    raise ValueError(_EXPECTED["whole seconds"])


def _port(value: object) -> object:
    """A TCP port, 1 to 65535 (from the environment: text)."""
    try:
        number = int(value) if isinstance(value, str) else value
    except ValueError:
        number = None
    if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 65536:
        return number
    raise ValueError(_EXPECTED["port"])


MIN_SECRET = 16


def _secret(value: object) -> object:
    """A shared secret: at least MIN_SECRET characters, none of them white space (it goes
    in a header, and a short one could be guessed)."""
    if isinstance(value, str) and (len(value) < MIN_SECRET or any(c.isspace() for c in value)):
        raise ValueError(_EXPECTED["secret"])
    return value


def _public_url(value: object) -> object:
    """An http(s) URL with a host and nothing after the path (no query, no fragment); the
    trailing slash is dropped."""
    if not isinstance(value, str):
        return value
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must have no user, query or fragment")
    return value.strip().rstrip("/")


Count = Annotated[int, _above_zero("count", int)]
WholeSeconds = Annotated[int, BeforeValidator(_whole_seconds)]
PublicUrl = Annotated[str, BeforeValidator(_public_url)]
Seconds = Annotated[float, _above_zero("seconds", float)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Port = Annotated[int, BeforeValidator(_port)]
Secret = Annotated[str, BeforeValidator(_secret)]


def _doc(what: str, default: str | None = None) -> Any:
    """Field metadata for the settings table: what the variable sets, and its default as
    the table shows it when the value alone does not say it (see ``markdown_table``)."""
    return Field(
        description=what, json_schema_extra={"shown_default": default} if default else None
    )


class Settings(BaseSettings):
    """Everything the service can be told; defaults make ``make run`` work anywhere.

    Only ``Settings.from_env(...)`` reads ``SLOTWISE_*``; ``Settings(...)`` is exactly
    what its arguments and the defaults say, whatever the shell that runs it has set. A
    bad value is a ValueError that names the variable (one line: the CLI prints it as it
    is).
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )
    _reads_environment: ClassVar[bool] = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if cls._reads_environment:
            return (init_settings, env_settings)  # arguments win over the environment
        return (init_settings,)

    db_url: Annotated[
        str,
        Field(validation_alias="SLOTWISE_DB"),
        _doc("the database, any SQLAlchemy URL (`postgresql://…` uses psycopg 3)"),
    ] = DEFAULT_DB
    # smtp://host:port, smtps://..., smtp+starttls://...; None writes .eml files to ``outbox``.
    smtp_url: Annotated[
        str | None,
        _doc(
            "`smtp://`, `smtps://` or `smtp+starttls://host:port`, with `user:password@` if needed",
            "unset: invites go to the outbox",
        ),
    ] = None
    outbox: Annotated[Path, _doc("folder for `.eml` invites when no SMTP is set")] = Path("outbox")
    sender: Annotated[
        str,
        _doc("From address of invites; must be set to a real address when `SLOTWISE_SMTP_URL` is"),
    ] = DEFAULT_SENDER
    max_body_bytes: Annotated[Count, _doc("largest request body; larger ones get 413")] = 2_000_000
    # How long a request waits for a database another writer holds (SQLite's busy
    # timeout); past it the request answers 503 with Retry-After, never 500.
    db_busy_seconds: Annotated[
        Seconds,
        _doc(
            "how long a request waits for a database other writers hold (SQLite); then 503 "
            "with Retry-After"
        ),
    ] = 30.0
    availability_cache_mb: Annotated[
        Count,
        _doc("MB of availability (matches' slices, members' rows) each process keeps cached"),
    ] = 256
    max_members: Annotated[Count, _doc("most members a program may have")] = 20_000
    max_matches: Annotated[Count, _doc("most matches a program may have")] = 20_000
    plan_time_limit: Annotated[
        Seconds, _doc("seconds a batch plan may take when its request names no time limit")
    ] = 60.0
    max_plan_time_limit: Annotated[
        Seconds, _doc("most seconds a batch plan may take, whatever its request asks")
    ] = 600.0
    # Calendar URLs may not point into the server's own network unless this is set.
    allow_private_urls: Annotated[
        Flag, _doc("allow calendar URLs into private or local networks")
    ] = False
    # One deadline for each calendar URL fetch: resolving, connecting, headers and body.
    ics_timeout: Annotated[
        Seconds, _doc("seconds one calendar URL fetch may take in all (connect, headers, body)")
    ] = 10.0
    ics_max_bytes: Annotated[
        Count, _doc("largest calendar one URL may send, in bytes; a larger one is refused")
    ] = 5_000_000
    # Calendar URL fetches under way at once per process (each holds a socket and up to
    # ics_max_bytes); a request beyond them gets 503 with Retry-After.
    ics_max_fetches: Annotated[
        Count, _doc("calendar URL fetches at once per process; beyond, 503 with Retry-After")
    ] = 50
    # Calendar URLs one request may name (fetched together; each may be ics_max_bytes).
    ics_max_urls: Annotated[
        Count, _doc("calendar URLs one request may name (fetched together); more is 422")
    ] = 20
    # A new booking's invites wait this long, so that "undo" can take it back before
    # anybody is told (docs/rules.md, "Undoing a booking").
    undo_seconds: Annotated[
        WholeSeconds,
        _doc("seconds a new booking can be undone before its invites go out (0: no undo)"),
    ] = 10
    retry_seconds: Annotated[
        Seconds, _doc("how often invites that could not be sent are retried")
    ] = 30.0
    # The background sender (service/notify.py: invites and CalDAV writes) runs as threads
    # of each server process, or, under ``slotwise serve``, as one process of its own
    # (``slotwise send``), which looks for work every sender_poll_seconds.
    sender_threads: Annotated[
        Flag,
        _doc("run the background sender in each server process (slotwise serve: its own process)"),
    ] = True
    # Requests of one process computing at once (heat maps, proposals, bookings); the
    # rest wait their turn (service/gate.py).
    compute_slots: Annotated[
        Count, _doc("requests of one server process that compute at once; the others queue")
    ] = 2
    sender_poll_seconds: Annotated[
        Seconds, _doc("how often a sender process (slotwise send) looks for new work")
    ] = 0.25
    # Writing booked series into members' CalDAV calendars (service/caldav_write.py): a
    # write the server did not take (down, timed out, 5xx) is tried again after
    # writeback_backoff_seconds, doubling each time (at most 6 hours), up to
    # writeback_attempts times; a later change to the series starts again.
    writeback_timeout: Annotated[
        Seconds, _doc("seconds one request to a member's CalDAV server may take in all")
    ] = 10.0
    writeback_attempts: Annotated[
        Count, _doc("times a CalDAV write is tried before it is given up (until the next change)")
    ] = 8
    writeback_backoff_seconds: Annotated[
        Seconds, _doc("seconds before a failed CalDAV write is tried again (doubling each time)")
    ] = 30.0
    # Batch plans solve their models on the Dask cluster of this scheduler
    # (tcp://host:8786) when set; else in local processes when a plan is large enough
    # (solver/executors.py), ``plan_processes`` of them (default: one per core).
    scheduler: Annotated[str | None, _doc("Dask scheduler (`tcp://host:8786`) for batch plans")] = (
        None
    )
    plan_processes: Annotated[
        Count | None, _doc("local processes for large batch plans (1: in process)", "one per core")
    ] = None
    # Applying a plan books this many series per transaction, so it never holds the
    # database (SQLite: every program's writes) for long (service/plan_apply.py).
    apply_chunk: Annotated[Count, _doc("series an applied plan books per transaction")] = 50
    # Plan jobs one program may have queued or running at once (1 running + 2 waiting);
    # one more is refused with 429.
    max_plan_jobs: Annotated[
        Count, _doc("plan jobs one program may have queued or running (429 beyond)")
    ] = 3

    # Sign-in links are mailed pointing here: never derived from a request's Host header,
    # which an attacker sets (a link to their host would carry a working token).
    public_url: Annotated[
        PublicUrl,
        _doc("the address people open slotwise at; sign-in links in mail point here"),
    ] = "http://127.0.0.1:8000"
    signin_link_minutes: Annotated[Count, _doc("minutes a mailed sign-in link works (once)")] = 15
    session_days: Annotated[
        Count, _doc("days a sign-in lasts in the browser (the session cookie)")
    ] = 14

    # Replies to invites (iTIP REPLY, service/replies.py) come in by mail: a listener the
    # mail server forwards the sender address's mail to, and/or a webhook for hosted mail
    # providers (docs/rules.md, "Replies").
    inbound_port: Annotated[
        Port | None,
        _doc(
            "port of the inbound SMTP (or LMTP) listener that reads replies to invites",
            "unset: no listener",
        ),
    ] = None
    inbound_host: Annotated[
        str, _doc("address the inbound listener binds; another than the loopback exposes it")
    ] = "127.0.0.1"
    inbound_lmtp: Annotated[
        Flag, _doc("the inbound listener speaks LMTP (RFC 2033) instead of SMTP")
    ] = False
    inbound_secret: Annotated[
        Secret | None,
        _doc(
            "shared secret of `POST /api/inbound/mail` (header `X-Slotwise-Inbound-Secret`), "
            "at least 16 characters",
            "unset: the webhook is off (404)",
        ),
    ] = None
    inbound_max_bytes: Annotated[
        Count, _doc("largest inbound reply message, in bytes (webhook: 413; listener: 552)")
    ] = 1_000_000

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ValueError(_one_line(exc)) from None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from ``SLOTWISE_*`` variables (see ``ENVIRONMENT``) and ``overrides``
        (None: not given); a bad value is a ValueError that names the variable."""
        return _FromEnvironment(**{k: v for k, v in overrides.items() if v is not None})

    def check_mail(self) -> None:
        """Refuse mail settings that cannot work: a SLOTWISE_SENDER that is no address, or
        the default one (``slotwise@localhost``, which no recipient can reply to) while
        invites really go out by SMTP, or a SLOTWISE_SMTP_URL that cannot be read.
        ValueError naming the variable."""
        from .email import SmtpSettings  # only check_mail needs email

        if self.smtp_url and self.smtp_url.strip():
            SmtpSettings.from_url(self.smtp_url)  # raises naming SLOTWISE_SMTP_URL
        address = parseaddr(self.sender)[1]
        problem = address_problem(address) if address else "no address in it"
        if problem is not None:
            raise ValueError(
                f"SLOTWISE_SENDER: {redact_url(self.sender)!r} is not a sender address: {problem}"
            )
        if self.smtp_url and self.smtp_url.strip() and address == parseaddr(DEFAULT_SENDER)[1]:
            raise ValueError(
                f"SLOTWISE_SENDER: invites go out by SMTP (SLOTWISE_SMTP_URL "
                f"is set), so set the address they come from; the default "
                f"{address} cannot be replied to"
            )


class _FromEnvironment(Settings):
    """Settings that also read ``SLOTWISE_*``: what ``Settings.from_env`` returns."""

    _reads_environment: ClassVar[bool] = True


def env_name(field: str) -> str:
    """The variable that sets ``field``: ``SLOTWISE_<FIELD>`` unless it has an alias."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else PREFIX + field.upper()


# Every variable the service reads, with the Settings field it sets.
ENVIRONMENT: dict[str, str] = {env_name(field): field for field in Settings.model_fields}
_FIELD_OF = {**{field: field for field in Settings.model_fields}, **ENVIRONMENT}


# Settings whose value an error message must not repeat.
_SECRETS = {"inbound_secret", "SLOTWISE_INBOUND_SECRET"}


def _one_line(exc: ValidationError) -> str:
    """Every problem of ``exc`` as ``SLOTWISE_X: what is expected, not 'value'``."""
    problems = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else ""
        name = env_name(_FIELD_OF[where]) if where in _FIELD_OF else where
        ctx = error.get("ctx") or {}
        expected = str(ctx["error"]) if error["type"] == "value_error" else error["msg"]
        given = "the value given" if where in _SECRETS else repr(error["input"])
        problems.append(f"{name}: {expected}, not {given}")
    return "; ".join(problems)


# The table of variables in docs/rules.md, between these two lines.
TABLE_START = "<!-- generated from service/config.py by: python -m service.config --markdown -->"
TABLE_END = "<!-- end of the generated table -->"


def markdown_table() -> str:
    """The settings as a markdown table: variable, default, what it sets."""
    rows = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for field, info in Settings.model_fields.items():
        rows.append(f"| `{env_name(field)}` | {_shown_default(info)} | {info.description} |")
    return "\n".join(rows) + "\n"


def _shown_default(info: FieldInfo) -> str:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and extra.get("shown_default"):
        return str(extra["shown_default"])
    value = info.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return f"`{value}`"


def with_table(text: str) -> str:
    """``text`` (docs/rules.md) with the generated table between its markers replaced by
    ``markdown_table()``; ValueError when the markers are missing."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {TABLE_START!r} ... {TABLE_END!r} block")
    return text[:start] + f"{TABLE_START}\n{markdown_table()}" + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.config", description=__doc__)
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the table of SLOTWISE_* variables (docs/rules.md)",
    )
    parser.add_argument(
        "--write", metavar="FILE", help="replace the generated table in FILE (docs/rules.md)"
    )
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    elif args.markdown:
        sys.stdout.write(markdown_table())
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
