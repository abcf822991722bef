"""Readers: real exports parse in full; bad input gives an error naming file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from review_pipeline.formats import ris
from review_pipeline.formats.base import Bad, Decoder, iter_blocks, iter_lines, read_text
from review_pipeline.formats.pubmed_xml import parse_text
from review_pipeline.formats.registry import detect_format, read_records, stream_file
from review_pipeline.model.errors import CountMismatchError, InputError
from tests.conftest import EXAMPLE, FIXTURES

EXPORTS = FIXTURES / "exports"
EDGE = FIXTURES / "edge"
PUBMED = FIXTURES / "pubmed"


@pytest.mark.parametrize(("name", "fmt", "count", "first"), [
    ("asreview_embase.ris", "ris", 6,
     {"doi": "10.4103/2303-9027.138783", "year": 2014, "authors": ["Liu R", "Adler DG"]}),
    ("asreview_scopus.ris", "ris", 6, {"doi": "10.1016/j.psyneuen.2019.104501", "year": 2020}),
    ("asreview_web_of_science.txt", "ris", 10,
     {"source_record_id": "WOS:000444108200009", "doi": "10.1016/j.jarmac.2018.03.001"}),
    ("asreview_pubmed_endnote.txt", "ris", 6, {"year": 2011}),
    ("asreview_ovid_psycinfo.ris", "ris", 6, {"doi": "10.1002/cpp.2398", "year": 2019}),
    ("revtools_restoration_pubmed.nbib", "medline", 104,
     {"pmid": "30689646", "doi": "10.1371/journal.pone.0209483", "pages": "e0209483",
      "journal": "PLoS One", "language": "eng"}),
    ("asreview_pubmed.xml", "pubmed-xml", 10,
     {"pmid": "31690499", "doi": "10.1016/j.bjoms.2019.09.011", "year": 2019}),
])
def test_real_exports_parse_in_full(name: str, fmt: str, count: int,
                                    first: dict[str, object]) -> None:
    detected, records = read_records(EXPORTS / name)
    assert detected == fmt
    assert len(records) == count
    assert all(r.title for r in records)
    assert len({r.source_record_id for r in records}) == count
    assert {k: getattr(records[0], k) for k in first} == first


def test_the_poems_snapshot_reads_all_233_records() -> None:
    fmt, records = read_records(EXAMPLE / "snapshot" / "pubmed" / "records.jsonl")
    assert fmt == "snapshot" and len(records) == 233
    assert len({r.source_record_id for r in records}) == 233
    first = records[0]
    assert (first.source_record_id, first.doi, first.pages, first.year) == (
        "25401269", "10.1111/ejh.12492", "325-330", 2015)
    assert sum(r.kind == "conference_abstract" for r in records) == 16
    assert sum(not r.title for r in records) == 24
    assert {r.language for r in records} >= {"eng", "chi", "jpn", "kor", "por", "rus"}


def test_medline_text_reads_doi_from_aid() -> None:
    _, records = read_records(PUBMED / "pubmed_result2.txt")
    assert [r.pmid for r in records] == ["16403221", "16377612", "14871861", "14630660"]
    assert records[0].doi == "10.1186/1471-2105-7-10"


def test_utf16_with_bom_and_crlf_are_read(tmp_path: Path) -> None:
    text = (EXPORTS / "asreview_embase.ris").read_text("utf-8-sig").replace("\n", "\r\n")
    path = tmp_path / "utf16.ris"
    path.write_bytes(text.encode("utf-16"))
    assert len(read_records(path)[1]) == 6


def test_a_windows_1252_byte_deep_in_a_streamed_file_switches_the_decoding(
        tmp_path: Path) -> None:
    # Past the first blocks the stream decodes, so earlier lines were already handed on.
    data = b"".join(b"line %d\r\n" % n for n in range(20_000)) + b"M\xfcller\r\nlast"
    path = tmp_path / "cp1252.txt"
    path.write_bytes(data)
    lines = list(iter_lines(path))
    assert lines == read_text(path).split("\n")
    assert lines[-2:] == ["M\u00fcller", "last"] and len(lines) == 20_002


@pytest.mark.parametrize("name", ["missing_er_between_records.ris", "ovid_numbered_headers.ris",
                                  "wrapped_and_repeated_tags.ris", "truncated_last_record.ris"])
def test_records_are_cut_the_same_whatever_the_block_size(name: str) -> None:
    # Blocks end at line breaks, so a record often spans blocks: its lines, its first line's
    # number and its end marker must not depend on where a block ends.
    path = EDGE / name

    def cut(size: int) -> list[tuple[int, list[str], bool] | str]:
        items = ris.split_records(iter_blocks(path, size), Decoder(path), ris._MARKERS,
                                  "ER  -", ris._KEEP_WRAPPED)
        return [item.problem if isinstance(item, Bad) else (item.line, item.lines,
                                                             item.restored)
                for item in items]

    whole = cut(1 << 20)
    assert whole
    for size in (1, 7, 64, 300):
        assert cut(size) == whole


@pytest.mark.parametrize(("data", "lines"), [
    pytest.param(b"\xef\xbb\xbfTY  - JOUR\nER  - \n", ["TY  - JOUR", "ER  - "], id="utf8-bom"),
    pytest.param(b"a\r\nb\r\n", ["a", "b"], id="crlf"),
    pytest.param(b"a\rb\rc", ["a", "b", "c"], id="cr-only"),
    pytest.param(b"a\n\nb", ["a", "", "b"], id="blank-line-no-final-break"),
    pytest.param("TY  - JOUR\r\nTI  - \u00e9t\u00e9\r\n".encode("utf-16"),
                 ["TY  - JOUR", "TI  - \u00e9t\u00e9"], id="utf16-crlf"),
])
def test_blocks_end_at_line_breaks_made_newlines(tmp_path: Path, data: bytes,
                                                 lines: list[str]) -> None:
    path = write(tmp_path, "export.ris", data)
    for size in (1, 2, 3, 1 << 20):
        blocks = list(iter_blocks(path, size))
        assert all(block.endswith(b"\n") for block in blocks[:-1])
        assert b"\r" not in b"".join(blocks)
        assert list(iter_lines(path)) == lines


def test_web_of_science_records_with_no_blank_line_between(tmp_path: Path) -> None:
    # The end marker's own line break must not hide the next record's start marker.
    path = write(tmp_path, "packed.ciw", "FN Clarivate Analytics Web of Science\nVR 1.0\n"
                 "PT J\nAU Smith, J\nTI One\nUT WOS:1\nER\nPT J\nAU Doe, J\nTI Two\n"
                 "UT WOS:2\nER\n\nEF\n")
    name, records = read_records(path)
    assert name == "wos" and [r.title for r in records] == ["One", "Two"]


def test_a_windows_1252_byte_after_many_ris_records_is_read_and_named(tmp_path: Path) -> None:
    # The records before it were already decoded as UTF-8 when the stray byte shows.
    records = "".join(f"TY  - JOUR\nTI  - Record {n}\nER  - \n" for n in range(40_000))
    path = write(tmp_path, "late.ris", records.encode() + b"TY  - JOUR\nAU  - M\xfcller, K\n"
                 b"TI  - Last\nER  - \n")
    name, reading = stream_file(path)
    found = list(reading.records)
    assert name == "ris"
    assert len(found) == 40_001 and found[-1].authors == ["M\u00fcller K"]
    assert reading.warnings == [f"{path}: not UTF-8 (byte 0xfc on line 120002); read as "
                                "Windows-1252. Check accented names; export as UTF-8 if your "
                                "database offers it"]


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "export.nbib.gz"
    path.write_bytes(gzip.compress((PUBMED / "pubmed_result2.txt").read_bytes()))
    assert len(read_records(path)[1]) == 4


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


RIS_TWO = "TY  - JOUR\nTI  - First\nER  - \n\nTY  - JOUR\nTI  - Second\nER  - \n"


@pytest.mark.parametrize(("name", "data", "fmt", "message"), [
    pytest.param("truncated.ris", RIS_TWO.rsplit("ER", 1)[0], "auto",
                 r"truncated.ris, line 5: the last record has no 'ER  -' line: the file looks "
                 r"cut off \[field ER\]", id="ris-truncated-last-record"),
    pytest.param("empty.ris", "", "auto", r"empty.ris: the file is empty", id="empty-file"),
    pytest.param("empty.ris", "", "ris", r"no RIS records", id="empty-file-as-ris"),
    pytest.param("binary.ris", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "auto",
                 r"binary file", id="binary-file"),
    pytest.param("notes.txt", "These are my notes about POEMS.\n", "auto",
                 r"cannot tell the format", id="not-an-export"),
    pytest.param("broken.xml", "<PubmedArticleSet><PubmedArticle><MedlineCitation>",
                 "auto", r"broken.xml, line 1: malformed XML at column \d+", id="xml-truncated"),
    pytest.param("odd.xml", "<PubmedArticleSet><PubmedArticle><PMID>1</PMID></PubmedArticle>"
                 "</PubmedArticleSet>", "auto",
                 r"odd.xml: not PubMed XML as NCBI writes it: a PubmedArticle without "
                 "MedlineCitation", id="xml-not-pubmed-shaped"),
    pytest.param("bad.jsonl", '{"source_kind": "x", "pmid": }\n', "snapshot",
                 r"bad.jsonl, line 1: not valid JSON", id="snapshot-bad-json"),
    pytest.param("nbib.txt", "PMID- 1\nTI  - A\n\nPMID- 2\nTI  - B\n", "medline",
                 None, id="medline-ok-control"),
])
def test_bad_input_names_file_and_line(tmp_path: Path, name: str, data: str | bytes,
                                       fmt: str, message: str | None) -> None:
    path = write(tmp_path, name, data)
    if message is None:
        assert len(read_records(path, fmt)[1]) == 2
        return
    with pytest.raises(InputError, match=message) as caught:
        read_records(path, fmt)
    assert "To fix:" in str(caught.value)


def test_snapshot_lines_are_validated(tmp_path: Path) -> None:
    snapshot = EXAMPLE / "snapshot" / "pubmed" / "records.jsonl"
    good = json.loads(snapshot.read_text().split("\n")[0])
    lines = [json.dumps(good), json.dumps({**good, "colour": "red"})]
    path = write(tmp_path, "s.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"s.jsonl, line 2: unknown keys \['colour'\]"):
        read_records(path, "snapshot")
    del good["note"]
    path.write_text(json.dumps(good) + "\n")
    with pytest.raises(InputError, match=r"line 1: missing keys \['note'\]"):
        read_records(path, "snapshot")
    good.update(note="n", authors="Misawa S")
    path.write_text(json.dumps(good) + "\n")
    with pytest.raises(InputError, match="'authors' must be a list of strings"):
        read_records(path, "snapshot")


def test_a_parser_that_loses_a_record_is_caught() -> None:
    text = (PUBMED / "pubmed1.xml").read_text()
    # A PubmedArticle tag inside a comment is counted but never parsed: a lost record.
    with pytest.raises(CountMismatchError, match="3 article elements but 2 records"):
        parse_text(text.replace("<PubmedArticleSet>",
                                "<PubmedArticleSet><!-- <PubmedArticle> -->", 1), "x.xml")


def test_records_sharing_an_id_are_told_apart_by_content_in_any_order(tmp_path: Path) -> None:
    a = "TY  - JOUR\nID  - 7\nTI  - A\nER  - \n"
    b = "TY  - JOUR\nID  - 7\nTI  - B\nER  - \n"
    _, forward = read_records(write(tmp_path, "ab.ris", f"{a}\n{b}"))
    _, backward = read_records(write(tmp_path, "ba.ris", f"{b}\n{a}"))
    ids = {r.title: r.source_record_id for r in forward}
    assert ids == {r.title: r.source_record_id for r in backward}
    assert len(set(ids.values())) == 2 and all(i.startswith("7~") for i in ids.values())
    # the same record twice: both kept, which one is "~2" cannot matter
    _, twice = read_records(write(tmp_path, "aa.ris", f"{a}\n{a}"))
    assert [r.source_record_id for r in twice] == [ids["A"], f"{ids['A']}~2"]


def test_format_is_detected_from_content_not_name(tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", (EXPORTS / "asreview_scopus.ris").read_text("utf-8"))
    assert detect_format(path) == "ris"
