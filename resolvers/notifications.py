"""Notifications: stored per user, pushed live through the outbox."""

from __future__ import annotations

from collections.abc import Sequence

from db import events as event_store
from db import notifications as notification_store
from db.pool import Conn
from domain.events import NewEvent
from domain.records import Notification

from .context import Context
from .result import Ok, Result, use_case

NOTIFICATION_CREATED = "notification.created"


def notification_event(n: Notification) -> NewEvent:
    return NewEvent(
        type=NOTIFICATION_CREATED,
        payload={
            "notification": {
                "id": n.id,
                "user_id": n.user_id,
                "kind": n.kind,
                "message": n.message,
                "read": n.read,
                "created_at": n.created_at.isoformat(),
                "deal_id": n.deal_id,
                "quote_id": n.quote_id,
            }
        },
        audience=frozenset({n.user_id}),
        deal_id=n.deal_id,
        quote_id=n.quote_id,
    )


async def notify(
    conn: Conn,
    user_ids: Sequence[int],
    *,
    kind: str,
    message: str,
    deal_id: int | None = None,
    quote_id: int | None = None,
    email: str | None = None,
) -> list[NewEvent]:
    """Store one notification per user, and with `email` (its body) an email to each active one;
    return the notifications' events for the caller's outbox append."""
    if not user_ids:
        return []
    stored = await notification_store.insert_notifications(
        conn, sorted(set(user_ids)), kind=kind, message=message, deal_id=deal_id, quote_id=quote_id,
        email_body=email,
    )  # fmt: skip
    return [notification_event(n) for n in stored]


@use_case
async def mark_notifications_read(ctx: Context, ids: Sequence[int]) -> Result[int]:
    async with ctx.pool.acquire() as conn, conn.transaction():
        count = await notification_store.mark_read(conn, ctx.me.id, ids)
    return Ok(count)


async def send_notification(ctx: Context, user_ids: Sequence[int], *, kind: str, message: str) -> None:
    """A stand-alone notification in its own transaction (used by CLI and tests)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await event_store.append(conn, await notify(conn, user_ids, kind=kind, message=message))
    ctx.committed()
