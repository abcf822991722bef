"""The synthesis stage: effect sizes (:mod:`.measures`), inverse-variance models
(:mod:`.models`) and the binomial-normal model (:mod:`.glmm`) as metafor fits them, one
analysis with its subgroups and sensitivity analyses (:mod:`.analysis`)."""

from review_pipeline.stages.synthesis.analysis import Analysis, Pooled, Test, analyse
from review_pipeline.stages.synthesis.measures import Study

__all__ = ["Analysis", "Pooled", "Study", "Test", "analyse"]
