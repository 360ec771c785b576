"""Lifecycle automation: creation defaults, first deal, deal won and company-to-contact sync (seeds 002, 004)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from db import lifecycle as lifecycle_store
from db.lifecycle import Advanced
from db.pool import Conn
from domain import lifecycle as rules
from domain.codes import RuleCode
from domain.events import NewEvent
from domain.lifecycle import LifecycleSettings, LifecycleStage
from domain.records import ChangeSource, ObjectType

from .context import Context
from .result import Ok, Refusal, Refused, Result, use_case

RECORD_UPDATED = "{}.updated"


def stage_events(object_type: ObjectType, moved: Sequence[Advanced], stage: LifecycleStage) -> list[NewEvent]:
    """One event per record changed by automation, scoped by its owner like any other change."""
    kind = RECORD_UPDATED.format(object_type.value.lower())
    return [
        NewEvent(
            type=kind,
            payload={"record": {"type": object_type.value, "id": m.id, "changes": {"lifecycleStage": [m.old, stage.value]},
                                "source": ChangeSource.AUTOMATION.value}},
            owner_id=m.owner_id,
        )
        for m in moved
    ]  # fmt: skip


def creation_stage(
    values: dict[str, object], source: ChangeSource, settings: LifecycleSettings, form_default: str | None
) -> None:
    """Fill in the lifecycle stage of a new contact or company (seed 002), in place."""
    explicit = values.get("lifecycle_stage")
    stage = rules.creation_stage(
        LifecycleStage(str(explicit)) if explicit else None,
        source,
        settings.default_stage_on_create,
        LifecycleStage(form_default) if form_default else None,
    )
    values["lifecycle_stage"] = stage.value if stage else None


def check_manual_change(current: object, new: object) -> None:
    """Seed 004: a person moves a stage back only by clearing it first."""
    blocker = rules.manual_change_blocker(
        LifecycleStage(str(current)) if current else None, LifecycleStage(str(new)) if new else None
    )
    if blocker is not None:
        raise Refusal(
            Refused.one(
                RuleCode(blocker.value),
                f"lifecycle stage cannot move back from {current} to {new}: clear it first, then set it",
                ("lifecycleStage",),
            )
        )


async def sync_company(
    ctx: Context, conn: Conn, company_id: int, stage: LifecycleStage | None
) -> list[NewEvent]:
    """The company's stage reaches its primary contacts, forward only, in one statement."""
    settings = await lifecycle_store.get_settings(conn)
    if stage is None or not settings.sync_company_to_contacts:
        return []
    contacts = await lifecycle_store.primary_contacts(conn, company_id)
    moved = await lifecycle_store.advance(conn, ObjectType.CONTACT, contacts, stage, changed_by=ctx.me.id)
    return stage_events(ObjectType.CONTACT, moved, stage)


async def primary_company_set(
    ctx: Context, conn: Conn, contact_id: int, company_stage: object
) -> list[NewEvent]:
    """A company first associated as primary passes its stage to the contact (forward only)."""
    settings = await lifecycle_store.get_settings(conn)
    if not company_stage or not settings.sync_company_to_contacts:
        return []
    stage = LifecycleStage(str(company_stage))
    moved = await lifecycle_store.advance(conn, ObjectType.CONTACT, [contact_id], stage, changed_by=ctx.me.id)
    return stage_events(ObjectType.CONTACT, moved, stage)


async def deal_associated(
    ctx: Context, conn: Conn, contact_ids: Sequence[int], company_ids: Sequence[int]
) -> list[NewEvent]:
    """Records whose first deal this is take the deal-created stage (forward only)."""
    settings = await lifecycle_store.get_settings(conn)
    stage = settings.stage_on_deal_created
    if stage is None:
        return []
    events: list[NewEvent] = []
    for object_type, ids in ((ObjectType.CONTACT, contact_ids), (ObjectType.COMPANY, company_ids)):
        if not ids:
            continue
        firsts = await lifecycle_store.first_deal_records(conn, object_type, ids)
        moved = await lifecycle_store.advance(conn, object_type, firsts, stage, changed_by=ctx.me.id)
        events += stage_events(object_type, moved, stage)
        if object_type is ObjectType.COMPANY:
            for m in moved:
                events += await sync_company(ctx, conn, m.id, stage)
    return events


async def deal_won(
    ctx: Context, conn: Conn, contact_ids: Sequence[int], company_ids: Sequence[int]
) -> list[NewEvent]:
    """Seeds 002, 004: a won deal makes its contacts and companies CUSTOMER (the setting), forward only,
    and sets their close date and days to close; a lost deal changes nothing."""
    settings = await lifecycle_store.get_settings(conn)
    stage = settings.stage_on_deal_won
    if stage is None:
        return []
    now = datetime.now(UTC)
    events: list[NewEvent] = []
    for object_type, ids in ((ObjectType.CONTACT, contact_ids), (ObjectType.COMPANY, company_ids)):
        moved = await lifecycle_store.advance(conn, object_type, ids, stage, changed_by=ctx.me.id, won_at=now)
        events += stage_events(object_type, moved, stage)
        if object_type is ObjectType.COMPANY:
            for m in moved:
                events += await sync_company(ctx, conn, m.id, stage)
    return events


@use_case
async def update_settings(ctx: Context, settings: LifecycleSettings) -> Result[LifecycleSettings]:
    async with ctx.pool.acquire() as conn, conn.transaction():
        await lifecycle_store.save_settings(conn, settings)
        saved = await lifecycle_store.get_settings(conn)
    return Ok(saved)
