"""Associating records: contact-company (with one primary), deal-contact, deal-company."""

from __future__ import annotations

from db import associations
from domain.codes import RuleCode
from domain.records import ObjectType

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
        if primary:
            await associations.set_primary_company(conn, from_id, to_id)
        else:
            await associations.link(conn, from_type.value, [from_id], to_type.value, [to_id])
    ctx.committed()
    return Ok(True)
