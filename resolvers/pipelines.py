"""Pipelines: created by super admins with ordered stages."""

from __future__ import annotations

from collections.abc import Sequence

from db import pipelines as pipeline_store
from domain.codes import RuleCode
from domain.records import Pipeline, StageKind

from .context import Context
from .result import Ok, Refused, Result, use_case


@use_case
async def create_pipeline(
    ctx: Context, label: str, stages: Sequence[tuple[str, float, StageKind]]
) -> Result[Pipeline]:
    if not label.strip():
        return Refused.one(RuleCode.INVALID, "label must not be empty", ("label",))
    if not stages:
        return Refused.one(RuleCode.INVALID, "a pipeline needs at least one stage", ("stages",))
    for i, (stage_label, probability, _) in enumerate(stages):
        if not stage_label.strip():
            return Refused.one(RuleCode.INVALID, "stage label must not be empty", ("stages", str(i), "label"))
        if not 0 <= probability <= 1:
            return Refused.one(
                RuleCode.INVALID,
                f"probability must be between 0 and 1, not {probability}",
                ("stages", str(i), "probability"),
            )
    async with ctx.pool.acquire() as conn, conn.transaction():
        pipeline = await pipeline_store.insert_pipeline(
            conn, label.strip(), [(s[0].strip(), s[1], s[2]) for s in stages]
        )
    return Ok(pipeline)
