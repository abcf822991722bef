"""The words of a meta-analysis: effect measures and models, as metafor names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["proportion", "two_arms", "generic"]


@dataclass(frozen=True)
class Measure:
    name: str
    kind: Kind
    title: str
    """What the pooled number is, on its natural scale."""
    scale: str
    """Where the pooling happens."""


MEASURES = {m.name: m for m in (
    Measure("PLO", "proportion", "Proportion", "logit"),
    Measure("PFT", "proportion", "Proportion", "Freeman-Tukey double arcsine"),
    Measure("PAS", "proportion", "Proportion", "arcsine square root"),
    Measure("PR", "proportion", "Proportion", "raw proportion"),
    Measure("RR", "two_arms", "Risk ratio", "log risk ratio"),
    Measure("OR", "two_arms", "Odds ratio", "log odds ratio"),
    Measure("RD", "two_arms", "Risk difference", "risk difference"),
    Measure("GEN", "generic", "Estimate", "as given (inverse variance)"),
)}

METHODS = {
    "REML": "random effects, restricted maximum likelihood estimate of tau-squared",
    "DL": "random effects, DerSimonian-Laird estimate of tau-squared",
    "PM": "random effects, Paule-Mandel estimate of tau-squared",
    "ML": "random effects, maximum likelihood estimate of tau-squared",
    "EE": "equal effects (inverse variance)",
    "GLMM": "random effects, binomial-normal model (logit link, maximum likelihood)",
}
"""The models, by the names metafor gives their estimators (EE is metafor's FE)."""
