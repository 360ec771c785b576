"""Where a deal goes: every stage or pipeline change, whoever asks, loaded, decided and saved here."""

from __future__ import annotations

from dataclasses import dataclass, replace

from db import approvals as approval_store
from db import associations
from db.pool import Conn
from domain.approvals import for_deal
from domain.codes import Refusal as DomainRefusal
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.pipelines import Move, decide_move
from domain.records import ApprovalProcess, Pipeline, Record, StageKind

from . import approvals, lifecycle
from .context import Context
from .result import Refusal
from .snapshots import deal_event


@dataclass(frozen=True, slots=True)
class Placement:
    """A decided move and what it was decided with, to save it and its effects."""

    move: Move
    pipeline: Pipeline
    process: ApprovalProcess | None

    def for_deal(self, deal_id: int) -> Placement:
        start = self.move.start
        return (
            self if start is None else replace(self, move=replace(self.move, start=for_deal(start, deal_id)))
        )

    def values(self, before: Record | None) -> dict[str, object]:
        """The columns the move writes on the deal row, in the same UPDATE as the rest of the change:
        the stage, the pipeline, and the approval status when an approval starts (or, leaving the
        pipeline, none: an approval belongs to its pipeline's process)."""
        values: dict[str, object] = {"pipeline_id": self.move.pipeline_id, "stage_id": self.move.stage_id}
        status = self.move.approval_status
        if status is not None:
            values["latest_approval_status"] = status.value
        elif before is not None and before.get("pipeline_id") != self.move.pipeline_id:
            values["latest_approval_status"] = None
        return values


async def place(
    ctx: Context,
    conn: Conn,
    deal: Record | None,
    stage_id: object,
    *,
    pipeline_id: int | None = None,
    owner_id: int | None = None,
) -> Placement:
    """Load what the gate needs once, then decide the move (raise its refusal; nothing is written).

    `deal` None places a new deal, owned by `owner_id`, in `pipeline_id` (the stage must belong to it);
    give it its id with `Placement.for_deal` once inserted.
    """
    if not isinstance(stage_id, int):
        raise Refusal.one(RuleCode.INVALID, "a deal needs a stage", "stageId")
    loaded = await approval_store.share_gate(conn, stage_id, deal.id if deal else None)
    if loaded is None:
        raise Refusal.one(RuleCode.NOT_FOUND, f"stage {stage_id} not found", "stageId")
    pipeline, gate = loaded
    if pipeline_id is not None and pipeline.id != pipeline_id:
        message = f"stage {stage_id} is not a stage of pipeline {pipeline_id}"
        raise Refusal.one(RuleCode.WRONG_PIPELINE, message, "stageId")
    from_pipeline = _int(deal.get("pipeline_id")) if deal else None
    from_stage = _int(deal.get("stage_id")) if deal and from_pipeline == pipeline.id else None
    process = gate.process
    outcome = decide_move(
        pipeline, from_pipeline, from_stage, stage_id, gate,
        deal_id=deal.id if deal else 0, owner_id=deal.owner_id if deal else owner_id, actor_id=ctx.me.id,
    )  # fmt: skip
    if isinstance(outcome, DomainRefusal):
        raise Refusal.of(outcome)
    return Placement(outcome, pipeline, process)


async def after_placed(
    ctx: Context, conn: Conn, before: Record | None, after: Record, placement: Placement
) -> list[NewEvent]:
    """The move's effects, after the deal row was written once: its event (the state after the whole
    change), the approval it started, and lifecycle automation when it was won."""
    if before is None:
        events = [deal_event("created", after)]
    else:
        events = [deal_event("moved", after, from_stage_id=before.get("stage_id"))]
    start = placement.move.start
    if start is not None and placement.process is not None:
        events += await approvals.save_start(ctx, conn, after, placement.process, start)
    stage = placement.pipeline.stage(placement.move.stage_id)
    if stage is not None and stage.kind is StageKind.CLOSED_WON:
        contacts = [b for _, b in await associations.linked(conn, "DEAL", [after.id], "CONTACT")]
        companies = [b for _, b in await associations.linked(conn, "DEAL", [after.id], "COMPANY")]
        events += await lifecycle.deal_won(ctx, conn, contacts, companies)
    return events


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
