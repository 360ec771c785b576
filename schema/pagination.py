"""Relay connections with keyset cursors; totalCount is counted only when asked for."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

T = TypeVar("T")

MAX_PAGE = 200


class BadCursor(ValueError):
    pass


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), default=str).encode()).decode()


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise BadCursor(f"invalid cursor {cursor!r}") from exc
    if not isinstance(key, list):
        raise BadCursor(f"invalid cursor {cursor!r}")
    return key


def page_size(first: int | None) -> int:
    if first is None:
        return 50
    if first < 0 or first > MAX_PAGE:
        raise ValueError(f"first must be between 0 and {MAX_PAGE}")
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
