"""Single reads, filtered lists and the board."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import strawberry

from domain.records import ObjectType, Record
from resolvers import lists
from resolvers.loaders import record_loader

from .info import Info
from .pagination import Connection, Edge, PageInfo, connection, decode_cursor, encode_cursor, page_size
from .pipelines import Pipeline, Stage
from .records import Company, Contact, CrmRecord, Deal, Ticket, prefetch, requested_fields

T = TypeVar("T", bound=CrmRecord)


@strawberry.input
class Filter:
    property: str
    operator: str
    value: str | None = None
    values: list[str] | None = None


@strawberry.input
class FilterGroup:
    filters: list[Filter]


@strawberry.input
class SortInput:
    property: str
    direction: str = "DESC"


def raw_groups(groups: list[FilterGroup] | None) -> list[list[dict[str, object]]] | None:
    if groups is None:
        return None
    return [
        [
            {"property": f.property, "operator": f.operator, "value": f.value, "values": f.values}
            for f in g.filters
        ]
        for g in groups
    ]


async def record_page(
    info: Info,
    object_type: ObjectType,
    make: Callable[[Record], T],
    filter_groups: list[FilterGroup] | None,
    first: int | None,
    after: str | None,
    sort: SortInput | None,
) -> Connection[T]:
    size = page_size(first)
    page = await lists.list_records(
        info.context,
        object_type,
        raw_groups(filter_groups),
        first=size,
        after=decode_cursor(after),
        sort_property=sort.property if sort else None,
        sort_direction=sort.direction if sort else "DESC",
    )
    rows = page.records + (
        [page.records[-1]] if page.has_next else []
    )  # connection() reads has_next from length
    return connection(rows, size, make, lambda r: lists.sort_key(page.sort, r), page.count)


async def one(info: Info, object_type: ObjectType, record_id: strawberry.ID) -> Record | None:
    try:
        key = int(record_id)
    except ValueError:
        return None
    return await record_loader(info.context, object_type).load(key)


@strawberry.type
class BoardColumn:
    stage: Stage
    total_count: int
    total_amount: Decimal
    deals: Connection[Deal]


@strawberry.type
class Board:
    pipeline: Pipeline
    columns: list[BoardColumn]


@strawberry.type
class RecordQueries:
    @strawberry.field
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        found = await one(info, ObjectType.CONTACT, id)
        return Contact(record=found) if found else None

    @strawberry.field
    async def company(self, info: Info, id: strawberry.ID) -> Company | None:
        found = await one(info, ObjectType.COMPANY, id)
        return Company(record=found) if found else None

    @strawberry.field
    async def deal(self, info: Info, id: strawberry.ID) -> Deal | None:
        found = await one(info, ObjectType.DEAL, id)
        return Deal(record=found) if found else None

    @strawberry.field
    async def ticket(self, info: Info, id: strawberry.ID) -> Ticket | None:
        found = await one(info, ObjectType.TICKET, id)
        return Ticket(record=found) if found else None

    @strawberry.field
    async def contacts(
        self, info: Info, filter_groups: list[FilterGroup] | None = None, first: int = 50,
        after: str | None = None, sort: SortInput | None = None,
    ) -> Connection[Contact]:  # fmt: skip
        return await record_page(
            info, ObjectType.CONTACT, lambda r: Contact(record=r), filter_groups, first, after, sort
        )

    @strawberry.field
    async def companies(
        self, info: Info, filter_groups: list[FilterGroup] | None = None, first: int = 50,
        after: str | None = None, sort: SortInput | None = None,
    ) -> Connection[Company]:  # fmt: skip
        return await record_page(
            info, ObjectType.COMPANY, lambda r: Company(record=r), filter_groups, first, after, sort
        )

    @strawberry.field
    async def deals(
        self, info: Info, filter_groups: list[FilterGroup] | None = None, first: int = 50,
        after: str | None = None, sort: SortInput | None = None,
    ) -> Connection[Deal]:  # fmt: skip
        return await record_page(
            info, ObjectType.DEAL, lambda r: Deal(record=r), filter_groups, first, after, sort
        )

    @strawberry.field
    async def tickets(
        self, info: Info, filter_groups: list[FilterGroup] | None = None, first: int = 50,
        after: str | None = None, sort: SortInput | None = None,
    ) -> Connection[Ticket]:  # fmt: skip
        return await record_page(
            info, ObjectType.TICKET, lambda r: Ticket(record=r), filter_groups, first, after, sort
        )

    @strawberry.field(
        description="Each stage's totals and first deals; page a column further with "
        "deals(filterGroups: [stageId EQ …], after: column endCursor)."
    )
    async def board(
        self, info: Info, pipeline_id: strawberry.ID, filter_groups: list[FilterGroup] | None = None,
        per_stage: int = 50,
    ) -> Board:  # fmt: skip
        found = await lists.board(info.context, int(pipeline_id), raw_groups(filter_groups), per_stage)
        nodes = {d.id: Deal(record=d) for column in found.columns for d in column.deals}
        await prefetch(info, list(nodes.values()), requested_fields(info))
        columns = []
        for column in found.columns:
            edges = [
                Edge(node=nodes[d.id], cursor=encode_cursor(lists.sort_key(found.sort, d)))
                for d in column.deals
            ]
            total = column.total_count

            async def count(total: int = total) -> int:
                return total

            deals = Connection(
                edges=edges,
                page_info=PageInfo(
                    has_next_page=column.has_next, end_cursor=edges[-1].cursor if edges else None
                ),
                count=count,
            )
            columns.append(
                BoardColumn(
                    stage=Stage.from_domain(column.stage),
                    total_count=total,
                    total_amount=column.total_amount,
                    deals=deals,
                )
            )
        return Board(pipeline=Pipeline.from_domain(found.pipeline), columns=columns)
