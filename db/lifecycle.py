"""Lifecycle settings and the set-based stage changes automation makes (one statement per batch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.lifecycle import ORDER, LifecycleSettings, LifecycleStage
from domain.records import ChangeSource, ObjectType

from .pool import Conn, Executor
from .records import TABLES

STAGES = [s.value for s in ORDER]


@dataclass(frozen=True, slots=True)
class Advanced:
    id: int
    old: str | None
    owner_id: int | None  # rank = position in display order, as domain.lifecycle.rank


async def get_settings(conn: Executor) -> LifecycleSettings:
    row = await conn.fetchrow(
        """
        SELECT default_stage_on_create, stage_on_deal_created, stage_on_deal_won, sync_company_to_contacts
          FROM lifecycle_settings
        """
    )
    assert row is not None

    def stage(value: str | None) -> LifecycleStage | None:
        return LifecycleStage(value) if value else None

    return LifecycleSettings(
        default_stage_on_create=stage(row["default_stage_on_create"]),
        stage_on_deal_created=stage(row["stage_on_deal_created"]),
        stage_on_deal_won=stage(row["stage_on_deal_won"]),
        sync_company_to_contacts=row["sync_company_to_contacts"],
    )


async def save_settings(conn: Conn, s: LifecycleSettings) -> None:
    await conn.execute(
        """
        UPDATE lifecycle_settings SET default_stage_on_create = $1, stage_on_deal_created = $2,
               stage_on_deal_won = $3, sync_company_to_contacts = $4, updated_at = now()
        """,
        s.default_stage_on_create,
        s.stage_on_deal_created,
        s.stage_on_deal_won,
        s.sync_company_to_contacts,
    )


# Forward only (seed 002, applied to a whole set; tests/db/test_lifecycle_sql.py): an empty stage takes the
# new one; otherwise only a stage earlier in display order moves.
FORWARD = "(r.lifecycle_stage IS NULL OR array_position($2::text[], r.lifecycle_stage) < array_position($2::text[], $3))"


async def advance(
    conn: Conn,
    object_type: ObjectType,
    ids: Sequence[int],
    stage: LifecycleStage,
    *,
    changed_by: int | None,
    won_at: datetime | None = None,
) -> list[Advanced]:
    """Move records forward to `stage` (and, for a won deal, set close date and days to close);
    record history with source AUTOMATION. Returns the records that moved."""
    table = TABLES[object_type].name
    rows = await conn.fetch(
        f"""
        WITH target AS (
            SELECT r.id, r.lifecycle_stage AS old, r.close_date AS old_close
              FROM {table} r
             WHERE r.id = ANY($1) AND r.deleted_at IS NULL AND {FORWARD}
             ORDER BY r.id FOR UPDATE),
        changed AS (
            UPDATE {table} r SET lifecycle_stage = $3, version = r.version + 1, updated_at = now(),
                   close_date = coalesce($4, r.close_date),
                   days_to_close = CASE WHEN $4::timestamptz IS NULL THEN r.days_to_close
                                        ELSE greatest(0, extract(day FROM $4::timestamptz - r.created_at))::int END
              FROM target WHERE r.id = target.id
            RETURNING r.id, target.old, r.owner_id),
        history AS (
            INSERT INTO record_changes (object_type, object_id, changes, source, changed_by)
            SELECT $5, id, json_build_object('lifecycleStage', json_build_array(old, $3::text)), $6, $7 FROM changed)
        SELECT id, old, owner_id FROM changed ORDER BY id
        """,  # noqa: S608 (table from TABLES)
        list(ids),
        STAGES,
        stage.value,
        won_at,
        object_type.value,
        ChangeSource.AUTOMATION.value,
        changed_by,
    )
    return [Advanced(r["id"], r["old"], r["owner_id"]) for r in rows]


async def primary_contacts(conn: Executor, company_id: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT contact_id FROM contact_companies WHERE company_id = $1 AND is_primary ORDER BY contact_id",
        company_id,
    )
    return [r["contact_id"] for r in rows]


async def first_deal_records(conn: Executor, object_type: ObjectType, ids: Sequence[int]) -> list[int]:
    """Of these contacts or companies, those with exactly one (live) deal: the one just associated."""
    link, column = (
        ("deal_contacts", "contact_id")
        if object_type is ObjectType.CONTACT
        else ("deal_companies", "company_id")
    )
    rows = await conn.fetch(
        f"""
        SELECT l.{column} AS id FROM {link} l JOIN deals d ON d.id = l.deal_id AND d.deleted_at IS NULL
         WHERE l.{column} = ANY($1) GROUP BY l.{column} HAVING count(*) = 1
        """,  # noqa: S608 (names from a fixed pair)
        list(ids),
    )
    return [r["id"] for r in rows]
