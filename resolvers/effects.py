"""What follows a record change in the same transaction: events, approvals, lifecycle automation."""

from __future__ import annotations

from typing import Any

from db import associations
from db import pipelines as pipeline_store
from db.pool import Conn
from domain.events import NewEvent
from domain.lifecycle import LifecycleStage
from domain.records import ObjectType, Record, StageKind

from . import approvals, lifecycle
from .context import Context
from .snapshots import as_text, deal_event


def record_event(kind: str, before: Record | None, after: Record) -> NewEvent:
    """contact.created, company.updated, …: the changed standard values, scoped by owner."""
    changes = {
        column: [as_text(before.get(column)) if before else None, as_text(value)]
        for column, value in after.values.items()
        if before is None or as_text(before.get(column)) != as_text(value)
    }
    payload: dict[str, Any] = {"record": {"type": after.type.value, "id": after.id, "changes": changes}}
    return NewEvent(type=f"{after.type.value.lower()}.{kind}", payload=payload, owner_id=after.owner_id)


async def _won(ctx: Context, conn: Conn, deal: Record) -> list[NewEvent]:
    stages = await pipeline_store.list_stages(conn, [int(str(deal.get("stage_id")))])
    if not stages or stages[0].kind is not StageKind.CLOSED_WON:
        return []
    contacts = [b for _, b in await associations.linked(conn, "DEAL", [deal.id], "CONTACT")]
    companies = [b for _, b in await associations.linked(conn, "DEAL", [deal.id], "COMPANY")]
    return await lifecycle.deal_won(ctx, conn, contacts, companies)


async def after_create(
    ctx: Context, conn: Conn, record: Record, contact_ids: list[int], company_ids: list[int]
) -> list[NewEvent]:
    if record.type is not ObjectType.DEAL:
        return [record_event("created", None, record)]
    events = [deal_event("created", record)]
    events += await approvals.on_stage_entered(ctx, conn, record, None)
    events += await lifecycle.deal_associated(ctx, conn, contact_ids, company_ids)
    events += await _won(ctx, conn, record)
    return events


async def after_update(ctx: Context, conn: Conn, before: Record, after: Record) -> list[NewEvent]:
    if after.type is ObjectType.DEAL:
        moved = before.get("stage_id") != after.get("stage_id")
        extra = {"from_stage_id": before.get("stage_id")} if moved else {}
        events = [deal_event("moved" if moved else "updated", after, **extra)]
        if moved:
            events += await approvals.on_stage_entered(ctx, conn, after, int(str(before.get("stage_id"))))
            events += await _won(ctx, conn, after)
        return events
    events = [record_event("updated", before, after)]
    stage = after.get("lifecycle_stage")
    if after.type is ObjectType.COMPANY and stage != before.get("lifecycle_stage") and stage:
        events += await lifecycle.sync_company(ctx, conn, after.id, LifecycleStage(str(stage)))
    return events


def after_delete(record: Record) -> list[NewEvent]:
    if record.type is ObjectType.DEAL:
        return [deal_event("deleted", record)]
    return [record_event("deleted", record, record)]
