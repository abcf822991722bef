"""The screen stage: the protocol's rules (:mod:`.rules`) applied, then reviewers' sheets,
conflicts, resolutions and agreement."""

from review_pipeline.stages.screen.stage import (
    Agreement,
    Conflict,
    Decision,
    ScreenResult,
    SheetResult,
    add_conflicts_to_resolutions,
    agreement,
    awaiting,
    cohen_kappa,
    conflicts,
    consensus,
    landis_koch,
    read_decisions,
    run,
    stage_summary,
    target_state,
    write_worksheet,
)

__all__ = ["Agreement", "Conflict", "Decision", "ScreenResult", "SheetResult",
           "add_conflicts_to_resolutions", "agreement", "awaiting", "cohen_kappa", "conflicts",
           "consensus", "landis_koch", "read_decisions", "run", "stage_summary", "target_state",
           "write_worksheet"]
