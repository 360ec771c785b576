"""What a list of quotes filters and sorts on: the quote catalog for filter groups (seed 001)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .filters import CUSTOM_PREFIX, Direction, FilterError, Kind, Property, Sort
from .quotes import QuoteStatus

QUOTE_STATUSES: tuple[str, ...] = tuple(QuoteStatus)
LIST_CATALOG: Mapping[str, Property] = MappingProxyType(
    {
        p.name: p
        for p in (
            Property("id", "id", Kind.ID, nullable=False, of=("Quote",)),
            Property("status", "status", Kind.ENUM, nullable=False, choices=QUOTE_STATUSES),
            Property("dealId", "deal_id", Kind.ID, nullable=False, of=("Deal",)),
            Property("createdById", "created_by", Kind.ID, nullable=False, of=("User",)),
            Property("approverId", "approver_id", Kind.ID, of=("User",)),
            Property("title", "title", Kind.TEXT, nullable=False),
            Property("currency", "currency", Kind.TEXT, nullable=False),
            Property("total", "total", Kind.NUMBER, nullable=False),
            Property("expiresAt", "expires_at", Kind.DATETIME),
            Property("publishedAt", "published_at", Kind.DATETIME),
            Property("signedAt", "signed_at", Kind.DATETIME),
            Property("createdAt", "created_at", Kind.DATETIME, nullable=False),
            Property("updatedAt", "updated_at", Kind.DATETIME, nullable=False),
        )
    }
)


def parse_quote_sort(property: str | None = None, direction: str = "DESC") -> Sort:
    """A sort on one standard quote property (createdAt when none is given), ties broken by id."""
    name = property or "createdAt"
    if name.startswith(CUSTOM_PREFIX):
        raise FilterError(f"sort: custom property {name!r} cannot be sorted on")
    prop = LIST_CATALOG.get(name)
    if prop is None:
        raise FilterError(f"sort: unknown property {name!r} for QUOTE")
    if direction not in Direction.__members__:
        raise FilterError(f"sort: direction {direction!r} is not ASC or DESC")
    return Sort(prop.name, prop.column, prop.kind, prop.nullable, Direction(direction))
