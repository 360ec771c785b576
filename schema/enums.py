"""GraphQL enums, backed by the domain's own enums (registered once, used as types)."""

import strawberry

from domain.records import Scope

strawberry.enum(Scope, name="Scope")

__all__ = ["Scope"]
