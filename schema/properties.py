"""Custom property definitions: defined by super admins, listed for everyone (DESIGN 3)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db import properties as property_store
from domain.properties import PropertyDefinition as DomainDefinition
from domain.records import ObjectType
from resolvers import properties as use_cases

from .enums import PropertyType
from .errors import UserError, user_errors, value_or_none
from .info import Info
from .node_ids import Node, node_id
from .permissions import IsSuperAdmin


@strawberry.type(
    description="A custom property of an object type; values written to it are checked against it."
)
class PropertyDefinition(Node):
    definition: strawberry.Private[DomainDefinition]

    @strawberry.field(description="The definition's global id.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return node_id("PropertyDefinition", self.definition.id)

    @strawberry.field(description="The object type whose records carry the property.")
    def object_type(self) -> ObjectType:
        return self.definition.object_type

    @strawberry.field(
        description="The key under `properties` (and `properties.<name>` in filters and workflows)."
    )
    def name(self) -> str:
        return self.definition.name

    @strawberry.field(description="The name people see.")
    def label(self) -> str:
        return self.definition.label

    @strawberry.field(
        description="The kind of value: a USER property holds an active user's id (more owners)."
    )
    def type(self) -> PropertyType:
        return self.definition.type

    @strawberry.field(description="The allowed values of an ENUMERATION; empty otherwise.")
    def options(self) -> list[str]:
        return list(self.definition.options)

    @strawberry.field(description="What the property is for.")
    def description(self) -> str | None:
        return self.definition.description


@strawberry.input(description="A new custom property.")
class CreatePropertyDefinitionInput:
    object_type: ObjectType = strawberry.field(description="The object type whose records carry it.")
    name: str = strawberry.field(description="Lower-case letters, digits and '_', starting with a letter.")
    label: str = strawberry.field(description="The name people see.")
    type: PropertyType = strawberry.field(description="The kind of value it holds.")
    options: list[str] | None = strawberry.field(
        default=None, description="For ENUMERATION: the allowed values."
    )
    description: str | None = strawberry.field(default=None, description="What the property is for.")


@strawberry.type(description="The result of createPropertyDefinition.")
class PropertyDefinitionPayload:
    property_definition: PropertyDefinition | None = strawberry.field(
        description="The new definition; null when nothing was done (see userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class PropertyQueries:
    @strawberry.field(description="The custom properties defined for an object type, by name.")
    async def property_definitions(
        self,
        info: Info,
        object_type: Annotated[
            ObjectType, strawberry.argument(description="The object type whose custom properties to list.")
        ],
    ) -> list[PropertyDefinition]:
        found = await property_store.list_definitions(info.context.pool, object_type)
        return [PropertyDefinition(definition=d) for d in found]


@strawberry.type
class PropertyMutations:
    @strawberry.mutation(
        permission_classes=[IsSuperAdmin], description="Define a custom property (super admins only)."
    )
    async def create_property_definition(
        self,
        info: Info,
        input: Annotated[
            CreatePropertyDefinitionInput,
            strawberry.argument(description="The property's object type, name, label, type and options."),
        ],
    ) -> PropertyDefinitionPayload:
        result = await use_cases.create_definition(
            info.context, input.object_type, input.name, input.label, input.type, input.options or [],
            input.description,
        )  # fmt: skip
        return PropertyDefinitionPayload(
            property_definition=value_or_none(result, lambda d: PropertyDefinition(definition=d)),
            user_errors=user_errors(result),
        )
