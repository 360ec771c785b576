"""Where a deal may go: the one place a stage change is decided (DESIGN 4)."""

from __future__ import annotations

from collections.abc import Callable

from .codes import RuleCode
from .records import Pipeline, Stage

# A gate decides moves between stages of one pipeline; approvals install theirs (DESIGN 5).
Gate = Callable[[Stage | None, Stage], tuple[RuleCode, str] | None]


def move_refusal(
    pipeline: Pipeline, from_stage_id: int | None, to_stage_id: int, gate: Gate | None = None
) -> tuple[RuleCode, str] | None:
    """DESIGN 4: a deal moves only to a stage of its own pipeline, through the pipeline's gate.

    from_stage_id None means the deal is being created in to_stage_id.
    """
    to_stage = pipeline.stage(to_stage_id)
    if to_stage is None:
        return RuleCode.WRONG_PIPELINE, f"stage {to_stage_id} is not a stage of pipeline {pipeline.id}"
    from_stage = pipeline.stage(from_stage_id) if from_stage_id is not None else None
    if gate is not None:
        return gate(from_stage, to_stage)
    return None
