"""Pipelines and their ordered stages."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from domain.records import Pipeline, Stage, StageKind

from .errors import NotFound
from .pool import Conn, Executor

STAGE_COLUMNS = "id, pipeline_id, label, display_order, probability, kind, is_approval_stage"


def stage_from_row(row: asyncpg.Record) -> Stage:
    return Stage(
        id=row["id"],
        pipeline_id=row["pipeline_id"],
        label=row["label"],
        display_order=row["display_order"],
        probability=row["probability"],
        kind=StageKind(row["kind"]),
        is_approval_stage=row["is_approval_stage"],
    )


def stage_from_values(values: tuple[object, ...]) -> Stage:
    """A stage from an anonymous record of STAGE_COLUMNS (asyncpg: a tuple in their order)."""
    return stage_from_row(dict(zip(STAGE_COLUMNS.split(", "), values, strict=True)))  # type: ignore[arg-type]


async def list_pipelines(conn: Executor, ids: Sequence[int] | None = None) -> list[Pipeline]:
    rows = await conn.fetch(
        "SELECT id, label FROM pipelines WHERE $1::bigint[] IS NULL OR id = ANY($1) ORDER BY id", ids
    )
    stages = await conn.fetch(
        f"""
        SELECT {STAGE_COLUMNS} FROM stages WHERE pipeline_id = ANY($1) ORDER BY pipeline_id, display_order
        """,  # noqa: S608
        [r["id"] for r in rows],
    )
    by_pipeline: dict[int, list[Stage]] = {r["id"]: [] for r in rows}
    for s in stages:
        by_pipeline[s["pipeline_id"]].append(stage_from_row(s))
    return [Pipeline(id=r["id"], label=r["label"], stages=tuple(by_pipeline[r["id"]])) for r in rows]


async def get_pipeline(conn: Executor, pipeline_id: int) -> Pipeline:
    found = await list_pipelines(conn, [pipeline_id])
    if not found:
        raise NotFound("pipeline", pipeline_id)
    return found[0]


async def insert_pipeline(conn: Conn, label: str, stages: Sequence[tuple[str, float, StageKind]]) -> Pipeline:
    pipeline_id = await conn.fetchval("INSERT INTO pipelines (label) VALUES ($1) RETURNING id", label)
    await conn.execute(
        """
        INSERT INTO stages (pipeline_id, label, display_order, probability, kind)
        SELECT $1, l, o - 1, p, k FROM unnest($2::text[], $3::float8[], $4::text[]) WITH ORDINALITY AS t (l, p, k, o)
        """,
        pipeline_id,
        [s[0] for s in stages],
        [s[1] for s in stages],
        [s[2].value for s in stages],
    )
    return await get_pipeline(conn, pipeline_id)


async def list_stages(conn: Executor, ids: Sequence[int]) -> list[Stage]:
    rows = await conn.fetch(f"SELECT {STAGE_COLUMNS} FROM stages WHERE id = ANY($1)", list(ids))  # noqa: S608
    return [stage_from_row(r) for r in rows]
