"""DataLoaders, one set per request, so nested fields cost one query per level."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from db import users as user_store
from domain.records import Team, TeamMember, User

from .context import Context


def user_loader(ctx: Context) -> DataLoader[int, User | None]:
    async def load(ids: Sequence[int]) -> list[User | None]:
        found = {u.id: u for u in await user_store.list_users(ctx.pool, list(ids))}
        return [found.get(i) for i in ids]

    return ctx.loader("user", lambda: DataLoader(load_fn=load))


def teams_of_user(ctx: Context) -> DataLoader[int, list[Team]]:
    async def load(ids: Sequence[int]) -> list[list[Team]]:
        by_user: dict[int, list[Team]] = defaultdict(list)
        for user_id, team in await user_store.list_teams_of_users(ctx.pool, list(ids)):
            by_user[user_id].append(team)
        return [by_user[i] for i in ids]

    return ctx.loader("teams_of_user", lambda: DataLoader(load_fn=load))


def team_members(ctx: Context) -> DataLoader[int, list[TeamMember]]:
    async def load(ids: Sequence[int]) -> list[list[TeamMember]]:
        by_team: dict[int, list[TeamMember]] = defaultdict(list)
        for member in await user_store.list_team_members(ctx.pool, list(ids)):
            by_team[member.team_id].append(member)
        return [by_team[i] for i in ids]

    return ctx.loader("team_members", lambda: DataLoader(load_fn=load))
