"""UserError, and the one place a use-case result becomes payload fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from resolvers.result import Ok, Refused, Result

T = TypeVar("T")
S = TypeVar("S")


@strawberry.type
class UserError:
    field: list[str] | None
    message: str
    code: str
    existing_id: strawberry.ID | None = strawberry.field(
        default=None, description="For DUPLICATE: the id of the record that already exists."
    )


def user_errors(result: Result[Any]) -> list[UserError]:
    if isinstance(result, Ok):
        return []
    return [
        UserError(
            field=list(p.field) if p.field else None,
            message=p.message,
            code=p.code.value,
            existing_id=strawberry.ID(str(p.existing_id)) if p.existing_id is not None else None,
        )
        for p in result.problems
    ]


def value_or_none(result: Result[T], convert: Callable[[T], S]) -> S | None:
    return convert(result.value) if isinstance(result, Ok) else None


__all__ = ["Refused", "UserError", "user_errors", "value_or_none"]
