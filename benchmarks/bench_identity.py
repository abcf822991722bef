"""Benchmark for `make bench`: record ids kept when an export is saved again, as a table.

6. Each real export is imported into a fresh database, then saved again as another program
   would (records in reverse order, CRLF line ends, a UTF-8 byte order mark) and imported
   into another fresh one, as after `make clean && make all`. The exports are those of
   tests/fixtures and, from ../shared/data/dedup (skipped with a note when absent), the two
   SRA Deduplicator EndNote libraries and the ASySD cardiac and depression sets, whose own
   ids (EndNote record numbers, the ID column) are taken out first, so that every id comes
   from what the record is. Target: every id kept.
"""

from __future__ import annotations

import csv
import io
import lzma
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import SHARED, asysd_csv, table  # noqa: E402
from review_pipeline.stages.import_ import import_file  # noqa: E402
from review_pipeline.store import open_db  # noqa: E402

EXPORTS = ROOT / "tests" / "fixtures" / "exports"
_RECORD = {"ris": re.compile(r"(?ms)^TY  - .*?^ER  -[^\n]*"),
           "wos": re.compile(r"(?ms)^PT .*?^ER\b[^\n]*"),
           "medline": re.compile(r"(?ms)^PMID- .*?(?=^PMID- |\Z)"),
           "xml": re.compile(r"(?s)<(record|PubmedArticle)>.*?</\1>"),
           "ovid": re.compile(r"(?ms)^<\d+\. >.*?(?=^<\d+\. >|\Z)")}


def resave(source: Path, target: Path) -> None:
    """``source`` with its records in reverse order, CRLF line ends and a byte order mark."""
    text = source.read_text("utf-8-sig").replace("\r\n", "\n")
    if source.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([rows[0], *rows[:0:-1]])
        text = out.getvalue()
    else:
        pattern = next(p for kind, p in _RECORD.items() if _kind(source, text) == kind)
        records = [m.group(0).strip("\n") for m in pattern.finditer(text)]
        first, last = pattern.search(text), list(pattern.finditer(text))[-1]
        assert first is not None
        head, tail = text[:first.start()], text[last.end():]
        joiner = "" if _kind(source, text) == "xml" else "\n\n"
        text = head + joiner.join(records[::-1]) + ("\n" if joiner else "") + tail
    target.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))


def _kind(path: Path, text: str) -> str:
    if text.lstrip().startswith("<?xml") or path.suffix == ".xml":
        return "xml"
    if text.lstrip().startswith("<1. >") or re.search(r"^<\d+\. >", text, re.M):
        return "ovid"
    if re.search(r"^PMID- ", text, re.M):
        return "medline"
    if re.search(r"^PT ", text, re.M) and not re.search(r"^TY  -", text, re.M):
        return "wos"
    return "ris"


def without_own_ids(source: Path, target: Path) -> Path:
    """A copy of an EndNote XML or CSV export without the ids its program gave it."""
    if source.suffix == ".xz" and ".xml" in source.name:
        with lzma.open(source, "rt", encoding="utf-8") as handle:
            text = handle.read()
        text = re.sub(r"<(rec-number|accession-num)>.*?</\1>", "", text, flags=re.S)
        target.write_text(text, encoding="utf-8")
        return target
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    drop = rows[0].index("ID")
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([c for i, c in enumerate(row) if i != drop]
                                     for row in rows)
    return target


def exports(work: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(EXPORTS.iterdir()):
        yield path.name, path
    dedup = SHARED / "dedup"
    if not dedup.is_dir():
        print(f"\nnote: {dedup} is absent; table 6 has the test fixtures only")
        return
    for name in ("sra_deduplicator_copper", "sra_deduplicator_tafenoquine"):
        for xml in (dedup / name).glob("*.xml.xz"):
            yield f"{xml.name[:-3]} (no ids)", without_own_ids(xml, work / xml.name[:-3])
    for name in ("asysd_cardiac", "asysd_depression"):
        whole = asysd_csv(dedup / name, work / f"{name}-whole.csv")
        yield f"{name} (no ids)", without_own_ids(whole, work / f"{name}.csv")


def ids(db_path: Path, path: Path) -> tuple[set[str], float]:
    db = open_db(db_path)
    began = time.perf_counter()
    import_file(db, path, source="bench")
    seconds = time.perf_counter() - began
    found = {r[0] for r in db.execute("SELECT record_id FROM records")}
    db.close()
    return found, seconds


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, path in exports(work):
            again = work / f"resaved-{path.name}"
            resave(path, again)
            first, seconds = ids(work / f"{label}-a.db", path)
            second, seconds_again = ids(work / f"{label}-b.db", again)
            told_apart = sum("~" in i for i in first)
            kept = len(first & second)
            rows.append([label, f"{len(first):,}", f"{kept:,}",
                         f"{kept / len(first) * 100:.1f}%", f"{told_apart:,}",
                         f"{seconds:.2f}", f"{seconds_again:.2f}"])
    table("6. Record ids kept over a re-save (reversed records, CRLF, BOM); "
          "target: 100%",
          ["export", "records", "ids kept", "kept", "told apart by content",
           "import s", "re-saved import s"], rows)


if __name__ == "__main__":
    main()
