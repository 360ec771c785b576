"""The quotes list: filtered by status, deal, creator and approver, scoped, keyset-paginated (seed 001)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from db import quotes as quote_store
from db.filters import keyset_sql, order_sql, where_sql
from domain.filters import Sort, parse_filter_groups
from domain.quote_lists import LIST_CATALOG, parse_quote_sort
from domain.quotes import Quote, QuoteStatus
from domain.visibility import visible_owner_ids

from .context import Context
from .lists import RawGroups, decode_key


@dataclass(frozen=True)
class QuotePage:
    quotes: list[Quote]  # up to first + 1, in the order fetched
    has_next: bool
    sort: Sort
    count: Callable[[], Awaitable[int]]


def sort_key(sort: Sort, quote: Quote) -> list[object]:
    """The cursor of a quote in a list sorted by `sort`: its sort value (columns are the quote's
    attribute names, the stored total its computed one) and its id."""
    if sort.column == "id":
        return [None, quote.id]
    value: object = quote.totals.total if sort.column == "total" else getattr(quote, sort.column)
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    elif isinstance(value, QuoteStatus):
        value = value.value
    return [value, quote.id]


async def list_quotes(
    ctx: Context,
    raw_groups: RawGroups,
    *,
    first: int,
    after: Sequence[Any] | None,
    sort_property: str | None = None,
    sort_direction: str = "DESC",
    backward: bool = False,
) -> QuotePage:
    """Quotes of deals in the viewer's scope, and those awaiting the viewer's approval (DESIGN 2):
    "awaiting my approval" is status EQ PENDING_APPROVAL AND approverId EQ <me>."""
    groups = parse_filter_groups("QUOTE", raw_groups, LIST_CATALOG)
    sort = parse_quote_sort(sort_property, sort_direction)
    where, args = where_sql(groups, "q", 1)
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    args += [None if owners is None else sorted(owners), ctx.me.id]
    where = f"{where} AND {quote_store.visible_sql(len(args) - 1, len(args))}"
    count_where, count_args = where, list(args)
    if after is not None:
        key = decode_key(sort, after, "before" if backward else "after")
        keyset, more = keyset_sql(sort, "q", key, len(args) + 1, backward)
        where, args = f"{where} AND {keyset}", [*args, *more]
    rows = await quote_store.list_quotes(
        ctx.pool, where=where, args=args, order=order_sql(sort, "q", backward), limit=first + 1
    )

    async def count() -> int:
        return await quote_store.count_quotes(ctx.pool, where=count_where, args=count_args)

    return QuotePage(rows, len(rows) > first, sort, count)
