"""The dedup benchmark (`make bench-dedup`): accuracy and speed on the labelled sets.

For each ASySD set in ../shared/data/dedup: its CSV is imported with `review import --format
csv` (the ``ID`` column kept as source_record_id), `review dedup` runs, and the clusters are
read back from `review export records --format csv`; the three commands are timed together,
wall clock, with the peak RSS of the largest. The clusters are scored against the set's
``merged_record_ids.csv`` (bib-dedupe's revised gold) under the three conventions of
docs/research/dedup.md, and every false and missed pair is written, with its fields, to
benchmarks/out/. The 25 labelled pairs of bibdedupe_hard_cases are run one pair at a time.

With ``--bib-dedupe PYTHON`` (an interpreter that has bib-dedupe; `make bench-dedup` makes
one in .venv-bench), bib-dedupe runs on the same files for comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import lzma
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import leave_one_out as loo  # noqa: E402
from benchmarks.bench_pipeline import SHARED, asysd_csv, table  # noqa: E402
from benchmarks.scoring import Score, score  # noqa: E402
from review_pipeline.formats import endnote_xml  # noqa: E402
from review_pipeline.stages.dedup.matching import Cutoffs  # noqa: E402
from tests.test_dedup_cases import CASES, run_case  # noqa: E402

SETS = ("asysd_diabetes", "asysd_neuroimaging", "asysd_cardiac", "asysd_depression")
OUT = ROOT / "benchmarks" / "out"
FIELDS = ("title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "kind")

_TIMED = """
import resource, subprocess, sys, time
start = time.perf_counter()
for command in sys.argv[1:]:
    subprocess.run(command.split("\\x1f"), check=True, stdout=subprocess.DEVNULL)
print(time.perf_counter() - start,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def timed(*commands: list[str]) -> tuple[float, float]:
    """Run ``commands`` in turn; (wall seconds, the largest one's peak RSS in MB)."""
    # Our own commands, with paths this script made.
    out = subprocess.run([sys.executable, "-c", _TIMED,  # noqa: S603
                          *("\x1f".join(c) for c in commands)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def run_ours(table_file: Path, work: Path, name: str) -> tuple[float, float, list[dict[str, str]]]:
    review = [sys.executable, "-m", "review_pipeline", "--db", str(work / "review.db")]
    exported = work / "records.csv"
    seconds, peak = timed(
        [*review, "import", str(table_file), "--source", name, "--format", "csv"],
        [*review, "dedup", "--decisions", str(work / "no-decisions.csv"), "--queue",
         str(work / "queue.csv")],
        [*review, "export", "records", "--format", "csv", "--out", str(exported)])
    with exported.open(encoding="utf-8") as handle:
        return seconds, peak, list(csv.DictReader(handle))


def queued(work: Path) -> int:
    """Records in an undecided pair of the review queue."""
    queue = work / "queue.csv"
    if not queue.is_file():
        return 0
    with queue.open(encoding="utf-8") as handle:
        return len({r for row in csv.DictReader(handle) if not row["decision"]
                    for r in (row["record_id"], row["other_record_id"])})


_IN_PROCESS = """
import sys, tempfile, time
from pathlib import Path
from sqlite_utils import Database
import review_pipeline.formats.tabular
from review_pipeline.stages import dedup
from review_pipeline.stages.import_ import import_file
from review_pipeline.store import open_db
# Loading the libraries: sqlite-utils looks for its plugins at its first connection.
Database(memory=True).close()
with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    db = open_db(Path(tmp) / "r.db")
    import_file(db, Path(sys.argv[1]), source="set", fmt="csv")
    dedup.run(db, decisions_file=Path(tmp) / "d.csv", queue_file=Path(tmp) / "q.csv")
    print(time.perf_counter() - start)
"""


def in_process(table_file: Path, repeat: int = 1) -> float:
    """Seconds from the CSV to clusters in a process whose libraries are loaded already, as
    bib-dedupe is timed: the import and dedup stages, without the commands' start-up. The
    best of ``repeat`` runs, each in a fresh process."""
    command = [sys.executable, "-c", _IN_PROCESS, str(table_file)]
    return min(float(subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                                    check=True, cwd=ROOT).stdout.split()[-1])
               for _ in range(repeat))


REPEAT_BELOW = 10_000
"""Sets with fewer records are timed three times with both tools, the best kept: their runs
are short enough for the machine's noise to count; a large set's run is not."""


def repeats(records: int) -> int:
    return 3 if records < REPEAT_BELOW else 1


_BIB_DEDUPE = """
import json, sys, time
import pandas as pd
from bib_dedupe.bib_dedupe import block, cluster, match, prep
start = time.perf_counter()
records = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
matched = match(block(prep(records, verbosity_level=0), verbosity_level=0), verbosity_level=0)
clusters = cluster(matched, verbosity_level=0)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "clusters": [sorted(c) for c in clusters]}))
"""


def run_bib_dedupe(python: str, table_file: Path, repeat: int = 1
                   ) -> tuple[float, list[list[str]]] | str:
    """bib-dedupe in its own environment, on the same CSV: (seconds, the best of ``repeat``
    runs; clusters of the ID column), or the last line of its error when it cannot run on
    the set."""
    best, clusters = float("inf"), []
    for _ in range(repeat):
        done = subprocess.run([python, "-c", _BIB_DEDUPE, str(table_file)],  # noqa: S603
                              capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if done.returncode:
            return done.stderr.strip().splitlines()[-1]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        best, clusters = min(best, result["seconds"]), result["clusters"]
    return best, clusters


def gold(folder: Path, name: str = "merged_record_ids.csv") -> list[list[str]]:
    with (folder / name).open(encoding="utf-8") as handle:
        return [row["merged_ids"].split(";") for row in csv.DictReader(handle)]


def dump(name: str, kind: str, found: set[frozenset[str]], rows: dict[str, dict[str, str]]
         ) -> Path:
    """Every pair of ``found`` with both records' fields side by side."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}-{kind}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id_a", "id_b", *[f"{f}_{s}" for f in FIELDS for s in "ab"]])
        for pair in sorted(tuple(sorted(p)) for p in found):
            a, b = rows[pair[0]], rows[pair[1]]
            writer.writerow([*pair, *[x for f in FIELDS for x in (a.get(f, ""), b.get(f, ""))]])
    return path


def accuracy_row(label: str, s: Score, labelled: Labelled) -> list[Any]:
    if labelled.flagged is not None:
        return [label, "-", "-", "-", f"{s.trad_sensitivity:.4f}", f"{s.trad_specificity:.4f}",
                "-", "-", f"{s.trad_fp} records"]
    return [label, f"{s.record_fp}", f"{s.sensitivity:.4f}", f"{s.specificity:.5f}",
            f"{s.trad_sensitivity:.4f}", f"{s.trad_specificity:.4f}", f"{s.precision:.4f}",
            f"{s.recall:.4f}", f"{s.pair_fp}"]


@dataclass
class Labelled:
    """A shared labelled set as one bib-dedupe style CSV (``ID`` first), with its truth:
    gold clusters (records not listed are singletons), or, for the SRA sets, only the ids
    flagged as members of some duplicate set."""

    name: str
    table: Path
    clusters: list[list[str]] | None = None
    flagged: set[str] | None = None


_COLUMNS = ("ID", "ENTRYTYPE", "author", "year", "title", "journal", "volume", "number",
            "pages", "abstract", "doi")


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, _COLUMNS)
        writer.writeheader()
        writer.writerows({c: row.get(c, "") for c in _COLUMNS} for row in rows)
    return path


def sra_set(name: str, work: Path) -> Labelled:
    """An SRA EndNote library: records read by our EndNote XML reader, each named by its
    ``rec-number``; the ``Duplicate`` caption marks every member of a duplicate set."""
    xml_file = SHARED / "dedup" / f"sra_deduplicator_{name}" / f"{name}.xml.xz"
    plain = work / f"{name}.xml"
    plain.write_bytes(lzma.decompress(xml_file.read_bytes()))
    elements = ET.parse(plain).getroot().iter("record")  # noqa: S314 (a shared file)
    ids, flagged = [], set()
    for element in elements:
        ids.append(f"rec_{element.findtext('rec-number')}")
        caption = element.find("caption")
        if caption is not None and "".join(caption.itertext()) == "Duplicate":
            flagged.add(ids[-1])
    records = endnote_xml.read(plain).records
    rows = [{"ID": i, "ENTRYTYPE": "article", "author": " and ".join(r.authors),
             "year": str(r.year or ""), "title": r.title, "journal": r.journal_full or r.journal,
             "volume": r.volume, "number": r.issue, "pages": r.pages, "abstract": r.abstract,
             "doi": r.doi} for i, r in zip(ids, records, strict=True)]
    return Labelled(f"sra_{name}", _write(work / f"{name}.csv", rows), flagged=flagged)


def nagtegaal_set(work: Path) -> Labelled:
    """Nagtegaal 2019's screening set: titles and abstracts only, and a duplicate link."""
    with (SHARED / "screening" / "nagtegaal_2019" / "Nagtegaal_2019.csv").open(
            encoding="utf-8") as handle:
        source = list(csv.DictReader(handle))
    rows = [{"ID": f"rec_{r['record_id']}", "ENTRYTYPE": "article", "title": r["title"],
             "abstract": r["abstract"]} for r in source]
    links = [[f"rec_{r['record_id']}", f"rec_{r['duplicate_record_id']}"] for r in source
             if r["duplicate_record_id"]]
    return Labelled("nagtegaal_2019", _write(work / "nagtegaal.csv", rows), clusters=links)


def labelled_sets(work: Path) -> Iterator[Labelled]:
    """Every shared labelled set, smallest first."""
    hard = SHARED / "dedup" / "bibdedupe_hard_cases"
    yield Labelled("hard_cases_clusters", hard / "special_cases_records_pre_merged.csv",
                   clusters=gold(hard, "special_cases_merged_record_ids.csv"))
    yield sra_set("tafenoquine", work)
    yield sra_set("copper", work)
    yield nagtegaal_set(work)
    for name in SETS:
        folder = SHARED / "dedup" / name
        yield Labelled(name, asysd_csv(folder, work / f"{name}.csv"), clusters=gold(folder))


def flag_score(cluster_of: dict[str, str], flagged: set[str]) -> Score:
    """The SRA convention: a record is positive when it is in a duplicate set of two or
    more; scored against the flags (no clusters exist, so only the traditional count)."""
    size = Counter(cluster_of.values())
    s = Score()
    for record, cluster in cluster_of.items():
        truth, guess = record in flagged, size[cluster] > 1
        s.trad_tp += truth and guess
        s.trad_fn += truth and not guess
        s.trad_fp += guess and not truth
        s.trad_tn += not truth and not guess
    return s


def judge(labelled: Labelled, cluster_of: dict[str, str], kept: set[str]
          ) -> tuple[Score, set[frozenset[str]], set[frozenset[str]]]:
    if labelled.flagged is not None:
        return flag_score(cluster_of, labelled.flagged), set(), set()
    return score(cluster_of, kept, labelled.clusters or [])


def compare_bib_dedupe(python: str, labelled: Labelled, cluster_of: dict[str, str],
                       ours: float, accuracy: list[list[Any]]) -> list[Any]:
    """bib-dedupe's row of the speed table (its time from the CSV to clusters, libraries
    loaded, against ours the same way); its accuracy row is added to ``accuracy``."""
    label = "bib-dedupe 0.11.0"
    ran = run_bib_dedupe(python, labelled.table, repeats(len(cluster_of)))
    if isinstance(ran, str):
        accuracy.append([f"{labelled.name} (bib-dedupe)", *["-"] * 7, f"failed: {ran[:50]}"])
        return [labelled.name, label, f"{len(cluster_of):,}", "-", "-", "-", "-", "-"]
    theirs, clusters = ran
    their_cluster = {r: r for r in cluster_of}
    for members in clusters:
        for member in members:
            their_cluster[member] = members[0]
    # bib-dedupe keeps one record per cluster; any one, as none is preferred.
    their_kept = {c[0] for c in clusters} | (set(cluster_of) - {m for c in clusters for m in c})
    accuracy.append(accuracy_row(f"{labelled.name} (bib-dedupe)",
                                 judge(labelled, their_cluster, their_kept)[0], labelled))
    return [labelled.name, label, f"{len(cluster_of):,}", "-", f"{theirs:.2f}",
            f"{len(cluster_of) / theirs:,.0f}", "-", f"ours {theirs / ours:.1f}x faster"]


def bench_sets(bib_dedupe: str | None, only: list[str] | None = None) -> None:
    speed: list[list[Any]] = []
    accuracy: list[list[Any]] = []
    disputed = loo.disputed()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for labelled in labelled_sets(work):
            name = labelled.name
            if only and name not in only:
                continue
            run = work / name
            run.mkdir()
            seconds, peak, rows = run_ours(labelled.table, run, name)
            warm = in_process(labelled.table, repeats(len(rows)))
            by_id = {r["source_record_id"]: r for r in rows}
            cluster_of = {r["source_record_id"]: r["cluster_id"] for r in rows}
            kept = {r["source_record_id"] for r in rows if not r["duplicate_of"]}
            waiting = queued(run)
            s, false_pairs, missed = judge(labelled, cluster_of, kept)
            dump(name, "false", false_pairs, by_id)
            dump(name, "missed", missed, by_id)
            speed.append([name, "review_pipeline", f"{len(rows):,}", f"{seconds:.1f}",
                          f"{warm:.2f}", f"{len(rows) / warm:,.0f}", f"{peak:,.0f}",
                          f"{waiting} in the queue ({waiting / len(rows):.2%})"])
            row = accuracy_row(f"{name} (review_pipeline)", s, labelled)
            argued = len(false_pairs & disputed.get(name, set()))
            if argued:
                row[-1] += f" ({argued} disputed)"
            accuracy.append(row)
            if bib_dedupe:
                speed.append(compare_bib_dedupe(bib_dedupe, labelled, cluster_of, warm,
                                                accuracy))
    table("dedup speed: the three commands (import, dedup, export; wall clock, start-ups "
          "included), and from the CSV to clusters with the libraries loaded, as both tools "
          f"are compared (the best of 3 runs each below {REPEAT_BELOW:,} records)",
          ["set", "tool", "records", "commands s", "CSV to clusters s", "records/s",
           "peak RSS MB", "queue, or speed"], speed)
    table("accuracy, automatic merges only (SRA sets: flags only, so traditional counts)",
          ["set", "FP records", "R sens", "R spec", "T sens", "T spec", "P precision",
           "P recall", "false pairs"], accuracy)
    print(f"\nfalse and missed pairs, with their fields: {OUT}/<set>-false.csv, -missed.csv; "
          f"a disputed false pair is one whose gold label {loo.DISPUTED.name} disputes, with "
          "the reason")


def bench_leave_one_out() -> None:
    """Each set scored with the cut-offs chosen on all the others (see leave_one_out.py)."""
    rows: list[list[Any]] = []
    argued = loo.disputed()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sets = {labelled.name: (labelled, loo.load(
            labelled.name, labelled.table, labelled.flagged if labelled.flagged is not None
            else labelled.clusters or [], argued.get(labelled.name, set()), work))
            for labelled in labelled_sets(work)}
        table_of = loo.tables(loaded for _, loaded in sets.values())
        everything = loo.choose(table_of, sets)
        for name, (labelled, loaded) in sets.items():
            chosen = loo.choose(table_of, (s for s in sets if s != name))

            def judged(cluster_of: dict[str, str], kept: set[str],
                       labelled: Labelled = labelled) -> Score:
                return judge(labelled, cluster_of, kept)[0]

            held_out = loo.score_clusters(loaded, chosen, judged)
            shipped = loo.score_clusters(loaded, Cutoffs(), judged)
            rows.append([name, loo.differs(chosen), *_figures(labelled, held_out),
                         *_figures(labelled, shipped)])
    table("leave one set out: cut-offs chosen on the other sets, then this set deduplicated",
          ["set", "cut-offs chosen without it", "sensitivity", "false merges",
           "sensitivity (shipped)", "false merges (shipped)"], rows)
    print(f"chosen on all sets at once: {loo.differs(everything)}; pairs in "
          f"{loo.DISPUTED.name} count neither way in the choice")


def _figures(labelled: Labelled, s: Score) -> list[str]:
    """Sensitivity and false merges, in the set's own convention."""
    if labelled.flagged is not None:
        return [f"{s.trad_sensitivity:.4f} (T)", f"{s.trad_fp} records"]
    return [f"{s.sensitivity:.4f}", f"{s.record_fp} records, {s.pair_fp} pairs"]


SIZES = (10_000, 20_000, 40_000, 80_000, 160_000)


def sized_csv(source: Path, out: Path, size: int) -> Path:
    """The first ``size`` rows of asysd_depression, then of a copy of it in which every
    title's words are reversed and every DOI moved under a prefix of its own: the same
    fields and field lengths. The copies share authors and citations, so their records are
    compared, but no pair across them is a duplicate."""
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames or [], list(reader)
    copy = [{**row, "ID": row["ID"] + "_copy", "title": " ".join(row["title"].split()[::-1]),
             "doi": f"10.99999/{row['doi']}" if row["doi"] else ""} for row in rows]
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows([*rows, *copy][:size])
    return out


def bench_sizes() -> None:
    """Time and memory per record as the search grows, up to 160,000 records."""
    rows: list[list[Any]] = []
    per_record: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        whole = asysd_csv(SHARED / "dedup" / "asysd_depression", work / "depression.csv")
        for size in SIZES:
            run = work / str(size)
            run.mkdir()
            seconds, peak, records = run_ours(sized_csv(whole, run / "set.csv", size), run,
                                              "set")
            per_record[size] = seconds / len(records)
            rows.append([f"{len(records):,}", f"{seconds:.1f}",
                         f"{per_record[size] * 1e6:,.0f}",
                         f"{per_record[size] / per_record[80_000]:.2f}x"
                         if 80_000 in per_record else "-", f"{peak:,.0f}"])
    table("dedup at scale: asysd_depression, then a copy with its titles' words reversed "
          "(import + dedup + export, wall clock)",
          ["records", "seconds", "us per record", "per record vs 80k", "peak RSS MB"], rows)


def split_csv(table_file: Path, last: int) -> tuple[Path, Path]:
    """The CSV as two files: all but the ``last`` rows, and those rows (a later search)."""
    with table_file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    parts = (table_file.with_suffix(".first.csv"), table_file.with_suffix(".later.csv"))
    for path, chunk in zip(parts, (rows[1:-last], rows[-last:]), strict=True):
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([rows[0], *chunk])
    return parts


def bench_incremental(name: str = "asysd_depression", later: int = 1_000) -> None:
    """A living review's update: dedup after ``later`` new records, against a full run."""
    folder = SHARED / "dedup" / name
    rows: list[list[Any]] = []
    clusters = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        table_file = asysd_csv(folder, work / f"{name}.csv")
        first, second = split_csv(table_file, later)
        for label, files in (("full run", [table_file]), ("update", [first, second])):
            db = work / f"{label}.db"
            review = [sys.executable, "-m", "review_pipeline", "--db", str(db)]
            dedup = [*review, "dedup", "--decisions", str(work / "none.csv"), "--queue",
                     str(work / f"{label}-queue.csv")]
            for n, path in enumerate(files):
                seconds, peak = timed([*review, "import", str(path), "--source", name,
                                       "--format", "csv"], dedup)
                step = "whole set" if label == "full run" else (
                    "first search" if n == 0 else f"{later:,} new records")
                rows.append([f"{label}: {step}", f"{seconds:.1f}", f"{peak:,.0f}"])
            with sqlite3.connect(db) as connection:
                clusters.append(sorted(connection.execute(
                    "SELECT record_id, cluster_id FROM records")))
    rows.append(["the update's clusters equal the full run's",
                 "yes" if clusters[0] == clusters[1] else "NO", ""])
    table(f"incremental dedup on {name} (import + dedup, wall clock)",
          ["step", "seconds", "peak RSS MB"], rows)


def bench_hard_cases() -> None:
    # The same 25 pairs as ../shared/data/dedup/bibdedupe_hard_cases, copied for the tests.
    cases = CASES
    wrong = [c["id"] for c in cases if run_case(c) != c["expected_duplicate"]]
    table("bibdedupe_hard_cases: 25 labelled pairs, each deduplicated alone",
          ["pairs", "right", "wrong"],
          [[len(cases), len(cases) - len(wrong), ", ".join(wrong) or "-"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bib-dedupe", metavar="PYTHON",
                        help="An interpreter with bib-dedupe installed, to compare with.")
    parser.add_argument("--only", nargs="+", metavar="SET",
                        help="Only these sets (no hard-case pairs, no incremental run).")
    parser.add_argument("--leave-one-out", action="store_true",
                        help="Only the leave-one-set-out table.")
    parser.add_argument("--sizes", action="store_true", help="Only the size series.")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M')}")
    if not (SHARED / "dedup").is_dir():
        print(f"skipped: {SHARED / 'dedup'} is absent (it holds the labelled sets)")
        return
    if args.leave_one_out:
        bench_leave_one_out()
        return
    if args.sizes:
        bench_sizes()
        return
    if args.only:
        bench_sets(args.bib_dedupe, args.only)
        return
    bench_hard_cases()
    bench_sets(args.bib_dedupe)
    bench_leave_one_out()
    bench_sizes()
    bench_incremental()


if __name__ == "__main__":
    main()
