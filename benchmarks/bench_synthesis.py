"""Benchmark for `make bench`: the synthesis engine's speed, and its agreement with metafor.

7. 1,000 analyses of 2 to 50 studies (single proportions drawn with a fixed seed, some with
   no events or only events), pooled on the logit scale by REML, with and without the
   sensitivity analyses (leave-one-out, Egger's test), and by DL; the binomial-normal GLMM
   of 50 studies. Wall clock, one core, and the peak RSS.
8. The largest difference from R's metafor 3.8 over the 135 cases its numbers are kept for
   (tests/fixtures/synthesis/metafor.json, written by benchmarks/metafor_oracle.R), per
   measure and model, on the estimate, the CI and PI limits, tau-squared, I-squared (in
   percent) and Q. Target: 1e-4, the GLMM 1e-3.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import peak_mb, table  # noqa: E402
from review_pipeline.stages.synthesis import Study, analyse  # noqa: E402
from review_pipeline.stages.synthesis.table import read_studies  # noqa: E402

DATA = ROOT / "tests" / "fixtures" / "synthesis"
KEYS = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "q")


def studies(rng: np.random.Generator, k: int) -> list[Study]:
    totals = rng.integers(5, 120, size=k)
    rates = np.clip(rng.normal(0.7, 0.15, size=k), 0, 1)
    return [Study(f"s{i}", float(rng.binomial(n, p)), float(n))
            for i, (n, p) in enumerate(zip(totals, rates, strict=True))]


def bench_speed() -> None:
    rng = np.random.default_rng(2026)
    sets = [studies(rng, int(k)) for k in rng.integers(2, 51, size=1000)]
    rows: list[list[Any]] = []
    for label, method, sensitivity in (("REML, pooled only", "REML", False),
                                       ("REML, with leave-one-out and Egger", "REML", True),
                                       ("DL, pooled only", "DL", False)):
        start = time.perf_counter()
        for found in sets:
            analyse(found, "PLO", method, sensitivity=sensitivity)
        took = time.perf_counter() - start
        rows.append([label, "1,000", f"{took:.2f}", f"{1000 / took:,.0f}", f"{peak_mb():,.0f}"])
    fifty = studies(np.random.default_rng(50), 50)
    start = time.perf_counter()
    analyse(fifty, "PLO", "GLMM", sensitivity=False)
    took = time.perf_counter() - start
    rows.append(["GLMM of 50 studies", "1", f"{took:.2f}", f"{1 / took:,.1f}",
                 f"{peak_mb():,.0f}"])
    table("7. synthesis engine: analyses of 2 to 50 studies (logit proportions)",
          ["model", "analyses", "seconds", "analyses/s", "peak RSS MB"], rows)


def bench_agreement() -> None:
    oracle = json.loads((DATA / "metafor.json").read_text(encoding="utf-8"))
    worst: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: dict.fromkeys(KEYS, 0.0))
    cases: dict[tuple[str, str], int] = defaultdict(int)
    for case in oracle["cases"]:
        ratio = case["file"] == "bcg_ratio_ci.csv"
        table_ = read_studies(DATA / case["file"], by=case.get("by"), ratio=ratio)
        got = analyse(table_.studies, case["measure"], case["method"], knha=case["knha"],
                      by_group="by" in case, ratio=ratio)
        pairs = [(case, got.pooled.as_dict())] + [
            (sub, mine.pooled.as_dict())
            for sub, mine in zip(case.get("subgroups", []), got.subgroups, strict=True)]
        group = (case["measure"], case["method"] + (" HK" if case["knha"] else ""))
        cases[group] += 1
        for expected, mine in pairs:
            for key in KEYS:
                if expected[key] is not None:
                    worst[group][key] = max(worst[group][key], abs(expected[key] - mine[key]))
    rows = [[measure, method, str(cases[(measure, method)]),
             *(f"{worst[(measure, method)][k]:.0e}" for k in KEYS)]
            for measure, method in sorted(worst)]
    table(f"8. largest difference from metafor {oracle['metafor']} (tests/fixtures/synthesis)",
          ["measure", "model", "cases", *KEYS], rows)


if __name__ == "__main__":
    bench_agreement()
    bench_speed()
