"""The deal board: per-stage totals and first deals in two statements, whatever the stage count."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from domain.records import ObjectType, Record

from .pool import Executor
from .records import record_from_row, select_list


async def stage_totals(
    conn: Executor, pipeline_id: int, *, where: str, args: Sequence[Any]
) -> dict[int, tuple[int, Decimal]]:
    """`where` comes from db.filters over alias r, its parameters numbered from $2."""
    rows = await conn.fetch(
        f"""
        SELECT r.stage_id, count(*) AS n, coalesce(sum(r.amount), 0) AS total
          FROM deals r
         WHERE r.pipeline_id = $1 AND r.deleted_at IS NULL AND ({where})
         GROUP BY r.stage_id
        """,  # noqa: S608
        pipeline_id,
        *args,
    )
    return {r["stage_id"]: (r["n"], r["total"]) for r in rows}


async def first_deals(
    conn: Executor,
    pipeline_id: int,
    per_stage: int,
    *,
    where: str,
    args: Sequence[Any],
    columns: Collection[str] | None = None,
) -> dict[int, list[Record]]:
    """Up to per_stage + 1 deals of each stage (the extra one tells whether more follow); with
    `columns`, only those are read (select_list)."""
    rows = await conn.fetch(
        f"""
        SELECT s.id AS column_stage_id, d.*
          FROM stages s
         CROSS JOIN LATERAL (
               SELECT {select_list(ObjectType.DEAL, columns=columns)} FROM deals r
                WHERE r.stage_id = s.id AND r.deleted_at IS NULL AND ({where})
                ORDER BY r.created_at DESC, r.id DESC
                LIMIT {int(per_stage) + 1}
         ) d
         WHERE s.pipeline_id = $1
        """,  # noqa: S608
        pipeline_id,
        *args,
    )
    by_stage: dict[int, list[Record]] = {}
    for row in rows:
        by_stage.setdefault(row["column_stage_id"], []).append(record_from_row(ObjectType.DEAL, row, at=1))
    return by_stage
