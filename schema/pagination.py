"""Relay connections with keyset cursors; totalCount is counted only when asked for."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

from domain.codes import RuleCode
from domain.limits import BadInput, parse_number

T = TypeVar("T")

MAX_PAGE = 200
DEFAULT_PAGE = 50
FIRST = strawberry.argument(
    description=f"Page forward: how many items to return from the start (or from after), 0 to {MAX_PAGE}; "
    f"with neither first nor last, {DEFAULT_PAGE}. Not with last."
)
AFTER = strawberry.argument(
    description="A cursor from an earlier page (its pageInfo.endCursor): return the items after it. "
    "Paging forward, pageInfo.hasPreviousPage is always false (the Relay spec allows it). Not with before."
)
LAST = strawberry.argument(
    description=f"Page backward: how many items to return from the end (or from before), 0 to {MAX_PAGE}, "
    "still in the list's order. Not with first."
)
BEFORE = strawberry.argument(
    description="A cursor from an earlier page (its pageInfo.startCursor): return the items before it, "
    "in the list's order. Paging backward, pageInfo.hasNextPage is always false (the Relay spec allows "
    "it). Not with after."
)


class BadCursor(BadInput):
    def __init__(self, cursor: str, argument: str = "after") -> None:
        shown = cursor if len(cursor) <= 40 else cursor[:40] + "…"
        super().__init__(RuleCode.BAD_CURSOR, f"{shown!r} is not a cursor this list gave out", (argument,))


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), default=str).encode()).decode()


def decode_cursor(cursor: str | None, argument: str = "after") -> list[Any] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, RecursionError):
        raise BadCursor(cursor, argument) from None
    if not isinstance(key, list) or not all(isinstance(k, str | int | float | None) for k in key):
        raise BadCursor(cursor, argument)
    return key


def page_size(first: int | None, argument: str = "first") -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise BadInput(RuleCode.INVALID, f"{argument} must be between 0 and {MAX_PAGE}", (argument,))
    return first


@dataclass(frozen=True)
class Window:
    """Which page a client asked for: `size` items after the cursor, or before it when `backward`
    (fetched in reverse order, nearest the cursor first, and turned back before they are shown)."""

    size: int
    cursor: list[Any] | None
    backward: bool = False

    @property
    def cursor_id(self) -> int | None:
        """The id a list ordered by id (newest first) continues from."""
        if self.cursor is None:
            return None
        argument = "before" if self.backward else "after"
        shown = encode_cursor(self.cursor)
        if len(self.cursor) != 1:
            raise BadCursor(shown, argument)
        number = parse_number(self.cursor[0])
        if number is None:
            raise BadCursor(shown, argument)
        return number


def window(
    first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None
) -> Window:
    """The one reading of first/after/last/before for every connection (Relay cursor connections)."""
    if first is not None and last is not None:
        raise BadInput(
            RuleCode.INVALID,
            "first and last cannot be given together: page with first/after or last/before",
            ("last",),
        )
    if after is not None and before is not None:
        raise BadInput(
            RuleCode.INVALID,
            "after and before cannot be given together: page with first/after or last/before",
            ("before",),
        )
    if last is not None or before is not None:
        if first is not None or after is not None:
            name = "first" if first is not None else "after"
            raise BadInput(RuleCode.INVALID, f"before pages backward: give it with last, not {name}", (name,))
        return Window(page_size(last, "last"), decode_cursor(before, "before"), backward=True)
    return Window(page_size(first), decode_cursor(after))


@strawberry.type(description="Where a page sits in its list, and the cursors to page on from it.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Paging forward (first/after): whether more items follow this page. Paging backward: false."
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Paging backward (last/before): whether more items come before this page. Paging forward: false.",
    )
    start_cursor: str | None = strawberry.field(
        default=None, description="The first item's cursor, to pass as before; null for an empty page."
    )
    end_cursor: str | None = strawberry.field(
        default=None, description="The last item's cursor, to pass as after; null for an empty page."
    )


@strawberry.type(description="One item of a page and its position in the list.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    cursor: str = strawberry.field(
        description="The item's position: pass it as after (or before) to continue the list from here."
    )


@strawberry.type(
    description="One page of a list (Relay's cursor connections): its items in the list's order, how to"
    " reach the pages around it, and the list's total."
)
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items, in the list's order.")
    page_info: PageInfo = strawberry.field(
        description="Whether more pages follow or precede, and their cursors."
    )
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list has, across pages (counted when asked for).")
    async def total_count(self) -> int:
        return await self.count()


def connection(
    rows: Sequence[Any],
    page: Window | int,
    node: Callable[[Any], T],
    key: Callable[[Any], Sequence[Any]],
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """Build a page from up to size+1 rows fetched past the cursor, in the window's direction: the
    extra row says more items lie that way; backward rows are turned back into the list's order."""
    found = page if isinstance(page, Window) else Window(page, None)
    more = len(rows) > found.size
    shown = list(rows[: found.size])
    if found.backward:
        shown.reverse()
    edges = [Edge(node=node(r), cursor=encode_cursor(key(r))) for r in shown]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more and not found.backward,
            has_previous_page=more and found.backward,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count=count,
    )
