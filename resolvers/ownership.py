"""Assigning owners by hand: one record or thousands in one transaction (seed 003)."""

from __future__ import annotations

from collections.abc import Sequence

from db import events as event_store
from db import records as record_store
from db import users as user_store
from domain.changes import source_refusal
from domain.codes import RuleCode
from domain.records import ChangeSource, ObjectType
from domain.visibility import can_edit, visible_owner_ids

from . import effects, workflows
from .context import Context
from .notifications import notify
from .result import Ok, Refused, Result, use_case
from .snapshots import history_rows

MAX_IDS = 10_000


@use_case
async def assign_owner(
    ctx: Context, object_type: ObjectType, ids: Sequence[int], owner_id: int | None,
    source: ChangeSource = ChangeSource.API,
) -> Result[int]:  # fmt: skip
    """Every record in the caller's edit scope, or none; the new owner is notified once per call."""
    claimed = source_refusal(source)
    if claimed is not None:
        return Refused.one(claimed.code, claimed.message, ("source",))
    wanted = sorted(set(ids))
    if not wanted or len(wanted) > MAX_IDS:
        return Refused.one(RuleCode.INVALID, f"give 1 to {MAX_IDS} ids", ("ids",))
    async with ctx.pool.acquire() as conn, conn.transaction():
        if owner_id is not None:
            owner = await user_store.list_users(conn, [owner_id])
            if not owner:
                return Refused.one(RuleCode.NOT_FOUND, f"user {owner_id} not found", ("ownerId",))
            if not owner[0].active:
                return Refused.one(
                    RuleCode.INACTIVE_USER,
                    f"user {owner_id} is deactivated and cannot own records",
                    ("ownerId",),
                )
        visible = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
        records = await record_store.lock_many(conn, object_type, wanted, visible)
        missing = sorted(set(wanted) - {r.id for r in records})
        if missing:
            return Refused.one(
                RuleCode.NOT_FOUND, f"{object_type.value.lower()} {missing[0]} not found", ("ids",)
            )
        forbidden = [r.id for r in records if not can_edit(ctx.me, r.owner_id)]
        if forbidden:
            return Refused.one(
                RuleCode.FORBIDDEN, f"you may not edit {object_type.value.lower()} {forbidden[0]}", ("ids",)
            )
        changes = await record_store.assign_owner(conn, object_type, wanted, owner_id)
        rows = [row for before, after in changes for row in history_rows(before, after)]
        await record_store.insert_history(conn, object_type, rows, source=source, changed_by=ctx.me.id)
        events = []
        for before, after in changes:
            events += await effects.after_update(ctx, conn, before, after)
        if owner_id not in (None, ctx.me.id) and changes:
            noun = object_type.value.lower() + ("s" if len(changes) > 1 else "")
            events += await notify(
                conn, [owner_id], kind="OWNER_ASSIGNED", message=f"You were assigned {len(changes)} {noun}."
            )
        events += await workflows.enroll(ctx, conn, object_type, changes, source)
        await event_store.append(conn, events)
    ctx.committed()
    return Ok(len(changes))
