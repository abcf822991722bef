"""Benchmark for `make bench`: `review serve` answering keys with 10,000 records loaded.

10. The POEMS example with 9,800 more records (an Embase-like RIS export written here with
    seeded random titles and 180-word abstracts, so that nothing is a duplicate) taken to
    title/abstract screening; a new reviewer opens the app (their sheet of every record is
    written and ranked), then Chromium presses i or e on 40 records in a row, and the
    arrows on 20 more. A key's time is from its event in the page until the next record is in
    the page (timed by the page's own clock), the decision sent to the server, which writes
    the sheet on disk from a thread of its own. Target: under 100 ms.
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import table  # noqa: E402
from review_pipeline.api import Review  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
EXTRA = 9_800
VOCABULARY = ("patients treatment response survival melphalan lenalidomide thalidomide "
              "bortezomib neuropathy plasma cell monoclonal VEGF transplantation autologous "
              "cohort trial retrospective prospective outcome toxicity relapse remission "
              "dexamethasone radiotherapy lesion bone marrow serum level endocrine skin "
              "organomegaly edema study analysis median months follow-up adverse events grade "
              "therapy induction maintenance")
WORDS = tuple(VOCABULARY.split())


def bulk_ris(path: Path, count: int) -> None:
    rng = random.Random(2026)  # noqa: S311 (made-up text, not secrets)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            title = " ".join(rng.choice(WORDS) for _ in range(10)).capitalize()
            abstract = " ".join(rng.choice(WORDS) for _ in range(180))
            out.write(f"TY  - JOUR\nID  - bulk{n}\nTI  - {title} ({n})\nAU  - Author{n}, A.\n"
                      f"PY  - {1990 + n % 35}\nJO  - Journal {n % 97}\nAB  - {abstract}\n"
                      "ER  - \n\n")


# Timed inside the page: from the key's event to the next record in the document, as the
# reviewer sees it; Playwright's own round trips are left out.
WATCH = """() => {
  window.benchKey = 0; window.benchShown = 0;
  document.addEventListener('keydown', () => { window.benchKey = performance.now(); }, true);
  new MutationObserver(() => { window.benchShown = performance.now(); })
    .observe(document.getElementById('record').parentElement, {childList: true});
}"""


def timed_press(page: Any, key: str) -> float:
    before = page.locator("[data-record-id]").get_attribute("data-record-id")
    page.keyboard.press(key)
    page.wait_for_function("before => { const r = document.querySelector('[data-record-id]');"
                           " return r && r.dataset.recordId !== before; }", arg=before)
    return float(page.evaluate("window.benchShown - window.benchKey"))


def main() -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\n10. review serve: skipped, Playwright is not installed (pip install -e "
              "'.[dev]')")
        return
    if not CHROMIUM.exists():
        print(f"\n10. review serve: skipped, no Chromium at {CHROMIUM} (apt-get install "
              "chromium)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part in ("queries", "snapshot", "imports", "extracted"):
            shutil.copytree(ROOT / part, work / part)
        bulk_ris(work / "bulk.ris", EXTRA)
        with Review(work) as review:
            review.add_source(work / "bulk.ris", "bulk", kind="database", label="Bulk")
            review.fetch(offline=True)
            review.import_()
            review.dedup()
            review.screen()
            start = time.perf_counter()
            app = review.serve(reviewer="carol", port=0)
            opened = time.perf_counter() - start
            records = len(app.served.desk.order)
            sheet_mb = app.served.desk.path.stat().st_size / 1e6
            threading.Thread(target=app.serve_forever, daemon=True).start()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
                page = browser.new_page()
                page.goto(app.address)
                page.evaluate(WATCH)
                decide = [timed_press(page, "ie"[n % 2]) for n in range(40)]
                move = [timed_press(page, "ArrowRight" if n % 2 else "ArrowLeft")
                        for n in range(1, 21)]
                browser.close()
            app.shutdown()
            app.server_close()
            decided = sum(1 for d, _ in app.served.desk.decisions().values() if d)
    rows = [[label, f"{len(found)}", f"{statistics.median(found):.0f}",
             f"{sorted(found)[int(len(found) * 0.95) - 1]:.0f}", f"{max(found):.0f}"]
            for label, found in (("i / e: decide, write, show the next", decide),
                                 ("arrows: show the previous or next", move))]
    table(f"10. review serve with {records:,} records in the sheet ({sheet_mb:.1f} MB; the "
          f"app opened in {opened:.1f} s; {decided} decisions on disk), ms per key "
          "(target < 100)", ["key", "presses", "median", "p95", "max"], rows)


if __name__ == "__main__":
    main()
