"""User and Team types, and the user and team mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from db import users as user_store
from domain.records import Team as DomainTeam
from domain.records import User as DomainUser
from resolvers import users as use_cases
from resolvers.loaders import api_tokens_of_user, team_members, teams_of_user, user_loader

from .enums import Scope
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id, number_of
from .permissions import IsSuperAdmin

if TYPE_CHECKING:
    from .tokens import ApiToken


@strawberry.type(description="A person who signs in and works in the CRM.")
class User(Node):
    id: strawberry.ID = strawberry.field(description="The user's global id.")
    email: str = strawberry.field(description="The user's email address, unique.")
    name: str = strawberry.field(description="The user's display name.")
    active: bool = strawberry.field(
        description="False once the user is deactivated: their tokens no longer work."
    )
    is_super_admin: bool = strawberry.field(
        description="Super admins manage users, pipelines, workflows and settings."
    )
    can_approve_deals: bool = strawberry.field(
        description="Whether the user may be named an approver of deals."
    )
    view_scope: Scope = strawberry.field(
        description="Which records the user can read: their own, their teams' or all."
    )
    edit_scope: Scope = strawberry.field(
        description="Which records the user can change: their own, their teams' or all."
    )

    @strawberry.field(description="The teams the user belongs to.")
    async def teams(self, info: Info) -> list[Team]:
        found = await teams_of_user(info.context).load(number_of(self.id))
        return [Team.from_domain(t) for t in found]

    @strawberry.field(
        description="The user's API tokens (never their secrets): your own, or anyone's for a super admin."
    )
    async def api_tokens(self, info: Info) -> list[Annotated[ApiToken, strawberry.lazy("schema.tokens")]]:
        from .tokens import ApiToken

        return [
            ApiToken.from_domain(t) for t in await api_tokens_of_user(info.context).load(number_of(self.id))
        ]

    @classmethod
    def from_domain(cls, user: DomainUser) -> User:
        return cls(
            id=node_id("User", user.id),
            email=user.email,
            name=user.name,
            active=user.active,
            is_super_admin=user.is_super_admin,
            can_approve_deals=user.can_approve_deals,
            view_scope=user.view_scope,
            edit_scope=user.edit_scope,
        )


async def load_user(info: Info, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = await user_loader(info.context).load(user_id)
    return User.from_domain(user) if user else None


@strawberry.type(description="A group of users; team scope grants access to the team members' records.")
class Team(Node):
    id: strawberry.ID = strawberry.field(description="The team's global id.")
    name: str = strawberry.field(description="The team's name.")

    async def _members(self, info: Info, primary: bool) -> list[User]:
        members = await team_members(info.context).load(number_of(self.id))
        ids = [m.user_id for m in members if m.is_primary is primary]
        users = await user_loader(info.context).load_many(ids)
        return [User.from_domain(u) for u in users if u is not None]

    @strawberry.field(description="Users for whom this is their main team.")
    async def primary_members(self, info: Info) -> list[User]:
        return await self._members(info, True)

    @strawberry.field(description="Users who also belong to the team.")
    async def additional_members(self, info: Info) -> list[User]:
        return await self._members(info, False)

    @classmethod
    def from_domain(cls, team: DomainTeam) -> Team:
        return cls(id=node_id("Team", team.id), name=team.name)


@strawberry.input(description="A new user.")
class CreateUserInput:
    email: str = strawberry.field(description="The user's email address; must be unused.")
    name: str = strawberry.field(description="The user's display name.")
    is_super_admin: bool = strawberry.field(
        default=False, description="Whether the user manages users and settings."
    )
    can_approve_deals: bool = strawberry.field(
        default=False, description="Whether the user may be named a deal approver."
    )
    view_scope: Scope = strawberry.field(default=Scope.ALL, description="Which records the user can read.")
    edit_scope: Scope = strawberry.field(default=Scope.ALL, description="Which records the user can change.")
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="A team to add the user to as a primary member."
    )


@strawberry.type(description="The result of createUser.")
class CreateUserPayload:
    user: User | None = strawberry.field(
        description="The new user; null when nothing was done (see userErrors)."
    )
    token: str | None = strawberry.field(
        description="The new user's first API token, shown only here; null when nothing was done."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.input(description="Changes to a user; a field left out stays as it is.")
class UpdateUserInput:
    id: strawberry.ID = strawberry.field(description="The user's id.")
    active: bool | None = strawberry.field(
        default=None,
        description="False deactivates the user: their tokens stop working and their sockets close. Left out: unchanged.",
    )
    can_approve_deals: bool | None = strawberry.field(
        default=None, description="Whether the user may be named a deal approver. Left out: unchanged."
    )
    view_scope: Scope | None = strawberry.field(
        default=None, description="Which records the user can read. Left out: unchanged."
    )
    edit_scope: Scope | None = strawberry.field(
        default=None, description="Which records the user can change. Left out: unchanged."
    )


@strawberry.type(description="The result of updateUser.")
class UpdateUserPayload:
    user: User | None = strawberry.field(
        description="The user as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.input(description="A new team.")
class CreateTeamInput:
    name: str = strawberry.field(description="The team's name.")
    primary_member_ids: list[strawberry.ID] = strawberry.field(
        description="Users for whom this is their main team.", default_factory=list
    )
    additional_member_ids: list[strawberry.ID] = strawberry.field(
        description="Users who also belong to the team.", default_factory=list
    )


@strawberry.type(description="The result of createTeam.")
class CreateTeamPayload:
    team: Team | None = strawberry.field(
        description="The new team as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class UserQueries:
    @strawberry.field(description="The signed-in user: whoever the request's token belongs to.")
    def viewer(self, info: Info) -> User:
        return User.from_domain(info.context.me.user)

    @strawberry.field(description="Every user of the account, active or deactivated.")
    async def users(self, info: Info) -> list[User]:
        return [User.from_domain(u) for u in await user_store.list_users(info.context.pool)]


@strawberry.type
class UserMutations:
    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Add a user (super admins only); the payload carries the user's first API token.",
    )
    async def create_user(
        self,
        info: Info,
        input: Annotated[
            CreateUserInput,
            strawberry.argument(description="The new user's email, name, permissions and scopes."),
        ],
    ) -> CreateUserPayload:
        result = await use_cases.create_user(
            info.context,
            email=input.email,
            name=input.name,
            is_super_admin=input.is_super_admin,
            can_approve_deals=input.can_approve_deals,
            view_scope=input.view_scope,
            edit_scope=input.edit_scope,
            team_id=int(input.team_id) if input.team_id else None,
        )
        return CreateUserPayload(
            user=value_or_none(result, lambda n: User.from_domain(n.user)),
            token=value_or_none(result, lambda n: n.token),
            user_errors=user_errors(result),
        )

    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Change a user's activity, approval right or scopes (super admins only); a deactivated user's tokens stop working.",
    )
    async def update_user(
        self,
        info: Info,
        input: Annotated[
            UpdateUserInput,
            strawberry.argument(
                description="The user to change and the settings to set; fields left out stay as they are."
            ),
        ],
    ) -> UpdateUserPayload:
        result = await use_cases.update_user(
            info.context,
            int(input.id),
            active=input.active,
            can_approve_deals=input.can_approve_deals,
            view_scope=input.view_scope,
            edit_scope=input.edit_scope,
        )
        return UpdateUserPayload(
            user=value_or_none(result, User.from_domain), user_errors=user_errors(result)
        )

    @strawberry.mutation(
        permission_classes=[IsSuperAdmin],
        description="Create a team (super admins only) with its primary and additional members.",
    )
    async def create_team(
        self,
        info: Info,
        input: Annotated[CreateTeamInput, strawberry.argument(description="The team's name and members.")],
    ) -> CreateTeamPayload:
        result = await use_cases.create_team(
            info.context,
            name=input.name,
            primary_member_ids=[int(i) for i in input.primary_member_ids],
            additional_member_ids=[int(i) for i in input.additional_member_ids],
        )
        return CreateTeamPayload(
            team=value_or_none(result, Team.from_domain), user_errors=user_errors(result)
        )
