"""Benchmarks of the import stage for `make bench`, printed as a table.

5. Importing (read, check, store in a fresh database) the 79,880-record ASySD depression set
   as CSV (from ../shared/data/dedup, skipped with a note when absent) and a 30,000-record RIS
   built from the real RIS exports in tests/fixtures under fresh accession numbers. Each runs
   in its own process, so its peak RSS is its own. Target: at least 5,000 records/s each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import SHARED, asysd_csv, table  # noqa: E402

EXPORTS = ROOT / "tests" / "fixtures" / "exports"
# VmHWM, not getrusage: ru_maxrss survives exec, so a child would report its parent's peak.
MEASURE = """
import re, sys, time
from pathlib import Path
from review_pipeline.db import open_db
from review_pipeline.import_ import import_file
path, fmt, db_path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
db = open_db(db_path)
start = time.perf_counter()
result = import_file(db, path, source="bench", fmt=fmt)
seconds = time.perf_counter() - start
status = Path("/proc/self/status").read_text()
print(result.records, seconds, int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024)
"""


def big_ris(out: Path, count: int) -> Path:
    """``count`` RIS records cycling through the real RIS exports, each with a fresh AN."""
    records = []
    for path in sorted(EXPORTS.glob("*.ris")):
        text = path.read_text(encoding="utf-8-sig")
        records += [r.strip() + "\n" for r in re.split(r"^ER  -.*$", text, flags=re.M)
                    if "TY  -" in r]
    with out.open("w", encoding="utf-8") as handle:
        for n in range(count):
            record = re.sub(r"^(AN|ID)  - .*\n", "", records[n % len(records)], flags=re.M)
            body = record[record.index("TY  -"):]
            handle.write(f"{body}AN  - bench-{n}\nER  - \n\n")
    return out


def measure(path: Path, fmt: str, tmp: Path) -> tuple[int, float, float]:
    # This interpreter running this file's own snippet: nothing untrusted.
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path), fmt,  # noqa: S603
                          str(tmp / f"{path.stem}.db")], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def main() -> None:
    print(f"python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M')}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        inputs = [(big_ris(tmp / "bench30k.ris", 30_000), "ris")]
        depression = SHARED / "dedup" / "asysd_depression"
        if depression.is_dir():
            inputs.insert(0, (asysd_csv(depression, tmp / "asysd_depression.csv"), "csv"))
        else:
            print(f"(the ASySD set is skipped: {depression} is absent)")
        for path, fmt in inputs:
            records, seconds, peak = measure(path, fmt, tmp)
            size = path.stat().st_size / 1e6
            rows.append([path.name, fmt, f"{size:.0f}", f"{records:,}", f"{seconds:.1f}",
                         f"{records / seconds:,.0f}", f"{peak:,.0f}"])
    table("5. Importing into a fresh database (target: >= 5,000 records/s)",
          ["file", "format", "MB", "records", "seconds", "records/s", "peak RSS MB"], rows)


if __name__ == "__main__":
    main()
