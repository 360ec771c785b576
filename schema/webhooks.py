"""Webhook and WebhookDelivery types, the webhooks query, and create/update/replay mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db import events as event_store
from db import webhooks as webhook_store
from domain.codes import RuleCode
from resolvers import webhooks as use_cases
from resolvers.result import Refused

from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id, number_of
from .pagination import AFTER, BEFORE, FIRST, LAST, Connection, connection, window
from .permissions import IsSuperAdmin


@strawberry.type(description="The delivery of one event to a webhook.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The delivery's global id.")
    sequence: str = strawberry.field(description="The event's sequence.")
    event_type: str = strawberry.field(description="The event's type.")
    status: str = strawberry.field(description="PENDING (retrying), DELIVERED or FAILED (gave up).")
    attempts: int = strawberry.field(description="How many times delivery was tried.")
    last_response_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt; null when none was received."
    )
    last_attempt_at: datetime | None = strawberry.field(
        description="When delivery was last tried; null before the first attempt."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When delivery will be tried again; null when no retry is due."
    )
    last_error: str | None = strawberry.field(
        description="What went wrong on the last attempt; null when it succeeded."
    )

    @classmethod
    def from_domain(cls, d: webhook_store.Delivery) -> WebhookDelivery:
        return cls(
            id=node_id("WebhookDelivery", d.id),
            sequence=str(d.sequence),
            event_type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            last_response_code=d.last_response_code,
            last_attempt_at=d.last_attempt_at,
            next_attempt_at=d.next_attempt_at,
            last_error=d.last_error,
        )


@strawberry.type(description="A URL that receives events as signed HTTP POSTs.")
class Webhook(Node):
    id: strawberry.ID = strawberry.field(description="The webhook's global id.")
    url: str = strawberry.field(description="Where events are posted.")
    event_types: list[str] = strawberry.field(
        description="The event types delivered, for example deal.moved."
    )
    active: bool = strawberry.field(description="Whether events are being delivered.")
    failing: bool = strawberry.field(
        description="True once deliveries kept failing past the retry window; super admins are notified."
    )
    cursor: str = strawberry.field(description="Every matching event up to this sequence is delivered.")
    created_at: datetime = strawberry.field(description="When the webhook was created.")

    @strawberry.field(description="Delivery attempts, newest first.")
    async def deliveries(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        last: Annotated[int | None, LAST] = None,
        before: Annotated[str | None, BEFORE] = None,
    ) -> Connection[WebhookDelivery]:
        pool = info.context.pool
        at = window(first, after, last, before)
        webhook_id = number_of(self.id)
        rows = await webhook_store.list_deliveries(
            pool, webhook_id, cursor=at.cursor_id, limit=at.size + 1, backward=at.backward
        )

        async def count() -> int:
            return await webhook_store.count_deliveries(pool, webhook_id)

        return connection(rows, at, WebhookDelivery.from_domain, lambda d: [d.sequence], count)

    @classmethod
    def from_domain(cls, w: webhook_store.Webhook) -> Webhook:
        return cls(
            id=node_id("Webhook", w.id),
            url=w.url,
            event_types=list(w.event_types),
            active=w.active,
            failing=w.failing,
            cursor=str(w.cursor),
            created_at=w.created_at,
        )


@strawberry.input(description="A new webhook.")
class CreateWebhookInput:
    url: str = strawberry.field(description="Where events are posted.")
    event_types: list[str] = strawberry.field(
        description="The event types to deliver, for example deal.moved."
    )


@strawberry.type(description="The result of createWebhook.")
class CreateWebhookPayload:
    webhook: Webhook | None = strawberry.field(
        description="The new webhook as it is now; null when nothing was done (see userErrors)."
    )
    secret: str | None = strawberry.field(description="The signing secret (whsec_…), shown only here.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.input(description="Changes to a webhook; a field left out stays as it is.")
class UpdateWebhookInput:
    id: strawberry.ID = strawberry.field(description="The webhook's id.")
    url: str | None = strawberry.field(default=None, description="The new URL. Left out: unchanged.")
    event_types: list[str] | None = strawberry.field(
        default=None, description="The new event types. Left out: unchanged."
    )
    active: bool | None = strawberry.field(
        default=None, description="Whether events are delivered. Left out: unchanged."
    )


@strawberry.type(description="The result of updateWebhook.")
class UpdateWebhookPayload:
    webhook: Webhook | None = strawberry.field(
        description="The webhook as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.input(description="A webhook and where to resume delivery.")
class ReplayWebhookInput:
    id: strawberry.ID = strawberry.field(description="The webhook's id.")
    after: str = strawberry.field(
        description="An event sequence: every matching event after it is delivered again, in order."
    )


@strawberry.type(description="The result of replayWebhook.")
class ReplayWebhookPayload:
    webhook: Webhook | None = strawberry.field(
        description="The webhook as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")
    oldest_sequence: str | None = strawberry.field(
        default=None, description="With REPLAY_TOO_OLD: the oldest sequence the outbox still keeps."
    )


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        permission_classes=[IsSuperAdmin], description="Every webhook subscription (super admins only)."
    )
    async def webhooks(self, info: Info) -> list[Webhook]:
        return [Webhook.from_domain(w) for w in await webhook_store.list_webhooks(info.context.pool)]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Subscribe a URL to event types; the payload carries the signing secret, shown once."
    )
    async def create_webhook(
        self,
        info: Info,
        input: Annotated[
            CreateWebhookInput, strawberry.argument(description="The URL and the event types to deliver.")
        ],
    ) -> CreateWebhookPayload:
        result = await use_cases.create_webhook(info.context, input.url, input.event_types)
        return CreateWebhookPayload(
            webhook=value_or_none(result, lambda c: Webhook.from_domain(c.webhook)),
            secret=value_or_none(result, lambda c: c.secret),
            user_errors=user_errors(result),
        )

    @strawberry.mutation(description="Change a webhook's URL, event types or whether it is active.")
    async def update_webhook(
        self,
        info: Info,
        input: Annotated[
            UpdateWebhookInput,
            strawberry.argument(
                description="The webhook and the fields to set; fields left out stay as they are."
            ),
        ],
    ) -> UpdateWebhookPayload:
        result = await use_cases.update_webhook(
            info.context, int(input.id), url=input.url, event_types=input.event_types, active=input.active
        )
        return UpdateWebhookPayload(
            webhook=value_or_none(result, Webhook.from_domain), user_errors=user_errors(result)
        )

    @strawberry.mutation(description="Resend every matching event after a sequence, in order.")
    async def replay_webhook(
        self,
        info: Info,
        input: Annotated[
            ReplayWebhookInput,
            strawberry.argument(description="The webhook and the sequence to resume after."),
        ],
    ) -> ReplayWebhookPayload:
        try:
            after = int(input.after)
        except ValueError:
            after = -1
        result = await use_cases.replay_webhook(info.context, int(input.id), after)
        oldest = None
        if isinstance(result, Refused) and result.problems[0].code is RuleCode.REPLAY_TOO_OLD:
            oldest = str(await event_store.pruned_through(info.context.pool) + 1)
        return ReplayWebhookPayload(
            webhook=value_or_none(result, Webhook.from_domain),
            user_errors=user_errors(result),
            oldest_sequence=oldest,
        )
