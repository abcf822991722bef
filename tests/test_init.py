"""review init and review import --add: another team's review, built from exports alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from review_pipeline.cli import cli
from review_pipeline.init import MAKEFILE, add_source, init_review
from review_pipeline.model.errors import InputError, ProtocolError
from review_pipeline.protocol import load_protocol
from review_pipeline.stages.extract import load_fields
from tests.conftest import FIXTURES

EMBASE = FIXTURES / "exports" / "asreview_embase.ris"
SCOPUS = FIXTURES / "exports" / "asreview_scopus.ris"
STAGES = ["fetch", "import", "dedup", "screen", "extract", "synthesis", "prisma", "report"]


def ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def review(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new review made by `review init`, as the working folder."""
    for name in ("NCBI_EMAIL", "NCBI_API_KEY", "REVIEW_DB", "REVIEW_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    ok("init", str(tmp_path / "statins"), "--title", 'Statins "for" primary prevention')
    monkeypatch.chdir(tmp_path / "statins")
    return tmp_path / "statins"


def test_init_writes_a_review_that_loads(review: Path) -> None:
    protocol = load_protocol(review / "queries" / "protocol.toml")
    assert protocol.review.title == 'Statins "for" primary prevention'
    assert protocol.searches == () and protocol.sources == ()
    assert protocol.screening.reviewers == 2 and len(protocol.reasons) == 4
    forms = load_fields(review / "extracted" / "extraction" / "fields.csv")
    assert set(forms.tables) == {"studies", "arms", "outcomes", "rob_rob2"}
    assert {"events", "total"} <= {f.name for f in forms.tables["outcomes"].fields}
    assert (review / ".gitignore").read_text().count("/data/") == 1
    for readme in ("README.md", "imports/README.md", "extracted/README.md"):
        assert (review / readme).is_file()
    assert (review / "README.md").read_text().startswith('# Statins "for" primary prevention')
    assert "include $(STAGES)" in (review / "Makefile").read_text()
    assert ok("makefile").strip() == str(MAKEFILE) and MAKEFILE.is_file()


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "protocol.toml").write_text("mine")
    with pytest.raises(InputError, match=r"already holds .*protocol.toml"):
        init_review(tmp_path)
    assert (tmp_path / "queries" / "protocol.toml").read_text() == "mine"
    assert not (tmp_path / "Makefile").exists()


def test_add_source_copies_the_file_and_lists_it_keeping_the_comments(review: Path) -> None:
    protocol_path = review / "queries" / "protocol.toml"
    before = protocol_path.read_text()
    added = add_source(protocol_path, EMBASE, "embase")
    assert (added.label, added.kind, added.copied, added.new_source) == (
        "Embase", "database", True, True)
    assert (review / "imports" / EMBASE.name).read_bytes() == EMBASE.read_bytes()
    text = protocol_path.read_text()
    assert text.startswith(before.rstrip("\n")) and "# [[searches]]" in text
    again = add_source(protocol_path, review / "imports" / EMBASE.name, "embase")
    assert not again.copied and not again.new_source
    add_source(protocol_path, SCOPUS, "embase")  # a second file of the same source
    registry = add_source(protocol_path, FIXTURES / "exports" / "asreview_pubmed.xml", "ictrp")
    assert (registry.label, registry.kind) == ("WHO ICTRP", "register")
    protocol = load_protocol(protocol_path)
    [embase, ictrp] = protocol.sources
    assert [f.name for f in embase.files] == [EMBASE.name, SCOPUS.name]
    assert ictrp.branch == "databases"


def test_add_source_refuses_what_would_lose_or_mislabel_data(review: Path,
                                                             tmp_path: Path) -> None:
    protocol_path = review / "queries" / "protocol.toml"
    add_source(protocol_path, EMBASE, "embase")
    other = tmp_path / "elsewhere" / EMBASE.name
    other.parent.mkdir()
    other.write_text("TY  - JOUR\nTI  - another file, the same name\nER  - \n")
    with pytest.raises(InputError, match="exists and holds another file"):
        add_source(protocol_path, other, "embase")
    with pytest.raises(ProtocolError, match="is of kind database, not register"):
        add_source(protocol_path, SCOPUS, "embase", kind="register")
    with pytest.raises(InputError, match="unknown kind 'other'"):
        add_source(protocol_path, SCOPUS, "scopus", kind="other")
    with pytest.raises(InputError, match="is listed under source 'embase' already"):
        add_source(protocol_path, EMBASE, "medline")
    text = protocol_path.read_text()
    with pytest.raises(InputError, match="'Scopus' cannot name a source"):
        add_source(protocol_path, SCOPUS, "Scopus")
    # a refused edit writes nothing and copies nothing
    assert protocol_path.read_text() == text
    assert not (review / "imports" / SCOPUS.name).exists()


def test_an_export_is_copied_under_a_name_make_can_follow(review: Path, tmp_path: Path) -> None:
    download = tmp_path / "embase (1) smith's.ris"
    download.write_bytes(EMBASE.read_bytes())
    download.chmod(0o444)
    added = add_source(review / "queries" / "protocol.toml", download, "embase")
    assert added.file == review / "imports" / "embase-1-smith-s.ris"
    assert added.file.stat().st_mode & 0o200  # the copy is the review's, writable
    again = add_source(review / "queries" / "protocol.toml", download, "embase")
    assert not again.copied and not again.listed
    assert "already listed imports/embase-1-smith-s.ris" in ok(
        "import", str(download), "--source", "embase", "--add")


def test_a_review_from_two_database_exports_alone(review: Path) -> None:
    out = ok("import", str(EMBASE), "--source", "embase", "--add")
    assert "listed imports/asreview_embase.ris under source 'embase' (Embase, database)" in out
    ok("import", str(SCOPUS), "--source", "scopus", "--add")
    for stage in STAGES:
        out = ok(stage)
    fetched = ok("fetch")
    assert "the protocol has no PubMed search; nothing to fetch" in fetched
    prisma = json.loads((review / "reports" / "prisma.json").read_text())
    assert prisma["database_specific_results"] == [{"label": "Embase", "n": 6},
                                                   {"label": "Scopus", "n": 6}]
    assert prisma["database_results"] == 12 and prisma["citations_results"] == 0
    assert prisma["records_screened"] == 12 - prisma["duplicates"]
    log = (review / "reports" / "search_log.md").read_text()
    databases = log.split("## Databases and registers")[1].split("## ")[0]
    assert "| Embase | Databases | `imports/asreview_embase.ris` |" in databases
    assert "| Scopus | Databases |" in databases and "PubMed" not in log
    assert "## Other methods" not in log
    html = (review / "reports" / "index.html").read_text()
    assert "Database and register exports" in html and "PubMed" not in html
    # the export saved again with CRLF line ends: the same records, nothing imported twice
    export = review / "imports" / EMBASE.name
    export.write_bytes(export.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    out = ok("import")
    assert "(embase, ris): 6 records, 0 new" in out
    assert "imports/asreview_embase.ris changed since it was imported; the new version" in out
    assert "0 records left the review" in out


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_init_import_add_then_make_all_with_the_installed_review(tmp_path: Path) -> None:
    """The README's "start another review", run as a team would: the review's Makefile
    includes the stages from the installed package and runs the installed command."""
    review_command = Path(sys.executable).parent / "review"
    env = {k: v for k, v in os.environ.items() if k not in (
        "NCBI_EMAIL", "REVIEW_DB", "REVIEW_PROTOCOL", "VIRTUAL_ENV", "MAKEFLAGS")}
    env["PATH"] = f"{review_command.parent}{os.pathsep}{env.get('PATH', '')}"

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=tmp_path / "mine", env=env, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    (tmp_path / "mine").mkdir()
    run("review", "init", ".")
    run("review", "import", str(EMBASE), "--source", "embase", "--add")
    run("review", "import", str(SCOPUS), "--source", "scopus", "--add")
    out = run("make", "all")
    assert "prisma: 12 identified" in out
    prisma = json.loads((tmp_path / "mine" / "reports" / "prisma.json").read_text())
    assert [d["label"] for d in prisma["database_specific_results"]] == ["Embase", "Scopus"]
    assert "Nothing to be done" in run("make", "all")
