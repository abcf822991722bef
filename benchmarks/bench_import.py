"""Benchmarks of the import stage for `make bench`, printed as a table.

5. Importing (read, check, store in a fresh database) the 79,880-record ASySD depression set
   as CSV (from ../shared/data/dedup, skipped with a note when absent) and 30,000-record RIS
   files built from the real RIS exports in tests/fixtures under fresh accession numbers: all
   dialects mixed, then Embase, Ovid PsycINFO and Scopus alone. Each runs in its own process,
   so its peak RSS is its own. Target: at least 5,000 records/s each.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import SHARED, asysd_csv, in_child, table  # noqa: E402

EXPORTS = ROOT / "tests" / "fixtures" / "exports"
SETUP = """
from review_pipeline.db import open_db
from review_pipeline.import_ import import_file
db = open_db(Path(ARGS[2]))
"""
WORK = 'n = import_file(db, Path(ARGS[0]), source="bench", fmt=ARGS[1]).records'


def big_ris(out: Path, count: int, pattern: str = "*.ris") -> Path:
    """``count`` RIS records cycling through the real RIS exports named by ``pattern``,
    each with a fresh AN."""
    records = []
    for path in sorted(EXPORTS.glob(pattern)):
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
        # All dialects mixed, then each alone: Scopus records carry their reference lists.
        inputs = [(big_ris(tmp / f"{name}30k.ris", 30_000, pattern), "ris")
                  for name, pattern in [("mixed", "*.ris"), ("embase", "*embase.ris"),
                                        ("ovid_psycinfo", "*psycinfo.ris"),
                                        ("scopus", "*scopus.ris")]]
        depression = SHARED / "dedup" / "asysd_depression"
        if depression.is_dir():
            inputs.insert(0, (asysd_csv(depression, tmp / "asysd_depression.csv"), "csv"))
        else:
            print(f"(the ASySD set is skipped: {depression} is absent)")
        for path, fmt in inputs:
            records, seconds, peak = in_child(SETUP, WORK, str(path), fmt,
                                              str(tmp / f"{path.stem}.db"))
            size = path.stat().st_size / 1e6
            rows.append([path.name, fmt, f"{size:.0f}", f"{records:,}", f"{seconds:.1f}",
                         f"{records / seconds:,.0f}", f"{size / seconds:.0f}", f"{peak:,.0f}"])
            path.unlink()
    table("5. Importing into a fresh database (target: >= 5,000 records/s)",
          ["file", "format", "MB", "records", "seconds", "records/s", "MB/s", "peak RSS MB"],
          rows)


if __name__ == "__main__":
    main()
