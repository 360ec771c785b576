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
from .node_ids import Node, node_id

if TYPE_CHECKING:
    from .quotes import Quote
    from .records import Deal

from .pagination import AFTER, BEFORE, FIRST, LAST, Connection, connection, window


@strawberry.type(description="A message for the viewer about something that needs their attention.")
class Notification(Node):
    id: strawberry.ID = strawberry.field(description="The notification's global id.")
    kind: str = strawberry.field(
        description="What happened, as a stable code, for example APPROVAL_COMMENT or OWNER_ASSIGNED."
    )
    message: str = strawberry.field(description="The notification's text, for people.")
    read: bool = strawberry.field(description="Whether the viewer marked it read.")
    created_at: datetime = strawberry.field(description="When it was created.")
    deal_id: strawberry.Private[int | None]
    quote_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The deal it is about; null when it is about none or the viewer can no longer see it."
    )
    async def deal(self, info: Info) -> Annotated[Deal, strawberry.lazy("schema.records")] | None:
        from .records import Deal

        if self.deal_id is None:
            return None
        found = await record_loader(info.context, ObjectType.DEAL).load(self.deal_id)
        return Deal(record=found) if found else None

    @strawberry.field(
        description="The quote it is about; null when it is about none or the viewer can no longer see it."
    )
    async def quote(self, info: Info) -> Annotated[Quote, strawberry.lazy("schema.quotes")] | None:
        from .quotes import load_quote

        return await load_quote(info, self.quote_id)

    @classmethod
    def from_domain(cls, n: DomainNotification) -> Notification:
        return cls(
            id=node_id("Notification", n.id),
            kind=n.kind,
            message=n.message,
            read=n.read,
            created_at=n.created_at,
            deal_id=n.deal_id,
            quote_id=n.quote_id,
        )


@strawberry.input(description="The notifications to mark read.")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] = strawberry.field(
        description="The notifications' ids; ids of others' notifications are ignored."
    )


@strawberry.type(description="The result of markNotificationsRead.")
class MarkNotificationsReadPayload:
    count: int = strawberry.field(description="How many notifications changed from unread to read.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="The viewer's notifications, newest first.")
    async def notifications(
        self,
        info: Info,
        unread_only: Annotated[
            bool, strawberry.argument(description="Only notifications not yet marked read.")
        ] = False,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[Notification]:
        ctx = info.context
        at = window(first, after, last, before)
        rows = await notification_store.list_notifications(
            ctx.pool,
            ctx.me.id,
            unread_only=unread_only,
            cursor=at.cursor_id,
            limit=at.size + 1,
            backward=at.backward,
        )

        async def count() -> int:
            return await notification_store.count_notifications(ctx.pool, ctx.me.id, unread_only=unread_only)

        return connection(rows, at, Notification.from_domain, lambda n: [n.id], count)


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
