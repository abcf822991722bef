"""The protocol: the shipped one loads; every kind of mistake names file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_pipeline.formats.registry import formats
from review_pipeline.model.errors import ProtocolError
from review_pipeline.protocol import Protocol, load_protocol, parse_protocol

MINIMAL = """
[review]
title = "T"
question = "Q?"

[search]
database = "PubMed"
query = "POEMS[tiab]"

[eligibility]

[[exclusion_reasons]]
code = "wrong_population"
label = "Wrong population"
"""


def parse(text: str, tmp_path: Path) -> Protocol:
    return parse_protocol(text, tmp_path / "queries" / "protocol.toml")


def test_shipped_protocol_loads_into_typed_objects(protocol: Protocol) -> None:
    assert protocol.review.title.startswith("Medical treatment of POEMS syndrome")
    [search] = protocol.searches
    assert '"POEMS Syndrome"[Mesh]' in search.query
    assert (search.min_date, search.max_date) == ("1950/01/01", "2026/11/21")
    assert search.snapshot is not None and search.snapshot.is_file()
    assert [s.name for s in protocol.sources] == ["citations", "embase", "central"]
    assert protocol.sources[0].branch == "other" and protocol.sources[1].branch == "databases"
    assert protocol.sources[0].files[0].is_file()
    # a further report of an included study is linked to it, not excluded (PRISMA 2020)
    assert "duplicate_report" not in protocol.reason_codes
    assert (protocol.synthesis.measure, protocol.synthesis.method, protocol.synthesis.by,
            protocol.synthesis.total) == ("PLO", "REML", "arms.line", "outcomes.evaluable")
    rules = {r.id: r for r in protocol.eligibility.rules}
    assert rules["secondary-literature"].automatic and rules["secondary-literature"].verdict == (
        "exclude")
    assert not rules["case-report"].automatic
    assert protocol.screening.reviewers == 2 and protocol.extraction.reviewers == 2


def test_minimal_protocol_fills_defaults(tmp_path: Path) -> None:
    p = parse(MINIMAL, tmp_path)
    assert p.searches[0].date_field == "pdat" and p.searches[0].snapshot is None
    assert p.sources == () and p.eligibility.rules == ()
    assert p.screening.reviewers == 1 and p.extraction.reviewers == 1
    assert p.update.previous_version is None
    assert (p.report.treatment, p.report.rate) == ("arms.treatment", "outcomes.percent")


def test_update_and_report_sections_are_read(tmp_path: Path) -> None:
    p = parse(MINIMAL.replace("[eligibility]\n", '[update]\nprevious_version = '
                              '"extracted/v1.csv"\n\n[report]\ntreatment = "groups.drug"\n'
                              'patients = "groups.n"\n\n[eligibility]\n', 1), tmp_path)
    assert p.update.previous_version == tmp_path / "extracted" / "v1.csv"
    assert (p.report.treatment, p.report.patients, p.report.outcome) == (
        "groups.drug", "groups.n", "outcomes.outcome")


@pytest.mark.parametrize(("edit", "expected"), [
    pytest.param(('[review]\n', '[review]\ncolour = "blue"\n'),
                 "key 'review.colour': unknown key; expected one of: title, question",
                 id="unknown-key"),
    pytest.param(('title = "T"\n', 'title = 3\n'),
                 "key 'review.title': expected a string, got 3 (an integer)", id="wrong-type"),
    pytest.param(('question = "Q?"\n', ''),
                 "key 'review.question': missing; expected a string", id="missing-field"),
    pytest.param(('query = "POEMS[tiab]"\n', 'query = "POEMS[tiab]"\nmin_date = "2020"\n'),
                 "PubMed needs min_date and max_date together", id="half-date-range"),
    pytest.param(('query = "POEMS[tiab]"\n', 'query = "POEMS[tiab]"\nmin_date = "20/1/1"\n'
                  'max_date = "2021"\n'),
                 "key 'search.min_date': expected YYYY, YYYY/MM or YYYY/MM/DD; got '20/1/1'",
                 id="bad-date"),
    pytest.param(('query = "POEMS[tiab]"\n', 'query = "  "\n'),
                 "key 'search.query': expected the search string", id="empty-query"),
    pytest.param(('[eligibility]\n', '[eligibility]\n[[eligibility.rules]]\nid = "r"\n'
                  'description = "d"\nverdict = "include"\nterms = ["a*a*a*b"]\n'),
                 "key 'eligibility.rules[0].terms': 'a*a*a*b' has two * in one word",
                 id="terms-that-would-backtrack"),
    pytest.param(('[eligibility]\n', '[eligibility]\nrules = "none"\n'),
                 "key 'eligibility.rules': expected a list of tables", id="rules-not-tables"),
    pytest.param(('[[exclusion_reasons]]', '[[sources]]\nname = "embase"\nlabel = "Embase"\n'
                  'kind = "library"\n\n[[exclusion_reasons]]'),
                 "key 'sources[0].kind': expected one of database, register", id="bad-kind"),
    pytest.param(('[[exclusion_reasons]]', '[[sources]]\nname = "pubmed"\nlabel = "P"\n'
                  'kind = "database"\n\n[[exclusion_reasons]]'),
                 "'pubmed' names the records of the protocol's PubMed searches",
                 id="reserved-source-name"),
    pytest.param(('[[exclusion_reasons]]', '[[sources]]\nname = "embase"\nlabel = "Embase"\n'
                  'kind = "database"\nfiles = ["imports/embase (1).ris"]\n\n'
                  '[[exclusion_reasons]]'),
                 "make cannot follow 'imports/embase (1).ris'", id="file-name-make-cannot-follow"),
    pytest.param(('[[exclusion_reasons]]', '[[sources]]\nname = "a"\nlabel = "A"\n'
                  'kind = "database"\nfiles = ["imports/x.ris"]\n\n[[sources]]\nname = "b"\n'
                  'label = "B"\nkind = "database"\nfiles = ["imports/x.ris"]\n\n'
                  '[[exclusion_reasons]]'), "a file is listed twice", id="one-file-two-sources"),
    pytest.param(('[eligibility]\n', '[[searches]]\nquery = "x"\n\n[eligibility]\n'),
                 "key 'search': give the PubMed searches as [[searches]], or one search as "
                 "[search]; not both", id="search-and-searches"),
    pytest.param(('[eligibility]\n', '[eligibility]\n[[eligibility.rules]]\nid = "r"\n'
                  'description = "d"\nverdict = "exclude"\nreason = "nope"\nterms = ["x"]\n'),
                 "an exclude rule needs a reason code from [[exclusion_reasons]] "
                 "(wrong_population); got 'nope'", id="unknown-reason"),
    pytest.param(('[eligibility]\n', '[eligibility]\n[[eligibility.rules]]\nid = "r"\n'
                  'description = "d"\nverdict = "include"\n'),
                 "a rule needs at least one condition", id="rule-without-condition"),
    pytest.param(('[eligibility]\n', '[eligibility]\n[[eligibility.rules]]\nid = "r"\n'
                  'description = "d"\nverdict = "include"\nautomatic = true\nterms = ["x"]\n'),
                 "only exclude rules can act without a human look", id="automatic-include"),
    pytest.param(('[eligibility]\n', '[extraction]\nreviewers = 0\n\n[eligibility]\n'),
                 "key 'extraction.reviewers': expected 1 or more; got 0",
                 id="no-extractors"),
    pytest.param(('[eligibility]\n', '[extraction]\nextractors = 2\n\n[eligibility]\n'),
                 "key 'extraction.extractors': unknown key", id="extraction-unknown-key"),
    pytest.param(('code = "wrong_population"', 'code = "Wrong Population"'),
                 "expected a lower-case code", id="bad-reason-code"),
    pytest.param(('[eligibility]\n', '[eligibility]\n[[eligibility.rules]]\nid = "r"\n'
                  'description = "d"\nverdict = "exclude"\nreason = "wrong_population"\n'
                  'prisma = "excluded_other"\nterms = ["x"]\n'),
                 "key 'eligibility.rules[0].prisma': only an automatic rule's exclusions",
                 id="prisma-box-of-a-manual-rule"),
    pytest.param(('[eligibility]\n', '[eligibility]\n[[eligibility.rules]]\nid = "r"\n'
                  'description = "d"\nverdict = "exclude"\nreason = "wrong_population"\n'
                  'automatic = true\nprisma = "records_removed"\nterms = ["x"]\n'),
                 "expected one of excluded_automatic, excluded_other, records_excluded; got "
                 "'records_removed'", id="unknown-prisma-box"),
    pytest.param(('[eligibility]\n', '[report]\ntreatment = "arms"\n\n[eligibility]\n'),
                 "key 'report.treatment': expected table.field of the extraction forms; got "
                 "'arms'", id="report-field-without-table"),
    pytest.param(('[eligibility]\n', '[report]\nrate = "results.percent"\n\n[eligibility]\n'),
                 "key 'report.rate': expected a field of the same table as report.outcome",
                 id="report-rate-elsewhere"),
    pytest.param(('[eligibility]\n', '[update]\nprevious = "x.csv"\n\n[eligibility]\n'),
                 "key 'update.previous': unknown key; expected one of: previous_version",
                 id="update-unknown-key"),
])
def test_mistakes_name_file_key_and_expectation(edit: tuple[str, str], expected: str,
                                                tmp_path: Path) -> None:
    old, new = edit
    assert old in MINIMAL
    with pytest.raises(ProtocolError) as caught:
        parse(MINIMAL.replace(old, new, 1), tmp_path)
    message = str(caught.value)
    assert expected in message
    assert str(tmp_path / "queries" / "protocol.toml") in message
    assert "To fix:" in message


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match=r"not valid TOML: .*line 3"):
        parse('[review]\ntitle = "T"\nquestion = \n', tmp_path)


def test_missing_and_non_utf8_protocol_files(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="the protocol file does not exist"):
        load_protocol(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(MINIMAL.replace('"T"', '"Caf\xe9"').encode("latin-1"))
    with pytest.raises(ProtocolError, match="not UTF-8"):
        load_protocol(bad)


def test_a_folder_or_a_huge_file_is_not_taken_for_the_protocol(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProtocolError, match="is a folder, not the protocol file"):
        load_protocol(tmp_path)
    monkeypatch.setattr("review_pipeline.protocol.MAX_PROTOCOL", 1024)
    huge = tmp_path / "huge.toml"
    huge.write_text(MINIMAL + "#" * 2000 + "\n")
    with pytest.raises(ProtocolError, match="larger than 1 KB, far more than a protocol"):
        load_protocol(huge)


def test_a_long_value_is_quoted_in_part(tmp_path: Path) -> None:
    long = "x" * 100_000
    with pytest.raises(ProtocolError) as caught:
        parse(MINIMAL + '[[sources]]\nname = "embase"\nlabel = "Embase"\nkind = "database"\n'
              f'format = "{long}"\nfiles = ["embase.ris"]\n', tmp_path)
    assert "key 'sources[0].format': expected one of auto," in str(caught.value)
    assert len(str(caught.value)) < 1000
    with pytest.raises(ProtocolError, match=r"'x{80}\.\.\. \(100,000 characters\)'"):
        parse(MINIMAL.replace('database = "PubMed"', f'database = "PubMed"\nmin_date = '
                              f'"{long}"\nmax_date = "2020"'), tmp_path)


def test_paths_resolve_against_the_project_folder(tmp_path: Path) -> None:
    text = MINIMAL.replace('query = "POEMS[tiab]"\n',
                           'query = "POEMS[tiab]"\nsnapshot = "snapshot/s.jsonl"\n')
    p = parse(text, tmp_path)
    assert p.searches[0].snapshot == tmp_path.resolve() / "snapshot" / "s.jsonl"


def test_any_number_of_searches(tmp_path: Path) -> None:
    without = MINIMAL.replace('[search]\ndatabase = "PubMed"\nquery = "POEMS[tiab]"\n', "")
    none = parse(without, tmp_path)
    assert none.searches == () and none.source_label_kind("pubmed") == ("PubMed", "database")
    two = parse(without + '\n[[searches]]\nquery = "a"\n\n[[searches]]\nquery = "b"\n'
                'database = "PubMed (with filter)"\n', tmp_path)
    assert [(s.query, s.database) for s in two.searches] == [("a", "PubMed"),
                                                             ("b", "PubMed (with filter)")]
    with pytest.raises(ProtocolError, match=r"key 'searches\[1\].min_date': PubMed needs"):
        parse(without + '\n[[searches]]\nquery = "a"\n\n[[searches]]\nquery = "b"\n'
              'min_date = "2000"\n', tmp_path)
    # without a PubMed search, a PubMed export may be the source "pubmed"
    exported = parse(without + '\n[[sources]]\nname = "pubmed"\nlabel = "PubMed"\n'
                     'kind = "database"\nformat = "csv"\n', tmp_path)
    assert exported.sources[0].format == "csv"


def test_a_source_may_name_every_format_a_reader_has(tmp_path: Path) -> None:
    for name in ("auto", *formats()):
        protocol = parse(MINIMAL + '\n[[sources]]\nname = "x"\nlabel = "X"\n'
                         f'kind = "database"\nformat = "{name}"\n', tmp_path)
        assert protocol.sources[0].format == name
