"""The Makefile's chain of file targets, driven with a stand-in `review` that logs its calls."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, EXAMPLE_PARTS, ROOT

FAKE_REVIEW = """#!/bin/sh
echo "$*" >> "$REVIEW_LOG"
case "$1" in
  makefile) echo "$REVIEW_MK" ;;
  synthesis) mkdir -p "$3" && touch "$3/synthesis.json" ;;
  prisma) mkdir -p "$3" && touch "$3/prisma.json" "$3/prisma.md" ;;
  report) mkdir -p "$3" && touch "$3/index.html" ;;
esac
"""

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout"
    for part in EXAMPLE_PARTS:
        shutil.copytree(EXAMPLE / part, folder / part)
    shutil.copytree(ROOT / "review_pipeline", folder / "review_pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".review_pipeline-installed").touch()
    review = venv / "bin" / "review"
    review.write_text(FAKE_REVIEW)
    review.chmod(0o755)
    return folder


def make(checkout: Path, *targets: str) -> tuple[list[str], str]:
    log = checkout.parent / "calls.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "VIRTUAL_ENV": str(checkout.parent / "venv"), "REVIEW_LOG": str(log),
           "REVIEW_MK": str(ROOT / "review_pipeline" / "review.mk"),
           "PATH": f"{checkout.parent / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["make", "--no-print-directory", *targets], cwd=checkout, env=env,
                          capture_output=True, text=True, check=True)
    calls = [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []
    return calls, done.stdout + done.stderr


def edit(path: Path) -> None:
    """Give a file a modification time safely after every stamp."""
    later = time.time() + 5
    os.utime(path, (later, later))


def test_all_runs_every_stage_once_then_nothing(checkout: Path) -> None:
    calls, _ = make(checkout, "all")
    assert calls == ["fetch", "import", "dedup", "screen", "extract", "synthesis", "prisma",
                     "report"]
    calls, output = make(checkout, "all")
    assert calls == [] and "Nothing to be done" in output


@pytest.mark.parametrize(("edited", "rerun"), [
    ("extracted/extraction/anna/studies.csv", ["extract", "prisma"]),
    ("extracted/screening/ft-anna.csv", ["screen", "extract", "prisma"]),
    ("extracted/dedup/decisions.csv", ["dedup", "screen", "extract", "prisma"]),
    ("imports/citation_searching.ris", ["import", "dedup", "screen", "extract", "prisma"]),
])
def test_an_edit_reruns_only_what_depends_on_it(checkout: Path, edited: str,
                                                rerun: list[str]) -> None:
    make(checkout, "all")
    edit(checkout / edited)
    calls, _ = make(checkout, "prisma")
    assert calls == rerun


def test_a_file_of_extracted_itself_redraws_only_the_flow(checkout: Path) -> None:
    # such as the previous version's reports of an updated review
    make(checkout, "all")
    (checkout / "extracted" / "previous_version.csv").write_text("study,citation\n")
    edit(checkout / "extracted" / "previous_version.csv")
    calls, _ = make(checkout, "report")
    assert calls == ["prisma", "report"]


def test_clean_keeps_queries_extracted_and_raw(checkout: Path) -> None:
    (checkout / "raw" / "pubmed").mkdir(parents=True)
    (checkout / "raw" / "pubmed" / "kept.xml").write_text("<x/>")
    make(checkout, "all")
    before = sorted(p.relative_to(checkout) for p in checkout.rglob("*")
                    if p.parts[len(checkout.parts)] in ("queries", "extracted", "raw"))
    make(checkout, "clean")
    assert not (checkout / "data").exists() and not (checkout / "reports").exists()
    after = sorted(p.relative_to(checkout) for p in checkout.rglob("*")
                   if p.parts[len(checkout.parts)] in ("queries", "extracted", "raw"))
    assert after == before


def test_help_lists_the_stage_targets(checkout: Path) -> None:
    _, output = make(checkout, "help")
    for target in ("all", "fetch", "import", "dedup", "screen", "extract", "synthesis",
                   "prisma", "report", "test", "bench", "clean"):
        assert f"\n{target} " in "\n" + output


@pytest.mark.parametrize(("removed", "rerun"), [
    ("extracted/extraction/ben/outcomes.csv", ["extract", "prisma"]),
    ("extracted/screening/ft-ben.csv", ["screen", "extract", "prisma"]),
    ("extracted/dedup/decisions.csv", ["dedup", "screen", "extract", "prisma"]),
    ("imports/citation_searching.ris", ["import", "dedup", "screen", "extract", "prisma"]),
    ("snapshot/pubmed/records.jsonl", ["fetch", "import", "dedup", "screen", "extract",
                                       "prisma"]),
])
def test_a_removed_file_reruns_what_read_it(checkout: Path, removed: str,
                                            rerun: list[str]) -> None:
    make(checkout, "all")
    (checkout / removed).unlink()
    calls, _ = make(checkout, "prisma")
    assert calls == rerun
    assert make(checkout, "prisma")[0] == []


def test_live_searches_pubmed_every_time_and_never_falls_back(checkout: Path) -> None:
    make(checkout, "all")
    log = checkout.parent / "calls.log"
    make(checkout, "fetch", "LIVE=1")
    assert log.read_text().splitlines() == ["fetch --live"]
    make(checkout, "fetch", "LIVE=1")
    assert log.read_text().splitlines() == ["fetch --live"]


def test_a_review_made_by_init_includes_the_installed_stages(checkout: Path,
                                                            tmp_path: Path) -> None:
    """Its Makefile asks `review makefile` where the stages are; no second copy of them."""
    mine = tmp_path / "mine"
    for part in EXAMPLE_PARTS:
        shutil.copytree(checkout / part, mine / part)
    shutil.copy(ROOT / "review_pipeline" / "template" / "Makefile", mine / "Makefile")
    calls, _ = make(mine, "all")
    assert calls == ["makefile", "fetch", "import", "dedup", "screen", "extract", "synthesis",
                     "prisma", "report"]
    calls, output = make(mine, "all")
    assert calls == ["makefile"] and "Nothing to be done" in output
    _, output = make(mine, "help")
    assert "\nscreen " in output


def test_the_suite_reads_the_worked_example_only_from_its_copy() -> None:
    """A team that replaces the root's review with its own keeps a passing suite."""
    parts = "|".join(EXAMPLE_PARTS)
    reads_root = re.compile(rf"(ROOT|parent\.parent)\s*/\s*[\"']({parts})[\"']")
    for module in sorted(Path(__file__).parent.glob("*.py")):
        assert not reads_root.search(module.read_text()), module.name


def test_odd_file_names_neither_break_make_nor_rerun_it(checkout: Path) -> None:
    for name in ("embase (1).ris", "smith's export.ris", "notes;old.txt"):
        (checkout / "imports" / name).write_text("TY  - JOUR\nER  - \n")
    (checkout / "extracted" / "screening" / "ta-anna (copy).csv").write_text("record_id\n")
    calls, _ = make(checkout, "all")
    assert calls == ["fetch", "import", "dedup", "screen", "extract", "synthesis", "prisma",
                     "report"]
    calls, output = make(checkout, "all")
    assert calls == [] and "Nothing to be done" in output


def test_help_and_clean_write_no_stamps(checkout: Path) -> None:
    make(checkout, "help")
    make(checkout, "clean")
    assert not (checkout / "data").exists()
