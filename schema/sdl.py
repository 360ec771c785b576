"""The published schema: its SDL (`python -m schema.sdl > schema.graphql`) and description coverage."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    specified_scalar_types,
)

from . import build_schema


def production_sdl() -> str:
    """The SDL of the schema served outside dev, ending with one newline."""
    return build_schema(dev=False).as_str().rstrip("\n") + "\n"


def describable(schema: GraphQLSchema) -> dict[str, str | None]:
    """Every type, field, argument and enum value of ours, by schema coordinate, with its description."""
    found: dict[str, str | None] = {}
    for name, type_ in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        found[name] = type_.description
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                found[f"{name}.{field_name}"] = field.description
                for arg_name, arg in field.args.items():
                    found[f"{name}.{field_name}({arg_name}:)"] = arg.description
        elif isinstance(type_, GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                found[f"{name}.{field_name}"] = input_field.description
        elif isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                found[f"{name}.{value_name}"] = value.description
    return found


def coverage(schema: GraphQLSchema) -> tuple[float, list[str]]:
    """The percentage of coordinates with a description, and the coordinates without one."""
    found = describable(schema)
    missing = [coordinate for coordinate, text in found.items() if not (text and text.strip())]
    return 100.0 * (len(found) - len(missing)) / len(found), missing


def main(argv: Sequence[str] | None = None) -> None:
    """Print the SDL, or with `--coverage` the description coverage and what lacks a description."""
    args = sys.argv[1:] if argv is None else list(argv)
    if "--coverage" not in args:
        sys.stdout.write(production_sdl())
        return
    percent, missing = coverage(build_schema(dev=False)._schema)
    for coordinate in missing:
        print(coordinate)
    print(f"descriptions: {percent:.1f}% ({len(missing)} missing)")


if __name__ == "__main__":
    main()
