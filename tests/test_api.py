"""The Python API: a review run from a notebook, without click, from any working folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from review_pipeline.api import Review
from review_pipeline.cli import cli
from review_pipeline.model.errors import DatabaseError, InputError, ProtocolError
from tests.conftest import EXAMPLE, EXAMPLE_PARTS

STAGES = ["fetch", "import", "dedup", "screen", "extract", "prisma", "report"]
OUTPUTS = ("prisma.json", "prisma.csv", "prisma.md", "search_log.md", "index.html")


def _copy_example(folder: Path) -> Path:
    for part in EXAMPLE_PARTS:
        shutil.copytree(EXAMPLE / part, folder / part)
    return folder


def _undated(text: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\d(T[\d:]+\+00:00)?", "DATE", text)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NCBI_EMAIL", "NCBI_API_KEY", "REVIEW_DB", "REVIEW_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_the_api_runs_the_review_as_the_command_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    folder = _copy_example(tmp_path / "by-api")
    with Review(folder) as review:
        review.fetch()
        review.import_()
        review.dedup()
        review.screen()
        review.extract()
        result = review.prisma()
        page = review.report()
        status = review.status()
    assert page == folder / "reports" / "index.html"
    assert status["prisma"] == json.loads((folder / "reports" / "prisma.json").read_text())
    assert result.counts.new_reports == status["states"]["included"] > 0
    assert list(elsewhere.iterdir()) == []  # every default path is the review folder's

    by_cli = _copy_example(tmp_path / "by-cli")
    monkeypatch.chdir(by_cli)
    for stage in STAGES:
        outcome = CliRunner().invoke(cli, [stage], catch_exceptions=False)
        assert outcome.exit_code == 0, outcome.output
    for name in OUTPUTS:
        ours = (folder / "reports" / name).read_text(encoding="utf-8")
        theirs = (by_cli / "reports" / name).read_text(encoding="utf-8")
        # paths are shown relative to the working folder when inside it
        assert _undated(ours.replace(f"{folder}/", "")) == _undated(theirs), name


@pytest.mark.usefixtures("clean_env")
def test_a_review_reads_its_protocol_before_it_opens_the_database(tmp_path: Path) -> None:
    review = Review(tmp_path)
    with pytest.raises(ProtocolError, match="protocol file does not exist"):
        review.fetch(offline=True)
    assert not (tmp_path / "data").exists()
    _copy_example(tmp_path / "example")
    with Review(tmp_path / "example") as fresh, pytest.raises(DatabaseError,
                                                               match="no review database"):
        fresh.status()


@pytest.mark.usefixtures("clean_env")
def test_a_query_replaces_only_a_protocols_one_search(tmp_path: Path) -> None:
    folder = _copy_example(tmp_path / "example")
    protocol = folder / "queries" / "protocol.toml"
    text = protocol.read_text(encoding="utf-8")
    first = text.index("[[searches]]")
    end = text.index("\n[", first + 1)
    protocol.write_text(text + "\n" + text[first:end], encoding="utf-8")
    with Review(folder) as review, pytest.raises(InputError, match="has several"):
        review.fetch(query="POEMS syndrome", live_only=True)
