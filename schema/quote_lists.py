"""The quotes list as a connection: filter groups, a sort and keyset cursors (seed 001)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from domain.quotes import Quote as DomainQuote
from resolvers import quote_lists

from .info import Info
from .pagination import Connection, Window, connection
from .record_queries import FilterGroup, SortInput, raw_groups

T = TypeVar("T")


async def quote_page(
    info: Info,
    filter_groups: list[FilterGroup] | None,
    page_window: Window,
    sort: SortInput | None,
    make: Callable[[DomainQuote], T],
) -> Connection[T]:
    page = await quote_lists.list_quotes(
        info.context,
        raw_groups(filter_groups),
        first=page_window.size,
        after=page_window.cursor,
        sort_property=sort.property if sort else None,
        sort_direction=sort.direction if sort else "DESC",
        backward=page_window.backward,
    )
    return connection(
        page.quotes, page_window, make, lambda q: quote_lists.sort_key(page.sort, q), page.count
    )
