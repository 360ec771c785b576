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

from . import node_ids


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


def check_value(
    value: object,
    type_: object,
    path: tuple[str, ...],
    coordinate: str = "",
    siblings: Mapping[str, object] | None = None,
) -> object:
    """Every id, text and JSON value inside an argument, against the limit of the field holding it.

    Answers the value to hand on: ids, global or plain, become the plain record id, so that a field
    reads `int(input.dealId)` whichever form the client sent; `coordinate` names the argument or
    input field (`Query.deal.id`, `MoveDealInput.dealId`) whose expected type of object it checks.
    """
    if value is None or value is strawberry.UNSET or isinstance(value, enum.Enum):
        return value
    type_ = _unwrap(type_)
    if isinstance(type_, StrawberryList):
        if not isinstance(value, list | tuple):
            return value
        return [check_value(item, type_.of_type, path, coordinate, siblings) for item in value]
    if type_ is strawberry.ID:
        return node_ids.checked_id(value, path, coordinate, siblings or {})
    if type_ is decimal.Decimal:
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
            names = {f.python_name: f.graphql_name or camel(f.python_name) for f in definition.fields}
            inner = {names[f.python_name]: getattr(value, f.python_name, None) for f in definition.fields}
            for f in definition.fields:
                name = names[f.python_name]
                given = getattr(value, f.python_name, None)
                checked = check_value(given, f.type, (*path, name), f"{definition.name}.{name}", inner)
                if checked is not given:
                    setattr(value, f.python_name, checked)
    return value


class InputLimits(FieldExtension):
    """Checked once the arguments are converted, before the resolver runs: a refused call reads nothing."""

    def __init__(self, root: str = "") -> None:
        self.root = root
        self.types: dict[str, tuple[object, tuple[str, ...]]] = {}
        self.field = ""

    def apply(self, field: StrawberryField) -> None:
        self.field = f"{self.root}.{field.graphql_name or camel(field.python_name)}"
        self.types = {
            a.python_name: (a.type, (a.graphql_name or camel(a.python_name),)) for a in field.arguments
        }

    def map_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        siblings = {self.types.get(n, (None, (camel(n),)))[1][0]: v for n, v in kwargs.items()}
        try:
            for name, value in kwargs.items():
                type_, path = self.types.get(name, (None, (camel(name),)))
                kwargs[name] = check_value(value, type_, path, f"{self.field}.{path[0]}", siblings)
        except BadInput as exc:
            raise _error(exc) from None
        return kwargs


def guard(fields: Iterable[StrawberryField], root: str) -> None:
    """Give each field of the root type `root` the extension once (the schema may be built more than
    once per process)."""
    for f in fields:
        if f.arguments and not any(isinstance(e, InputLimits) for e in f.extensions):
            f.extensions.append(InputLimits(root))
