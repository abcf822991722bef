"""Summary of findings: one row per treatment and outcome the synthesis pooled, with the
certainty of the evidence as GRADE rates it.

The evidence starts high when every study is a randomised trial or was judged with a tool
made for that start (ROBINS-I, ROBINS-E: GRADE's guidance when they are used), low otherwise
(GRADE's start for observational evidence), and is rated down for each domain:

* risk of bias, from the forms' overall judgements, weighting studies by their patients:
  half or more of the patients in studies at high or critical risk or without a judgement,
  one level; half or more at critical risk, two;
* inconsistency, from I²: 50% or more, one level; 75% or more, two;
* imprecision: fewer than 400 patients, one level (a rule of thumb for an optimal
  information size, GRADE's for continuous outcomes: none is agreed for single-arm
  proportions); a 95% CI wider than 30 percentage points, one more;
* indirectness and publication bias, as reviewers judge them in
  ``extracted/synthesis/grade.csv`` (treatment, outcome, domain, downgrade 0-2, reason);
  unjudged, they are shown as such, not assumed.

Every rating down is shown with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review_pipeline.formats.sheets import read_sheet
from review_pipeline.model.errors import InputError

LEVELS = ("very low", "low", "moderate", "high")
DOMAINS = ("risk of bias", "inconsistency", "indirectness", "imprecision", "publication bias")
JUDGED = {"indirectness", "publication bias"}
"""The domains reviewers judge in the GRADE file; the others are computed."""
COLUMNS = ("treatment", "outcome", "domain", "downgrade", "reason")
OPTIMAL_PATIENTS = 400
WIDE_CI = 0.30


@dataclass(frozen=True)
class Downgrade:
    domain: str
    levels: int
    reason: str
    judged: bool = True
    """False when nobody has judged the domain yet."""


@dataclass(frozen=True)
class Finding:
    treatment: str
    outcome: str
    studies: int
    patients: int
    estimate: float
    ci_low: float
    ci_high: float
    start: str
    downgrades: tuple[Downgrade, ...]

    @property
    def certainty(self) -> str:
        drop = sum(d.levels for d in self.downgrades)
        return LEVELS[max(0, LEVELS.index(self.start) - drop)]


def inconsistency(i2: float) -> Downgrade:
    if i2 >= 75:
        return Downgrade("inconsistency", 2, f"I² {i2:.0f}% (75% or more)")
    if i2 >= 50:
        return Downgrade("inconsistency", 1, f"I² {i2:.0f}% (50% or more)")
    return Downgrade("inconsistency", 0, f"I² {i2:.0f}%")


def imprecision(patients: int, ci_low: float, ci_high: float) -> Downgrade:
    reasons, levels = [], 0
    if patients < OPTIMAL_PATIENTS:
        levels += 1
        reasons.append(f"{patients} patients, fewer than {OPTIMAL_PATIENTS}")
    if ci_high - ci_low > WIDE_CI:
        levels += 1
        reasons.append(f"95% CI {ci_low:.0%} to {ci_high:.0%}, wider than "
                       f"{WIDE_CI * 100:.0f} points")
    return Downgrade("imprecision", min(levels, 2),
                     "; ".join(reasons) or f"{patients} patients, 95% CI {ci_low:.0%} to "
                                          f"{ci_high:.0%}")


def risk_of_bias(studies: Sequence[tuple[str, float]], overall: Mapping[str, str]) -> Downgrade:
    """From (record, patients) of the pooled studies and each record's overall level (low,
    some, high, critical, none; absent when not judged)."""
    total = sum(patients for _, patients in studies) or 1.0
    share = {level: sum(p for record, p in studies if overall.get(record) == level) / total
             for level in ("high", "critical")}
    unjudged = sum(p for record, p in studies if overall.get(record) in (None, "none")) / total
    serious = share["high"] + share["critical"]
    if share["critical"] >= 0.5:
        return Downgrade("risk of bias", 2, f"{share['critical']:.0%} of patients in studies "
                                            "at critical risk")
    if serious + unjudged >= 0.5:
        return Downgrade("risk of bias", 1, f"{serious:.0%} of patients in studies at high or "
                                            f"critical risk, {unjudged:.0%} in studies without "
                                            "a judgement")
    return Downgrade("risk of bias", 0, f"{serious:.0%} of patients in studies at high or "
                                        f"critical risk, {unjudged:.0%} without a judgement")


def findings(analyses: Sequence[Mapping[str, Any]], overall: Mapping[str, str],
             start_high: set[str],
             judged: Mapping[tuple[str, str, str], tuple[int, str]]) -> list[Finding]:
    """A finding per pooled analysis (the synthesis stage's), rated as this module says;
    ``start_high`` are the studies whose evidence starts high (randomised trials, or judged
    with ROBINS-I or ROBINS-E)."""
    out = []
    for a in analyses:
        if not a["pooled"]:
            continue
        r = a["result"]
        studies = [(s["study"], float(s["total"])) for s in a["studies"]]
        patients = int(sum(p for _, p in studies))
        start = "high" if studies and all(s in start_high for s, _ in studies) else "low"
        downgrades = [risk_of_bias(studies, overall), inconsistency(r["i2"] or 0.0)]
        for domain in ("indirectness", "publication bias"):
            given = judged.get((a["treatment"], a["outcome"], domain))
            downgrades.append(Downgrade(domain, *given) if given else
                              Downgrade(domain, 0, "not judged yet", judged=False))
        downgrades.insert(3, imprecision(patients, r["ci_low"], r["ci_high"]))
        out.append(Finding(a["treatment"], a["outcome"], r["k"], patients, r["estimate"],
                           r["ci_low"], r["ci_high"], start, tuple(downgrades)))
    return out


def read_judgements(path: Path) -> dict[tuple[str, str, str], tuple[int, str]]:
    """Reviewers' GRADE judgements (indirectness, publication bias); none when the file
    does not exist. A bad row is an error naming its line."""
    if not path.exists():
        return {}
    sheet = read_sheet(path)
    missing = [c for c in COLUMNS if c not in sheet.header]
    if missing:
        raise InputError(f"columns {', '.join(missing)} are missing", where=f"{path}, line 1",
                         fix=f"the columns are {', '.join(COLUMNS)}")
    out: dict[tuple[str, str, str], tuple[int, str]] = {}
    for row in sheet.rows:
        v = row.values
        where = f"{path}, line {row.line}"
        domain = v["domain"].strip().lower().replace("_", " ")
        if domain not in JUDGED:
            raise InputError(f"domain '{v['domain']}' is not judged here",
                             where=where, fix="use indirectness or publication bias (the "
                                              "other domains are computed)")
        if v["downgrade"].strip() not in ("0", "1", "2"):
            raise InputError(f"downgrade '{v['downgrade']}' is not 0, 1 or 2", where=where,
                             fix="rate down by 0, 1 or 2 levels")
        if v["downgrade"].strip() != "0" and not v["reason"].strip():
            raise InputError("a rating down without a reason", where=where,
                             fix="say why in the reason column")
        out[(v["treatment"].strip(), v["outcome"].strip(), domain)] = (
            int(v["downgrade"]), v["reason"].strip() or "not serious")
    return out
