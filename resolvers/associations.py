"""Associating records: contact-company (with one primary), deal-contact, deal-company."""

from __future__ import annotations

from db import associations
from db import events as event_store
from db import records as record_store
from domain.codes import RuleCode
from domain.records import ObjectType

from . import lifecycle
from .context import Context
from .records import lock_editable, visible_ids
from .result import Ok, Refused, Result, use_case


@use_case
async def associate(
    ctx: Context,
    from_type: ObjectType,
    from_id: int,
    to_type: ObjectType,
    to_id: int,
    *,
    primary: bool = False,
) -> Result[bool]:
    if (from_type.value, to_type.value) not in associations.LINKS:
        return Refused.one(
            RuleCode.INVALID, f"{from_type.value} cannot be associated with {to_type.value}", ("toType",)
        )
    if primary and (from_type, to_type) != (ObjectType.CONTACT, ObjectType.COMPANY):
        return Refused.one(RuleCode.INVALID, "only a contact's company can be primary", ("primary",))
    async with ctx.pool.acquire() as conn, conn.transaction():
        await lock_editable(ctx, conn, from_type, from_id)
        await visible_ids(ctx, conn, to_type, [to_id], "toId")
        events = []
        if primary:
            previous = await associations.set_primary_company(conn, from_id, to_id)
            if previous != to_id:  # first associated as primary (or switched): the contact re-evaluates
                company = await record_store.get_records(conn, ObjectType.COMPANY, [to_id], None)
                events += await lifecycle.primary_company_set(
                    ctx, conn, from_id, company[0].get("lifecycle_stage")
                )
        else:
            await associations.link(conn, from_type.value, [from_id], to_type.value, [to_id])
        pair = {from_type: from_id, to_type: to_id}
        if ObjectType.DEAL in pair:
            contacts = [pair[ObjectType.CONTACT]] if ObjectType.CONTACT in pair else []
            companies = [pair[ObjectType.COMPANY]] if ObjectType.COMPANY in pair else []
            events += await lifecycle.deal_associated(ctx, conn, contacts, companies)
        await event_store.append(conn, events)
    ctx.committed()
    return Ok(True)
