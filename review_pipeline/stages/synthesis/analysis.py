"""One meta-analysis: effects of the studies, the model, its results on the natural scale,
subgroups with the test for subgroup differences, leave-one-out and Egger's test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from review_pipeline.model.effects import MEASURES, METHODS
from review_pipeline.model.errors import AnalysisError
from review_pipeline.stages.synthesis import glmm, models
from review_pipeline.stages.synthesis.measures import Effects, Study, back, effects

EGGER_MIN = 10
"""Studies Egger's test and the funnel plot need (Cochrane Handbook 10.4.3.1)."""


@dataclass(frozen=True)
class Pooled:
    """A model's results, the estimate and intervals back on the natural scale."""

    k: int
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float | None
    pi_high: float | None
    tau2: float
    i2: float
    h2: float
    q: float
    q_p: float
    mu: float
    """The estimate on the pooling scale."""
    se: float
    df: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"k": self.k, "estimate": self.estimate, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "pi_low": self.pi_low, "pi_high": self.pi_high,
                "tau2": self.tau2, "i2": self.i2, "h2": self.h2, "q": self.q,
                "q_p": self.q_p, "mu": self.mu, "se": self.se, "df": self.df}


@dataclass(frozen=True)
class Test:
    statistic: float
    df: float | None
    p: float


@dataclass(frozen=True)
class Analysis:
    measure: str
    method: str
    knha: bool
    ratio: bool
    studies: tuple[Study, ...]
    effects: Effects
    fit: models.Fit
    pooled: Pooled
    group: str = ""
    subgroups: tuple[Analysis, ...] = ()
    subgroup_test: Test | None = None
    leave_one_out: tuple[Pooled, ...] = ()
    egger: Test | None = None
    notes: tuple[str, ...] = field(default=())

    def study_rows(self) -> list[dict[str, Any]]:
        """Each study's effect and 95% CI on the natural scale, and its weight (percent)."""
        z = models.Z
        rows = []
        for i, study in enumerate(self.studies):
            yi, se = self.effects.yi[i], np.sqrt(self.effects.vi[i])
            n = self.effects.n[i:i + 1]
            low, estimate, high = (float(back(self.measure, np.array([v]), n, self.ratio)[0])
                                   for v in (yi - z * se, yi, yi + z * se))
            weight = float(self.fit.weights[i])
            rows.append({"study": study.label, **_numbers(study, self.measure),
                         "estimate": estimate, "ci_low": low, "ci_high": high,
                         "weight": None if np.isnan(weight) else weight})
        return rows

    def blocks(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """(group, study rows) of each subgroup, or ("", rows) without subgroups; the rows
        carry the studies' weights in the whole analysis, as RevMan shows them."""
        if not self.subgroups:
            return [("", self.study_rows())]
        weights = {id(s): float(w) for s, w in zip(self.studies, self.fit.weights,
                                                    strict=True)}
        out = []
        for group in self.subgroups:
            rows = group.study_rows()
            for study, row in zip(group.studies, rows, strict=True):
                weight = weights.get(id(study), float("nan"))
                row["weight"] = None if np.isnan(weight) else weight
            out.append((group.group, rows))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The results as ``review meta --json`` prints them (a subgroup's studies with
        their weights within it)."""
        result: dict[str, Any] = {
            "measure": self.measure, "method": self.method, "knha": self.knha,
            "scale": MEASURES[self.measure].scale, **self.pooled.as_dict(),
            "studies": self.study_rows()}
        if self.group:
            result = {"group": self.group, **result}
        if self.subgroups:
            result["subgroups"] = [s.as_dict() for s in self.subgroups]
        if self.subgroup_test:
            t = self.subgroup_test
            result["subgroup_test"] = {"q": t.statistic, "df": t.df, "p": t.p}
        if self.leave_one_out:
            result["leave_one_out"] = [
                {"omitted": s.label, **p.as_dict()}
                for s, p in zip(self.studies, self.leave_one_out, strict=True)]
        if self.egger:
            result["egger"] = {"z": self.egger.statistic, "df": self.egger.df,
                               "p": self.egger.p}
        if self.notes:
            result["notes"] = list(self.notes)
        return result


def analyse(studies: Sequence[Study], measure: str = "PLO", method: str = "REML", *,
            knha: bool = False, by_group: bool = False, ratio: bool = False,
            sensitivity: bool = True) -> Analysis:
    """Pool ``studies`` by ``measure`` and ``method``; with ``by_group`` also within each of
    their groups, and the test for subgroup differences; with ``sensitivity``, leave-one-out
    and (from :data:`EGGER_MIN` studies) Egger's test. ``ratio`` says generic estimates are
    logarithms of ratios."""
    if measure not in MEASURES:
        raise AnalysisError(f"unknown measure '{measure}'",
                            fix=f"use one of {', '.join(MEASURES)}")
    if method not in METHODS:
        raise AnalysisError(f"unknown method '{method}'", fix=f"use one of {', '.join(METHODS)}")
    if method == "GLMM" and measure != "PLO":
        raise AnalysisError(f"the binomial-normal model (GLMM) pools proportions on the logit "
                            f"scale, not {measure}", fix="use --measure PLO with --method GLMM")
    if not studies:
        raise AnalysisError("no studies to pool", fix="give at least one study")
    base = _one(tuple(studies), measure, method, knha, ratio)
    notes = ["a single study: its own estimate, nothing pooled"] if len(studies) == 1 else []
    notes += [base.fit.note] if base.fit.note else []
    subgroups, test = (_subgroups(studies, measure, method, knha, ratio, notes)
                       if by_group else ((), None))
    leave: tuple[Pooled, ...] = ()
    egger = None
    if sensitivity and len(studies) > 2:
        try:
            leave = tuple(_one(tuple(s for j, s in enumerate(studies) if j != i), measure,
                               method, knha, ratio).pooled for i in range(len(studies)))
        except AnalysisError as exc:
            notes.append(f"no leave-one-out analysis: {exc.what}")
    if sensitivity and method != "GLMM":
        if len(studies) >= EGGER_MIN:
            egger = _egger(base.effects, method, knha)
        else:
            notes.append(f"Egger's test and the funnel plot need {EGGER_MIN} or more studies")
    return Analysis(measure, method, knha, ratio, base.studies, base.effects, base.fit,
                    base.pooled, subgroups=subgroups, subgroup_test=test, leave_one_out=leave,
                    egger=egger, notes=tuple(notes))


def _subgroups(studies: Sequence[Study], measure: str, method: str, knha: bool, ratio: bool,
               notes: list[str]) -> tuple[tuple[Analysis, ...], Test | None]:
    """Each group pooled on its own (its own tau-squared), and the test that the groups'
    estimates differ: Q of an equal-effects model of them, with their Wald standard errors
    (a Hartung-Knapp adjustment belongs to each group's interval, not to this test)."""
    names = sorted({s.group for s in studies})
    if len(names) < 2:
        notes.append(f"one group only ({names[0] or 'none given'}): no subgroups")
        return (), None
    try:
        subgroups = tuple(_one(tuple(s for s in studies if s.group == g), measure, method,
                               knha, ratio, group=g) for g in names)
    except AnalysisError as exc:
        notes.append(f"no subgroup analysis: {exc.what}")
        return (), None
    notes += [f"{g.group}: {g.fit.note}" for g in subgroups if g.fit.note]
    se = np.array([float((g.fit.wald_se if g.fit.wald_se is not None else g.fit.se)[0])
                   for g in subgroups])
    between = models.fit(np.array([g.pooled.mu for g in subgroups]), se**2, "EE")
    return subgroups, Test(between.q, len(subgroups) - 1, between.q_p)


def _one(studies: tuple[Study, ...], measure: str, method: str, knha: bool, ratio: bool,
         group: str = "") -> Analysis:
    found = effects(studies, measure)
    for study, yi, vi in zip(studies, found.yi, found.vi, strict=True):
        if not (np.isfinite(yi) and np.isfinite(vi) and vi > 0):
            raise AnalysisError(f"study '{study.label}' has no finite {measure} effect with a "
                                f"positive variance (effect {yi:g}, variance {vi:g})",
                                fix="check its numbers, or pool it on another scale")
    if len(studies) == 1:  # a subgroup of one study: the study itself
        method, knha = "EE", False
    if method == "GLMM":
        events = np.array([s.events for s in studies], dtype=float)
        fitted = glmm.fit(events, found.n, found.yi, found.vi)
    else:
        fitted = models.fit(found.yi, found.vi, method, knha)
    low, high = fitted.ci()
    interval = fitted.pi()

    def natural(value: float) -> float:
        return float(back(measure, np.array([value]), found.n, ratio)[0])

    pooled = Pooled(
        k=fitted.k, estimate=natural(fitted.mu), ci_low=natural(low), ci_high=natural(high),
        pi_low=natural(interval[0]) if interval else None,
        pi_high=natural(interval[1]) if interval else None,
        tau2=fitted.tau2, i2=fitted.i2, h2=fitted.h2, q=fitted.q, q_p=fitted.q_p,
        mu=fitted.mu, se=float(fitted.se[0]), df=fitted.df)
    return Analysis(measure, method, knha, ratio, studies, found, fitted, pooled, group=group)


def _egger(found: Effects, method: str, knha: bool) -> Test:
    """metafor's ``regtest`` default: the model with the standard error as a moderator;
    the test of its coefficient."""
    x = np.column_stack([np.ones_like(found.vi), np.sqrt(found.vi)])
    fitted = models.fit(found.yi, found.vi, method, knha, x=x)
    return Test(fitted.z(1), fitted.df, fitted.p(1))


def _numbers(study: Study, measure: str) -> dict[str, Any]:
    kind = MEASURES[measure].kind
    if kind == "proportion":
        return {"events": study.events, "total": study.total}
    if kind == "two_arms":
        return {"events_1": study.events, "total_1": study.total,
                "events_2": study.events_2, "total_2": study.total_2}
    return {"se": study.se}
