"""Notification type, the viewer's notification list and markNotificationsRead."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import notifications as notification_store
from domain.records import Notification as DomainNotification
from domain.records import ObjectType
from resolvers import notifications as use_cases
from resolvers.loaders import record_loader

from .errors import UserError, user_errors, value_or_none
from .info import Info

if TYPE_CHECKING:
    from .quotes import Quote
    from .records import Deal

from .pagination import AFTER, FIRST, Connection, connection, id_cursor, page_size


@strawberry.type
class Notification:
    id: strawberry.ID
    kind: str
    message: str
    read: bool
    created_at: datetime
    deal_id: strawberry.Private[int | None]
    quote_id: strawberry.Private[int | None]

    @strawberry.field
    async def deal(self, info: Info) -> Annotated[Deal, strawberry.lazy("schema.records")] | None:
        from .records import Deal

        if self.deal_id is None:
            return None
        found = await record_loader(info.context, ObjectType.DEAL).load(self.deal_id)
        return Deal(record=found) if found else None

    @strawberry.field
    async def quote(self, info: Info) -> Annotated[Quote, strawberry.lazy("schema.quotes")] | None:
        from .quotes import load_quote

        return await load_quote(info, self.quote_id)

    @classmethod
    def from_domain(cls, n: DomainNotification) -> Notification:
        return cls(
            id=strawberry.ID(str(n.id)),
            kind=n.kind,
            message=n.message,
            read=n.read,
            created_at=n.created_at,
            deal_id=n.deal_id,
            quote_id=n.quote_id,
        )


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID]


@strawberry.type
class MarkNotificationsReadPayload:
    count: int
    user_errors: list[UserError]


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="The viewer's notifications, newest first.")
    async def notifications(
        self,
        info: Info,
        unread_only: Annotated[
            bool, strawberry.argument(description="Only notifications not yet marked read.")
        ] = False,
        first: Annotated[int, FIRST] = 50,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Notification]:
        ctx = info.context
        size = page_size(first)
        rows = await notification_store.list_notifications(
            ctx.pool,
            ctx.me.id,
            unread_only=unread_only,
            before_id=id_cursor(after),
            limit=size + 1,
        )

        async def count() -> int:
            return await notification_store.count_notifications(ctx.pool, ctx.me.id, unread_only=unread_only)

        return connection(rows, size, Notification.from_domain, lambda n: [n.id], count)


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        description="Mark some of the viewer's notifications read; the payload counts those that changed."
    )
    async def mark_notifications_read(
        self,
        info: Info,
        input: Annotated[
            MarkNotificationsReadInput, strawberry.argument(description="The notifications to mark read.")
        ],
    ) -> MarkNotificationsReadPayload:
        result = await use_cases.mark_notifications_read(info.context, [int(i) for i in input.ids])
        return MarkNotificationsReadPayload(
            count=value_or_none(result, int) or 0, user_errors=user_errors(result)
        )
