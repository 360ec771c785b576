"""Search: names, emails, domains and subjects, scoped like lists and current as of the last commit."""

from __future__ import annotations

from collections.abc import Sequence

from db import search as search_store
from domain.codes import RuleCode
from domain.limits import BadInput
from domain.records import ObjectType, Record
from domain.visibility import visible_owner_ids

from .context import Context

MAX_PER_TYPE = 100
MAX_QUERY_LENGTH = 200


async def search(ctx: Context, query: str, types: Sequence[ObjectType] | None, first: int) -> list[Record]:
    """The best matches of each type (up to `first` each), best first; BadInput for a blank query."""
    text = query.strip()
    if not text:
        raise BadInput(RuleCode.INVALID, "query must not be empty", ("query",))
    if len(text) > MAX_QUERY_LENGTH:
        raise BadInput(RuleCode.INVALID, f"query must be at most {MAX_QUERY_LENGTH} characters", ("query",))
    if not 1 <= first <= MAX_PER_TYPE:
        raise BadInput(RuleCode.INVALID, f"first must be between 1 and {MAX_PER_TYPE}", ("first",))
    wanted = list(ObjectType) if types is None else sorted(set(types))
    if not wanted:
        return []
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    return await search_store.search_records(ctx.pool, text, wanted, owners, first, ctx.me.id)
