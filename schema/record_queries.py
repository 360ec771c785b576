"""Single reads, filtered lists and the board."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, TypeVar

import strawberry

from domain.filters import ObjectType as FilterObjectType
from domain.filters import parse_sort
from domain.records import ObjectType, Record
from resolvers import lists
from resolvers.loaders import record_loader

from .info import Info
from .pagination import (
    AFTER,
    BEFORE,
    FIRST,
    LAST,
    Connection,
    Edge,
    PageInfo,
    Window,
    connection,
    encode_cursor,
    window,
)
from .pipelines import Pipeline, Stage
from .records import Company, Contact, CrmRecord, Deal, Ticket, columns_for, prefetch, requested_fields

T = TypeVar("T", bound=CrmRecord)
FILTER_GROUPS = strawberry.argument(
    description="Which records: a record matches when it passes every filter of at least one group; "
    "left out, all of them."
)
SORT = strawberry.argument(description="The property to sort on and its direction; left out, newest first.")


@strawberry.input(description="One condition on a property.")
class Filter:
    property: str = strawberry.field(
        description="The property's name, for example email, amount, stageId or a custom property's name."
    )
    operator: str = strawberry.field(
        description="One of EQ, NEQ, LT, LTE, GT, GTE (ranges: numbers and dates), IN, NOT_IN (use values), CONTAINS (text), HAS_PROPERTY, NOT_HAS_PROPERTY (no value)."
    )
    value: str | None = strawberry.field(
        default=None,
        description="The value to compare with, as text; left out for HAS_PROPERTY and NOT_HAS_PROPERTY.",
    )
    values: list[str] | None = strawberry.field(default=None, description="The values for IN and NOT_IN.")


@strawberry.input(description="Conditions that must all hold (AND); groups in a list are alternatives (OR).")
class FilterGroup:
    filters: list[Filter] = strawberry.field(description="The conditions.")


@strawberry.input(description="The order of a list.")
class SortInput:
    property: str = strawberry.field(description="The property to sort on.")
    direction: str = strawberry.field(default="DESC", description="ASC or DESC (the default).")


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
    page_window: Window,
    sort: SortInput | None,
) -> Connection[T]:
    page = await lists.list_records(
        info.context,
        object_type,
        raw_groups(filter_groups),
        first=page_window.size,
        after=page_window.cursor,
        sort_property=sort.property if sort else None,
        sort_direction=sort.direction if sort else "DESC",
        backward=page_window.backward,
    )
    return connection(page.records, page_window, make, lambda r: lists.sort_key(page.sort, r), page.count)


async def one(info: Info, object_type: ObjectType, record_id: strawberry.ID) -> Record | None:
    try:
        key = int(record_id)
    except ValueError:
        return None
    return await record_loader(info.context, object_type).load(key)


NOT_SELECTED = ""  # a board's cursors are encoded only when its selection asks for them, else never read
BOARD_SORT = frozenset({lists.sort_key_column(parse_sort(FilterObjectType.DEAL))})  # what a cursor reads


@strawberry.type(description="One stage of a board: its totals and first deals.")
class BoardColumn:
    stage: Stage = strawberry.field(description="The stage.")
    total_count: int = strawberry.field(description="How many deals in the stage match the filters.")
    total_amount: Decimal = strawberry.field(description="The sum of their amounts.")
    deals: Connection[Deal] = strawberry.field(
        description="The stage's first deals; page further with deals(filterGroups: [stageId EQ ...], after: endCursor)."
    )


@strawberry.type(description="A pipeline's deals by stage, as a kanban board shows them.")
class Board:
    pipeline: Pipeline = strawberry.field(description="The pipeline.")
    columns: list[BoardColumn] = strawberry.field(description="One column per stage, in stage order.")


@strawberry.type
class RecordQueries:
    @strawberry.field(
        description="One contact; null when no contact has this id or it is outside the viewer's view scope."
    )
    async def contact(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The contact's id.")]
    ) -> Contact | None:
        found = await one(info, ObjectType.CONTACT, id)
        return Contact(record=found) if found else None

    @strawberry.field(
        description="One company; null when no company has this id or it is outside the viewer's view scope."
    )
    async def company(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The company's id.")]
    ) -> Company | None:
        found = await one(info, ObjectType.COMPANY, id)
        return Company(record=found) if found else None

    @strawberry.field(
        description="One deal; null when no deal has this id or it is outside the viewer's view scope."
    )
    async def deal(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The deal's id.")]
    ) -> Deal | None:
        found = await one(info, ObjectType.DEAL, id)
        return Deal(record=found) if found else None

    @strawberry.field(
        description="One ticket; null when no ticket has this id or it is outside the viewer's view scope."
    )
    async def ticket(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The ticket's id.")]
    ) -> Ticket | None:
        found = await one(info, ObjectType.TICKET, id)
        return Ticket(record=found) if found else None

    @strawberry.field(description="Contacts in the viewer's view scope, a page at a time.")
    async def contacts(
        self,
        info: Info,
        filter_groups: Annotated[list[FilterGroup] | None, FILTER_GROUPS] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        sort: Annotated[SortInput | None, SORT] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[Contact]:
        page = window(first, after, last, before)
        return await record_page(
            info, ObjectType.CONTACT, lambda r: Contact(record=r), filter_groups, page, sort
        )

    @strawberry.field(description="Companies in the viewer's view scope, a page at a time.")
    async def companies(
        self,
        info: Info,
        filter_groups: Annotated[list[FilterGroup] | None, FILTER_GROUPS] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        sort: Annotated[SortInput | None, SORT] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[Company]:
        page = window(first, after, last, before)
        return await record_page(
            info, ObjectType.COMPANY, lambda r: Company(record=r), filter_groups, page, sort
        )

    @strawberry.field(description="Deals in the viewer's view scope, a page at a time.")
    async def deals(
        self,
        info: Info,
        filter_groups: Annotated[list[FilterGroup] | None, FILTER_GROUPS] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        sort: Annotated[SortInput | None, SORT] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[Deal]:
        page = window(first, after, last, before)
        return await record_page(info, ObjectType.DEAL, lambda r: Deal(record=r), filter_groups, page, sort)

    @strawberry.field(description="Tickets in the viewer's view scope, a page at a time.")
    async def tickets(
        self,
        info: Info,
        filter_groups: Annotated[list[FilterGroup] | None, FILTER_GROUPS] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        sort: Annotated[SortInput | None, SORT] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[Ticket]:
        page = window(first, after, last, before)
        return await record_page(
            info, ObjectType.TICKET, lambda r: Ticket(record=r), filter_groups, page, sort
        )

    @strawberry.field(
        description="Each stage's totals and first deals; page a column further with "
        "deals(filterGroups: [stageId EQ …], after: column endCursor)."
    )
    async def board(
        self,
        info: Info,
        pipeline_id: Annotated[
            strawberry.ID, strawberry.argument(description="The pipeline whose stages are the columns.")
        ],
        filter_groups: Annotated[list[FilterGroup] | None, FILTER_GROUPS] = None,
        per_stage: Annotated[
            int, strawberry.argument(description="How many deals each column lists (its first page).")
        ] = 50,
    ) -> Board:
        requested = requested_fields(info)
        each_cursor, end_cursor = "cursor" in requested, "endCursor" in requested
        start_cursor = "startCursor" in requested
        reads = columns_for(Deal, requested) | (
            BOARD_SORT if each_cursor or end_cursor or start_cursor else frozenset()
        )
        found = await lists.board(
            info.context, int(pipeline_id), raw_groups(filter_groups), per_stage, deal_columns=reads
        )
        nodes = {d.id: Deal(record=d) for column in found.columns for d in column.deals}
        await prefetch(info, list(nodes.values()), requested)

        def cursor(deal: Record) -> str:
            return encode_cursor(lists.sort_key(found.sort, deal))

        columns = []
        for column in found.columns:
            edges = [
                Edge(node=nodes[d.id], cursor=cursor(d) if each_cursor else NOT_SELECTED)
                for d in column.deals
            ]
            first = cursor(column.deals[0]) if start_cursor and column.deals else None
            last = cursor(column.deals[-1]) if end_cursor and column.deals else None
            total = column.total_count

            async def count(total: int = total) -> int:
                return total

            deals = Connection(
                edges=edges,
                page_info=PageInfo(has_next_page=column.has_next, start_cursor=first, end_cursor=last),
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
