"""Where every argument meets domain.limits: the Decimal and DateTime scalars; ids, text and JSON of root fields."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
from collections.abc import Iterable, Mapping
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.types.base import StrawberryList, StrawberryObjectDefinition, StrawberryOptional
from strawberry.types.field import StrawberryField
from strawberry.types.scalar import ScalarDefinition

from domain import limits
from domain.limits import BadInput


def _error(exc: BadInput) -> GraphQLError:
    return GraphQLError(str(exc), extensions=exc.extensions)


def _decimal(value: object) -> decimal.Decimal:
    try:
        return limits.parse_decimal(value)
    except BadInput as exc:
        raise _error(exc) from None


def _datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise GraphQLError("a date is an ISO 8601 string", extensions={"code": "BAD_DATE"})
    try:
        found = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise GraphQLError(
            f"{shown!r} is not an ISO 8601 date-time", extensions={"code": "BAD_DATE"}
        ) from None
    try:
        return limits.check_datetime(found)
    except BadInput as exc:
        raise _error(exc) from None


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


SCALARS: dict[object, ScalarDefinition] = {
    decimal.Decimal: strawberry.scalar(
        name="Decimal", description="Decimal (fixed-point)", serialize=str, parse_value=_decimal,
    ),
    dt.datetime: strawberry.scalar(
        name="DateTime", description="Date with time (isoformat)", serialize=_iso, parse_value=_datetime,
    ),
}  # fmt: skip


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _unwrap(type_: object) -> object:
    while isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return type_


def check_value(value: object, type_: object, path: tuple[str, ...]) -> None:
    """Every id, text and JSON value inside an argument, against the limit of the field holding it."""
    if value is None or value is strawberry.UNSET or isinstance(value, enum.Enum):
        return
    type_ = _unwrap(type_)
    if isinstance(type_, StrawberryList):
        for item in value if isinstance(value, list | tuple) else ():
            check_value(item, type_.of_type, path)
    elif type_ is strawberry.ID:
        limits.parse_id(value, path)
    elif type_ is decimal.Decimal:
        places = limits.decimal_places(path[-1])
        if places is not None:
            limits.parse_decimal(value, path, places)
    elif type_ is JSON:
        if path[-1] == "properties" and isinstance(value, Mapping):
            limits.check_properties(value, path)
        else:
            limits.check_json(value, path)
    elif isinstance(value, str):
        limits.check_field_text(value, path)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        definition = getattr(type(value), "__strawberry_definition__", None)
        if isinstance(definition, StrawberryObjectDefinition):
            for f in definition.fields:
                name = f.graphql_name or camel(f.python_name)
                check_value(getattr(value, f.python_name, None), f.type, (*path, name))


class InputLimits(FieldExtension):
    """Checked once the arguments are converted, before the resolver runs: a refused call reads nothing."""

    def __init__(self) -> None:
        self.types: dict[str, tuple[object, tuple[str, ...]]] = {}

    def apply(self, field: StrawberryField) -> None:
        self.types = {
            a.python_name: (a.type, (a.graphql_name or camel(a.python_name),)) for a in field.arguments
        }

    def map_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            for name, value in kwargs.items():
                type_, path = self.types.get(name, (None, (camel(name),)))
                check_value(value, type_, path)
        except BadInput as exc:
            raise _error(exc) from None
        return kwargs


def guard(fields: Iterable[StrawberryField]) -> None:
    """Give each field the extension once (the schema may be built more than once per process)."""
    for f in fields:
        if f.arguments and not any(isinstance(e, InputLimits) for e in f.extensions):
            f.extensions.append(InputLimits())
