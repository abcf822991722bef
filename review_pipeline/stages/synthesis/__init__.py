"""The synthesis stage: each outcome pooled per treatment (:mod:`.stage`), with effect sizes
(:mod:`.measures`), inverse-variance models (:mod:`.models`) and the binomial-normal model
(:mod:`.glmm`) as metafor fits them, one analysis with its subgroups and sensitivity
analyses (:mod:`.analysis`), forest and funnel plots (:mod:`.forest`); and ``review meta``
on a plain CSV (:mod:`.meta`, :mod:`.table`)."""

from review_pipeline.stages.synthesis.analysis import Analysis, Pooled, Test, analyse
from review_pipeline.stages.synthesis.measures import Study
from review_pipeline.stages.synthesis.stage import SynthesisResult, run

__all__ = ["Analysis", "Pooled", "Study", "SynthesisResult", "Test", "analyse", "run"]
