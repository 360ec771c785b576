"""Custom property definitions."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from domain.properties import PropertyDefinition, PropertyType
from domain.records import ObjectType

from .errors import Duplicate
from .pool import Conn, Executor

NAME_CONSTRAINT = "property_definitions_name"
COLUMNS = "id, object_type, name, label, type, options, description"


def definition_from_row(row: asyncpg.Record) -> PropertyDefinition:
    return PropertyDefinition(
        id=row["id"], object_type=ObjectType(row["object_type"]), name=row["name"], label=row["label"],
        type=PropertyType(row["type"]), options=tuple(row["options"]), description=row["description"],
    )  # fmt: skip


async def insert_definition(
    conn: Conn, object_type: ObjectType, name: str, label: str, type: PropertyType,
    options: Sequence[str], description: str | None, created_by: int,
) -> PropertyDefinition:  # fmt: skip
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                f"""
                INSERT INTO property_definitions (object_type, name, label, type, options, description, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}
                """,  # noqa: S608
                object_type.value, name, label, type.value, list(options), description, created_by,
            )  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != NAME_CONSTRAINT:
            raise
        existing = await conn.fetchval(
            "SELECT id FROM property_definitions WHERE object_type = $1 AND name = $2",
            object_type.value,
            name,
        )
        raise Duplicate("property", "name", existing) from exc
    assert row is not None
    return definition_from_row(row)


async def list_definitions(conn: Executor, object_type: ObjectType) -> list[PropertyDefinition]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM property_definitions WHERE object_type = $1 ORDER BY name",  # noqa: S608
        object_type.value,
    )
    return [definition_from_row(r) for r in rows]


async def get_definitions(conn: Executor, ids: Sequence[int]) -> list[PropertyDefinition]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM property_definitions WHERE id = ANY($1)",  # noqa: S608
        list(ids),
    )
    return [definition_from_row(r) for r in rows]
