"""Record lists, the board and search: filtered, scoped, keyset-paginated."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from db import board as board_store
from db import pipelines as pipeline_store
from db import records as record_store
from db.filters import keyset_sql, order_sql, where_sql
from domain import filters
from domain.codes import RuleCode
from domain.filters import FilterGroups, Kind, Sort, parse_filter_groups, parse_sort
from domain.limits import ID_MAX, BadInput, check_datetime, check_text, parse_id
from domain.records import ObjectType, Pipeline, Record, Stage
from domain.visibility import visible_owner_ids

from .context import Context

RawGroups = Sequence[Sequence[Mapping[str, object]]] | None
MAX_PER_STAGE = 200


@dataclass(frozen=True)
class Page:
    records: list[Record]  # up to first + 1, in the order fetched
    has_next: bool
    sort: Sort
    count: Callable[[], Awaitable[int]]


def sort_key(sort: Sort, record: Record) -> list[object]:
    if sort.column == "id":
        return [None, record.id]
    value = (
        getattr(record, sort.column)
        if sort.column in ("created_at", "updated_at", "last_activity_date", "last_contacted", "owner_id")
        else record.get(sort.column)
    )
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    return [value, record.id]


def sort_key_column(sort: Sort) -> str:
    """The record column sort_key reads besides the id."""
    return "id" if sort.column == "id" else sort.column


def decode_key(sort: Sort, key: Sequence[Any], argument: str = "after") -> tuple[object, int]:
    """A cursor's (sort value, id), typed as the sort column is; BAD_CURSOR for anything else."""
    bad = BadInput(RuleCode.BAD_CURSOR, "the cursor is not one this list gave out", (argument,))
    if len(key) != 2 or type(key[1]) is not int or not 0 < key[1] <= ID_MAX:
        raise bad
    value = key[0]
    try:
        if value is not None:
            if sort.kind is Kind.DATETIME:
                value = check_datetime(datetime.fromisoformat(str(value)))
            elif sort.kind is Kind.NUMBER:
                value = Decimal(str(value))
                if not value.is_finite() or abs(value) >= 10**18:
                    raise bad
            elif sort.kind is Kind.ID:
                value = parse_id(value)
            elif sort.kind is Kind.BOOL:
                if type(value) is not bool:
                    raise bad
            elif isinstance(value, str):
                check_text(value, ("after",))
            elif sort.kind is not Kind.CUSTOM or (isinstance(value, float) and not math.isfinite(value)):
                raise bad
    except (ValueError, ArithmeticError):
        raise bad from None
    return value, key[1]


def scoped(
    ctx: Context, groups: FilterGroups, first_param: int, object_type: ObjectType = ObjectType.DEAL
) -> tuple[str, list[object]]:
    """The filter's SQL AND the viewer's scope (plus deals awaiting the viewer's approval), over alias r."""
    where, args = where_sql(groups, "r", first_param)
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    if owners is None:
        return where, args
    args.append(sorted(owners))
    scope = f"r.owner_id = ANY(${first_param + len(args) - 1}::bigint[])"
    if object_type is ObjectType.DEAL:
        args.append(ctx.me.id)
        scope = f"({scope} OR {record_store.awaiting_approver_sql(first_param + len(args) - 1)})"
    return f"{where} AND {scope}", args


def _filter_type(object_type: ObjectType) -> filters.ObjectType:
    return filters.ObjectType(object_type.value)


async def list_records(
    ctx: Context,
    object_type: ObjectType,
    raw_groups: RawGroups,
    *,
    first: int,
    after: Sequence[Any] | None,
    sort_property: str | None = None,
    sort_direction: str = "DESC",
    backward: bool = False,
) -> Page:
    """Up to first+1 records past the cursor (`after`), in the list's order; `backward`: before it,
    nearest first (the caller turns them back)."""
    groups = parse_filter_groups(_filter_type(object_type), raw_groups)
    sort = parse_sort(_filter_type(object_type), sort_property, sort_direction)
    where, args = scoped(ctx, groups, 1, object_type)
    count_where, count_args = where, list(args)
    if after is not None:
        key = decode_key(sort, after, "before" if backward else "after")
        keyset, more = keyset_sql(sort, "r", key, len(args) + 1, backward)
        where, args = f"{where} AND {keyset}", [*args, *more]
    order = order_sql(sort, "r", backward)
    rows = await record_store.list_records(
        ctx.pool, object_type, where=where, args=args, order=order, limit=first + 1
    )

    async def count() -> int:
        return await record_store.count_records(ctx.pool, object_type, where=count_where, args=count_args)

    return Page(rows, len(rows) > first, sort, count)


@dataclass(frozen=True)
class Column:
    stage: Stage
    total_count: int
    total_amount: Decimal
    deals: list[Record]
    has_next: bool


@dataclass(frozen=True)
class Board:
    pipeline: Pipeline
    columns: list[Column]
    sort: Sort


async def board(
    ctx: Context,
    pipeline_id: int,
    raw_groups: RawGroups,
    per_stage: int,
    deal_columns: Collection[str] | None = None,
) -> Board:
    """Three statements: the pipeline, per-stage totals, and each stage's first deals (with
    `deal_columns`, only those of the deals are read)."""
    if not 0 <= per_stage <= MAX_PER_STAGE:
        raise BadInput(RuleCode.INVALID, f"perStage must be between 0 and {MAX_PER_STAGE}", ("perStage",))
    pipeline = await pipeline_store.get_pipeline(ctx.pool, pipeline_id)
    groups = parse_filter_groups(filters.ObjectType.DEAL, raw_groups)
    where, args = scoped(ctx, groups, 2)
    totals = await board_store.stage_totals(ctx.pool, pipeline_id, where=where, args=args)
    firsts = await board_store.first_deals(
        ctx.pool, pipeline_id, per_stage, where=where, args=args, columns=deal_columns
    )
    columns = []
    for stage in pipeline.stages:
        n, amount = totals.get(stage.id, (0, Decimal(0)))
        deals = firsts.get(stage.id, [])
        columns.append(Column(stage, n, amount, deals[:per_stage], len(deals) > per_stage))
    return Board(pipeline, columns, parse_sort(filters.ObjectType.DEAL))
