"""Secrets never reach a log: a filter that blanks tokens out of log records, and
``redact_url``, which takes the password out of a URL before it is shown.

Uvicorn's access log prints each request's path and query string. A calendar feed's URL
holds its feed token, and an old client may still send ``?token=…``, so the filter on
uvicorn's loggers rewrites every record before any handler formats it.
"""

from __future__ import annotations

import logging
import re

REDACTED = "…redacted"
# Token-shaped strings (API ``sw_…`` and feed ``swf_…``), and the value of any query
# parameter that usually carries a secret, whatever its shape.
_PATTERNS = [
    (re.compile(r"\b(swf?_)[A-Za-z0-9_-]{8,}"), r"\1" + REDACTED),
    (re.compile(r"(/feeds/(?:swf_)?)[^/?#\s.]+"), r"\1" + REDACTED),
    (
        re.compile(r"([?&](?:token|feed|access_token|key)=)[^&#\s\"]*", re.IGNORECASE),
        r"\1" + REDACTED,
    ),
]
# The loggers that print request lines or errors about requests.
LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "slotwise")


def redact(text: str) -> str:
    """``text`` with every token and secret query value replaced by REDACTED."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments (the access log passes the path
    as an argument), leaving numbers alone so the format string still applies."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


_FILTER = RedactSecrets()


def install() -> None:
    """Put the filter on the loggers that print requests (once; idempotent). A logger's
    filters survive uvicorn's logging set-up, which replaces only handlers."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def redact_url(url: str) -> str:
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
        url = found.group(1) + (f"{user}:***" if colon else "***") + url[found.end(2) :]
    return _SECRET_PARAM.sub(r"\1***", url)


# A scheme (or a bare user: ahead of host), its slashes, then everything up to the last @.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)?(.*)@")
# A query, fragment or option that names a secret, its = sign plain or %-encoded.
_SECRET_PARAM = re.compile(
    r"(?i)((?:password|passwd|pwd|pass|secret|token|key|auth|"
    r"credential)[^=&#;/@\s]*?(?:=|%3D))[^&#;%\s]*"
)
