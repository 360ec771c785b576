"""Webhook use cases: register an endpoint (its secret shown once), change it, replay it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from db import events as event_store
from db import webhooks as webhook_store
from db.pool import Conn
from db.webhooks import Webhook
from domain import webhooks as policy
from domain.codes import RuleCode

from .context import Context
from .result import Ok, Refused, Result, use_case

SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str


def _refuse_unless_admin(ctx: Context) -> Refused | None:
    if not ctx.me.user.is_super_admin:
        return Refused.one(RuleCode.FORBIDDEN, "Only super admins manage webhooks.")
    return None


def _check(ctx: Context, url: str | None, event_types: Sequence[str] | None) -> Refused | None:
    if url is not None and (problem := policy.url_problem(url, dev=ctx.services.dev)):
        return Refused.one(RuleCode.INVALID, problem, ("url",))
    if event_types is not None and (problem := policy.event_types_problem(list(event_types))):
        return Refused.one(RuleCode.INVALID, problem, ("eventTypes",))
    return None


@use_case
async def create_webhook(ctx: Context, url: str, event_types: Sequence[str]) -> Result[CreatedWebhook]:
    """Deliveries start with the next committed event; the secret is returned here only."""
    refused = _refuse_unless_admin(ctx) or _check(ctx, url, event_types)
    if refused:
        return refused
    secret = policy.new_secret(os.urandom(SECRET_BYTES))
    async with ctx.pool.acquire() as conn, conn.transaction():
        webhook = await webhook_store.insert_webhook(
            conn, url=url, event_types=list(dict.fromkeys(event_types)), secret=secret, created_by=ctx.me.id
        )
    return Ok(CreatedWebhook(webhook, secret))


@use_case
async def update_webhook(
    ctx: Context,
    webhook_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    active: bool | None = None,
) -> Result[Webhook]:
    """`active: true` re-enables a failing endpoint from where it stopped."""
    refused = _refuse_unless_admin(ctx) or _check(ctx, url, event_types)
    if refused:
        return refused
    async with ctx.pool.acquire() as conn, conn.transaction():
        found = await webhook_store.get_webhook(conn, webhook_id)
        if found is None:
            return Refused.one(RuleCode.NOT_FOUND, f"No webhook {webhook_id}.", ("id",))
        if active and (refusal := await _too_old(conn, found.cursor)):
            return refusal
        updated = await webhook_store.update_webhook(
            conn,
            webhook_id,
            url=url,
            event_types=list(dict.fromkeys(event_types)) if event_types is not None else None,
            active=active,
        )
    assert updated is not None
    return Ok(updated)


@use_case
async def replay_webhook(ctx: Context, webhook_id: int, after: int) -> Result[Webhook]:
    """Send every matching event after `after` again, in order, with the same webhook-ids."""
    refused = _refuse_unless_admin(ctx)
    if refused:
        return refused
    async with ctx.pool.acquire() as conn, conn.transaction():
        if after < 0 or after > await event_store.head(conn):
            return Refused.one(RuleCode.INVALID, "after must be a committed event sequence.", ("after",))
        if refusal := await _too_old(conn, after):
            return refusal
        replayed = await webhook_store.replay_webhook(conn, webhook_id, after)
        if replayed is None:
            return Refused.one(RuleCode.NOT_FOUND, f"No webhook {webhook_id}.", ("id",))
    return Ok(replayed)


async def _too_old(conn: Conn, after: int) -> Refused | None:
    try:
        await event_store.check_replayable(conn, after)
    except event_store.ReplayTooOld as exc:
        return Refused.one(RuleCode.REPLAY_TOO_OLD, str(exc), ("after",))
    return None
