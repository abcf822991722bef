"""Benchmark for `make bench`: prioritised screening on the labelled sets of
../shared/data/screening (Cohen 2006, Nagtegaal 2019, the SYNERGY subset), side by side with
ASReview 3.0.8's default model (ELAS u4) on the same priors and seeds.

9. Per set, the mean over the seeds of WSS@95, recall at 10% screened and ATD (average time
   to discovery, lower is better), and the seconds of one whole simulation and of one
   ranking update, for both. Each seed draws its priors (one include, one exclude) from
   numpy's generator of that seed. ASReview runs as its command `asreview simulate`, from
   the environment given with --asreview (`make bench` makes .venv-asreview); it stops at the
   last include, so its order is completed with the records it never reached, none of them
   an include. Its seconds are the command's wall clock less that of `asreview --version`
   (the start), over the records it labelled: it learns again after every one.
   Targets: average WSS@95 and recall@10% at least ASReview's, no set more than 0.05 below
   it, and a full simulation quicker than ASReview's.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import SHARED, table  # noqa: E402
from review_pipeline.formats.labelled import read_labelled  # noqa: E402
from review_pipeline.stages.screen.ranking import Document  # noqa: E402
from review_pipeline.stages.screen.simulate import Metrics, metrics, simulate  # noqa: E402

SCREENING = SHARED / "screening"
KEYS = ("wss95", "recall10", "atd")


def labelled_sets() -> list[Path]:
    return (sorted((SCREENING / "cohen_2006").glob("*.csv"))
            + sorted((SCREENING / "nagtegaal_2019").glob("*.csv"))
            + sorted((SCREENING / "synergy_clinical").glob("*/*_flat.csv")))


def priors(included: list[bool], seed: int) -> list[int]:
    """One include and one exclude, drawn by the seed: what both tools start from."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(included))
    flags = np.asarray(included)
    return [int(rng.choice(rows[flags])), int(rng.choice(rows[~flags]))]


def asreview(python: Path, path: Path, start: list[int], seed: int,
             n: int) -> tuple[list[int], float, int]:
    """ASReview's order of the rows, its seconds and the records it labelled."""
    command = python.parent / "asreview"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.asreview"
        began = time.perf_counter()
        subprocess.run([str(command), "simulate", str(path), "--prior-idx",  # noqa: S603
                        *map(str, start), "--seed", str(seed), "-o", str(out)],
                       check=True, capture_output=True, cwd=tmp)
        seconds = time.perf_counter() - began
        with zipfile.ZipFile(out) as project:
            db = next(name for name in project.namelist() if name.endswith("results.db"))
            project.extract(db, tmp)
        with sqlite3.connect(Path(tmp) / db) as con:
            order = [int(r) for (r,) in
                     con.execute("SELECT record_id FROM results ORDER BY rowid")]
    labelled = len(order) - len(start)
    seen = set(order)
    return order + [r for r in range(n) if r not in seen], seconds, labelled


def start_seconds(python: Path) -> float:
    # in a folder of its own, like the runs: ASReview leaves a dataset cache where it starts
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        subprocess.run([str(python.parent / "asreview"), "--version"],  # noqa: S603
                       check=True, capture_output=True, cwd=tmp)
        return time.perf_counter() - began


def bench(seeds: list[int], python: Path | None) -> None:
    sets = labelled_sets()
    if not sets:
        print(f"\n9. prioritised screening: skipped, {SCREENING} is absent "
              "(it holds the labelled sets)")
        return
    if python is None:
        print("\n9. prioritised screening: ASReview is left out (no --asreview environment; "
              "`make bench` makes .venv-asreview with asreview==3.0.8)")
    overhead = start_seconds(python) if python else 0.0
    rows: list[list[Any]] = []
    ours_all: list[Metrics] = []
    theirs_all: list[Metrics] = []
    gaps: list[float] = []
    for path in sets:
        records = read_labelled(path)
        included = [r.included for r in records]
        documents = [Document(r.title, r.abstract, r.keywords) for r in records]
        ours, theirs, ours_s, ours_u, theirs_s, theirs_u = [], [], [], [], [], []
        for seed in seeds:
            start = priors(included, seed)
            run = simulate(documents, included, start, seed)
            ours.append(metrics(run.order, included))
            ours_s.append(run.seconds)
            ours_u.append(run.seconds / run.updates)
            if python:
                order, seconds, labelled = asreview(python, path, start, seed, len(records))
                theirs.append(metrics(order, included))
                theirs_s.append(seconds)
                theirs_u.append(max(seconds - overhead, 0.0) / max(labelled, 1))
        mine = _mean(ours)
        ours_all.append(mine)
        row = [path.stem.removesuffix("_flat"), f"{len(records):,}", f"{sum(included):,}",
               *(f"{getattr(mine, k):.3f}" for k in KEYS)]
        if theirs:
            other = _mean(theirs)
            theirs_all.append(other)
            gaps.append(min(mine.wss95 - other.wss95, mine.recall10 - other.recall10))
            row += [*(f"{getattr(other, k):.3f}" for k in KEYS)]
        row += [f"{statistics.mean(ours_s):.1f}", f"{statistics.mean(ours_u) * 1000:.0f}"]
        if theirs:
            row += [f"{statistics.mean(theirs_s):.1f}", f"{statistics.mean(theirs_u) * 1000:.0f}"]
        rows.append(row)
    mine = _mean(ours_all)
    average = ["average", "", "", *(f"{getattr(mine, k):.3f}" for k in KEYS)]
    header = ["set", "records", "includes", "WSS@95", "r@10%", "ATD"]
    if theirs_all:
        other = _mean(theirs_all)
        average += [*(f"{getattr(other, k):.3f}" for k in KEYS)]
        header += ["ASR WSS@95", "ASR r@10%", "ASR ATD"]
    average += ["", ""]
    header += ["s/run", "ms/update"]
    if theirs_all:
        average += ["", ""]
        header += ["ASR s/run", "ASR ms/update"]
    table(f"9. prioritised screening, mean of seeds {seeds[0]}-{seeds[-1]} (ASR: ASReview "
          "3.0.8 elas_u4, same priors; its runs stop at the last include)",
          header, [*rows, average])
    if python:
        print(f"ASReview's start (`asreview --version`): {overhead:.1f} s, within its s/run, "
              "left out of its ms/update")
    if theirs_all:
        worst = min(gaps)
        print(f"average WSS@95 {mine.wss95 - other.wss95:+.3f} and recall@10% "
              f"{mine.recall10 - other.recall10:+.3f} against ASReview (target >= 0); the "
              f"worst set {worst:+.3f} (target >= -0.05)")


def _mean(found: list[Metrics]) -> Metrics:
    return Metrics(*(statistics.mean(getattr(m, k) for m in found) for k in KEYS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asreview", type=Path, metavar="PYTHON",
                        help="the python of an environment with asreview==3.0.8")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    args = parser.parse_args()
    bench(list(range(1, args.seeds + 1)), args.asreview.absolute() if args.asreview else None)


if __name__ == "__main__":
    main()
