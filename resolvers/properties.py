"""Defining custom properties, and checking values against their definitions on every write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from db import properties as property_store
from db import users as user_store
from db.pool import Conn
from domain.codes import RuleCode
from domain.properties import (
    PropertyDefinition,
    PropertyType,
    definition_problems,
    users_named,
    value_problems,
)
from domain.records import ObjectType

from .context import Context
from .result import Ok, Problem, Refusal, Refused, Result, use_case


@use_case
async def create_definition(
    ctx: Context, object_type: ObjectType, name: str, label: str, type: PropertyType,
    options: Sequence[str], description: str | None,
) -> Result[PropertyDefinition]:  # fmt: skip
    """A super admin defines a custom property; its name is unique per object type."""
    problems = definition_problems(name, label, type, options)
    if problems:
        return Refused(tuple(Problem(m, RuleCode.INVALID, (f,)) for f, m in problems))
    async with ctx.pool.acquire() as conn, conn.transaction():
        defined = await property_store.insert_definition(
            conn, object_type, name, label.strip(), type, [o.strip() for o in options], description, ctx.me.id
        )
    return Ok(defined)


async def check_values(conn: Conn, object_type: ObjectType, values: Mapping[str, object] | None) -> None:
    """Refuse (every problem at once, nothing written) values their definitions do not admit."""
    if not values:
        return
    definitions = {d.name: d for d in await property_store.list_definitions(conn, object_type)}
    named = users_named(definitions, values)
    active = {u.id for u in await user_store.list_users(conn, sorted(named)) if u.active} if named else set()
    problems = value_problems(definitions, values, active)
    if problems:
        raise Refusal(Refused(tuple(Problem(m, RuleCode.INVALID, ("properties", k)) for k, m in problems)))
