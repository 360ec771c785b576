"""Users, teams and their tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db import events as event_store
from db import users as user_store
from domain.codes import RuleCode
from domain.events import session_changed
from domain.records import Scope, Team, User

from .context import Context
from .result import Ok, Refused, Result, use_case


@dataclass(frozen=True, slots=True)
class NewUser:
    user: User
    token: str


def _valid_email(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(local) and bool(at) and "." in domain and " " not in email


@use_case
async def create_user(
    ctx: Context,
    *,
    email: str,
    name: str,
    is_super_admin: bool = False,
    can_approve_deals: bool = False,
    view_scope: Scope = Scope.ALL,
    edit_scope: Scope = Scope.ALL,
    team_id: int | None = None,
) -> Result[NewUser]:
    if not _valid_email(email):
        return Refused.one(RuleCode.INVALID, f"{email!r} is not an email address", ("email",))
    if not name.strip():
        return Refused.one(RuleCode.INVALID, "name must not be empty", ("name",))
    async with ctx.pool.acquire() as conn, conn.transaction():
        user = await user_store.insert_user(
            conn,
            email=email.strip(),
            name=name.strip(),
            is_super_admin=is_super_admin,
            can_approve_deals=can_approve_deals,
            view_scope=view_scope,
            edit_scope=edit_scope,
        )
        token = await user_store.insert_token(conn, user.id)
        if team_id is not None:
            await user_store.get_team(conn, team_id)
            await user_store.insert_team_members(conn, team_id, [user.id], primary=True)
            members = await user_store.list_team_members(conn, [team_id])  # their teammates changed
            await event_store.append(conn, [session_changed(user_ids=frozenset(m.user_id for m in members))])
    if team_id is not None:
        ctx.committed()
    return Ok(NewUser(user, token))


@use_case
async def update_user(
    ctx: Context,
    user_id: int,
    *,
    active: bool | None = None,
    can_approve_deals: bool | None = None,
    view_scope: Scope | None = None,
    edit_scope: Scope | None = None,
) -> Result[User]:
    async with ctx.pool.acquire() as conn, conn.transaction():
        user = await user_store.update_user(
            conn,
            user_id,
            active=active,
            can_approve_deals=can_approve_deals,
            view_scope=view_scope,
            edit_scope=edit_scope,
        )
        # Open sessions of this user, in every process, close (deactivated) or take the new scope.
        await event_store.append(conn, [session_changed(user_ids=frozenset({user.id}))])
    ctx.committed()
    return Ok(user)


@use_case
async def create_team(
    ctx: Context,
    *,
    name: str,
    primary_member_ids: Sequence[int],
    additional_member_ids: Sequence[int],
) -> Result[Team]:
    if not name.strip():
        return Refused.one(RuleCode.INVALID, "name must not be empty", ("name",))
    overlap = set(primary_member_ids) & set(additional_member_ids)
    if overlap:
        return Refused.one(
            RuleCode.INVALID,
            f"users {sorted(overlap)} cannot be both primary and additional members",
            ("additionalMemberIds",),
        )
    async with ctx.pool.acquire() as conn, conn.transaction():
        known = {
            u.id for u in await user_store.list_users(conn, [*primary_member_ids, *additional_member_ids])
        }
        unknown = sorted((set(primary_member_ids) | set(additional_member_ids)) - known)
        if unknown:
            return Refused.one(RuleCode.NOT_FOUND, f"unknown users {unknown}", ("primaryMemberIds",))
        team = await user_store.insert_team(conn, name.strip())
        # A user has one primary team: joining a new one as primary moves them.
        await user_store.clear_primary_teams(conn, primary_member_ids)
        await user_store.insert_team_members(conn, team.id, primary_member_ids, primary=True)
        await user_store.insert_team_members(conn, team.id, additional_member_ids, primary=False)
        members = frozenset({*primary_member_ids, *additional_member_ids})
        if members:  # their teammates changed, so what TEAM scope shows them did too
            await event_store.append(conn, [session_changed(user_ids=members)])
    if members:
        ctx.committed()
    return Ok(team)
