"""Compiled query plans: a validated document turned once into a tree of closures that runs it.

graphql-core executes every field through the same general machinery: a Path, a resolve info, a
resolver call, a completion dispatched on the type, per field and per request. For a query document
this module builds, once, a closure per selected field that already knows its parent type, its
field definition, whether it is a plain attribute (strawberry's basic fields, read with getattr, as
strawberry's own resolver for them does) or goes through its real resolver (permissions, field
extensions and argument conversion included), and how to complete its type. Running the plan is then
calling closures.

The plan covers what it can answer exactly as graphql-core does; anything else is left to
graphql-core. A document with abstract types, directives, introspection of the schema or fragment
variables is not compiled. While running, anything short of a clean answer (a resolver's error, a
null in a non-null field, a value a type cannot coerce) abandons the plan's result and the operation
runs again through graphql-core, which then produces the errors, their paths and the partial data it
always did. Only queries are planned: they change nothing, so running one again is safe.
schema/execution.py runs plans; it also replays every query the API tests send both ways and
compares the answers (tests/api/conftest.py), which holds the two equal.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationType,
    Undefined,
)
from graphql.execution.values import get_argument_values
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.pyutils import Path, is_iterable

from .prefetched import PREFETCHED, UNLOADED

if TYPE_CHECKING:
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as Executor

PLANS_KEPT = 512  # as many as the parser and validation caches keep documents
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

Run = Callable[[Any, "Path | None", "Executor"], Any]  # (source or value, path, executor) -> result


class Unsupported(Exception):
    """The document uses something the plans do not cover: graphql-core runs it."""


class Abandoned(Exception):
    """A value a plan cannot complete cleanly: graphql-core runs the operation instead."""


class Plan:
    """A compiled query operation: the closure that runs its root fields."""

    def __init__(self, operation: OperationDefinitionNode, root: Run) -> None:
        self.operation = operation
        self.root = root

    def run(self, executor: Executor) -> Any:
        return self.root(executor.root_value, None, executor)


# Per schema (parsed documents are shared between schemas): operation id -> (the operation, held so
# its id is not reused meanwhile; its plan, None when it has none).
Plans = OrderedDict[int, tuple[OperationDefinitionNode, "Plan | None"]]
_plans: WeakKeyDictionary[GraphQLSchema, Plans] = WeakKeyDictionary()


def plans_of(schema: GraphQLSchema) -> Plans:
    found = _plans.get(schema)
    if found is None:
        found = _plans[schema] = OrderedDict()
    return found


def plan_for(executor: Executor) -> Plan | None:
    """The plan of the executor's operation, compiled on first use; None when not plannable."""
    operation = executor.operation
    if operation.operation is not OperationType.QUERY:
        return None
    plans = plans_of(executor.schema)
    found = plans.get(id(operation))
    if found is not None and found[0] is operation:
        plans.move_to_end(id(operation))
        return found[1]
    try:
        plan: Plan | None = Plan(operation, _Compiler(executor).operation(operation))
    except Unsupported:
        plan = None
    plans[id(operation)] = (operation, plan)
    if len(plans) > PLANS_KEPT:
        plans.popitem(last=False)
    return plan


def _discard(values: Iterable[Any]) -> None:
    """Close coroutines a failed object or list will never await (no 'never awaited' warnings)."""
    for value in values:
        close = getattr(value, "close", None)
        if asyncio.iscoroutine(value) and close is not None:
            close()


async def _gather(results: Any, keys: list[Any]) -> Any:
    """Await the awaitable entries of a dict or list in place; all settle before any error is raised."""
    if len(keys) == 1:
        results[keys[0]] = await results[keys[0]]
        return results
    done = await asyncio.gather(*(results[k] for k in keys), return_exceptions=True)
    for key, value in zip(keys, done, strict=True):
        if isinstance(value, BaseException):
            raise value
        results[key] = value
    return results


class _Compiler:
    def __init__(self, executor: Executor) -> None:
        if executor.middleware_manager is not None and executor.middleware_manager.middlewares:
            raise Unsupported("field middleware")
        if not executor.error_propagation:
            raise Unsupported("error propagation disabled")
        self.schema: GraphQLSchema = executor.schema
        self.fragments: Mapping[str, FragmentDefinitionNode] = executor.fragment_definitions
        self.is_awaitable = executor.is_awaitable

    def operation(self, operation: OperationDefinitionNode) -> Run:
        if operation.directives:
            raise Unsupported("operation directives")
        root = self.schema.query_type
        assert root is not None
        return self.object_fields(root, self.collect(root, [operation.selection_set]))[0]

    # -- fields ------------------------------------------------------------------------------------

    def collect(
        self, parent: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode | None]
    ) -> dict[str, list[FieldNode]]:
        """graphql-core's field collection for an object type, done once: fields by response key."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if selection.directives:
                    raise Unsupported("directives")
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or self.applies(condition.name.value, parent):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    visited.add(name)
                    fragment = self.fragments.get(name)
                    if fragment is None or fragment.variable_definitions:
                        raise Unsupported("fragment variables")
                    if self.applies(fragment.type_condition.name.value, parent):
                        visit(fragment.selection_set)

        for selection_set in selection_sets:
            if selection_set is not None:
                visit(selection_set)
        return fields

    def applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        found = self.schema.get_type(condition)
        if found is parent:
            return True
        if found is None or isinstance(found, GraphQLObjectType):
            return False
        return self.schema.is_sub_type(found, parent)  # type: ignore[arg-type]

    def object_fields(
        self, parent: GraphQLObjectType, fields: dict[str, list[FieldNode]]
    ) -> tuple[Run, bool]:
        """The closure running one object's selected fields into a dict (awaiting what must be), and
        whether it may return an awaitable."""
        plans = [(key, *self.field(parent, key, nodes)) for key, nodes in fields.items()]
        is_awaitable = self.is_awaitable
        steps = tuple((key, run) for key, run, _ in plans)
        may_await = frozenset(key for key, _, waits in plans if waits)

        if not may_await:

            def run_fields(source: Any, path: Path | None, executor: Executor) -> Any:
                return {key: run(source, path, executor) for key, run in steps}

            return run_fields, False

        def run_awaiting(source: Any, path: Path | None, executor: Executor) -> Any:
            out: dict[str, Any] = {}
            waiting: list[str] = []
            try:
                for key, run in steps:
                    value = out[key] = run(source, path, executor)
                    if key in may_await and is_awaitable(value):
                        waiting.append(key)
            except BaseException:
                _discard(out[k] for k in waiting)
                raise
            return _gather(out, waiting) if waiting else out

        return run_awaiting, True

    def field(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> tuple[Run, bool]:
        """One field's closure (source -> completed value) and whether it may return an awaitable."""
        name = nodes[0].name.value
        if name == "__typename":
            typename = parent.name
            return (lambda source, path, executor: typename), False
        if name.startswith("__"):
            raise Unsupported("schema introspection")
        definition = parent.fields.get(name)
        if definition is None:
            raise Unsupported(f"unknown field {parent.name}.{name}")
        complete, waits, wants_path = self.completion(definition.type, nodes)
        attribute = _plain_attribute(definition)
        parent_name = parent.name
        if attribute is not None and not (definition.args or nodes[0].arguments):
            if not wants_path:
                return (
                    lambda source, path, executor: complete(getattr(source, attribute), None, executor)
                ), waits
            return (
                lambda source, path, executor: complete(
                    getattr(source, attribute), Path(path, key, parent_name), executor
                )
            ), waits
        resolve = definition.resolve
        if resolve is None:
            raise Unsupported("a field without a resolver")
        node = nodes[0]
        has_args = bool(definition.args or node.arguments)
        is_awaitable = self.is_awaitable
        loaded = None if has_args else _prefetched_attribute(definition)

        def arguments(executor: Executor) -> dict[str, Any]:
            found: dict[int, dict[str, Any]] | None = getattr(executor, "_plan_arguments", None)
            if found is None:
                found = executor._plan_arguments = {}  # type: ignore[attr-defined]
            args = found.get(id(node))
            if args is None:
                args = found[id(node)] = get_argument_values(definition, node, executor.variable_values)
            return args

        def run_resolver(source: Any, path: Path | None, executor: Executor) -> Any:
            field_path = Path(path, key, parent_name)
            info = executor.build_resolve_info(definition, nodes, parent, field_path)
            value = resolve(source, info, **arguments(executor)) if has_args else resolve(source, info)
            if is_awaitable(value):
                return _then(value, complete, field_path, executor)
            return complete(value, field_path, executor)

        if loaded is None:
            return run_resolver, True

        def run_prefetched(source: Any, path: Path | None, executor: Executor) -> Any:
            value = getattr(source, loaded)
            if value is UNLOADED:
                return run_resolver(source, path, executor)
            return complete(value, Path(path, key, parent_name) if wants_path else None, executor)

        return run_prefetched, True

    # -- completion ----------------------------------------------------------------------------------

    def completion(self, type_: GraphQLOutputType, nodes: list[FieldNode]) -> tuple[Run, bool, bool]:
        """(complete(value, path, executor), may it return an awaitable, does it need paths)."""
        if isinstance(type_, GraphQLNonNull):
            inner, waits, wants_path = self.completion(type_.of_type, nodes)
            is_awaitable = self.is_awaitable

            def non_null(value: Any, path: Path | None, executor: Executor) -> Any:
                completed = inner(value, path, executor)
                if completed is None:
                    raise Abandoned("null in a non-null field")
                if waits and is_awaitable(completed):
                    return _non_null(completed)
                return completed

            return non_null, waits, wants_path
        if isinstance(type_, GraphQLList):
            return self.list_completion(type_, nodes)
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return _leaf(type_), False, False
        if isinstance(type_, GraphQLObjectType):
            return self.object_completion(type_, nodes)
        raise Unsupported(f"abstract type {type_}")

    def list_completion(self, type_: GraphQLList[Any], nodes: list[FieldNode]) -> tuple[Run, bool, bool]:
        item, waits, wants_path = self.completion(type_.of_type, nodes)
        is_awaitable = self.is_awaitable

        def complete_list(value: Any, path: Path | None, executor: Executor) -> Any:
            if value is None or value is Undefined:
                return None
            if isinstance(value, Exception) or not is_iterable(value):
                raise Abandoned("not a list")
            if not waits:
                if not wants_path:
                    return [item(v, None, executor) for v in value]
                return [item(v, Path(path, i, None), executor) for i, v in enumerate(value)]
            out: list[Any] = []
            try:
                for i, v in enumerate(value):
                    out.append(item(v, Path(path, i, None) if wants_path else None, executor))
            except BaseException:
                _discard(out)
                raise
            waiting = [i for i, v in enumerate(out) if is_awaitable(v)]
            return _gather(out, waiting) if waiting else out

        return complete_list, waits, wants_path

    def object_completion(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> tuple[Run, bool, bool]:
        fields, waits = self.object_fields(type_, self.collect(type_, [n.selection_set for n in nodes]))
        check = _type_check(type_)

        def complete_object(value: Any, path: Path | None, executor: Executor) -> Any:
            if value is None or value is Undefined:
                return None
            if isinstance(value, Exception):
                raise Abandoned("an error as a value")
            if check is not None and not check(value):
                raise Abandoned("a value of another type")
            return fields(value, path, executor)

        return complete_object, waits, waits  # paths matter only where resolvers are called


async def _then(value: Awaitable[Any], complete: Run, path: Path, executor: Executor) -> Any:
    completed = complete(await value, path, executor)
    if executor.is_awaitable(completed):
        return await completed
    return completed


async def _non_null(completed: Awaitable[Any]) -> Any:
    value = await completed
    if value is None:
        raise Abandoned("null in a non-null field")
    return value


def _plain_attribute(definition: GraphQLField) -> str | None:
    """The attribute a strawberry basic field reads (its resolver is getattr(source, python_name))."""
    from strawberry.types.field import StrawberryField

    resolve = definition.resolve
    field = definition.extensions.get("strawberry-definition")
    if (
        resolve is None
        or getattr(resolve, "__name__", "") != "_get_basic_result"
        or not isinstance(field, StrawberryField)
        or type(field).get_result is not StrawberryField.get_result
        or field.base_resolver is not None
        or not field.is_basic_field
        or field.default_resolver is not getattr
    ):
        return None
    return field.python_name


def _prefetched_attribute(definition: GraphQLField) -> str | None:
    """The attribute a field's resolver returns when prefetched (schema/prefetched.py), for fields
    whose resolver does nothing else: no permission classes, no field extensions."""
    from strawberry.types.field import StrawberryField

    field = definition.extensions.get("strawberry-definition")
    if not isinstance(field, StrawberryField) or field.permission_classes or field.extensions:
        return None
    attribute = field.metadata.get(PREFETCHED) if field.metadata else None
    return attribute if isinstance(attribute, str) else None


def _type_check(type_: GraphQLObjectType) -> Callable[[Any], bool] | None:
    """The object type's is_type_of, when strawberry made it (it ignores its info argument)."""
    check = type_.is_type_of
    if check is None:
        return None
    if check.__qualname__.endswith("_get_is_type_of.<locals>.is_type_of"):
        return lambda value: bool(check(value, None))  # type: ignore[arg-type]
    raise Unsupported("a custom is_type_of")


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> Run:
    """Coerce a scalar or enum value as graphql-core does; the common exact types pass as they are."""
    coerce = type_.coerce_output_value
    if type_ is GraphQLString or type_ is GraphQLID:
        exact: type | None = str
    elif type_ is GraphQLBoolean:
        exact = bool
    else:
        exact = None
    is_int = type_ is GraphQLInt

    def complete_leaf(value: Any, path: Path | None, executor: Executor) -> Any:
        kind = type(value)
        if kind is exact or (is_int and kind is int and INT_MIN <= value <= INT_MAX):
            return value
        if value is None or value is Undefined:
            return None
        if isinstance(value, Exception):
            raise Abandoned("an error as a value")
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Abandoned("a value its type cannot coerce")
        return coerced

    return complete_leaf
