"""`review serve` driven in a real browser, keyboard only: Chromium from Debian through
Playwright. Skipped, saying why, where either is missing (`.ci/run` installs Chromium)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from review_pipeline.api import Review
from tests.conftest import UP_TO_EXTRACT, run_stages, serving

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the browser tests need Playwright (pip install -e "
                                      "'.[dev]')")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="the browser tests need "
                                "Chromium at /usr/bin/chromium (apt-get install chromium)")
SCREENING = Path("extracted") / "screening"
EVERY_STAGE = (*UP_TO_EXTRACT, "synthesis", "prisma", "report")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {r["record_id"]: r for r in csv.DictReader(handle)}


def states(project: Path) -> dict[str, tuple[str, str]]:
    with Review(project) as review:
        return {r[0]: (r[1], r[2] or "") for r in review.db().execute(
            "SELECT record_id, status, status_reason FROM records")}


def current(page: Any) -> str:
    return str(page.locator("[data-record-id]").get_attribute("data-record-id"))


def press(page: Any, key: str) -> str:
    """Press ``key`` and wait until the page shows another record (or says why not)."""
    before = current(page)
    page.keyboard.press(key)
    page.wait_for_function("before => { const r = document.querySelector('[data-record-id]');"
                           " return (r && r.dataset.recordId !== before) || "
                           "document.getElementById('message').textContent; }", arg=before)
    return current(page)


def test_screening_and_extraction_by_keyboard_reach_the_sheets_and_make_all(
        project: Path, browser: Any) -> None:
    run_stages(project, UP_TO_EXTRACT)
    state = states(project)
    page = browser.new_page()
    # Title/abstract: ten records, each decided as the review decided it (so that the third
    # reviewer's sheet agrees and `make all` goes through), then the last one undone.
    keys: dict[str, str] = {}
    with serving(project, reviewer="carol") as app:
        page.goto(app.address)
        for n in range(10):
            record = current(page)
            key = "e" if state[record][0] == "excluded_ta" else ("m" if n == 3 else "i")
            keys[record] = key
            press(page, key)
        last = list(keys)[-1]
        assert press(page, "u") == last
        assert page.locator(".meta").first.inner_text().endswith("undecided")
        del keys[last]
    sheet = rows(project / SCREENING / "ta-carol.csv")
    words = {"i": "include", "e": "exclude", "m": "maybe"}
    assert {r: sheet[r]["decision"] for r in keys} == {r: words[k] for r, k in keys.items()}
    assert sum(1 for r in sheet.values() if r["decision"]) == 9
    # Full text: move (right arrow) to a record the review excluded, exclude it with the
    # same reason, chosen by its number in the list.
    protocol_codes = [r.code for r in Review(project).protocol().reasons]
    with serving(project, reviewer="carol", stage="ft") as app:
        page.goto(app.address)
        while state[current(page)][0] != "excluded_ft":
            press(page, "ArrowRight")
        record, reason = current(page), state[current(page)][1]
        page.keyboard.press("e")
        assert page.locator("#reasons").is_visible()
        press(page, str(protocol_codes.index(reason) + 1))
    ft = rows(project / SCREENING / "ft-carol.csv")
    assert (ft[record]["decision"], ft[record]["reason"]) == ("exclude", reason)
    assert sum(1 for r in ft.values() if r["decision"]) == 1
    # Extraction: a bad number is refused with the stage's message, then a good row saved.
    with serving(project, reviewer="anna", stage="ft") as app:
        bench = app.served.bench
        assert bench is not None
        study = bench.studies()[0][0]
        page.goto(f"{app.address}extract?study={study}")
        form = page.locator("form.row[data-table=studies]")
        _focus(page, "patients")
        page.keyboard.press("Control+a")
        page.keyboard.type("many")
        page.keyboard.press("Enter")
        problem = form.locator(".problems")
        problem.filter(has_text="is not a whole number").wait_for()
        assert "column 'patients': 'many' is not a whole number" in problem.inner_text()
        page.keyboard.press("Control+a")
        page.keyboard.type("16")
        _focus(page, "notes")
        page.keyboard.press("Control+a")
        page.keyboard.type("checked in the browser")
        page.keyboard.press("Enter")
        form.locator(".problems", has_text="saved").wait_for()
    studies = rows(project / "extracted" / "extraction" / "anna" / "studies.csv")
    assert (studies[study]["patients"], studies[study]["notes"]) == ("16",
                                                                     "checked in the browser")
    # `make all` takes them: every stage runs on the sheets the keys wrote.
    run_stages(project, EVERY_STAGE)
    with Review(project) as review:
        decided = review.status()["decisions"]
    assert (decided["ta-carol"], decided["ft-carol"]) == (9, 1)


def _focus(page: Any, name: str) -> None:
    """Tab to the field ``name`` of the first form."""
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.name") == name:
            return
    raise AssertionError(f"no field {name} reached by Tab")
