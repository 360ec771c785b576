"""The quotes list as a connection: filter groups, a sort and keyset cursors (seed 001)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from domain.quotes import Quote as DomainQuote
from resolvers import quote_lists

from .info import Info
from .pagination import Connection, connection, decode_cursor, page_size
from .record_queries import FilterGroup, SortInput, raw_groups

T = TypeVar("T")


async def quote_page(
    info: Info,
    filter_groups: list[FilterGroup] | None,
    first: int | None,
    after: str | None,
    sort: SortInput | None,
    make: Callable[[DomainQuote], T],
) -> Connection[T]:
    size = page_size(first)
    page = await quote_lists.list_quotes(
        info.context,
        raw_groups(filter_groups),
        first=size,
        after=decode_cursor(after),
        sort_property=sort.property if sort else None,
        sort_direction=sort.direction if sort else "DESC",
    )
    rows = page.quotes + (
        [page.quotes[-1]] if page.has_next else []
    )  # connection() reads has_next from length
    return connection(rows, size, make, lambda q: quote_lists.sort_key(page.sort, q), page.count)
