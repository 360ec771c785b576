"""Contacts, companies, deals and tickets: one repository over four tables of the same shape."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from domain.limits import check_properties
from domain.records import ChangeSource, ObjectType, PropertyChange, Record

from .errors import Duplicate, NotFound, VersionConflict
from .pool import Conn, Executor


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    dedupe: str | None = None


TABLES: Mapping[ObjectType, Table] = {
    ObjectType.CONTACT: Table(
        "contacts",
        (
            "email",
            "first_name",
            "last_name",
            "company_name",
            "lifecycle_stage",
            "close_date",
            "days_to_close",
        ),
        "email",
    ),
    ObjectType.COMPANY: Table(
        "companies", ("name", "domain", "lifecycle_stage", "close_date", "days_to_close"), "domain"
    ),
    ObjectType.DEAL: Table(
        "deals",
        ("name", "amount", "currency", "pipeline_id", "stage_id", "close_date", "latest_approval_status"),
    ),
    ObjectType.TICKET: Table("tickets", ("subject",)),
}
COMMON = (
    "id",
    "owner_id",
    "properties",
    "created_at",
    "updated_at",
    "last_activity_date",
    "last_contacted",
    "version",
)


def select_list(object_type: ObjectType, alias: str = "r", columns: Collection[str] | None = None) -> str:
    """The record's columns in record_from_row's order; with `columns`, only those (and id) are read
    and the others are NULL in their places: a record read so holds None for them."""
    every = (*COMMON, *TABLES[object_type].columns)
    if columns is None:
        return ", ".join(f"{alias}.{c}" for c in every)
    return ", ".join(f"{alias}.{c}" if c == "id" or c in columns else f"NULL AS {c}" for c in every)


def record_from_row(object_type: ObjectType, row: asyncpg.Record, at: int = 0) -> Record:
    """The record whose select_list columns start at position `at` of the row (by position: the
    record's columns are read for every row of every list, and names cost a lookup each)."""
    columns = TABLES[object_type].columns
    values = row[at : at + len(COMMON) + len(columns)]
    record_id, owner_id, properties, created_at, updated_at, last_activity, last_contacted, version = values[
        :8
    ]
    return Record(
        type=object_type,
        id=record_id,
        values=dict(zip(columns, values[8:], strict=True)),
        owner_id=owner_id,
        properties=properties,
        created_at=created_at,
        updated_at=updated_at,
        last_activity_date=last_activity,
        last_contacted=last_contacted,
        version=version,
    )


def record_from_named_row(object_type: ObjectType, row: asyncpg.Record) -> Record:
    """The record of a row whose columns are not select_list's, read by name (search's union)."""
    return Record(
        type=object_type,
        id=row["id"],
        values={c: row[c] for c in TABLES[object_type].columns},
        owner_id=row["owner_id"],
        properties=row["properties"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_activity_date=row["last_activity_date"],
        last_contacted=row["last_contacted"],
        version=row["version"],
    )


def _check_columns(object_type: ObjectType, values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(TABLES[object_type].columns)
    assert not unknown, f"not columns of {object_type}: {unknown}"


async def find_duplicate(
    conn: Executor, object_type: ObjectType, value: str | None, exclude_id: int | None = None
) -> int | None:
    table = TABLES[object_type]
    if table.dedupe is None or not value:
        return None
    found: int | None = await conn.fetchval(
        f"""
        SELECT id FROM {table.name}
         WHERE lower({table.dedupe}) = lower($1) AND deleted_at IS NULL AND ($2::bigint IS NULL OR id <> $2)
        """,  # noqa: S608 (names from TABLES)
        value,
        exclude_id,
    )
    return found


async def insert_record(
    conn: Conn,
    object_type: ObjectType,
    values: Mapping[str, Any],
    *,
    owner_id: int | None,
    properties: Mapping[str, Any],
) -> Record:
    _check_columns(object_type, values)
    check_properties(properties)  # DESIGN 3: every writer, whatever it merged
    table = TABLES[object_type]
    columns = [*values, "owner_id", "properties"]
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    try:
        async with conn.transaction():  # a savepoint, so a lost dedupe race can name the winner
            row = await conn.fetchrow(
                f"""
                INSERT INTO {table.name} AS r ({", ".join(columns)}) VALUES ({params})
                RETURNING {select_list(object_type)}
                """,  # noqa: S608 (names from TABLES)
                *values.values(),
                owner_id,
                dict(properties),
            )
    except asyncpg.UniqueViolationError as exc:
        assert table.dedupe is not None
        existing = await find_duplicate(conn, object_type, values.get(table.dedupe))
        if existing is None:
            raise
        raise Duplicate(object_type.value.lower(), table.dedupe, existing) from exc
    assert row is not None
    return record_from_row(object_type, row)


async def lock_record(
    conn: Conn, object_type: ObjectType, record_id: int, owners: frozenset[int] | None
) -> Record:
    row = await conn.fetchrow(
        f"""
        SELECT {select_list(object_type)} FROM {TABLES[object_type].name} r
         WHERE r.id = $1 AND r.deleted_at IS NULL AND ($2::bigint[] IS NULL OR r.owner_id = ANY($2))
           FOR UPDATE
        """,  # noqa: S608
        record_id,
        None if owners is None else list(owners),
    )
    if row is None:
        raise NotFound(object_type.value.lower(), record_id)
    return record_from_row(object_type, row)


def check_version(record: Record, expected: int | None) -> None:
    if expected is not None and expected != record.version:
        raise VersionConflict(record.type.value.lower(), record.id, expected, record.version)


async def update_record(
    conn: Conn,
    object_type: ObjectType,
    record_id: int,
    values: Mapping[str, Any],
    *,
    owner_id: int | None = None,
    set_owner: bool = False,
    properties: Mapping[str, Any] | None = None,
) -> Record:
    _check_columns(object_type, values)
    assignments = [f"{c} = ${i}" for i, c in enumerate(values, start=2)]
    args: list[Any] = [record_id, *values.values()]
    if set_owner:
        args.append(owner_id)
        assignments.append(f"owner_id = ${len(args)}")
    if properties is not None:
        check_properties(properties)  # DESIGN 3: the merged whole, not only what this change sent
        args.append(dict(properties))
        assignments.append(f"properties = ${len(args)}")
    assignments += ["version = r.version + 1", "updated_at = now()"]
    row = await conn.fetchrow(
        f"""
        UPDATE {TABLES[object_type].name} r SET {", ".join(assignments)}
         WHERE r.id = $1 RETURNING {select_list(object_type)}
        """,  # noqa: S608
        *args,
    )
    if row is None:
        raise NotFound(object_type.value.lower(), record_id)
    return record_from_row(object_type, row)


async def soft_delete(conn: Conn, object_type: ObjectType, record_id: int) -> None:
    await conn.execute(
        f"UPDATE {TABLES[object_type].name} SET deleted_at = now(), version = version + 1 WHERE id = $1",  # noqa: S608
        record_id,
    )


# A deal awaiting an approver's decision is visible to that approver whatever their scope, and stays
# visible with its approval thread while the approval is open: pending or changes requested (DESIGN 2).
AWAITING_APPROVER = """(r.latest_approval_status IN ('PENDING', 'CHANGES_REQUESTED') AND EXISTS (
    SELECT 1 FROM approval_processes p JOIN approval_process_approvers pa ON pa.process_id = p.id
     WHERE p.pipeline_id = r.pipeline_id AND p.enabled AND pa.user_id = ${n}))"""


def awaiting_approver_sql(param: int) -> str:
    return AWAITING_APPROVER.replace("${n}", f"${param}")


async def list_deals_awaiting(conn: Executor, approver_id: int) -> list[int]:
    rows = await conn.fetch(
        f"SELECT r.id FROM deals r WHERE r.deleted_at IS NULL AND {awaiting_approver_sql(1)}",  # noqa: S608
        approver_id,
    )
    return [r["id"] for r in rows]


async def get_records(
    conn: Executor,
    object_type: ObjectType,
    ids: Sequence[int],
    owners: frozenset[int] | None,
    approver_id: int | None = None,
    columns: Collection[str] | None = None,
) -> list[Record]:
    approver = (
        f" OR ($3::bigint IS NOT NULL AND {awaiting_approver_sql(3)})"
        if object_type is ObjectType.DEAL
        else ""
    )
    rows = await conn.fetch(
        f"""
        SELECT {select_list(object_type, columns=columns)} FROM {TABLES[object_type].name} r
         WHERE r.id = ANY($1) AND r.deleted_at IS NULL
           AND ($2::bigint[] IS NULL OR r.owner_id = ANY($2){approver})
        """,  # noqa: S608
        list(ids),
        None if owners is None else list(owners),
        *([approver_id] if object_type is ObjectType.DEAL else []),
    )
    return [record_from_row(object_type, r) for r in rows]


async def list_records(
    conn: Executor,
    object_type: ObjectType,
    *,
    where: str,
    args: Sequence[Any],
    order: str,
    limit: int,
) -> list[Record]:
    """`where` and `order` come from db.filters, built from whitelisted columns only."""
    rows = await conn.fetch(
        f"""
        SELECT {select_list(object_type)} FROM {TABLES[object_type].name} r
         WHERE r.deleted_at IS NULL AND ({where}) ORDER BY {order} LIMIT {int(limit)}
        """,  # noqa: S608
        *args,
    )
    return [record_from_row(object_type, r) for r in rows]


async def count_records(conn: Executor, object_type: ObjectType, *, where: str, args: Sequence[Any]) -> int:
    value: int = await conn.fetchval(
        f"SELECT count(*) FROM {TABLES[object_type].name} r WHERE r.deleted_at IS NULL AND ({where})",  # noqa: S608
        *args,
    )
    return value


HistoryRow = tuple[int, str, str | None, str | None]  # (object id, property name, old value, new value)
Changes = dict[str, tuple[str | None, str | None]]  # a change's properties: name -> (old, new), in order


def per_change(rows: Iterable[HistoryRow]) -> list[tuple[int, Changes]]:
    """History rows as changes: each run of rows of one record is one change (migration 0021)."""
    changes: list[tuple[int, Changes]] = []
    for object_id, name, old, new in rows:
        if not changes or changes[-1][0] != object_id or name in changes[-1][1]:
            changes.append((object_id, {}))
        changes[-1][1][name] = (old, new)
    return changes


async def insert_history(
    conn: Conn,
    object_type: ObjectType,
    rows: Sequence[HistoryRow],
    *,
    source: ChangeSource,
    changed_by: int | None,
) -> None:
    """rows: (object_id, property name, old value, new value); a record's rows make one change."""
    await insert_changes(conn, object_type, per_change(rows), source=source, changed_by=changed_by)


async def insert_changes(
    conn: Conn,
    object_type: ObjectType,
    changes: Sequence[tuple[int, Changes]],
    *,
    source: ChangeSource,
    changed_by: int | None,
) -> None:
    """changes: (object_id, {property name: (old value, new value)}), a history row each."""
    if not changes:
        return
    await conn.execute(
        """
        INSERT INTO record_changes (object_type, object_id, changes, source, changed_by)
        SELECT $1, o, c, $4, $5 FROM unnest($2::bigint[], $3::json[]) AS t (o, c)
        """,
        object_type.value,
        [o for o, _ in changes],
        [c for _, c in changes],
        source.value,
        changed_by,
    )


async def list_history(
    conn: Executor, object_type: ObjectType, object_id: int, name: str
) -> list[PropertyChange]:
    rows = await conn.fetch(
        """
        SELECT name, old_value, new_value, source, changed_by, changed_at FROM property_history
         WHERE object_type = $1 AND object_id = $2 AND name = $3 ORDER BY id DESC, position DESC
        """,
        object_type.value,
        object_id,
        name,
    )
    return [
        PropertyChange(
            r["name"],
            r["old_value"],
            r["new_value"],
            ChangeSource(r["source"]),
            r["changed_by"],
            r["changed_at"],
        )
        for r in rows
    ]


async def lock_pipeline_deals(conn: Conn, pipeline_id: int) -> None:
    await conn.execute("SELECT id FROM deals WHERE pipeline_id = $1 ORDER BY id FOR UPDATE", pipeline_id)


async def assign_owner(
    conn: Conn, object_type: ObjectType, ids: Sequence[int], owner_id: int | None
) -> list[tuple[Record, Record]]:
    """Set one owner on many records in one statement; (before, after) of those whose owner changed."""
    table = TABLES[object_type].name
    rows = await conn.fetch(
        f"""
        WITH target AS (
            SELECT r.id, r.owner_id AS old_owner, r.version AS old_version, r.updated_at AS old_updated
              FROM {table} r WHERE r.id = ANY($1) AND r.deleted_at IS NULL
               AND r.owner_id IS DISTINCT FROM $2 ORDER BY r.id FOR UPDATE)
        UPDATE {table} r SET owner_id = $2, version = r.version + 1, updated_at = now()
          FROM target WHERE r.id = target.id
        RETURNING {select_list(object_type)}, target.old_owner, target.old_version, target.old_updated
        """,  # noqa: S608 (names from TABLES)
        list(ids),
        owner_id,
    )
    pairs = []
    for row in rows:
        after = record_from_row(object_type, row)
        before = replace(
            after, owner_id=row["old_owner"], version=row["old_version"], updated_at=row["old_updated"]
        )
        pairs.append((before, after))
    return pairs


async def lock_many(
    conn: Conn, object_type: ObjectType, ids: Sequence[int], owners: frozenset[int] | None
) -> list[Record]:
    rows = await conn.fetch(
        f"""
        SELECT {select_list(object_type)} FROM {TABLES[object_type].name} r
         WHERE r.id = ANY($1) AND r.deleted_at IS NULL AND ($2::bigint[] IS NULL OR r.owner_id = ANY($2))
         ORDER BY r.id FOR UPDATE
        """,  # noqa: S608
        list(ids),
        None if owners is None else list(owners),
    )
    return [record_from_row(object_type, r) for r in rows]
