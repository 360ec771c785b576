"""Relay connections with keyset cursors; totalCount is counted only when asked for."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from domain.codes import RuleCode
from domain.limits import BadInput, parse_id

T = TypeVar("T")

MAX_PAGE = 200
FIRST = strawberry.argument(description=f"Page size: how many items to return, 0 to {MAX_PAGE}.")
AFTER = strawberry.argument(
    description="A cursor from an earlier page (its pageInfo.endCursor): return the items after it."
)


class BadCursor(BadInput):
    def __init__(self, cursor: str) -> None:
        shown = cursor if len(cursor) <= 40 else cursor[:40] + "…"
        super().__init__(RuleCode.BAD_CURSOR, f"{shown!r} is not a cursor this list gave out", ("after",))


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), default=str).encode()).decode()


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, RecursionError):
        raise BadCursor(cursor) from None
    if not isinstance(key, list) or not all(isinstance(k, str | int | float | None) for k in key):
        raise BadCursor(cursor)
    return key


def id_cursor(cursor: str | None) -> int | None:
    """The id a newest-first list by id continues below."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 1:
        raise BadCursor(str(cursor))
    try:
        return parse_id(key[0])
    except BadInput:
        raise BadCursor(str(cursor)) from None


def page_size(first: int | None) -> int:
    if first is None:
        return 50
    if first < 0 or first > MAX_PAGE:
        raise BadInput(RuleCode.INVALID, f"first must be between 0 and {MAX_PAGE}", ("first",))
    return first


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.count()


def connection(
    rows: Sequence[Any],
    first: int,
    node: Callable[[Any], T],
    key: Callable[[Any], Sequence[Any]],
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """Build a page from up to first+1 rows fetched past the cursor."""
    page = rows[:first]
    edges = [Edge(node=node(r), cursor=encode_cursor(key(r))) for r in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None),
        count=count,
    )
