"""The GraphQL schema: types, roots and the extensions that guard every operation."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types.base import get_object_definition

from db.errors import DbError
from domain.filters import FilterError
from domain.limits import BadInput

from .complexity import ComplexityLimit
from .execution import PlannedExecutionContext
from .fanout import FastMaskErrors
from .input_limits import SCALARS, guard
from .mutation import Mutation
from .query import Query
from .subscription import Subscription

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000

# Built once: a rule class made per request would defeat ValidationCache (strawberry #4635).
LIMIT_RULES: list[type[ASTValidationRule]] = [
    depth_rule(MAX_DEPTH, None),
    max_aliases_rule(MAX_ALIASES),
    ComplexityLimit,
]


def expected_error(error: GraphQLError) -> bool:
    """Errors with a code, validation errors and input errors are for the client to see.

    Bad input raised while executing is a BadInput (or a FilterError) with a clear message; any other
    exception from a resolver, ValueError included, is a bug and is masked.
    """
    original = error.original_error
    if original is None or isinstance(original, GraphQLError | DbError | BadInput | FilterError):
        return True
    request_level = not error.path  # variables coerced by scalars before anything runs
    return request_level and isinstance(original, ValueError) and not isinstance(original, UnicodeError)


def build_schema(*, dev: bool) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: MaxTokensLimiter(MAX_TOKENS),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
    ]
    if not dev:
        extensions.append(lambda: FastMaskErrors(should_mask_error=lambda e: not expected_error(e)))
    for root in (Query, Mutation, Subscription):
        definition = get_object_definition(root, strict=True)
        guard(definition.fields, definition.name)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=PlannedExecutionContext,
        scalar_overrides=SCALARS,
        config=StrawberryConfig(disable_field_suggestions=not dev),
    )
