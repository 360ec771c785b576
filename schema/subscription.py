"""The Subscription root: replay-then-live streams, filtered by the subscriber's scope."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from domain.events import StoredEvent
from resolvers.notifications import NOTIFICATION_CREATED
from subscriptions import streams

from .events import Event, parse_after
from .info import Info


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def notification_received(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[Event, None]:
        ctx = info.context
        me = ctx.me.id

        def mine(event: StoredEvent) -> bool:
            return event.type == NOTIFICATION_CREATED and me in event.audience

        async for event in streams.events(ctx.pool, ctx.services.bus, parse_after(after), mine):
            yield Event.from_stored(event)
