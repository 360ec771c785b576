"""What follows a change of a contact, company, ticket or a deal's other properties: events, lifecycle sync."""

from __future__ import annotations

from typing import Any

from db.pool import Conn
from domain.events import NewEvent
from domain.lifecycle import LifecycleStage
from domain.records import ObjectType, Record

from . import lifecycle
from .context import Context
from .snapshots import as_text, deal_event


def record_event(kind: str, before: Record | None, after: Record) -> NewEvent:
    """contact.created, company.updated, …: the changed standard values, scoped by owner."""
    changes = {
        column: (as_text(before.get(column)) if before else None, as_text(value))
        for column, value in after.values.items()
        if before is None or as_text(before.get(column)) != as_text(value)
    }
    payload: dict[str, Any] = {"record": {"type": after.type.value, "id": after.id, "changes": changes}}
    return NewEvent(type=f"{after.type.value.lower()}.{kind}", payload=payload, owner_id=after.owner_id)


async def after_update(ctx: Context, conn: Conn, before: Record, after: Record) -> list[NewEvent]:
    """A change that is not a move (a deal's move has its effects in resolvers.deals)."""
    if after.type is ObjectType.DEAL:
        return [deal_event("updated", after)]
    events = [record_event("updated", before, after)]
    stage = after.get("lifecycle_stage")
    if after.type is ObjectType.COMPANY and stage != before.get("lifecycle_stage") and stage:
        events += await lifecycle.sync_company(ctx, conn, after.id, LifecycleStage(str(stage)))
    return events


def after_delete(record: Record) -> list[NewEvent]:
    if record.type is ObjectType.DEAL:
        return [deal_event("deleted", record)]
    return [record_event("deleted", record, record)]
