"""The Subscription root: replay-then-live streams, filtered by the subscriber's scope."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Annotated

import strawberry

from domain.events import StoredEvent
from domain.records import ObjectType
from domain.visibility import can_see
from resolvers.approvals import APPROVAL_EVENT_PREFIX
from resolvers.context import Context
from resolvers.notifications import NOTIFICATION_CREATED
from resolvers.quotes import QUOTE_EVENT_PREFIX
from subscriptions import streams
from subscriptions.bus import Interest

from .events import Event, event_for, parse_after
from .fanout import direct_sink
from .imports import Import, follow_import
from .info import Info


def in_scope(ctx: Context, event: StoredEvent) -> bool:
    """The event's record is the viewer's to see now: by scope, by its audience, or because the deal
    awaits the viewer's decision (kept current in memory by the session: no query per event)."""
    if can_see(ctx.me, event.owner_id, event.audience):
        return True
    return ctx.session is not None and event.deal_id is not None and event.deal_id in ctx.session.awaiting


async def _stream(
    ctx: Context, after: str | None, match: Callable[[StoredEvent], bool], interest: Interest
) -> AsyncGenerator[Event, None]:
    """What every subscription but importProgress runs: the events after `after` replayed, then live
    ones, each that `match` accepts for this subscriber, woken by its `interest` and delivered
    straight to an idle socket where it can be (schema/fanout.py)."""
    async for event in streams.events(
        ctx.pool,
        ctx.services.bus,
        parse_after(after),
        match,
        ctx.session,
        interest=interest,
        sink=direct_sink(),
    ):
        yield event_for(event)


@strawberry.type(
    description="Live streams over WebSocket (graphql-transport-ws). Each checks the subscriber's scope on"
    " every event, and those that take `after` first replay what was missed since that sequence."
)
class Subscription:
    @strawberry.subscription(
        description="The viewer's new notifications as they are created; resumable with after."
    )
    async def notification_received(
        self,
        info: Info,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="An event sequence (an earlier event's `sequence`): first deliver every matching event after it, then live ones; left out, live events only."
            ),
        ] = None,
    ) -> AsyncGenerator[Event, None]:
        ctx = info.context

        def mine(event: StoredEvent) -> bool:
            return event.type == NOTIFICATION_CREATED and ctx.me.id in event.audience

        async for event in _stream(ctx, after, mine, Interest("notification.", "audience", ctx.me.id)):
            yield event

    @strawberry.subscription(description="A pipeline's deals created, moved, updated and deleted, in scope.")
    async def board_changed(
        self,
        info: Info,
        pipeline_id: Annotated[strawberry.ID, strawberry.argument(description="The pipeline to watch.")],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="An event sequence (an earlier event's `sequence`): first deliver every matching event after it, then live ones; left out, live events only."
            ),
        ] = None,
    ) -> AsyncGenerator[Event, None]:
        ctx = info.context
        pipeline = int(pipeline_id)

        def on_board(event: StoredEvent) -> bool:
            return event.pipeline_id == pipeline and event.type.startswith("deal.") and in_scope(ctx, event)

        async for event in _stream(ctx, after, on_board, Interest("deal.", "pipeline_id", pipeline)):
            yield event

    @strawberry.subscription(description="Every approval status change and decision, in scope; resumable.")
    async def deal_approval_changed(
        self,
        info: Info,
        pipeline_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only deals of this pipeline; left out, every pipeline."),
        ] = None,
        deal_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this deal; left out, every deal.")
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="An event sequence (an earlier event's `sequence`): first deliver every matching event after it, then live ones; left out, live events only."
            ),
        ] = None,
    ) -> AsyncGenerator[Event, None]:
        ctx = info.context
        pipeline = int(pipeline_id) if pipeline_id else None
        deal = int(deal_id) if deal_id else None

        def on_approval(event: StoredEvent) -> bool:
            return (
                event.type.startswith(APPROVAL_EVENT_PREFIX)
                and (pipeline is None or event.pipeline_id == pipeline)
                and (deal is None or event.deal_id == deal)
                and in_scope(ctx, event)
            )

        watch = (
            Interest(APPROVAL_EVENT_PREFIX, "deal_id", deal)
            if deal is not None
            else Interest(APPROVAL_EVENT_PREFIX, "pipeline_id", pipeline)
            if pipeline is not None
            else Interest(APPROVAL_EVENT_PREFIX)
        )
        async for event in _stream(ctx, after, on_approval, watch):
            yield event

    @strawberry.subscription(
        description="Contacts, companies or tickets created, updated or deleted, in scope."
    )
    async def record_changed(
        self,
        info: Info,
        object_type: Annotated[ObjectType, strawberry.argument(description="The object type to watch.")],
        id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this record; left out, every record of the type."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="An event sequence (an earlier event's `sequence`): first deliver every matching event after it, then live ones; left out, live events only."
            ),
        ] = None,
    ) -> AsyncGenerator[Event, None]:
        ctx = info.context
        prefix = f"{object_type.value.lower()}."
        record_id = int(id) if id else None

        def on_record(event: StoredEvent) -> bool:
            record = event.payload.get("record") or {}
            return (
                event.type.startswith(prefix)
                and (record_id is None or record.get("id") == record_id)
                and in_scope(ctx, event)
            )

        watch = Interest(prefix, "record", record_id) if record_id is not None else Interest(prefix)
        async for event in _stream(ctx, after, on_record, watch):
            yield event

    @strawberry.subscription(
        description="Every quote change (created, edited, status changed) on a deal or all, in scope; resumable."
    )
    async def quote_status_changed(
        self,
        info: Info,
        deal_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only quotes of this deal; left out, every quote in scope."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="An event sequence (an earlier event's `sequence`): first deliver every matching event after it, then live ones; left out, live events only."
            ),
        ] = None,
    ) -> AsyncGenerator[Event, None]:
        ctx = info.context
        deal = int(deal_id) if deal_id else None

        def on_quote(event: StoredEvent) -> bool:
            return (
                event.type.startswith(QUOTE_EVENT_PREFIX)
                and (deal is None or event.deal_id == deal)
                and in_scope(ctx, event)
            )

        watch = (
            Interest(QUOTE_EVENT_PREFIX, "deal_id", deal)
            if deal is not None
            else Interest(QUOTE_EVENT_PREFIX)
        )
        async for event in _stream(ctx, after, on_quote, watch):
            yield event

    @strawberry.subscription(
        description="An import's progress until it finishes; its creator's or an admin's."
    )
    async def import_progress(
        self,
        info: Info,
        import_id: Annotated[
            strawberry.ID, strawberry.argument(description="The import to follow, from startImport.")
        ],
    ) -> AsyncGenerator[Import, None]:
        async for job in follow_import(info, import_id):
            yield job
