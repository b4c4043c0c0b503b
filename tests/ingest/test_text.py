"""ingest/text.py: which names, texts and email addresses may enter (docs/rules.md)."""

from __future__ import annotations

import pytest

from ingest.text import address_problem, check_line, check_name, check_text

GOOD = [
    "ana@example.org",
    "o'brien+tag@sub.example.co.uk",
    "jörg@example.de",
    "用户@例子.广告",
    "admin@localhost",
    "a!#$%&*/=?^_`{|}~-@x.org",
    "x.y.z@x-y.org",
]
BAD = [
    "a,b@example.org",
    "a b@example.org",
    '"quoted"@example.org',
    "a@[127.0.0.1]",
    "a..b@example.org",
    ".a@example.org",
    "a.@example.org",
    "a@-x.org",
    "a@x-.org",
    "a@x..org",
    "a@",
    "@example.org",
    "example.org",
    "a@example.org\n",
    "a\u202e@example.org",
    "a@exa\u2028mple.org",
    "Ana <a@example.org>",
    "a(comment)@example.org",
    "x" * 65 + "@example.org",
    "a@" + "x" * 64 + ".org",
    "",
]


@pytest.mark.parametrize("address", GOOD)
def test_real_addresses_are_accepted(address):
    """Dot-atoms, RFC 6531 UTF-8 addresses and IDN domains are addresses."""
    assert address_problem(address) is None


@pytest.mark.parametrize("address", BAD)
def test_non_addresses_are_refused_with_a_reason(address):
    """Lists, quoting, comments, literals, bad dots and hyphens, control and format
    characters, and over-long parts are refused, each with a reason."""
    assert address_problem(address)


@pytest.mark.parametrize(
    "text",
    [
        "a\nb",
        "a\rb",
        "a\u2028b",
        "a\u2029b",
        "a\x85b",
        "a\x00b",
        "a\x1bb",
        "a\x0bb",
        "Ana\u202eavliS",
        "a\u2066b\u2069",
    ],
)
def test_one_line_texts_refuse_breaks_and_controls(text):
    """A name or summary may hold no line break of any kind and no control character."""
    with pytest.raises(ValueError, match="U\\+"):
        check_line(text)


def test_what_names_and_texts_may_hold():
    """Tabs and any script are fine in a name; an agenda may break lines (CR, LF) but
    not hold U+2028 or other control characters; a name is at most 200 characters."""
    assert check_name("Zoë\tŁukasz 李 👩‍💻") == "Zoë\tŁukasz 李 👩‍💻"
    assert check_text("Goals\r\nNext\n") == "Goals\r\nNext\n"
    for bad in ("a\u2028b", "a\x00b", "a\x0cb"):
        with pytest.raises(ValueError):
            check_text(bad)
    with pytest.raises(ValueError, match="200"):
        check_name("x" * 201)


def test_links_refuse_invisible_characters_names_keep_joiners():
    """A video link may hold no zero-width or direction control (it could pass for another
    link); a name keeps the zero-width non-joiner Persian and Indic scripts need."""
    from ingest.text import check_link

    assert check_link("https://meet.example.org/ana-ben") == "https://meet.example.org/ana-ben"
    for bad in ("https://meet.example.org/a\u200bb", "https://x.org/\u202egro.live"):
        with pytest.raises(ValueError, match="U\\+"):
            check_link(bad)
    assert check_name("می\u200cخواهم") == "می\u200cخواهم"
