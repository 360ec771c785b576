"""Enabling, editing and disabling a pipeline's deal approval process (super admins, seed 000)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db import approvals as approval_store
from db import events as event_store
from db import pipelines as pipeline_store
from db import records as record_store
from db import users as user_store
from domain.approvals import ApprovalStatus
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.records import ObjectType, Pipeline, StageKind

from .approvals import pipeline_of
from .context import Context
from .result import Ok, Refusal, Result, use_case

DEFAULT_STAGE_LABEL = "Pending approval"
MAX_APPROVERS = 3


@dataclass(frozen=True, slots=True)
class ProcessSettings:
    stage_label: str | None = None
    probability: float | None = None
    position: int | None = None
    approver_ids: Sequence[int] | None = None
    mode: str | None = None
    note: str | None = None


async def _check_approvers(ctx: Context, ids: Sequence[int]) -> None:
    if not 1 <= len(set(ids)) <= MAX_APPROVERS or len(set(ids)) != len(ids):
        raise Refusal.one(RuleCode.INVALID, f"choose 1 to {MAX_APPROVERS} different approvers", "approverIds")
    found = {u.id: u for u in await user_store.list_users(ctx.pool, ids)}
    for user_id in ids:
        user = found.get(user_id)
        if user is None:
            raise Refusal.one(RuleCode.NOT_FOUND, f"user {user_id} not found", "approverIds")
        if not user.active or not user.can_approve_deals:
            raise Refusal.one(
                RuleCode.APPROVAL_APPROVER_INELIGIBLE,
                f"{user.name} needs to be active and have the Approve deals permission",
                "approverIds",
            )


def _check_settings(s: ProcessSettings, pipeline: Pipeline) -> None:
    if s.note is not None and not s.note.strip():
        raise Refusal.one(RuleCode.INVALID, "a note to approvers is required", "note")
    if s.probability is not None and not 0 <= s.probability <= 1:
        raise Refusal.one(RuleCode.INVALID, "probability must be between 0 and 1", "probability")
    if s.position is not None and not 0 <= s.position <= len(pipeline.stages):
        raise Refusal.one(
            RuleCode.INVALID, f"position must be between 0 and {len(pipeline.stages)}", "position"
        )
    if s.mode is not None and s.mode not in ("ALL", "ANY"):
        raise Refusal.one(RuleCode.INVALID, "mode must be ALL or ANY", "mode")
    if s.stage_label is not None and not s.stage_label.strip():
        raise Refusal.one(RuleCode.INVALID, "the approval stage needs a name", "stageLabel")


def default_position(pipeline: Pipeline) -> int:
    """Just before the first closed stage (API.md), else last."""
    closed = [s.display_order for s in pipeline.stages if s.kind is not StageKind.OPEN]
    return min(closed) if closed else len(pipeline.stages)


@use_case
async def enable(ctx: Context, pipeline_id: int, s: ProcessSettings) -> Result[Pipeline]:
    async with ctx.pool.acquire() as conn, conn.transaction():
        await approval_store.lock_pipeline(conn, pipeline_id)
        pipeline = await pipeline_of(conn, pipeline_id)
        if s.note is None:
            raise Refusal.one(RuleCode.INVALID, "a note to approvers is required", "note")
        _check_settings(s, pipeline)
        await _check_approvers(ctx, s.approver_ids or [])
        if await approval_store.lock_process(conn, pipeline_id) is not None:
            raise Refusal.one(
                RuleCode.APPROVAL_PROCESS_EXISTS,
                "this pipeline already has an approval process",
                "pipelineId",
            )
        position = s.position if s.position is not None else default_position(pipeline)
        stage_id = await approval_store.insert_stage_at(
            conn, pipeline_id, position, (s.stage_label or DEFAULT_STAGE_LABEL).strip(), s.probability or 0.0
        )
        process_id = await approval_store.insert_process(
            conn, pipeline_id, stage_id, s.mode or "ANY", s.note.strip(), s.approver_ids or []
        )
        await approval_store.insert_exemptions(conn, process_id, pipeline_id)
        updated = await pipeline_store.get_pipeline(conn, pipeline_id)
    return Ok(updated)


@use_case
async def update(ctx: Context, pipeline_id: int, s: ProcessSettings) -> Result[Pipeline]:
    async with ctx.pool.acquire() as conn, conn.transaction():
        await approval_store.lock_pipeline(conn, pipeline_id)
        pipeline = await pipeline_of(conn, pipeline_id)
        _check_settings(s, pipeline)
        process = await approval_store.lock_process(conn, pipeline_id)
        if process is None:
            raise Refusal.one(
                RuleCode.NO_APPROVAL_PROCESS, "this pipeline has no approval process", "pipelineId"
            )
        if s.approver_ids is not None:
            await _check_approvers(ctx, s.approver_ids)
            await approval_store.set_approvers(conn, process.id, s.approver_ids)
        await approval_store.update_process(conn, process.id, s.mode, s.note.strip() if s.note else None)
        await approval_store.update_stage(conn, process.approval_stage_id, s.stage_label, s.probability)
        if s.position is not None:
            await approval_store.move_stage(
                conn, pipeline_id, process.approval_stage_id, min(s.position, len(pipeline.stages) - 1)
            )
        updated = await pipeline_store.get_pipeline(conn, pipeline_id)
    return Ok(updated)


@use_case
async def disable(ctx: Context, pipeline_id: int) -> Result[Pipeline]:
    """Seed 000: the approval stage becomes ordinary and every approval is CANCELLED; no undo."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await approval_store.lock_pipeline(conn, pipeline_id)
        await pipeline_of(conn, pipeline_id)
        await record_store.lock_pipeline_deals(conn, pipeline_id)  # deals before the process, like every path
        process = await approval_store.lock_process(conn, pipeline_id)
        if process is None:
            raise Refusal.one(
                RuleCode.NO_APPROVAL_PROCESS, "this pipeline has no approval process", "pipelineId"
            )
        await approval_store.disable_process(conn, process)
        cancelled = await approval_store.cancel_open(conn, process.id)
        await approval_store.insert_history(
            conn, [a.id for a in cancelled], ApprovalStatus.CANCELLED.value, ctx.me.id
        )
        deal_ids = [a.deal_id for a in cancelled]
        await approval_store.set_deal_status(conn, deal_ids, ApprovalStatus.CANCELLED.value)
        deals = {d.id: d for d in await record_store.get_records(conn, ObjectType.DEAL, deal_ids, None)}
        events = [
            NewEvent(
                type="approval.cancelled",
                payload={"approval": {"id": a.id, "deal_id": a.deal_id, "pipeline_id": pipeline_id,
                                      "status": "CANCELLED", "reason": None, "next_step": None},
                         "action": "CANCEL", "actor_id": ctx.me.id, "from_status": a.status, "text": None},
                owner_id=deals[a.deal_id].owner_id if a.deal_id in deals else None,
                audience=frozenset(process.approver_ids),
                pipeline_id=pipeline_id,
                deal_id=a.deal_id,
            )
            for a in cancelled
        ]  # fmt: skip
        updated = await pipeline_store.get_pipeline(conn, pipeline_id)
        await event_store.append(conn, events)
    ctx.committed()
    return Ok(updated)
