"""Search: names, emails, domains and subjects, scoped like lists and current as of the last commit."""

from __future__ import annotations

from collections.abc import Sequence

from db import search as search_store
from domain.records import ObjectType, Record
from domain.visibility import visible_owner_ids

from .context import Context

MAX_PER_TYPE = 100
MAX_QUERY_LENGTH = 200


async def search(ctx: Context, query: str, types: Sequence[ObjectType] | None, first: int) -> list[Record]:
    """The best matches of each type (up to `first` each), best first; ValueError for a blank query."""
    text = query.strip()
    if not text:
        raise ValueError("query must not be empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise ValueError(f"query must be at most {MAX_QUERY_LENGTH} characters")
    if not 1 <= first <= MAX_PER_TYPE:
        raise ValueError(f"first must be between 1 and {MAX_PER_TYPE}")
    wanted = list(ObjectType) if types is None else sorted(set(types))
    if not wanted:
        return []
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    return await search_store.search_records(ctx.pool, text, wanted, owners, first, ctx.me.id)
