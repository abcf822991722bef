"""Benchmarks for `make bench`: time, throughput and memory of each stage, printed as tables.

1. The POEMS worked example, every stage, from an empty database.
2. dedup and screen at scale on the labelled ASySD sets in ../shared/data/dedup (skipped,
   with a note, when that folder is absent), with the pairwise accuracy of the current
   dedup rules against the gold clusters (make bench-dedup gives the full scoring).
3. extract at scale: two reviewers' sheets for a large synthetic set of included studies,
   in the POEMS forms, loaded, loaded again, and compared.
0. The command line's start: `review --version`, `--help` and `makefile` (which a review's
   Makefile asks at every start) against `python -c "import click"`; target: within 3x.
"""

from __future__ import annotations

import argparse
import csv
import lzma
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import combinations
from pathlib import Path
from typing import Any

from review_pipeline import store
from review_pipeline.model.record import Record
from review_pipeline.model.state import State
from review_pipeline.protocol import load_protocol
from review_pipeline.stages.dedup import run as dedup
from review_pipeline.stages.extract import compare, load_fields
from review_pipeline.stages.extract import run as extract
from review_pipeline.stages.fetch import run as fetch
from review_pipeline.stages.import_ import import_file
from review_pipeline.stages.import_ import run as import_protocol_sources
from review_pipeline.stages.prisma import run as prisma
from review_pipeline.stages.report import run as report
from review_pipeline.stages.screen import run as screen
from review_pipeline.stages.synthesis import run as synthesis

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
ASYSD = ("asysd_diabetes", "asysd_neuroimaging", "asysd_cardiac", "asysd_depression")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed(rows: list[list[Any]], label: str, items: int) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    rate = f"{items / seconds:,.0f}" if seconds > 0 and items else "-"
    rows.append([label, f"{items:,}", f"{seconds:.3f}", rate, f"{peak_mb():,.0f}"])


# VmHWM, not getrusage: ru_maxrss survives exec, so a child would report its parent's peak.
_CHILD = """
import re, sys, time
from pathlib import Path
ARGS = sys.argv[1:]
{setup}
start = time.perf_counter()
{work}
seconds = time.perf_counter() - start
status = Path("/proc/self/status").read_text()
print(n, seconds, int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024)
"""


def in_child(setup: str, work: str, *args: str) -> tuple[int, float, float]:
    """Run ``setup``, then time ``work`` (which sets ``n``), in a fresh interpreter given
    ``args`` as ``ARGS``; return (n, seconds, peak RSS in MB) of that interpreter alone."""
    code = _CHILD.format(setup=setup, work=work)
    # This interpreter running this project's own snippets: nothing untrusted.
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,  # noqa: S603
                         text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).rjust(w) if i else str(x).ljust(w)
                        for i, (x, w) in enumerate(zip(row, widths, strict=True))))


def bench_worked_example() -> None:
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part in ("queries", "snapshot", "imports", "extracted"):
            shutil.copytree(ROOT / part, work / part)
        protocol = load_protocol(work / "queries" / "protocol.toml")
        db = store.open_db(work / "data" / "review.db")
        extracted = work / "extracted"
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("fetch (snapshot)", lambda: fetch(db, protocol, offline=True, raw_dir=work / "raw")),
            ("import", lambda: import_protocol_sources(db, protocol)),
            ("dedup", lambda: dedup(db, decisions_file=extracted / "dedup" / "decisions.csv",
                                    queue_file=extracted / "dedup" / "queue.csv")),
            ("screen", lambda: screen(db, protocol, extracted / "screening")),
            ("extract", lambda: extract(db, extracted / "extraction",
                                        protocol.extraction.reviewers)),
            ("synthesis", lambda: synthesis(db, protocol, work / "reports")),
            ("prisma", lambda: prisma(db, protocol, work / "reports")),
            ("report", lambda: report(db, protocol, work / "reports")),
        ]
        total = time.perf_counter()
        for label, step in steps:
            with timed(rows, label, 256):
                step()
        rows.append(["all stages", "256", f"{time.perf_counter() - total:.3f}", "-",
                     f"{peak_mb():,.0f}"])
    table("1. POEMS worked example, empty database to report",
          ["stage", "records", "seconds", "records/s", "peak RSS MB"], rows)


def asysd_csv(folder: Path, out: Path) -> Path:
    """The set's two xz parts as one CSV (the second part's header dropped)."""
    with out.open("w", encoding="utf-8") as handle:
        for n, part in enumerate(sorted(folder.glob("records_pre_merged*.csv.xz"))):
            with lzma.open(part, "rt", encoding="utf-8") as source:
                if n:
                    next(source)
                handle.writelines(source)
    return out


def gold_pairs(folder: Path) -> set[frozenset[str]]:
    pairs: set[frozenset[str]] = set()
    with (folder / "merged_record_ids.csv").open() as handle:
        for row in csv.DictReader(handle):
            ids = [f"asysd:{i}" for i in row["merged_ids"].split(";")]
            pairs |= {frozenset(p) for p in combinations(ids, 2)}
    return pairs


def bench_scale(protocol_path: Path) -> None:
    if not SHARED.is_dir():
        print(f"\n3. dedup at scale: skipped, {SHARED} is absent (it holds the labelled "
              "ASySD sets)")
        return
    protocol = load_protocol(protocol_path)
    rows: list[list[Any]] = []
    accuracy: list[list[Any]] = []
    for name in ASYSD:
        folder = SHARED / "dedup" / name
        with tempfile.TemporaryDirectory() as tmp:
            db = store.open_db(Path(tmp) / "r.db")
            table_file = asysd_csv(folder, Path(tmp) / f"{name}.csv")
            count = sum(1 for _ in csv.reader(table_file.open(encoding="utf-8"))) - 1
            with timed(rows, f"{name}: import (csv)", count):
                imported = import_file(db, table_file, source="asysd", fmt="csv")
            records = range(imported.records)
            with timed(rows, f"{name}: dedup", len(records)):
                result = dedup(db, decisions_file=Path(tmp) / "none.csv",
                               queue_file=Path(tmp) / "queue.csv")
            with timed(rows, f"{name}: dedup again", len(records)):
                again = dedup(db, decisions_file=Path(tmp) / "none.csv",
                              queue_file=Path(tmp) / "queue.csv")
            assert again.changed == 0
            with timed(rows, f"{name}: screen (rules)", len(records)):
                screen(db, protocol, Path(tmp) / "no-sheets")
            clusters: dict[str, list[str]] = {}
            for rid, cid in db.execute("SELECT record_id, cluster_id FROM records"):
                clusters.setdefault(cid, []).append(rid)
            found = {frozenset(p) for members in clusters.values()
                     for p in combinations(members, 2)}
            gold = gold_pairs(folder)
            true = len(found & gold)
            accuracy.append([name, f"{len(records):,}", f"{result.duplicates:,}",
                             f"{true / len(found):.4f}" if found else "-",
                             f"{true / len(gold):.4f}", f"{len(found - gold):,}"])
            db.close()
    table("2. dedup and screen at scale (ASySD sets, ../shared/data/dedup)",
          ["step", "records", "seconds", "records/s", "peak RSS MB"], rows)
    table("   accuracy of the dedup rules (pairwise, against the gold clusters)",
          ["set", "records", "marked duplicate", "precision", "recall", "false pairs"],
          accuracy)


def bench_extract_scale(studies: int) -> None:
    """Two reviewers x (1 study row + 2 arms + 8 outcomes) per study, differing in one cell
    of every tenth study."""
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = store.open_db(work / "r.db")
        store.add_batch(db, [Record(str(i)) for i in range(studies)], kind="search",
                        source="pubmed", branch="databases", file="s", sha256="s",
                        fmt="snapshot")
        with db.atomic():
            for i in range(studies):
                store.move_to(db, f"pubmed:{i}", State.INCLUDED, State.IDENTIFIED)
        folder = work / "extraction"
        folder.mkdir()
        shutil.copy(ROOT / "extracted" / "extraction" / "fields.csv", folder)
        for who in ("anna", "ben"):
            _synthetic_sheets(folder / who, studies, differ=who == "ben")
        forms = load_fields(folder / "fields.csv").tables
        cells = studies * 2 * sum(len(forms[t].fields) * n
                                  for t, n in (("studies", 1), ("arms", 2), ("outcomes", 8)))
        with timed(rows, "extract: first load", cells):
            first = extract(db, folder, reviewers=2)
        with timed(rows, "extract: again, nothing changed", cells):
            again = extract(db, folder, reviewers=2)
        assert again.changed_cells == 0 and first.disagreements == studies // 10
        with timed(rows, "extract compare", cells):
            compare(db, 2)
    table(f"3. extract at scale: {studies:,} studies, two reviewers (synthetic sheets)",
          ["step", "cells", "seconds", "cells/s", "peak RSS MB"], rows)


def _synthetic_sheets(folder: Path, studies: int, differ: bool) -> None:
    folder.mkdir()
    outcomes = ["Haematological response", "Haematological complete response",
                "VEGF response", "Neurological response", "Progression-free survival",
                "Overall survival", "Grade 3-4 adverse events", "Treatment-related death"]
    with (folder / "studies.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["record_id", "design", "publication", "country", "period_start",
                      "period_end", "patients", "population", "follow_up_months", "notes"])
        for i in range(studies):
            design = "Case series" if differ and i % 10 == 0 else "Retrospective cohort"
            out.writerow([f"pubmed:{i}", design, "Full article", "Japan", "2001", "2010-06",
                          40, "Newly diagnosed", 36.5, f"note {i}"])
    with (folder / "arms.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["record_id", "arm", "treatment", "regimen", "line", "patients"])
        for i in range(studies):
            out.writerow([f"pubmed:{i}", "ASCT", "ASCT", "Melphalan 200", "First line", 25])
            out.writerow([f"pubmed:{i}", "LDex", "Lenalidomide-based", "Len 10 + Dex",
                          "First line", 15])
    with (folder / "outcomes.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["record_id", "arm", "outcome", "months", "percent", "evaluable"])
        for i in range(studies):
            for n, outcome in enumerate(outcomes):
                out.writerow([f"pubmed:{i}", "ASCT" if n % 2 else "LDex", outcome,
                              36 if "survival" in outcome else "", 50 + n, 15])


def bench_startup(runs: int = 7) -> None:
    review = Path(sys.executable).parent / "review"
    commands = [("python -c 'import click'", [sys.executable, "-c", "import click"]),
                *((f"review {' '.join(args)}", [str(review), *args])
                  for args in (["--version"], ["--help"], ["makefile"]))]
    rows: list[list[Any]] = []
    base = 0.0
    for label, command in commands:
        seconds = []
        for _ in range(runs):
            began = time.perf_counter()
            # This environment's own interpreter and command: nothing untrusted.
            subprocess.run(command, capture_output=True, check=True)  # noqa: S603
            seconds.append(time.perf_counter() - began)
        median = sorted(seconds)[runs // 2]
        base = base or median
        rows.append([label, f"{median:.3f}", f"{median / base:.1f}x"])
    table(f"0. The command line's start, median of {runs} (target: within 3x of import click)",
          ["command", "seconds", "of import click"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-scale", action="store_true", help="Skip the ASySD sets.")
    parser.add_argument("--studies", type=int, default=5000,
                        help="Included studies in the extraction benchmark.")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M')}")
    bench_startup()
    bench_worked_example()
    bench_extract_scale(args.studies)
    if not args.skip_scale:
        bench_scale(ROOT / "queries" / "protocol.toml")


if __name__ == "__main__":
    main()
