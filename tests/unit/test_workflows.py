"""Workflow rules without a database: triggers, action specs and filter evaluation on a record."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.filters import parse_filter_groups
from domain.records import ObjectType
from domain.workflows import Action, ActionType, TriggerEvent, Workflow, action_problem, matches, triggered


def workflow(event: TriggerEvent, prop: str | None = None, enabled: bool = True) -> Workflow:
    return Workflow(1, "w", "CONTACT", event, prop, [], enabled, None, ())


@pytest.mark.parametrize(
    ("event", "prop", "created", "changed", "expected"),
    [
        (TriggerEvent.CREATED, None, True, frozenset(), True),
        (TriggerEvent.CREATED, None, False, frozenset({"email"}), False),
        (TriggerEvent.PROPERTY_CHANGED, "email", False, frozenset({"email"}), True),
        (TriggerEvent.PROPERTY_CHANGED, "email", False, frozenset({"firstName"}), False),
        (TriggerEvent.PROPERTY_CHANGED, None, False, frozenset({"firstName"}), True),
        (TriggerEvent.PROPERTY_CHANGED, None, False, frozenset(), False),
        (TriggerEvent.PROPERTY_CHANGED, "email", True, frozenset(), False),
    ],
)
def test_records_enroll_on_creation_or_on_their_trigger_propertys_change(
    event: TriggerEvent, prop: str | None, created: bool, changed: frozenset[str], expected: bool
) -> None:
    assert triggered(workflow(event, prop), created, changed) is expected


def test_a_disabled_workflow_enrolls_nothing() -> None:
    assert not triggered(workflow(TriggerEvent.CREATED, enabled=False), True, frozenset())


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (Action(0, 0, ActionType.SET_PROPERTY), "needs a property"),
        (Action(0, 0, ActionType.ROTATE_OWNER), "needs ownerIds or a teamId"),
        (Action(0, 0, ActionType.ROTATE_OWNER, owner_ids=(1,), team_id=2), "not both"),
        (Action(0, 0, ActionType.CREATE_TASK, title=" "), "needs a title"),
        (Action(0, 0, ActionType.SEND_NOTIFICATION), "needs a message"),
        (Action(0, 0, ActionType.ROTATE_OWNER, owner_ids=(1, 2)), None),
    ],
)
def test_actions_are_checked_before_a_workflow_is_saved(action: Action, problem: str | None) -> None:
    found = action_problem(action)
    assert (found is None) if problem is None else (problem in (found or ""))


def groups(*filters: dict[str, object]) -> object:
    return parse_filter_groups(ObjectType.DEAL, [list(filters)])


VALUES = {
    "name": "Big Deal",
    "amount": Decimal("1200.50"),
    "owner_id": 7,
    "close_date": datetime(2026, 5, 1, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"property": "name", "operator": "EQ", "value": "big deal"}, True),
        ({"property": "name", "operator": "NEQ", "value": "big deal"}, False),
        ({"property": "name", "operator": "CONTAINS", "value": "DEAL"}, True),
        ({"property": "amount", "operator": "GT", "value": "1000"}, True),
        ({"property": "amount", "operator": "LTE", "value": "1200.49"}, False),
        ({"property": "ownerId", "operator": "IN", "values": ["6", "7"]}, True),
        ({"property": "ownerId", "operator": "NOT_IN", "values": ["7"]}, False),
        ({"property": "closeDate", "operator": "LT", "value": "2026-06-01"}, True),
        ({"property": "currency", "operator": "HAS_PROPERTY"}, False),
        ({"property": "currency", "operator": "NOT_HAS_PROPERTY"}, True),
        ({"property": "properties.tier", "operator": "EQ", "value": "GOLD"}, True),
        ({"property": "properties.seats", "operator": "GTE", "value": "10"}, True),
        ({"property": "properties.missing", "operator": "NEQ", "value": "x"}, True),
    ],
)
def test_filters_are_evaluated_on_the_changed_record_like_in_lists(
    filter_: dict[str, object], expected: bool
) -> None:
    assert matches(groups(filter_), VALUES, {"tier": "gold", "seats": 12}) is expected  # type: ignore[arg-type]


def test_filter_groups_are_an_or_of_ands() -> None:
    parsed = parse_filter_groups(
        ObjectType.DEAL,
        [
            [{"property": "name", "operator": "EQ", "value": "nope"}],
            [{"property": "amount", "operator": "GT", "value": "1"}],
        ],
    )
    assert matches(parsed, VALUES, {})
