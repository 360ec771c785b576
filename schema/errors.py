"""UserError, and the one place a use-case result becomes payload fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from resolvers.result import Ok, Refused, Result

from .node_ids import node_id

T = TypeVar("T")
S = TypeVar("S")


@strawberry.type(description="Why a mutation changed nothing: a business rule refused the input.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='The path to the input field at fault (for example ["input", "email"]); null when the error is not about one field.'
    )
    message: str = strawberry.field(description="What went wrong, for people; may change between versions.")
    code: str = strawberry.field(
        description="The rule that refused, stable for programs, for example DUPLICATE or VERSION_CONFLICT."
    )
    existing_id: strawberry.ID | None = strawberry.field(
        default=None, description="For DUPLICATE: the global id of the record that already exists."
    )


def user_errors(result: Result[Any]) -> list[UserError]:
    if isinstance(result, Ok):
        return []
    return [
        UserError(
            field=list(p.field) if p.field else None,
            message=p.message,
            code=p.code.value,
            existing_id=node_id(p.existing_type, p.existing_id)
            if p.existing_id is not None and p.existing_type is not None
            else None,
        )
        for p in result.problems
    ]


def value_or_none(result: Result[T], convert: Callable[[T], S]) -> S | None:
    return convert(result.value) if isinstance(result, Ok) else None


__all__ = ["Refused", "UserError", "user_errors", "value_or_none"]
