"""Benchmarks of the import stage for `make bench`, printed as a table.

5. Importing (read, check, store in a fresh database) the 79,880-record ASySD depression set
   as CSV (from ../shared/data/dedup, skipped with a note when absent) and 30,000-record RIS
   files built from the real RIS exports in tests/fixtures under fresh accession numbers: all
   five dialects mixed (Embase, Scopus, Ovid PsycINFO, Web of Science and PubMed through
   EndNote; the exports read as RIS, whatever their extension), the three of the first
   version of this table mixed (Embase, Ovid PsycINFO, Scopus: a third of the records are
   Scopus ones with their reference lists, 14 kB a record), then each alone. Each import
   runs three times, each in its own process, so its peak RSS is its own; the table gives
   the median and the range. Target: at least 5,000 records/s each.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import SHARED, asysd_csv, in_child, table  # noqa: E402
from review_pipeline.formats.registry import detect_format  # noqa: E402

EXPORTS = ROOT / "tests" / "fixtures" / "exports"
SETUP = """
from review_pipeline.store import open_db
from review_pipeline.stages.import_ import import_file
db = open_db(Path(ARGS[2]))
"""
WORK = 'n = import_file(db, Path(ARGS[0]), source="bench", fmt=ARGS[1]).records'


RUNS = 3
DIALECTS = {"all five": ("",), "three (first table)": ("embase", "psycinfo", "scopus"),
            "embase": ("embase",), "ovid_psycinfo": ("psycinfo",), "scopus": ("scopus",),
            "web_of_science": ("web_of_science",), "pubmed_endnote": ("pubmed_endnote",)}
"""Name -> words naming the RIS exports of tests/fixtures/exports it cycles through."""


def big_ris(out: Path, count: int, names: tuple[str, ...] = ("",)) -> Path:
    """``count`` RIS records cycling through the real RIS exports whose file names hold one
    of ``names``, each with a fresh AN."""
    records = []
    for path in sorted(EXPORTS.iterdir()):
        if not any(name in path.name for name in names) or detect_format(path) != "ris":
            continue
        text = path.read_text(encoding="utf-8-sig")
        records += [r.strip() + "\n" for r in re.split(r"^ER  -.*$", text, flags=re.M)
                    if "TY  -" in r]
    with out.open("w", encoding="utf-8") as handle:
        for n in range(count):
            record = re.sub(r"^(AN|ID)  - .*\n", "", records[n % len(records)], flags=re.M)
            body = record[record.index("TY  -"):]
            handle.write(f"{body}AN  - bench-{n}\nER  - \n\n")
    return out


def main() -> None:
    print(f"python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M')}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        inputs = [(big_ris(tmp / f"{name.split()[0]}.ris", 30_000, names), "ris", name)
                  for name, names in DIALECTS.items()]
        depression = SHARED / "dedup" / "asysd_depression"
        if depression.is_dir():
            inputs.insert(0, (asysd_csv(depression, tmp / "asysd_depression.csv"), "csv",
                              "asysd_depression"))
        else:
            print(f"(the ASySD set is skipped: {depression} is absent)")
        for path, fmt, name in inputs:
            runs = [in_child(SETUP, WORK, str(path), fmt, str(tmp / f"{path.stem}-{n}.db"))
                    for n in range(RUNS)]
            records = runs[0][0]
            rates = sorted(records / seconds for _, seconds, _ in runs)
            seconds = statistics.median(s for _, s, _ in runs)
            size = path.stat().st_size / 1e6
            rows.append([name, fmt, f"{size:.0f}", f"{size * 1e3 / records:.1f}",
                         f"{records:,}", f"{seconds:.1f}", f"{records / seconds:,.0f}",
                         f"{rates[0]:,.0f}-{rates[-1]:,.0f}", f"{size / seconds:.0f}",
                         f"{max(peak for *_, peak in runs):,.0f}"])
            path.unlink()
            for db in tmp.glob(f"{path.stem}-*.db"):
                db.unlink()
    table(f"5. Importing into a fresh database, median of {RUNS} runs (target: >= 5,000 "
          "records/s)", ["file", "format", "MB", "kB/record", "records", "seconds",
                         "records/s", "range", "MB/s", "peak RSS MB"], rows)


if __name__ == "__main__":
    main()
