"""SPEC 6: program documents are validated at the edge; errors name the field."""

import json
from pathlib import Path

import pytest

from ingest.document import load_program, parse_program
from ingest.errors import DocumentError

BAD = Path(__file__).parent.parent / "data" / "bad_documents"
EXPECTED = json.loads((BAD / "expected.json").read_text())
BAD_FILES = sorted(p for p in BAD.glob("*.json") if p.name != "expected.json")


def test_every_bad_document_has_an_expectation():
    """Each file of tests/data/bad_documents is checked by the parametrised test below."""
    assert {p.stem for p in BAD_FILES} == set(EXPECTED)


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_document_names_field_and_problem(path):
    """A bad document raises DocumentError whose message names the field and the defect."""
    with pytest.raises(DocumentError) as info:
        load_program(path)
    assert EXPECTED[path.stem] in str(info.value)
    assert all(e.path or e.message for e in info.value.errors)


def test_valid_document_parses(program_dict):
    """The SPEC's example shape parses, with defaults filled in."""
    doc = parse_program(program_dict)
    assert [m.id for m in doc.members] == ["ana", "ben"]
    ana = doc.member("ana")
    assert ana.weekly[0].start == 14 * 60 and ana.weekly[0].end == 18 * 60 + 30
    assert doc.program.working_hours[0].days == ["MO", "TU", "WE", "TH", "FR"]
    assert doc.required_members(doc.match("ana-ben")) == ["ana", "ben"]


def test_all_problems_reported_at_once(program_dict):
    """Several defects give several errors, not just the first."""
    program_dict["members"][0]["timezone"] = "Mars/Olympus"
    program_dict["matches"][0]["duration_minutes"] = 50
    with pytest.raises(DocumentError) as info:
        parse_program(program_dict)
    paths = {e.path for e in info.value.errors}
    assert {"members[0].timezone"} <= paths


def test_invalid_json_is_a_document_error():
    """Malformed JSON text says where it broke."""
    with pytest.raises(DocumentError, match="not valid JSON"):
        parse_program('{"program": ')


def test_required_defaults(program_dict):
    """SPEC 4: a group requires its organizer alone; `required` overrides."""
    program_dict["members"].append({"id": "cara"})
    program_dict["matches"].append(
        {"id": "g", "members": ["ana", "ben", "cara"], "organizer": "cara"}
    )
    program_dict["matches"].append(
        {"id": "h", "members": ["ana", "ben", "cara"], "required": ["ana", "ben"]}
    )
    doc = parse_program(program_dict)
    assert doc.required_members(doc.match("g")) == ["cara"]
    assert doc.required_members(doc.match("h")) == ["ana", "ben"]


def test_window_may_end_at_midnight(program_dict):
    """SPEC 2: a window's end may be 24:00."""
    program_dict["members"][1]["weekly"] = [{"days": ["SA"], "start": "20:00", "end": "24:00"}]
    assert parse_program(program_dict).member("ben").weekly[0].end == 24 * 60


def test_dumped_document_reads_back_the_same(program_dict):
    """A stored document (model_dump as JSON) parses back to an equal document: clock
    times are written as "HH:MM", not as minutes (the service stores documents this way)."""
    doc = parse_program(program_dict)
    dumped = doc.model_dump(mode="json", exclude_none=True)
    assert parse_program(dumped) == doc
    assert dumped["program"]["working_hours"][0]["start"] == "09:00"


def test_a_copy_looks_members_and_matches_up_in_its_own_lists():
    """model_copy drops the id maps the original cached: no lookups in the old lists."""
    from benchmarks.generate import generate_program

    doc = parse_program(generate_program({"matches": 5}, seed=0))
    gone_member, gone_match = doc.members[-1].id, doc.matches[-1].id
    assert doc.member(gone_member) and doc.match(gone_match)  # the maps are now cached
    part = doc.model_copy(update={"members": doc.members[:-1], "matches": doc.matches[:-1]})
    with pytest.raises(KeyError):
        part.member(gone_member)
    with pytest.raises(KeyError):
        part.match(gone_match)
    changed = doc.members[0].model_copy(update={"timezone": "Australia/Lord_Howe"})
    swapped = doc.model_copy(update={"members": [changed, *doc.members[1:]]})
    assert swapped.member_zone(changed.id).key == "Australia/Lord_Howe"
    assert swapped.base_dir == doc.base_dir


@pytest.mark.parametrize(
    ("given", "kept"),
    [("de-DE", "de-DE"), ("pt-br", "pt-BR"), ("JA-jp", "ja-JP"), ("zh-hant-tw", "zh-Hant-TW")],
)
def test_a_member_locale_is_kept_in_bcp47_case(program_dict, given, kept):
    """A member's locale is a BCP 47 tag Babel knows, kept in the usual case."""
    program_dict["members"][0]["locale"] = given
    assert parse_program(program_dict).member("ana").locale == kept


def test_a_stored_locale_babel_does_not_know_still_reads(program_dict):
    """A stored document is read back even when its member's locale is unknown to the
    Babel installed now (the mail then reads English); entering it is refused."""
    program_dict["members"][0]["locale"] = "qaa-QM"
    assert parse_program(program_dict, stored=True).member("ana").locale == "qaa-QM"
    with pytest.raises(DocumentError, match=r"members\[0\]\.locale: unknown locale"):
        parse_program(program_dict)
