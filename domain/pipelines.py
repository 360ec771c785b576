"""Where a deal may go: the one place a stage change is decided (DESIGN 4, 5)."""

from __future__ import annotations

from dataclasses import dataclass

from .approvals import ApprovalStatus, Mode, Transition, enters_approval_stage, move_blocker, start_approval
from .codes import Refusal, RuleCode
from .records import ApprovalProcess, Pipeline, User


@dataclass(frozen=True, slots=True)
class Gate:
    """What the approval gate of the target pipeline needs to know about one deal, loaded once."""

    process: ApprovalProcess | None = None
    status: ApprovalStatus | None = None  # the deal's latest approval under this process
    exempt: bool = False  # in the pipeline when the process was enabled
    approvers: tuple[User, ...] = ()  # loaded only when the move enters the approval stage


@dataclass(frozen=True, slots=True)
class Move:
    """An accepted move: where the deal goes, and the approval it starts (if it enters the gate)."""

    pipeline_id: int
    stage_id: int
    start: Transition | None = None

    @property
    def approval_status(self) -> ApprovalStatus | None:
        return None if self.start is None else self.start.state.status


def decide_move(
    pipeline: Pipeline,
    from_pipeline_id: int | None,
    from_stage_id: int | None,
    to_stage_id: int,
    gate: Gate,
    *,
    deal_id: int,
    owner_id: int | None,
    actor_id: int | None,
) -> Move | Refusal:
    """DESIGN 4, 5: a deal goes to a stage of `pipeline` only through that pipeline's approval gate.

    `from_stage_id` None means the deal is being created. A deal coming from another pipeline is
    placed like a new one: it passes the target pipeline's gate from outside, so it cannot skip it.
    Entering the approval stage starts an approval (PENDING, or NOT_STARTED with a reason).
    """
    to_stage = pipeline.stage(to_stage_id)
    if to_stage is None:
        return Refusal(
            RuleCode.WRONG_PIPELINE,
            f"stage {to_stage_id} is not a stage of pipeline {pipeline.id}",
            field="stageId",
        )
    same_pipeline = from_pipeline_id is None or from_pipeline_id == pipeline.id
    from_stage = pipeline.stage(from_stage_id) if from_stage_id is not None and same_pipeline else None
    process = gate.process
    if process is None:
        return Move(pipeline.id, to_stage_id)
    blocker = move_blocker(
        from_stage, to_stage, pipeline.stages, process.approval_stage_id, gate.status, gate.exempt
    )
    if blocker is not None:
        return Refusal(blocker.code, blocker.reason, blocker.next_step, field="stageId")
    entering = from_stage.id if from_stage is not None else None
    if not enters_approval_stage(entering, to_stage_id, process.approval_stage_id):
        return Move(pipeline.id, to_stage_id)
    start = start_approval(deal_id, owner_id, gate.approvers, Mode(process.mode), actor_id)
    return Move(pipeline.id, to_stage_id, start)


def approvers_needed(from_stage_id: int | None, to_stage_id: int, gate: Gate) -> bool:
    """Whether deciding this move needs the approvers (only a move into the approval stage does)."""
    process = gate.process
    return process is not None and enters_approval_stage(
        from_stage_id, to_stage_id, process.approval_stage_id
    )
