"""Create, update, delete and read contacts, companies, deals and tickets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from db import associations, idempotency
from db import events as event_store
from db import lifecycle as lifecycle_store
from db import records as record_store
from db import users as user_store
from db.errors import Duplicate, NotFound
from db.pool import Conn
from domain.changes import source_refusal
from domain.codes import RuleCode
from domain.records import ChangeSource, ObjectType, Record
from domain.validation import field_problems, normalise
from domain.visibility import can_edit, visible_owner_ids

from . import deals, effects, lifecycle, workflows, writes
from . import properties as properties_rules
from .context import Context
from .result import Ok, Problem, Refusal, Refused, Result, use_case
from .snapshots import camel, history_rows


def checked(object_type: ObjectType, values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    clean = normalise(object_type, values)
    problems = field_problems(object_type, clean, creating=creating)
    if problems:
        raise Refusal(Refused(tuple(Problem(m, RuleCode.INVALID, (camel(f),)) for f, m in problems)))
    return clean


async def check_owner(conn: Conn, owner_id: int | None) -> None:
    if owner_id is None:
        return
    try:
        owner = await user_store.get_user(conn, owner_id)
    except NotFound:
        raise Refusal.one(RuleCode.NOT_FOUND, f"user {owner_id} not found", "ownerId") from None
    if not owner.active:
        raise Refusal.one(
            RuleCode.INACTIVE_USER, f"user {owner_id} is deactivated and cannot own records", "ownerId"
        )


async def visible_ids(
    ctx: Context, conn: Conn, object_type: ObjectType, ids: Sequence[int], field: str
) -> None:
    if not ids:
        return
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    found = {r.id for r in await record_store.get_records(conn, object_type, ids, owners)}
    missing = sorted(set(ids) - found)
    if missing:
        raise Refusal.one(RuleCode.NOT_FOUND, f"{object_type.value.lower()} {missing[0]} not found", field)


@dataclass(frozen=True, slots=True)
class NewRecord:
    object_type: ObjectType
    values: Mapping[str, Any]
    owner_id: int | None = None
    properties: Mapping[str, Any] | None = None
    contact_ids: Sequence[int] = ()
    company_ids: Sequence[int] = ()
    form_lifecycle_stage: str | None = None  # a form's own default stage (source FORM)


@use_case
async def create_record(
    ctx: Context,
    new: NewRecord,
    *,
    source: ChangeSource = ChangeSource.API,
    idempotency_key: str | None = None,
) -> Result[Record]:
    claimed = source_refusal(source)
    if claimed is not None:
        raise Refusal.of(claimed)
    values = checked(new.object_type, new.values, creating=True)
    operation = f"create:{new.object_type.value}"
    async with ctx.pool.acquire() as conn, conn.transaction():
        if idempotency_key is not None:
            first = await idempotency.claim_key(conn, ctx.me.id, operation, idempotency_key)
            if first is not None:
                found = await record_store.get_records(conn, new.object_type, [first], None)
                if found:
                    return Ok(found[0])
        dedupe = record_store.TABLES[new.object_type].dedupe
        if dedupe and values.get(dedupe):
            existing = await record_store.find_duplicate(conn, new.object_type, values[dedupe])
            if existing is not None:
                raise await writes.duplicate(ctx, conn, new.object_type, dedupe, existing)
        await check_owner(conn, new.owner_id)
        await properties_rules.check_values(conn, new.object_type, new.properties)
        if new.object_type in (ObjectType.CONTACT, ObjectType.COMPANY):
            settings = await lifecycle_store.get_settings(conn)
            lifecycle.creation_stage(values, source, settings, new.form_lifecycle_stage)
        placement = None
        if new.object_type is ObjectType.DEAL:
            placement = await deals.place(
                ctx, conn, None, values.get("stage_id"), pipeline_id=values.get("pipeline_id"),
                owner_id=new.owner_id,
            )  # fmt: skip
            values = {**values, **placement.values(None)}
            await visible_ids(ctx, conn, ObjectType.CONTACT, new.contact_ids, "contactIds")
            await visible_ids(ctx, conn, ObjectType.COMPANY, new.company_ids, "companyIds")
        try:
            record = await record_store.insert_record(
                conn, new.object_type, values, owner_id=new.owner_id, properties=new.properties or {}
            )
        except Duplicate as lost:  # a concurrent create won the race for the dedupe value
            raise await writes.duplicate(ctx, conn, new.object_type, lost.field, lost.existing_id) from None
        if new.object_type is ObjectType.DEAL:
            await associations.link(conn, "DEAL", [record.id], "CONTACT", new.contact_ids)
            await associations.link(conn, "DEAL", [record.id], "COMPANY", new.company_ids)
        await record_store.insert_history(
            conn, new.object_type, history_rows(None, record), source=source, changed_by=ctx.me.id
        )
        if idempotency_key is not None:
            await idempotency.record_key(conn, ctx.me.id, operation, idempotency_key, record.id)
        events = await writes.owner_assigned(ctx, conn, record, None, source)
        if placement is not None:
            events += await deals.after_placed(ctx, conn, None, record, placement.for_deal(record.id))
            events += await lifecycle.deal_associated(ctx, conn, new.contact_ids, new.company_ids)
        else:
            events.append(effects.record_event("created", None, record))
        enrolled = await workflows.enroll(ctx, conn, new.object_type, [(None, record)], source)
        if enrolled:  # workflows may have changed it: answer with what was committed
            record = (await record_store.get_records(conn, new.object_type, [record.id], None))[0]
        await event_store.append(conn, events + enrolled)
    ctx.committed()
    return Ok(record)


@dataclass(frozen=True, slots=True)
class Change:
    object_type: ObjectType
    id: int
    values: Mapping[str, Any]
    properties: Mapping[str, Any] | None = None
    expected_version: int | None = None


@use_case
async def update_record(
    ctx: Context, change: Change, *, source: ChangeSource = ChangeSource.API
) -> Result[Record]:
    values = checked(change.object_type, change.values, creating=False)
    async with ctx.pool.acquire() as conn, conn.transaction():
        before = await lock_editable(ctx, conn, change.object_type, change.id)
        record_store.check_version(before, change.expected_version)
        after, events = await writes.change_record(
            ctx, conn, before, values, properties=change.properties, source=source
        )
        enrolled = await workflows.enroll(ctx, conn, change.object_type, [(before, after)], source)
        if enrolled:
            after = (await record_store.get_records(conn, change.object_type, [after.id], None))[0]
        await event_store.append(conn, events + enrolled)
    ctx.committed()
    return Ok(after)


async def lock_editable(ctx: Context, conn: Conn, object_type: ObjectType, record_id: int) -> Record:
    """Lock a record the viewer can see; refuse (as not found, or forbidden) if they may not edit it."""
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    record = await record_store.lock_record(conn, object_type, record_id, owners)
    if not can_edit(ctx.me, record.owner_id):
        raise Refusal.one(
            RuleCode.FORBIDDEN, f"you may not edit {object_type.value.lower()} {record_id}", "id"
        )
    return record


@use_case
async def delete_record(ctx: Context, object_type: ObjectType, record_id: int) -> Result[int]:
    async with ctx.pool.acquire() as conn, conn.transaction():
        record = await lock_editable(ctx, conn, object_type, record_id)
        await record_store.soft_delete(conn, object_type, record_id)
        await event_store.append(conn, effects.after_delete(record))
    ctx.committed()
    return Ok(record_id)
