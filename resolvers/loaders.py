"""DataLoaders, one set per request, so nested fields cost one query per level."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from strawberry.dataloader import DataLoader

from db import approvals as approval_store
from db import associations
from db import pipelines as pipeline_store
from db import records as record_store
from db import tokens as token_store
from db import users as user_store
from domain.records import (
    ApiToken,
    ApprovalProcess,
    ApprovalStatusChange,
    Comment,
    DealApproval,
    ObjectType,
    Pipeline,
    Record,
    Stage,
    Team,
    TeamMember,
    User,
)
from domain.visibility import visible_owner_ids

from .context import Context


async def users_by_id(ctx: Context, ids: Sequence[int]) -> dict[int, User]:
    """Users by id in one statement: the user loader's batch, also for a whole page at once."""
    return {u.id: u for u in await user_store.list_users(ctx.pool, list(ids))}


def user_loader(ctx: Context) -> DataLoader[int, User | None]:
    async def load(ids: Sequence[int]) -> list[User | None]:
        found = await users_by_id(ctx, ids)
        return [found.get(i) for i in ids]

    return ctx.loader("user", lambda: DataLoader(load_fn=load))


def teams_of_user(ctx: Context) -> DataLoader[int, list[Team]]:
    async def load(ids: Sequence[int]) -> list[list[Team]]:
        by_user: dict[int, list[Team]] = defaultdict(list)
        for user_id, team in await user_store.list_teams_of_users(ctx.pool, list(ids)):
            by_user[user_id].append(team)
        return [by_user[i] for i in ids]

    return ctx.loader("teams_of_user", lambda: DataLoader(load_fn=load))


def api_tokens_of_user(ctx: Context) -> DataLoader[int, list[ApiToken]]:
    """A user's tokens, for that user or a super admin; nobody else's (DESIGN 2)."""

    async def load(ids: Sequence[int]) -> list[list[ApiToken]]:
        allowed = [i for i in ids if ctx.me.user.is_super_admin or i == ctx.me.id]
        by_user: dict[int, list[ApiToken]] = defaultdict(list)
        for token in await token_store.list_tokens(ctx.pool, allowed) if allowed else []:
            by_user[token.user_id].append(token)
        return [by_user[i] for i in ids]

    return ctx.loader("api_tokens", lambda: DataLoader(load_fn=load))


def team_members(ctx: Context) -> DataLoader[int, list[TeamMember]]:
    async def load(ids: Sequence[int]) -> list[list[TeamMember]]:
        by_team: dict[int, list[TeamMember]] = defaultdict(list)
        for member in await user_store.list_team_members(ctx.pool, list(ids)):
            by_team[member.team_id].append(member)
        return [by_team[i] for i in ids]

    return ctx.loader("team_members", lambda: DataLoader(load_fn=load))


async def visible_records(
    ctx: Context, object_type: ObjectType, ids: Sequence[int], columns: Collection[str] | None = None
) -> dict[int, Record]:
    """The records among ids the viewer may see, by id: the one read every record loader and page
    prefetch goes through (out of scope reads as not found). With `columns`, only those are read:
    for a page prefetch, never for a loader, whose records any field may read."""
    owners = visible_owner_ids(ctx.me, ctx.me.user.view_scope)
    found = await record_store.get_records(ctx.pool, object_type, list(ids), owners, ctx.me.id, columns)
    return {r.id: r for r in found}


def record_loader(ctx: Context, object_type: ObjectType) -> DataLoader[int, Record | None]:
    """Records the viewer may see, by id; others load as None (out of scope reads as not found)."""

    async def load(ids: Sequence[int]) -> list[Record | None]:
        found = await visible_records(ctx, object_type, ids)
        return [found.get(i) for i in ids]

    return ctx.loader(f"record:{object_type}", lambda: DataLoader(load_fn=load))


def decided_deal_loader(ctx: Context) -> DataLoader[int, Record | None]:
    """Deals an approval decision was just recorded on, for the answer to the approver who made it
    (whom the closed approval no longer lets see the deal). Never for any other read."""

    async def load(ids: Sequence[int]) -> list[Record | None]:
        found = {r.id: r for r in await record_store.get_records(ctx.pool, ObjectType.DEAL, list(ids), None)}
        return [found.get(i) for i in ids]

    return ctx.loader("decided_deal", lambda: DataLoader(load_fn=load))


async def linked_ids(
    ctx: Context, from_type: ObjectType, ids: Sequence[int], to_type: ObjectType
) -> dict[int, list[int]]:
    """The ids each record is associated with, in id order, in one statement."""
    by_id: dict[int, list[int]] = defaultdict(list)
    for a, b in await associations.linked(ctx.pool, from_type.value, list(ids), to_type.value):
        by_id[a].append(b)
    return by_id


def linked_loader(ctx: Context, from_type: ObjectType, to_type: ObjectType) -> DataLoader[int, list[int]]:
    async def load(ids: Sequence[int]) -> list[list[int]]:
        by_id = await linked_ids(ctx, from_type, ids, to_type)
        return [by_id[i] for i in ids]

    return ctx.loader(f"linked:{from_type}:{to_type}", lambda: DataLoader(load_fn=load))


async def linked_records(
    ctx: Context, from_type: ObjectType, record_id: int, to_type: ObjectType
) -> list[Record]:
    ids = await linked_loader(ctx, from_type, to_type).load(record_id)
    return [r for r in await record_loader(ctx, to_type).load_many(ids) if r is not None]


def primary_company_loader(ctx: Context) -> DataLoader[int, int | None]:
    async def load(ids: Sequence[int]) -> list[int | None]:
        found = await associations.primary_companies(ctx.pool, list(ids))
        return [found.get(i) for i in ids]

    return ctx.loader("primary_company", lambda: DataLoader(load_fn=load))


def pipeline_loader(ctx: Context) -> DataLoader[int, Pipeline | None]:
    async def load(ids: Sequence[int]) -> list[Pipeline | None]:
        found = {p.id: p for p in await pipeline_store.list_pipelines(ctx.pool, list(ids))}
        return [found.get(i) for i in ids]

    return ctx.loader("pipeline", lambda: DataLoader(load_fn=load))


def stage_loader(ctx: Context) -> DataLoader[int, Stage | None]:
    async def load(ids: Sequence[int]) -> list[Stage | None]:
        found = {s.id: s for s in await pipeline_store.list_stages(ctx.pool, list(ids))}
        return [found.get(i) for i in ids]

    return ctx.loader("stage", lambda: DataLoader(load_fn=load))


def approval_process_loader(ctx: Context) -> DataLoader[int, ApprovalProcess | None]:
    """The enabled approval process of each pipeline."""

    async def load(ids: Sequence[int]) -> list[ApprovalProcess | None]:
        found = {p.pipeline_id: p for p in await approval_store.get_processes(ctx.pool, list(ids))}
        return [found.get(i) for i in ids]

    return ctx.loader("approval_process", lambda: DataLoader(load_fn=load))


def latest_approval_loader(ctx: Context) -> DataLoader[int, DealApproval | None]:
    async def load(ids: Sequence[int]) -> list[DealApproval | None]:
        found = {a.deal_id: a for a in await approval_store.latest_approvals(ctx.pool, list(ids))}
        return [found.get(i) for i in ids]

    return ctx.loader("latest_approval", lambda: DataLoader(load_fn=load))


def approval_history_loader(ctx: Context) -> DataLoader[int, list[ApprovalStatusChange]]:
    async def load(ids: Sequence[int]) -> list[list[ApprovalStatusChange]]:
        by_id: dict[int, list[ApprovalStatusChange]] = defaultdict(list)
        for change in await approval_store.list_history(ctx.pool, list(ids)):
            by_id[change.approval_id].append(change)
        return [by_id[i] for i in ids]

    return ctx.loader("approval_history", lambda: DataLoader(load_fn=load))


def approval_comments_loader(ctx: Context) -> DataLoader[int, list[Comment]]:
    async def load(ids: Sequence[int]) -> list[list[Comment]]:
        by_id: dict[int, list[Comment]] = defaultdict(list)
        for c in await approval_store.list_comments(ctx.pool, list(ids)):
            by_id[c.approval_id].append(c)
        return [by_id[i] for i in ids]

    return ctx.loader("approval_comments", lambda: DataLoader(load_fn=load))
