"""Use-case outcomes: Ok(value) or Refused(errors); db errors become refusals here, once."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, TypeVar

from db.errors import DbError, Duplicate, NotFound, VersionConflict
from domain.codes import Refusal as DomainRefusal
from domain.codes import RuleCode

T = TypeVar("T")
P = ParamSpec("P")
# The GraphQL type of the object a Duplicate names, by the kind db/ gives it.
DUPLICATE_TYPES = {
    "user": "User", "team": "Team", "property": "PropertyDefinition",
    "contact": "Contact", "company": "Company", "deal": "Deal", "ticket": "Ticket",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    code: RuleCode
    field: tuple[str, ...] | None = None
    existing_id: int | None = None
    existing_type: str | None = None  # the GraphQL type of existing_id: Contact, User, ...


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class Refused:
    problems: tuple[Problem, ...]

    @classmethod
    def one(
        cls,
        code: RuleCode,
        message: str,
        field: tuple[str, ...] | None = None,
        existing_id: int | None = None,
        existing_type: str | None = None,
    ) -> Refused:
        return cls((Problem(message, code, field, existing_id, existing_type),))


Result = Ok[T] | Refused


def refusal_from(exc: DbError, field: tuple[str, ...] | None = None) -> Refused:
    if isinstance(exc, Duplicate):
        return Refused.one(
            RuleCode.DUPLICATE, str(exc), (exc.field,), exc.existing_id, DUPLICATE_TYPES.get(exc.kind)
        )
    if isinstance(exc, VersionConflict):
        return Refused.one(RuleCode.VERSION_CONFLICT, str(exc), ("expectedVersion",))
    if isinstance(exc, NotFound):
        return Refused.one(RuleCode.NOT_FOUND, str(exc), field)
    return Refused.one(RuleCode.INVALID, str(exc), field)


class Refusal(Exception):
    """Raised inside a use case to abandon its transaction with a business refusal."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.problems[0].message)
        self.refused = refused

    @classmethod
    def one(cls, code: RuleCode, message: str, *field: str) -> Refusal:
        return cls(Refused.one(code, message, field or None))

    @classmethod
    def of(cls, found: DomainRefusal, field: str | None = None) -> Refusal:
        """A domain rule's refusal; `field` names the input at fault when the rule does not."""
        at = found.field or field
        return cls(Refused.one(found.code, found.message, (at,) if at else None))


def use_case(fn: Callable[P, Awaitable[Result[T]]]) -> Callable[P, Awaitable[Result[T]]]:
    """Turn db errors and Refusal raised inside the (rolled back) transaction into Refused."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Result[T]:
        try:
            return await fn(*args, **kwargs)
        except Refusal as exc:
            return exc.refused
        except DbError as exc:
            return refusal_from(exc)

    return wrapper
