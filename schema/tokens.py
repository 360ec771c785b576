"""API tokens: the ApiToken type and the mutations that create (secret shown once) and revoke them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain.records import ApiToken as DomainToken
from resolvers import tokens as use_cases

from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id


@strawberry.type(description="A named API token. Its secret is shown once, when it is created.")
class ApiToken(Node):
    id: strawberry.ID = strawberry.field(description="The token's global id.")
    name: str = strawberry.field(description="A name to tell tokens apart, for example ci.")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (recorded at most once a minute)."
    )
    expires_at: datetime | None = strawberry.field(description="After this it no longer authenticates.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; null while it is not.")

    @classmethod
    def from_domain(cls, token: DomainToken) -> ApiToken:
        return cls(
            id=node_id("ApiToken", token.id), name=token.name, created_at=token.created_at,
            last_used_at=token.last_used_at, expires_at=token.expires_at, revoked_at=token.revoked_at,
        )  # fmt: skip


@strawberry.input(description="A new API token.")
class CreateApiTokenInput:
    name: str = strawberry.field(description="A name to tell tokens apart, for example ci.")
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Whose token: yourself when left out; a super admin may name anyone."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When it stops working; left out, never."
    )


@strawberry.type(description="The result of createApiToken.")
class CreateApiTokenPayload:
    token: str | None = strawberry.field(description="The secret: shown this once, stored only hashed.")
    api_token: ApiToken | None = strawberry.field(
        description="The new token's details; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.input(description="The token to revoke.")
class RevokeApiTokenInput:
    id: strawberry.ID = strawberry.field(description="The token's id.")


@strawberry.type(description="The result of revokeApiToken.")
class RevokeApiTokenPayload:
    api_token: ApiToken | None = strawberry.field(
        description="The token as it is now; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class TokenMutations:
    @strawberry.mutation(description="A new API token for yourself, or (super admins) for anyone.")
    async def create_api_token(
        self,
        info: Info,
        input: Annotated[
            CreateApiTokenInput,
            strawberry.argument(
                description="The token's name, optional expiry and (super admins) the user it is for."
            ),
        ],
    ) -> CreateApiTokenPayload:
        user_id = int(input.user_id) if input.user_id is not None else None
        result = await use_cases.create_api_token(info.context, user_id, input.name, input.expires_at)
        return CreateApiTokenPayload(
            token=value_or_none(result, lambda n: n.secret),
            api_token=value_or_none(result, lambda n: ApiToken.from_domain(n.token)),
            user_errors=user_errors(result),
        )

    @strawberry.mutation(
        description="Revoke one of your tokens (super admins: anyone's); its open WebSockets close with 4403."
    )
    async def revoke_api_token(
        self,
        info: Info,
        input: Annotated[RevokeApiTokenInput, strawberry.argument(description="The token to revoke.")],
    ) -> RevokeApiTokenPayload:
        result = await use_cases.revoke_api_token(info.context, int(input.id))
        return RevokeApiTokenPayload(
            api_token=value_or_none(result, ApiToken.from_domain), user_errors=user_errors(result)
        )
