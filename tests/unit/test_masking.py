"""Which errors a client may read: input errors yes, any other exception from a resolver never."""

from __future__ import annotations

from graphql import GraphQLError

from domain.codes import RuleCode
from domain.filters import FilterError
from domain.limits import BadInput
from schema import expected_error


def error(original: Exception | None, path: list[str | int] | None = None) -> GraphQLError:
    return GraphQLError(str(original) if original else "bad", path=path, original_error=original)


def test_an_unexpected_value_error_from_a_resolver_is_masked() -> None:
    assert not expected_error(error(ValueError("invalid literal for int() with base 10: 'abc'"), ["deal"]))
    assert not expected_error(error(KeyError("secret"), ["deal"]))


def test_input_errors_raised_while_executing_are_shown() -> None:
    assert expected_error(error(BadInput(RuleCode.BAD_ID, "not an id"), ["deal"]))
    assert expected_error(error(FilterError("filterGroups[0]: unknown property"), ["deals"]))


def test_errors_before_execution_are_shown() -> None:
    assert expected_error(error(None))
    assert expected_error(error(ValueError("Variable '$amount' got invalid value")))
