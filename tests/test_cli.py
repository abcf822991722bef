"""The `review` command end to end on the shipped POEMS example, through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from review_pipeline import store
from review_pipeline.cli import cli
from tests.conftest import EXAMPLE, EXAMPLE_PARTS

STAGES = ["fetch", "import", "dedup", "screen", "extract", "prisma", "report"]


def review(*args: str, db: Path | None = None) -> Result:
    prefix = ["--db", str(db)] if db else []
    return CliRunner().invoke(cli, [*prefix, *args], catch_exceptions=False)


def ok(*args: str, db: Path | None = None) -> str:
    result = review(*args, db=db)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example run through every stage once for this module's tests."""
    folder = tmp_path_factory.mktemp("built")
    for part in EXAMPLE_PARTS:
        shutil.copytree(EXAMPLE / part, folder / part)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for name in ("NCBI_EMAIL", "NCBI_API_KEY", "REVIEW_DB", "REVIEW_PROTOCOL"):
            patch.delenv(name, raising=False)
        for stage in STAGES:
            ok(stage, db=folder / "data" / "review.db")
    return folder


@pytest.fixture
def done(built: Path, project: Path) -> Path:
    """A copy of the built worked example, as the working folder; returns the database path.
    The database names its files relative to the review's folder, so the copy is whole."""
    shutil.copytree(built, project, dirs_exist_ok=True)
    return project / "data" / "review.db"


def test_the_whole_review_runs_and_prisma_equals_status(done: Path, project: Path) -> None:
    status = json.loads(ok("status", "--json", db=done))
    prisma = json.loads((project / "reports" / "prisma.json").read_text())
    assert prisma == status["prisma"]
    assert prisma["database_results"] == 233 and prisma["citations_results"] == 23
    assert prisma["other_already_identified"] == 23 and prisma["provisional"] is False
    # The 2012 update of the 2008 Cochrane review is a duplicate by a reviewer's decision.
    assert prisma["duplicates"] == 1 and prisma["excluded_automatic"] == 42
    assert prisma["records_screened"] == 190
    # three meeting abstracts are reports of included studies (extraction/reports.csv)
    assert (prisma["new_studies"], prisma["new_reports"]) == (34, 37)
    # Two reviewers, their disagreements all resolved, with kappa per stage.
    ta, ft = status["screening"]["title/abstract"], status["screening"]["full text"]
    assert (ta["screened"], ta["conflicts"], ta["unresolved"], ta["kappa"]) == (190, 10, 0, 0.87)
    assert (ft["screened"], ft["included"], ft["not_retrieved"], ft["conflicts"]) == (50, 37, 2, 6)
    assert ft["unresolved"] == 0 and ft["kappa"] == pytest.approx(0.78, abs=0.01)
    assert status["states"]["duplicate"] == 24 and status["records"] == 256
    assert status["awaiting"] == {"title_abstract": 0, "title_abstract_conflicts": 0,
                                  "full_text": 0, "full_text_conflicts": 0}
    md = (project / "reports" / "prisma.md").read_text()
    assert f"Records screened (n = {prisma['records_screened']})" in md
    html = (project / "reports" / "index.html").read_text()
    assert "Medical treatment of POEMS syndrome" in html
    assert "Randomised controlled trial" in html and "Thalidomide 200 mg/day" in html
    # one page: the diagram inline, the search log, the summaries by treatment and of bias
    # (per tool a traffic-light plot and two summary bars, inline too)
    assert "<img" not in html and html.count("<svg") == 1 + 2 * 3
    assert "Studies included in review (n = 34)" in html
    assert "&quot;POEMS Syndrome&quot;[Mesh] OR" in html
    asct = "<td>ASCT</td>" + "".join(f"<td class=\"n\">{n}</td>" for n in (15, 15, 758))
    assert asct in html
    assert "<h3>ROBINS-I (risk of bias" in html and "<td class=\"some\">Unclear</td>" in html
    svg = (project / "reports" / "prisma.svg").read_text()
    assert "Records screened (n = 190)" in svg and "Citation searching (n = 23)" in svg
    assert (project / "reports" / "prisma.png").read_bytes()[:4] == b"\x89PNG"
    log = (project / "reports" / "search_log.md").read_text()
    protocol_query = '("POEMS Syndrome"[Mesh] OR "POEMS syndrome"[tiab]'
    assert protocol_query in log and "Date of search: 2026-11-21 (the snapshot's date" in log
    assert "| Citation searching | Citation searching | `imports/citation_searching.ris` |" in log
    assert "24 marked as duplicates (never deleted), by rule: pmid 11, reviewer 9, doi 4" in log
    assert "- Embase (Databases): Planned" in log and "| 16 | deduplication | reported" in log
    # Two extractors, every disagreement decided in consensus.csv.
    x = status["extraction"]
    assert (x["studies"], x["reviewers"], x["undecided"], x["waiting"]) == (
        34, ["anna", "ben"], 0, 0)
    assert x["disagreements"] == 24 and x["tables"]["studies"] == 34


def test_clean_then_all_keeps_every_decision_on_its_record(done: Path, project: Path) -> None:
    def decided() -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        con = sqlite3.connect(done)
        try:
            return (con.execute("SELECT record_id, stage, reviewer, decision, reason FROM "
                                "decisions ORDER BY 1, 2, 3").fetchall(),
                    con.execute("SELECT record_id, status FROM records ORDER BY 1").fetchall())
        finally:
            con.close()

    before = decided()
    shutil.rmtree(project / "data")  # what `make clean` removes, with reports/
    shutil.rmtree(project / "reports")
    for stage in STAGES:
        ok(stage, db=done)
    assert decided() == before and len(before[0]) == 480


def test_every_stage_run_again_changes_nothing(done: Path, project: Path) -> None:
    dump = _dump(done)
    before = json.loads(ok("status", "--json", db=done))
    out = {stage: ok(stage, db=done) for stage in STAGES}
    assert "nothing new" in out["fetch"]
    assert "imported before; skipped" in out["import"]
    assert "0 changed" in out["dedup"] and "0 records moved" in out["screen"]
    assert "0 cells changed" in out["extract"]
    assert json.loads(ok("status", "--json", db=done)) == before
    assert _dump(done) == dump


def _dump(path: Path) -> str:
    with closing(sqlite3.connect(path)) as con:
        return "\n".join(con.iterdump())


def test_record_ids_survive_a_rebuild(done: Path, project: Path) -> None:
    first = ok("export", "records", "--format", "csv", db=done)
    rebuilt = project / "data" / "rebuilt.db"
    for stage in STAGES[:5]:
        ok(stage, db=rebuilt)
    second = ok("export", "records", "--format", "csv", db=rebuilt)
    assert first == second


def test_export_records_has_the_promised_columns(done: Path, tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    assert "wrote 256 records" in ok("export", "records", "--out", str(out), db=done)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 256
    assert list(rows[0])[:10] == ["record_id", "source", "source_record_id", "pmid", "doi",
                                  "title", "year", "cluster_id", "duplicate_of", "status"]
    cit = next(r for r in rows if r["record_id"] == "citations:cit-02")
    assert (cit["duplicate_of"], cit["cluster_id"], cit["status"]) == (
        "pubmed:27496680", "pubmed:27496680", "duplicate")


def test_status_text_fits_one_screen(done: Path) -> None:
    text = ok("status", db=done)
    assert len(text.splitlines()) < 40
    assert "pubmed" in text and "included" in text and "awaiting a decision" in text


def test_bad_input_exits_1_with_a_message_and_no_traceback(done: Path, project: Path) -> None:
    sheet = project / "extracted" / "screening" / "ta-anna.csv"
    sheet.write_text(sheet.read_text().replace(",exclude,", ",exlcude,", 1))
    result = CliRunner().invoke(cli, ["--db", str(done), "screen"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "ta-anna.csv, line" in result.output
    assert "'exlcude' is not one of include, exclude, maybe" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_protocol_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "--protocol",
                                      str(tmp_path / "none.toml"), "screen"])
    assert result.exit_code == 1
    assert "protocol file does not exist" in result.output and "--protocol" in result.output


@pytest.mark.parametrize("args", [["import", "--source", "embase"], ["fetch", "--nope"],
                                  ["dedup", "--decisions"], ["no-such-command"]])
def test_usage_errors_exit_2(args: list[str], project: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(project / "r.db"), *args])
    assert result.exit_code == 2, result.output


def test_import_of_an_undeclared_file_says_to_declare_it(project: Path,
                                                         fixtures: Path) -> None:
    out = ok("import", str(fixtures / "exports" / "asreview_scopus.ris"), "--source", "scopus",
             db=project / "r.db")
    assert "6 records, 6 new" in out and "is not listed in queries/protocol.toml" in out
    assert "--source scopus --add" in out
    out = ok("import", db=project / "r.db")
    assert "asreview_scopus.ris is not listed in the protocol (any more); it is taken out" in out
    assert "import: 6 records left the review" in out


def test_import_skip_bad_quarantines_and_export_ris_reads_back(project: Path,
                                                                fixtures: Path) -> None:
    db = project / "data" / "r.db"
    cut = fixtures / "edge" / "truncated_last_record.ris"
    refused = review("import", str(cut), "--source", "embase", db=db)
    assert refused.exit_code == 1 and "line 9" in refused.output and "--skip-bad" in (
        refused.output)
    out = ok("import", str(cut), "--source", "embase", "--skip-bad", db=db)
    assert "1 records, 1 new" in out
    assert "1 records of" in out and "were NOT imported; see data/quarantine/embase-" in out
    assert len(list((project / "data" / "quarantine").glob("embase-*.txt"))) == 1
    table = fixtures / "edge" / "semicolon.csv"
    assert "(scopus, csv): 2 records, 2 new" in ok("import", str(table), "--source", "scopus",
                                                   "--format", "csv", db=db)
    ok("export", "records", "--format", "ris", "--out", str(project / "all.ris"), db=db)
    again = ok("import", str(project / "all.ris"), "--source", "again", db=db)
    assert "(again, ris): 3 records, 3 new" in again


def test_db_option_and_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_DB", str(project / "from-env.db"))
    ok("fetch")
    assert (project / "from-env.db").is_file()
    ok("fetch", db=project / "from-option.db")
    assert (project / "from-option.db").is_file()
    ok("fetch", "--db", str(project / "after-command.db"))
    assert (project / "after-command.db").is_file()
    out = ok("status", "--json", "--db", str(project / "after-command.db"))
    assert json.loads(out)["records"] == 233


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", [(), *all_commands(cli)])
def test_every_help_says_what_and_gives_an_example(path: tuple[str, ...]) -> None:
    output = ok(*path, "--help")
    assert "Example:" in output
    assert len(output.split("\n\n", 2)[1].strip()) > 20


def test_screen_sheets_conflicts_and_agreement(done: Path, project: Path) -> None:
    out = ok("screen", "conflicts", db=done)
    assert "conflicts: 16, unresolved 0" in out
    assert "ta  pubmed:7985714  anna exclude; ben maybe  [resolved: exclude]" in out
    out = ok("screen", "agreement", db=done)
    assert "title/abstract: kappa 0.87 (almost perfect) for anna and ben on 190 records" in out
    assert "both include 48, both exclude 132, only anna includes 0, only ben includes 10" in out
    out = ok("screen", "sheet", "--stage", "ta", "--reviewer", "carol", db=done)
    assert "190 records added to decide, 0 rows kept" in out
    assert (project / "extracted" / "screening" / "ta-carol.csv").is_file()
    bad = review("screen", "sheet", "--stage", "ta", "--reviewer", "Carol Smith", db=done)
    assert bad.exit_code == 1 and "cannot name a file" in bad.output


def test_extract_sheets_compare_and_history(done: Path, project: Path) -> None:
    out = ok("extract", "compare", db=done)
    assert "compare: 24 cells differ, 0 undecided; 0 study tables waiting" in out
    assert ("studies  pubmed:25401269  design: anna Prospective cohort; ben Case series  "
            "[decided: Case series]") in out
    out = ok("extract", "history", "25401269", db=done)
    assert out.startswith("pubmed:25401269: ")
    assert "consensus  studies.design: (empty) -> Case series" in out
    out = ok("extract", "sheet", "--reviewer", "carol", "--format", "xlsx", db=done)
    assert "studies.xlsx: 34 rows added, 0 rows kept" in out
    assert "outcomes.xlsx: 272 rows added" in out  # 34 studies x 8 outcomes
    assert (project / "extracted" / "extraction" / "carol" / "help.md").is_file()
    assert "0 cells changed" in ok("extract", db=done)  # untouched sheets read as nothing
    bad = review("extract", "history", "pubmed:404", db=done)
    assert bad.exit_code == 1 and "no extraction history for 'pubmed:404'" in bad.output


def test_an_updated_review_draws_its_previous_version_or_names_the_bad_line(
        done: Path, project: Path) -> None:
    protocol = project / "queries" / "protocol.toml"
    protocol.write_text(protocol.read_text() + '\n[update]\nprevious_version = '
                        '"extracted/previous_version.csv"\n')
    previous = project / "extracted" / "previous_version.csv"
    previous.write_text("study,citation,pmid\nKuwabara 2008,,\n")
    before = {p.name: p.read_bytes() for p in (project / "reports").iterdir()}
    bad = review("prisma", db=done)
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "previous_version.csv, line 2: empty citation" in bad.output
    assert "To fix: correct those lines" in bad.output
    assert {p.name: p.read_bytes() for p in (project / "reports").iterdir()} == before
    previous.write_text("study,citation,pmid\nOld 2001,Old study 2001,\nOld 2001,Its abstract,\n")
    ok("prisma", db=done)
    prisma = json.loads((project / "reports" / "prisma.json").read_text())
    assert (prisma["previous_studies"], prisma["previous_reports"]) == (1, 2)
    assert (prisma["total_studies"], prisma["total_reports"]) == (35, 39)
    assert json.loads(ok("status", "--json", db=done))["prisma"] == prisma
    assert "Previous studies" in (project / "reports" / "prisma.svg").read_text()


def command_of(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", [p for p in all_commands(cli) if p not in (
    ("init",), ("makefile",), ("meta",), ("simulate",))])  # these need no review
def test_db_and_protocol_go_after_any_command(path: tuple[str, ...]) -> None:
    names = {p.name for p in command_of(path).params}
    assert {"db", "protocol"} <= names


READING = [("dedup",), ("dedup", "--explain", "pubmed:1"), ("screen",),
           ("screen", "sheet", "--stage", "ta", "--reviewer", "x"), ("screen", "conflicts"),
           ("screen", "agreement"), ("extract",), ("extract", "sheet", "--reviewer", "x"),
           ("extract", "compare"), ("extract", "history", "1"), ("prisma",), ("report",),
           ("status",), ("export", "records")]


@pytest.mark.parametrize("args", READING, ids=[" ".join(a) for a in READING])
def test_a_command_that_reads_a_review_refuses_a_missing_database(args: tuple[str, ...],
                                                                   project: Path) -> None:
    mistyped = project / "data" / "reveiw.db"
    result = review(*args, "--db", str(mistyped))
    assert result.exit_code == 1, result.output
    assert f"{mistyped}: there is no review database here" in result.output
    assert not (project / "data").exists() and not (project / "reports").exists()
    assert not list((project / "extracted").rglob("*-x.*")) and not (
        project / "extracted" / "extraction" / "x").exists()


def test_fetch_live_that_cannot_search_pubmed_fails(project: Path) -> None:
    result = review("fetch", "--live", db=project / "r.db")
    assert result.exit_code == 1
    assert "could not run live: NCBI_EMAIL is not set" in result.output
    assert "--offline and --live" in review("fetch", "--live", "--offline").output


@pytest.mark.parametrize("args", [("fetch",), ("import",), ("status",), ("screen", "conflicts"),
                                  ("export", "records")])
def test_every_command_closes_the_database_it_opens(args: tuple[str, ...], done: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.13 warns of a connection left open (ResourceWarning: unclosed database)."""
    opened: list[sqlite3.Connection] = []
    real = store.open_db

    def tracked(*a: Any, **k: Any) -> Any:
        db = real(*a, **k)
        opened.append(db.conn)
        return db

    monkeypatch.setattr(store, "open_db", tracked)
    ok(*args, db=done)
    assert opened
    for connection in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
            connection.execute("SELECT 1")


@pytest.mark.parametrize("args", [("screen", "--decisions"), ("extract", "--tables")])
def test_a_mistyped_folder_of_decisions_changes_nothing(args: tuple[str, ...], done: Path,
                                                        project: Path) -> None:
    before = _dump(done)
    result = review(*args, str(project / "extracted" / "screenign"), db=done)
    assert result.exit_code == 2 and "no folder" in result.output
    assert _dump(done) == before


def test_the_command_line_loads_no_stage_before_a_command_runs() -> None:
    """--help, --version and `review makefile` (which make asks at every start) answer
    without loading the stages' libraries, which take about a second."""
    heavy = ("pandas", "matplotlib", "sqlite_utils", "rapidfuzz", "openpyxl", "requests",
             "tqdm", "Bio", "rispy", "tomlkit")
    code = ("import sys, review_pipeline.cli; "
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == ""
