"""Names, email addresses and free text as they may enter slotwise (docs/rules.md, "Names,
addresses and text").

Everything here ends up in mail headers and calendar properties, where a line break starts
a new header or property. So a name or a one-line text may hold no control character and no
line or paragraph separator (U+2028, U+2029, NEL); a multi-line text may hold line breaks
but no other control character. An address is ``local@domain`` with the characters RFC 5322
(dot-atom) and RFC 6531 (UTF-8 letters, marks and digits, for SMTPUTF8) allow; quoted local
parts, comments and domain literals are refused, as is anything that would read as two
addresses (``a,b@example.org``).
"""

from __future__ import annotations

import unicodedata

# RFC 5322 atext besides letters and digits.
_ATEXT = set("!#$%&'*+-/=?^_`{|}~")
# Line breaks that str.splitlines (and so the email package) honours besides CR and LF.
_BREAKS = set("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
MAX_ADDRESS = 254  # RFC 5321 4.5.3.1.3 (path 256 minus the angle brackets)
MAX_LOCAL = 64
MAX_LABEL = 63


def _forbidden(ch: str, *, newlines: bool) -> bool:
    if newlines and ch in "\n\r\t":
        return False
    if ch == "\t":
        return False  # a tab is whitespace, harmless on one line
    return (
        unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
        or ch in _BREAKS
        or ch in _BIDI_CONTROLS
    )


# Embeddings, overrides and isolates: they reorder what a reader sees ("Trojan Source"),
# so a name or a summary could show as something else. Marks (U+200E/F) stay allowed.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_link(value: str) -> str:
    """A link (a video call's URL): one line, and no invisible format character at all
    (zero-width or direction controls could make it look like another)."""
    check_line(value)
    for ch in value:
        if unicodedata.category(ch) == "Cf":
            raise ValueError(f"must not contain invisible characters; found {_describe(ch)}")
    return value


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def check_line(value: str) -> str:
    """One line of text (a name, a summary, a location): no control character, no line or
    paragraph separator. Raises ValueError saying which character."""
    for ch in value:
        if _forbidden(ch, newlines=False):
            raise ValueError(f"must be one line without control characters; found {_describe(ch)}")
    return value


MAX_NAME = 200


def check_name(value: str) -> str:
    """A person's or program's name: one line (:func:`check_line`), at most MAX_NAME
    characters."""
    if len(value) > MAX_NAME:
        raise ValueError(f"must be at most {MAX_NAME} characters")
    return check_line(value)


def check_text(value: str) -> str:
    """Multi-line text (an agenda): line breaks and tabs allowed, other control characters
    and U+2028/U+2029 not."""
    for ch in value:
        if _forbidden(ch, newlines=True):
            raise ValueError(f"must not contain control characters; found {_describe(ch)}")
    return value


def _local_ok(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in _ATEXT
    return unicodedata.category(ch)[0] in "LMN"  # RFC 6531 UTF8-non-ascii, printable only


def _label_ok(label: str) -> bool:
    return (
        0 < len(label) <= MAX_LABEL
        and not label.startswith("-")
        and not label.endswith("-")
        and all(
            ch == "-"
            or (ch.isascii() and ch.isalnum())
            or (not ch.isascii() and unicodedata.category(ch)[0] in "LMN")
            for ch in label
        )
    )


def address_problem(address: str) -> str | None:
    """Why ``address`` is not an email address slotwise can send to, or None if it is."""
    if not address:
        return "is empty"
    if len(address) > MAX_ADDRESS:
        return f"is longer than {MAX_ADDRESS} characters"
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "must look like name@example.org"
    if len(local.encode()) > MAX_LOCAL:
        return f"the part before @ is longer than {MAX_LOCAL} bytes"
    bad = next((ch for ch in local if ch != "." and not _local_ok(ch)), None)
    if bad is not None:
        return f"the part before @ may not contain {bad!r}"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "the part before @ may not start or end with a dot or hold two in a row"
    if not all(_label_ok(label) for label in domain.split(".")):
        return (
            f'"{domain[:100]}" is not a domain name (letters, digits and hyphens, '
            f"separated by dots)"
        )
    return None


def check_address(address: str) -> str:
    """An email address (see :func:`address_problem`); raises ValueError saying why not."""
    problem = address_problem(address)
    if problem is not None:
        raise ValueError(f"not an email address slotwise can send to: {problem}")
    return address


def email_key(address: str | None) -> str:
    """Who an address is: two spellings of one mailbox have the same key (NFC, trimmed,
    the domain IDNA-decoded to Unicode, everything casefolded); "" for no address.
    ``JÖRG@Example.DE`` and ``jörg@example.de`` are one person, and so are a domain
    written in Unicode and in punycode (``xn--…``)."""
    if not address:
        return ""
    text = unicodedata.normalize("NFC", address).strip()
    local, at, domain = text.rpartition("@")
    if at:
        text = f"{local}@{'.'.join(_unicode_label(label) for label in domain.split('.'))}"
    return unicodedata.normalize("NFC", text.casefold())


def _unicode_label(label: str) -> str:
    if label.lower().startswith("xn--"):
        try:
            # Lower case first: the codec leaves an upper-case ACE label (XN--…) as it is.
            return label.lower().encode("ascii").decode("idna")
        except UnicodeError:
            return label  # not valid punycode: compared as written
    return label


def is_international(address: str) -> bool:
    """Whether delivering to ``address`` needs SMTPUTF8 (RFC 6531)."""
    return not address.isascii()


def one_line(value: str) -> str:
    """``value`` made one clean line, whatever it holds: control characters and line or
    paragraph separators become spaces, runs of white space one space. For data stored
    before it was checked on entry, where mail headers and calendar properties are built
    (they must never fail on it)."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BREAKS else ch
        for ch in value
    )
    return " ".join(cleaned.split())
