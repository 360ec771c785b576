"""A complexity bound: each field costs 1 times the sizes of the lists around it (DESIGN 10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
)

from domain.limits import NODES_MAX

MAX_COMPLEXITY = 1_000_000
PAGE_ARGUMENTS = ("first", "last", "perStage")
MAX_PAGE = 200  # a page size given as a variable counts as the largest allowed
ID_LIST_ARGUMENT = "ids"  # nodes(ids): one object per id
UNPAGED_LIST = 10  # a list without a page size (a record's associations) counts as this many


def multiplier(field: FieldNode, type_: Any, variables: Mapping[str, object] | None = None) -> int:
    """A page size given as a variable counts as its value when the variables are known; nodes(ids)
    counts as many as the ids it is given."""
    for argument in field.arguments or ():
        if argument.name.value == ID_LIST_ARGUMENT:
            value = argument.value
            if isinstance(value, ListValueNode):
                return max(1, len(value.values))
            given = variables.get(value.name.value) if isinstance(value, VariableNode) and variables else None
            return max(1, min(len(given), NODES_MAX)) if isinstance(given, list) else NODES_MAX
    sized = False  # a page size whose value is not known here counts as the largest allowed
    for argument in field.arguments or ():
        if argument.name.value in PAGE_ARGUMENTS:
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(1, int(value.value))
            if isinstance(value, NullValueNode):
                continue  # first: null beside last: 10 pages backward by last
            if isinstance(value, VariableNode) and variables is not None:
                given = variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(1, min(given, MAX_PAGE))
                if given is None and value.name.value in variables:
                    continue  # sent as null: absent, it would take the largest page
            sized = True
    if sized:
        return MAX_PAGE
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return UNPAGED_LIST if isinstance(type_, GraphQLList) else 1


class Estimate:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, object] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def cost(
        self, selections: SelectionSetNode | None, parent: GraphQLNamedType | None, seen: frozenset[str]
    ) -> int:
        if selections is None:
            return 0
        total = 0
        for node in selections.selections:
            if isinstance(node, FieldNode):
                field = parent.fields.get(node.name.value) if isinstance(parent, GraphQLObjectType) else None
                field_type = field.type if field is not None else None
                child = get_named_type(field_type) if field_type is not None else None
                total += 1 + multiplier(node, field_type, self.variables) * self.cost(
                    node.selection_set, child, seen
                )
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                child = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(node.selection_set, child, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    child = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.cost(fragment.selection_set, child, seen | {node.name.value})
        return total


class ComplexityLimit(ValidationRule):
    """Refuses operations whose estimated cost exceeds MAX_COMPLEXITY, naming the figure."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        document = self.context.document
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        schema = self.context.schema
        root = schema.get_root_type(node.operation)
        estimated = Estimate(schema, fragments).cost(node.selection_set, root, frozenset())
        if estimated > MAX_COMPLEXITY:
            self.report_error(
                GraphQLError(
                    f"Query complexity {estimated} exceeds the maximum of {MAX_COMPLEXITY}:"
                    " ask for smaller pages or fewer nested lists.",
                    node,
                )
            )
