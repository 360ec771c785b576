"""Filter groups and sorts: which properties, operators and values a list accepts, and why it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain.filters import (
    CATALOGS,
    Condition,
    Direction,
    FilterError,
    FilterGroups,
    Kind,
    Operator,
    Property,
    Sort,
    applies,
    parse_filter_groups,
    parse_sort,
    parse_value,
)
from domain.records import ObjectType

CONTACT, COMPANY, DEAL, TICKET = ObjectType.CONTACT, ObjectType.COMPANY, ObjectType.DEAL, ObjectType.TICKET
EQ, NEQ, LT, LTE, GT, GTE = Operator.EQ, Operator.NEQ, Operator.LT, Operator.LTE, Operator.GT, Operator.GTE
IN, NOT_IN, CONTAINS = Operator.IN, Operator.NOT_IN, Operator.CONTAINS
HAS, NOT_HAS = Operator.HAS_PROPERTY, Operator.NOT_HAS_PROPERTY


def flt(prop: object, op: object, value: object = None, values: object = None) -> dict[str, object]:
    return {"property": prop, "operator": op, "value": value, "values": values}


def parse_one(object_type: ObjectType, item: dict[str, object]) -> Condition:
    return parse_filter_groups(object_type, [[item]]).groups[0][0]


def refusal(object_type: ObjectType, groups: list[list[dict[str, object]]]) -> str:
    with pytest.raises(FilterError) as info:
        parse_filter_groups(object_type, groups)
    return str(info.value)


# A property of every kind, with a value of its type, and the operators each kind admits.
SAMPLES = {
    Kind.TEXT: (CONTACT, "email", "ann@example.com"),
    Kind.NUMBER: (DEAL, "amount", "10"),
    Kind.DATETIME: (DEAL, "closeDate", "2024-05-01"),
    Kind.ID: (DEAL, "ownerId", "7"),
    Kind.ENUM: (DEAL, "latestApprovalStatus", "PENDING"),
    Kind.CUSTOM: (DEAL, "properties.score", "10"),
}
EVERYWHERE = {EQ, NEQ, IN, NOT_IN, HAS, NOT_HAS}
ADMITS = {
    Kind.TEXT: EVERYWHERE | {CONTAINS},
    Kind.NUMBER: EVERYWHERE | {LT, LTE, GT, GTE},
    Kind.DATETIME: EVERYWHERE | {LT, LTE, GT, GTE},
    Kind.ID: EVERYWHERE,
    Kind.ENUM: EVERYWHERE,
    Kind.BOOL: EVERYWHERE,
    Kind.CUSTOM: set(Operator),
}


def filter_for(kind: Kind, op: Operator) -> tuple[ObjectType, dict[str, object]]:
    object_type, prop, value = SAMPLES[kind]
    if op in (HAS, NOT_HAS):
        return object_type, flt(prop, op)
    if op in (IN, NOT_IN):
        return object_type, flt(prop, op, values=[value])
    return object_type, flt(prop, op, value)


@pytest.mark.parametrize("op", list(Operator))
@pytest.mark.parametrize("kind", list(Kind))
def test_each_operator_applies_only_to_the_kinds_it_makes_sense_for(kind: Kind, op: Operator) -> None:
    assert applies(op, kind) is (op in ADMITS[kind])


@pytest.mark.parametrize(("kind", "op"), [(k, op) for k in SAMPLES for op in Operator if op in ADMITS[k]])
def test_an_operator_that_applies_is_accepted(kind: Kind, op: Operator) -> None:
    object_type, item = filter_for(kind, op)
    assert parse_one(object_type, item).operator is op


@pytest.mark.parametrize(("kind", "op"), [(k, op) for k in SAMPLES for op in Operator if op not in ADMITS[k]])
def test_an_operator_that_does_not_apply_is_refused_naming_operator_kind_and_property(
    kind: Kind, op: Operator
) -> None:
    object_type, item = filter_for(kind, op)
    assert refusal(object_type, [[item]]) == (
        f"filterGroups[0].filters[0]: operator '{op}' does not apply to {kind} property '{item['property']}'"
    )


COMMON = {"id", "ownerId", "createdAt", "updatedAt", "lastActivityDate"}


@pytest.mark.parametrize(
    ("object_type", "names"),
    [
        (CONTACT, COMMON | {"email", "firstName", "lastName", "companyName", "lifecycleStage", "lastContacted"}),
        (COMPANY, COMMON | {"name", "domain", "lifecycleStage", "lastContacted"}),
        (DEAL, COMMON | {"name", "amount", "currency", "pipelineId", "stageId", "closeDate",
                         "latestApprovalStatus", "lastContacted"}),
        (TICKET, COMMON | {"subject"}),
    ],
)  # fmt: skip
def test_each_object_type_filters_on_its_own_standard_properties(
    object_type: ObjectType, names: set[str]
) -> None:
    assert set(CATALOGS[object_type]) == names
    assert all(CATALOGS[object_type][name].name == name for name in names)


AT_MIDNIGHT = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("object_type", "item", "expected"),
    [
        (CONTACT, flt("email", EQ, "Ann@X.com"), Condition("email", "email", Kind.TEXT, EQ, "Ann@X.com")),
        (COMPANY, flt("domain", NOT_HAS), Condition("domain", "domain", Kind.TEXT, NOT_HAS)),
        (TICKET, flt("subject", CONTAINS, "100%"), Condition("subject", "subject", Kind.TEXT, CONTAINS, "100%")),
        (DEAL, flt("id", EQ, "42"), Condition("id", "id", Kind.ID, EQ, 42)),
        (DEAL, flt("amount", GT, "1000.50"), Condition("amount", "amount", Kind.NUMBER, GT, Decimal("1000.50"))),
        (DEAL, flt("amount", IN, values=["1", "-2.5"]),
         Condition("amount", "amount", Kind.NUMBER, IN, values=(Decimal(1), Decimal("-2.5")))),
        (DEAL, flt("closeDate", GTE, "2024-05-01"), Condition("closeDate", "close_date", Kind.DATETIME, GTE, AT_MIDNIGHT)),
        (DEAL, flt("closeDate", LT, "2024-05-01T00:00:00Z"),
         Condition("closeDate", "close_date", Kind.DATETIME, LT, AT_MIDNIGHT)),
        (DEAL, flt("closeDate", LT, "2024-05-01T00:00:00"),
         Condition("closeDate", "close_date", Kind.DATETIME, LT, AT_MIDNIGHT)),
        (DEAL, flt("closeDate", LT, "2024-05-01T02:00:00+02:00"),
         Condition("closeDate", "close_date", Kind.DATETIME, LT,
                   datetime(2024, 5, 1, 2, tzinfo=timezone(timedelta(hours=2))))),
        (DEAL, flt("ownerId", NOT_IN, values=["1", "2"]), Condition("ownerId", "owner_id", Kind.ID, NOT_IN, values=(1, 2))),
        (DEAL, flt("latestApprovalStatus", IN, values=["PENDING"]),
         Condition("latestApprovalStatus", "latest_approval_status", Kind.ENUM, IN, values=("PENDING",))),
        (CONTACT, flt("lifecycleStage", EQ, "LEAD"), Condition("lifecycleStage", "lifecycle_stage", Kind.ENUM, EQ, "LEAD")),
        (DEAL, flt("properties.score", GT, "7"), Condition("properties.score", "score", Kind.CUSTOM, GT, Decimal(7))),
        (DEAL, flt("properties.tier", EQ, "Gold"), Condition("properties.tier", "tier", Kind.CUSTOM, EQ, "Gold")),
        (DEAL, flt("properties.zip-code", IN, values=["01234"]),
         Condition("properties.zip-code", "zip-code", Kind.CUSTOM, IN, values=("01234",))),
        (CONTACT, flt("properties.a_B9", HAS), Condition("properties.a_B9", "a_B9", Kind.CUSTOM, HAS)),
    ],
)  # fmt: skip
def test_an_accepted_filter_carries_its_column_and_values_as_python_types(
    object_type: ObjectType, item: dict[str, object], expected: Condition
) -> None:
    assert parse_one(object_type, item) == expected


@pytest.mark.parametrize(
    ("object_type", "item", "message"),
    [
        (DEAL, flt("colour", EQ, "red"), "unknown property 'colour' for DEAL"),
        (CONTACT, flt("amount", EQ, "1"), "unknown property 'amount' for CONTACT"),
        (TICKET, flt("lastContacted", HAS), "unknown property 'lastContacted' for TICKET"),
        (DEAL, flt("properties", HAS), "unknown property 'properties' for DEAL"),
        (DEAL, flt("properties.", HAS), "custom property 'properties.' needs a key of letters, digits, '_' or '-'"),
        (DEAL, flt("properties.a b", HAS), "custom property 'properties.a b' needs a key of letters, digits, '_' or '-'"),
        (DEAL, flt("properties.a.b", HAS), "custom property 'properties.a.b' needs a key of letters, digits, '_' or '-'"),
        (DEAL, flt(None, EQ, "1"), "property must be a string"),
        (DEAL, flt("amount", "LIKE", "1"), "unknown operator 'LIKE'; expected one of " + ", ".join(Operator)),
        (DEAL, flt("amount", "eq", "1"), "unknown operator 'eq'; expected one of " + ", ".join(Operator)),
        (DEAL, flt("amount", GT, "abc"), "value 'abc' is not a number for property 'amount'"),
        (DEAL, flt("amount", EQ, "NaN"), "value 'NaN' is not a number for property 'amount'"),
        (DEAL, flt("amount", EQ, "Infinity"), "value 'Infinity' is not a number for property 'amount'"),
        (DEAL, flt("amount", IN, values=["1", "x"]), "value 'x' is not a number for property 'amount'"),
        (DEAL, flt("properties.score", GT, "high"), "value 'high' is not a number for property 'properties.score'"),
        (DEAL, flt("closeDate", GT, "yesterday"),
         "value 'yesterday' is not an ISO 8601 date-time for property 'closeDate'"),
        (DEAL, flt("ownerId", EQ, "abc"), "value 'abc' is not an id for property 'ownerId'"),
        (DEAL, flt("ownerId", EQ, "-1"), "value '-1' is not an id for property 'ownerId'"),
        (DEAL, flt("id", EQ, "9223372036854775808"), "value '9223372036854775808' is not an id for property 'id'"),
        (DEAL, flt("latestApprovalStatus", EQ, "pending"),
         "value 'pending' is not one of NOT_STARTED, PENDING, CHANGES_REQUESTED, APPROVED, REJECTED, CANCELLED"
         " for property 'latestApprovalStatus'"),
        (CONTACT, flt("email", IN), "IN needs values"),
        (CONTACT, flt("email", NOT_IN, values=[]), "NOT_IN needs values"),
        (CONTACT, flt("email", IN, "a"), "IN takes values, not value"),
        (CONTACT, flt("email", IN, values=[str(n) for n in range(101)]), "IN takes at most 100 values, got 101"),
        (CONTACT, flt("email", IN, values=["a", 1]), "values must be a list of strings"),
        (CONTACT, flt("email", IN, values="a"), "values must be a list of strings"),
        (CONTACT, flt("email", EQ), "EQ needs a value"),
        (DEAL, flt("amount", GTE), "GTE needs a value"),
        (CONTACT, flt("email", EQ, 5), "value must be a string"),
        (CONTACT, flt("email", EQ, values=["a"]), "EQ takes one value, not values"),
        (CONTACT, flt("email", HAS, "a"), "HAS_PROPERTY takes no value"),
        (CONTACT, flt("email", NOT_HAS, values=["a"]), "NOT_HAS_PROPERTY takes no value"),
        (CONTACT, flt("email", CONTAINS, ""), "CONTAINS needs a non-empty value"),
    ],
)  # fmt: skip
def test_a_refused_filter_names_the_problem_and_its_position(
    object_type: ObjectType, item: dict[str, object], message: str
) -> None:
    assert refusal(object_type, [[item]]) == f"filterGroups[0].filters[0]: {message}"


def test_unknown_property_is_refused_naming_it_and_its_position() -> None:
    good = flt("amount", GT, "1")
    groups = [[good], [good, good, flt("colour", EQ, "red")]]
    assert refusal(DEAL, groups) == "filterGroups[1].filters[2]: unknown property 'colour' for DEAL"


def test_a_filter_error_is_a_value_error() -> None:
    assert issubclass(FilterError, ValueError)


def test_no_groups_means_no_filter() -> None:
    assert parse_filter_groups(DEAL, None) == FilterGroups(())
    assert parse_filter_groups(DEAL, []) == FilterGroups(())


def test_groups_keep_their_order_and_their_filters() -> None:
    a, b, c = flt("name", EQ, "a"), flt("amount", GT, "1"), flt("ownerId", HAS)
    parsed = parse_filter_groups(DEAL, [[a, b], [c]])
    assert [[cond.property for cond in group] for group in parsed.groups] == [["name", "amount"], ["ownerId"]]


def test_five_groups_of_ten_filters_are_the_most_a_list_accepts() -> None:
    group = [flt("amount", GT, str(n)) for n in range(10)]
    assert len(parse_filter_groups(DEAL, [group] * 5).groups) == 5


def test_a_sixth_group_is_refused() -> None:
    groups = [[flt("amount", GT, "1")]] * 6
    assert refusal(DEAL, groups) == "filterGroups: at most 5 groups are allowed, got 6"


def test_an_eleventh_filter_in_a_group_is_refused() -> None:
    groups = [[flt("amount", GT, "1")], [flt("amount", GT, "1")] * 11]
    assert (
        refusal(DEAL, groups) == "filterGroups[1].filters: at most 10 filters are allowed in a group, got 11"
    )


def test_an_empty_group_is_refused_rather_than_matching_everything() -> None:
    groups = [[flt("amount", GT, "1")], []]
    assert refusal(DEAL, groups) == "filterGroups[1].filters: a group needs at least one filter"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("FALSE", False), ("True", True)])
def test_a_bool_property_takes_true_or_false(raw: str, expected: bool) -> None:
    assert parse_value(Property("urgent", "urgent", Kind.BOOL), raw) is expected


def test_a_bool_property_refuses_anything_else() -> None:
    with pytest.raises(ValueError, match="value 'yes' is not true or false for property 'urgent'"):
        parse_value(Property("urgent", "urgent", Kind.BOOL), "yes")


def test_a_custom_value_is_text_except_under_a_range_operator() -> None:
    prop = Property("properties.score", "score", Kind.CUSTOM)
    assert parse_value(prop, "007") == "007"
    assert parse_value(prop, "007", GT) == Decimal(7)


def test_the_default_sort_is_newest_first() -> None:
    assert parse_sort(DEAL) == Sort("createdAt", "created_at", Kind.DATETIME, False, Direction.DESC)


def test_a_sort_on_a_nullable_property_says_so() -> None:
    assert parse_sort(DEAL, "amount", "ASC") == Sort("amount", "amount", Kind.NUMBER, True, Direction.ASC)


@pytest.mark.parametrize(
    ("object_type", "prop", "direction", "message"),
    [
        (DEAL, "colour", "ASC", "sort: unknown property 'colour' for DEAL"),
        (TICKET, "lastContacted", "ASC", "sort: unknown property 'lastContacted' for TICKET"),
        (DEAL, "properties.score", "ASC", "sort: custom property 'properties.score' cannot be sorted on"),
        (DEAL, "amount", "UP", "sort: direction 'UP' is not ASC or DESC"),
        (DEAL, "amount", "asc", "sort: direction 'asc' is not ASC or DESC"),
    ],
)
def test_a_sort_on_anything_but_a_standard_property_is_refused(
    object_type: ObjectType, prop: str, direction: str, message: str
) -> None:
    with pytest.raises(FilterError) as info:
        parse_sort(object_type, prop, direction)
    assert str(info.value) == message
