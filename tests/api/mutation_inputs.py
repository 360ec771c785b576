"""Every mutation's input, built from the schema itself, and a fingerprint of everything stored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)

from schema import build_schema

SCHEMA: GraphQLSchema = build_schema(dev=False)._schema
# Tables every request may touch (a token's last use, its rate-limit window): left out of "nothing was written".
READ_TOUCHED = frozenset({"api_tokens", "rate_limits"})
PLAIN: dict[str, Any] = {
    "ID": "1",
    "String": "x",
    "Int": 1,
    "Float": 0.5,
    "Boolean": False,
    "Decimal": "1.00",
    "DateTime": "2030-01-01T00:00:00+00:00",
    "JSON": {},
}


@dataclass(frozen=True)
class Leaf:
    """One scalar position inside a mutation's input: its path and its scalar type's name."""

    mutation: str
    path: tuple[str | int, ...]
    scalar: str
    required: bool


def mutations() -> list[str]:
    mutation = SCHEMA.mutation_type
    assert mutation is not None
    return sorted(mutation.fields)


def input_type(mutation: str) -> GraphQLInputObjectType:
    assert SCHEMA.mutation_type is not None
    arg = SCHEMA.mutation_type.fields[mutation].args["input"].type
    assert isinstance(arg, GraphQLNonNull) and isinstance(arg.of_type, GraphQLInputObjectType)
    return arg.of_type


def input_type_name(mutation: str) -> str:
    return input_type(mutation).name


def plain(type_: GraphQLInputType) -> Any:
    """A minimal valid value: required fields only, lists of one."""
    if isinstance(type_, GraphQLNonNull):
        return plain(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [plain(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: plain(f.type)
            for name, f in type_.fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
        }
    assert isinstance(type_, GraphQLScalarType)
    return PLAIN.get(type_.name)


def leaves(mutation: str) -> Iterator[Leaf]:
    """Every scalar field of the input, nested input objects and lists (their first item) included."""

    def walk(type_: GraphQLInputType, path: tuple[str | int, ...], required: bool) -> Iterator[Leaf]:
        if isinstance(type_, GraphQLNonNull):
            yield from walk(type_.of_type, path, required)
        elif isinstance(type_, GraphQLList):
            yield from walk(type_.of_type, (*path, 0), required)
        elif isinstance(type_, GraphQLInputObjectType):
            for name, f in type_.fields.items():
                yield from walk(f.type, (*path, name), isinstance(f.type, GraphQLNonNull))
        elif isinstance(type_, GraphQLScalarType):
            yield Leaf(mutation, path, type_.name, required)

    yield from walk(input_type(mutation), (), True)


def with_value(mutation: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """The minimal input with one position set (creating the objects and lists on the way)."""
    whole: Any = plain(input_type(mutation))
    node: Any = whole
    type_: Any = input_type(mutation)
    for step, following in zip(path, (*path[1:], None), strict=True):
        while isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(step, int):
            type_ = type_.of_type
            if not node:
                node.append(plain(type_))
        else:
            type_ = type_.fields[step].type
        if following is None:
            node[step] = value
        else:
            if isinstance(step, str) and node.get(step) is None:
                node[step] = plain(type_)
                inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
                if isinstance(inner, GraphQLList) and not node[step]:
                    node[step] = [plain(inner.of_type)]
            node = node[step]
    return whole  # type: ignore[no-any-return]


def document(mutation: str) -> str:
    return (
        f"mutation M($input: {input_type_name(mutation)}!) {{ {mutation}(input: $input) {{ __typename }} }}"
    )


async def fingerprint(pool: asyncpg.Pool) -> dict[str, str]:
    """A hash of every stored row, table by table, in one statement."""
    tables = [
        r["tablename"]
        for r in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        if r["tablename"] not in READ_TOUCHED
    ]
    parts = [
        f"SELECT '{t}' AS name, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM \"{t}\" x"
        for t in tables
    ]
    rows = await pool.fetch(" UNION ALL ".join(parts))
    return {r["name"]: r["h"] for r in rows}
