"""The search query: one list of contacts, companies, deals and tickets, best match first."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.records import ObjectType, Record
from resolvers import search as use_cases

from .info import Info
from .records import Company, Contact, Deal, SearchHit, Ticket


def hit(record: Record) -> SearchHit:
    if record.type is ObjectType.CONTACT:
        return Contact(record=record)
    if record.type is ObjectType.COMPANY:
        return Company(record=record)
    if record.type is ObjectType.DEAL:
        return Deal(record=record)
    return Ticket(record=record)


@strawberry.type
class SearchQueries:
    @strawberry.field(
        description="Contacts by name or email, companies by name or domain, deals by name and tickets "
        "by subject; up to `first` of each type, best match first, within the viewer's view scope."
    )
    async def search(
        self,
        info: Info,
        query: Annotated[str, strawberry.argument(description="The text to look for.")],
        types: Annotated[
            list[ObjectType] | None,
            strawberry.argument(description="The object types to search; left out, all of them."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="At most this many hits of each type.")] = 20,
    ) -> list[SearchHit]:
        found = await use_cases.search(info.context, query, types, first)
        return [hit(r) for r in found]
