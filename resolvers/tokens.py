"""API tokens: a user creates, lists and revokes their own; a super admin anyone's (DESIGN 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from db import events as event_store
from db import tokens as token_store
from db import users as user_store
from db.errors import NotFound
from domain.codes import RuleCode
from domain.events import session_changed
from domain.records import ApiToken

from .context import Context
from .result import Ok, Refused, Result, use_case

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class NewApiToken:
    token: ApiToken
    secret: str


def may_manage(ctx: Context, user_id: int) -> bool:
    return ctx.me.user.is_super_admin or ctx.me.id == user_id


@use_case
async def create_api_token(
    ctx: Context, user_id: int | None, name: str, expires_at: datetime | None
) -> Result[NewApiToken]:
    owner = ctx.me.id if user_id is None else user_id
    if not may_manage(ctx, owner):
        return Refused.one(RuleCode.NOT_FOUND, f"user {owner} not found", ("userId",))
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        return Refused.one(RuleCode.INVALID, f"name must have 1 to {MAX_NAME} characters", ("name",))
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
        return Refused.one(RuleCode.INVALID, "expiresAt must be a future time with a zone", ("expiresAt",))
    async with ctx.pool.acquire() as conn, conn.transaction():
        user = await user_store.get_user(conn, owner)
        if not user.active:
            raise NotFound("user", owner)
        token, secret = await token_store.insert_api_token(conn, owner, name, expires_at)
    return Ok(NewApiToken(token, secret))


@use_case
async def revoke_api_token(ctx: Context, token_id: int) -> Result[ApiToken]:
    """Revoking closes the token's open WebSocket sessions in every process (session.changed)."""
    owner = None if ctx.me.user.is_super_admin else ctx.me.id
    async with ctx.pool.acquire() as conn, conn.transaction():
        token = await token_store.revoke_api_token(conn, token_id, owner)
        await event_store.append(conn, [session_changed(token_ids=frozenset({token.id}))])
    ctx.committed()
    return Ok(token)
