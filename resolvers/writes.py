"""The one write path for a change to an existing record: contact, company, deal or ticket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db import records as record_store
from db.errors import Duplicate
from db.pool import Conn
from domain.changes import read_only_refusal
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.ids import record_kind
from domain.records import ChangeSource, ObjectType, Record
from domain.visibility import visible_owner_ids

from . import deals, effects, lifecycle
from . import properties as properties_rules
from .context import Context
from .notifications import notify
from .result import Refusal, Refused
from .snapshots import camel, history_rows

KEEP_OWNER = object()


async def change_record(
    ctx: Context,
    conn: Conn,
    before: Record,
    values: Mapping[str, Any],
    *,
    properties: Mapping[str, Any] | None = None,
    owner_id: int | object | None = KEEP_OWNER,
    source: ChangeSource,
) -> tuple[Record, list[NewEvent]]:
    """The one write path for a change to an existing record, whoever asks (the API, workflows, rotation):
    refuse what no writer may do, decide a deal's move through its gate, write the row once, then the
    history and the effects. The caller has locked `before` and checked the caller's edit scope.
    Raises Refusal before anything is written."""
    read_only = read_only_refusal(values)
    if read_only is not None:
        raise Refusal.of(read_only)
    dedupe = record_store.TABLES[before.type].dedupe
    if dedupe and values.get(dedupe):
        existing = await record_store.find_duplicate(conn, before.type, values[dedupe], before.id)
        if existing is not None:
            raise await duplicate(ctx, conn, before.type, dedupe, existing)
    if "lifecycle_stage" in values and source is not ChangeSource.AUTOMATION:
        lifecycle.check_manual_change(before.get("lifecycle_stage"), values["lifecycle_stage"])
    await properties_rules.check_values(conn, before.type, properties)
    placement = None
    if (
        before.type is ObjectType.DEAL
        and "stage_id" in values
        and values["stage_id"] != before.get("stage_id")
    ):
        placement = await deals.place(ctx, conn, before, values["stage_id"])
        values = {**values, **placement.values(before)}
    merged = None
    if properties is not None:
        merged = {k: v for k, v in {**before.properties, **properties}.items() if v is not None}
    owner = {} if owner_id is KEEP_OWNER else {"owner_id": owner_id, "set_owner": True}
    after = await record_store.update_record(
        conn,
        before.type,
        before.id,
        values,
        properties=merged,
        **owner,  # type: ignore[arg-type]
    )
    await record_store.insert_history(
        conn, before.type, history_rows(before, after), source=source, changed_by=ctx.me.id
    )
    assigned = await owner_assigned(ctx, conn, after, before.owner_id, source)
    if placement is not None:
        return after, assigned + await deals.after_placed(ctx, conn, before, after, placement)
    return after, assigned + await effects.after_update(ctx, conn, before, after)


async def duplicate(
    ctx: Context, conn: Conn, object_type: ObjectType, field: str, existing_id: int
) -> Refusal:
    """DUPLICATE, naming the existing record only to a caller who can see it (DESIGN 2)."""
    kind = object_type.value.lower()
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    if await record_store.get_records(conn, object_type, [existing_id], owners):
        return Refusal(
            Refused.one(
                RuleCode.DUPLICATE,
                str(Duplicate(kind, field, existing_id)),
                (camel(field),),
                existing_id,
                record_kind(object_type),
            )
        )
    return Refusal.one(RuleCode.DUPLICATE, f"a {kind} with this {field} already exists", camel(field))


async def owner_assigned(
    ctx: Context, conn: Conn, record: Record, previous_owner: int | None, source: ChangeSource
) -> list[NewEvent]:
    """Seed 003: a new owner is notified of every assignment but an import's, and of none they made
    themselves (a workflow's is the system's, never theirs)."""
    owner = record.owner_id
    if owner is None or owner == previous_owner or source is ChangeSource.IMPORT:
        return []
    if owner == ctx.me.id and source is not ChangeSource.WORKFLOW:
        return []
    noun = record.type.value.lower()
    deal_id = record.id if record.type is ObjectType.DEAL else None
    message = f"You were assigned {noun} {record.id}."
    return await notify(conn, [owner], kind="OWNER_ASSIGNED", message=message, deal_id=deal_id)
