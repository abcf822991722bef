"""An analysis as lines of text, for the terminal."""

from __future__ import annotations

from typing import Any

from review_pipeline.model.effects import MEASURES, METHODS
from review_pipeline.stages.synthesis.analysis import Analysis, Pooled


def summary(analysis: Analysis) -> list[str]:
    """The studies, the pooled estimate, its intervals and heterogeneity, the subgroups."""
    measure = MEASURES[analysis.measure]
    lines = [f"{measure.title} ({analysis.measure}, pooled on the {measure.scale} scale); "
             f"{METHODS[analysis.method]}"
             + ("; Hartung-Knapp intervals" if analysis.knha else "")]
    width = max(len(s.label) for s in analysis.studies)
    width = min(max(width, 5), 40)
    for (group, rows), block in zip(analysis.blocks(), analysis.subgroups or (analysis,),
                                    strict=True):
        if group:
            lines.append(f"{group}:")
        for row in rows:
            weight = f"{row['weight']:5.1f}%" if row["weight"] is not None else ""
            lines.append(f"  {row['study'][:width]:<{width}}  {_interval(row)}  {weight}")
        if analysis.subgroups:
            lines += [f"  {line}" for line in _pooled(block.pooled, analysis.method)]
    lines += _pooled(analysis.pooled, analysis.method)
    if analysis.subgroup_test:
        t = analysis.subgroup_test
        lines.append(f"Test for subgroup differences: Q = {t.statistic:.4f}, df = {t.df:g}, "
                     f"p = {t.p:.4g}")
    if analysis.egger:
        e = analysis.egger
        lines.append(f"Egger's test: {'t' if e.df else 'z'} = {e.statistic:.4f}, p = {e.p:.4g}")
    lines += analysis.notes
    return lines


def _pooled(p: Pooled, method: str) -> list[str]:
    lines = [f"Pooled (k = {p.k}): {p.estimate:.4f} [{p.ci_low:.4f}, {p.ci_high:.4f}]"]
    if p.pi_low is not None and p.pi_high is not None:
        lines[0] += f"; prediction interval [{p.pi_low:.4f}, {p.pi_high:.4f}]"
    if p.k > 1:
        lines.append(f"Heterogeneity: tau^2 = {p.tau2:.4f}, I^2 = {p.i2:.2f}%, "
                     f"H^2 = {p.h2:.2f}, Q = {p.q:.4f} (df = {p.k - 1}), p = {p.q_p:.4g}"
                     + (" (Q: Wald-type)" if method == "GLMM" else ""))
    return lines


def _interval(row: dict[str, Any]) -> str:
    return f"{row['estimate']:8.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
