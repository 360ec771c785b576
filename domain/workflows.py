"""Workflows: triggers, action specs, and filter groups evaluated on a changed record (seed 003)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType

from .filters import NUMBER_PATTERN, Condition, FilterGroups, Kind, Operator, Property
from .limits import BadInput, parse_id


class TriggerEvent(StrEnum):
    CREATED = "CREATED"
    PROPERTY_CHANGED = "PROPERTY_CHANGED"


class ActionType(StrEnum):
    SET_PROPERTY = "SET_PROPERTY"
    ROTATE_OWNER = "ROTATE_OWNER"
    CREATE_TASK = "CREATE_TASK"
    SEND_NOTIFICATION = "SEND_NOTIFICATION"


NUMBER = re.compile(NUMBER_PATTERN)
WORKFLOW_OBJECT_TYPES = ("CONTACT", "COMPANY", "DEAL", "TICKET", "QUOTE")
QUOTE_STATUSES = (
    "DRAFT", "PENDING_APPROVAL", "CHANGES_REQUESTED", "APPROVED", "PUBLISHED", "RECALLED", "SIGNED",
)  # fmt: skip
QUOTE_DEAL_STAGE = "deal.stageId"  # a quote workflow's action moving the quote's deal (seed 001)
# Quotes are not CRM records: their workflows filter on this catalog (quote automations, seed 001).
QUOTE_CATALOG: Mapping[str, Property] = MappingProxyType(
    {
        "status": Property("status", "status", Kind.ENUM, nullable=False, choices=QUOTE_STATUSES),
        "title": Property("title", "title", Kind.TEXT, nullable=False),
        "total": Property("total", "total", Kind.NUMBER, nullable=False),
    }
)


@dataclass(frozen=True, slots=True)
class Action:
    id: int
    position: int
    type: ActionType
    property: str | None = None
    value: str | None = None
    owner_ids: tuple[int, ...] = ()
    team_id: int | None = None
    overwrite: bool = False
    title: str | None = None
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    id: int
    name: str
    object_type: str
    trigger_event: TriggerEvent
    trigger_property: str | None
    filter_groups: list[list[dict[str, object]]]
    enabled: bool
    system_key: str | None
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one action did to one enrolled record: done, or refused with the rule's code."""

    action_type: ActionType
    ok: bool
    message: str
    code: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "action_type": self.action_type.value,
            "ok": self.ok,
            "code": self.code,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, raw: object) -> Outcome:
        """A logged outcome; runs logged before outcomes had codes were plain 'TYPE: what happened' text."""
        if isinstance(raw, dict):
            return cls(ActionType(raw["action_type"]), bool(raw["ok"]), str(raw["message"]), raw.get("code"))
        kind, _, message = str(raw).partition(": ")
        return cls(
            ActionType(kind) if kind in ActionType.__members__ else ActionType.SET_PROPERTY, True, message
        )


@dataclass(frozen=True, slots=True)
class Run:
    """One record's enrollment in a workflow: what each action did."""

    id: int
    workflow_id: int
    object_type: str
    object_id: int
    outcomes: tuple[Outcome, ...]
    enrolled_at: datetime


def action_problem(action: Action, object_type: str = "CONTACT") -> str | None:
    """What makes an action unusable, or None (DESIGN 8: set property, rotate, task, notify).

    Quote workflows (seed 001) create tasks, notify, set quote properties and move the quote's deal
    to a stage (`deal.stageId`, through the deal's approval gate): a quote has no owner to rotate,
    and its standard properties change only through the quote's own use cases.
    """
    if object_type == "QUOTE":
        if action.type is ActionType.ROTATE_OWNER:
            return "ROTATE_OWNER does not apply to quotes: a quote has no owner"
        if action.type is ActionType.SET_PROPERTY and action.property == QUOTE_DEAL_STAGE:
            try:
                parse_id(action.value or "", (), ("Stage",))
            except BadInput:
                return f"{QUOTE_DEAL_STAGE} needs a stage id as its value"
            return None
        if action.type is ActionType.SET_PROPERTY and not (action.property or "").startswith("properties."):
            return f"a quote workflow sets only quote properties written 'properties.<name>', or {QUOTE_DEAL_STAGE}"
    if action.type is ActionType.SET_PROPERTY and not action.property:
        return "SET_PROPERTY needs a property"
    if action.type is ActionType.ROTATE_OWNER:
        if not action.owner_ids and action.team_id is None:
            return "ROTATE_OWNER needs ownerIds or a teamId"
        if action.owner_ids and action.team_id is not None:
            return "ROTATE_OWNER takes ownerIds or a teamId, not both"
    if action.type is ActionType.CREATE_TASK and not (action.title or "").strip():
        return "CREATE_TASK needs a title"
    if action.type is ActionType.SEND_NOTIFICATION and not (action.value or action.title or "").strip():
        return "SEND_NOTIFICATION needs a message (value or title)"
    return None


def triggered(workflow: Workflow, created: bool, changed: frozenset[str]) -> bool:
    """Seed 003 / DESIGN 8: a creation enrolls CREATED workflows; a change enrolls PROPERTY_CHANGED
    workflows whose property changed (any change when the trigger names no property)."""
    if not workflow.enabled:
        return False
    if workflow.trigger_event is TriggerEvent.CREATED:
        return created
    if created:
        return False
    return bool(changed) if workflow.trigger_property is None else workflow.trigger_property in changed


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    text = str(value)
    if not NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _comparable(kind: Kind, value: object) -> object:
    if kind in (Kind.NUMBER, Kind.CUSTOM):
        return _number(value)
    return value


def holds(condition: Condition, value: object) -> bool:
    """One condition on one value, with the SQL filters' semantics (db/filters.py)."""
    op = condition.operator
    present = value is not None and value != ""
    if op is Operator.HAS_PROPERTY:
        return present
    if op is Operator.NOT_HAS_PROPERTY:
        return not present
    folded = condition.kind in (Kind.TEXT, Kind.CUSTOM)
    if op in (Operator.EQ, Operator.NEQ, Operator.IN, Operator.NOT_IN):
        wanted = [condition.value] if op in (Operator.EQ, Operator.NEQ) else list(condition.values)
        if folded:
            hit = value is not None and (_text(value) or "").lower() in {
                (_text(w) or "").lower() for w in wanted
            }
        else:
            hit = value is not None and any(value == w for w in wanted)
        return hit if op in (Operator.EQ, Operator.IN) else not hit
    if op is Operator.CONTAINS:
        return value is not None and str(condition.value).lower() in (_text(value) or "").lower()
    left, right = _comparable(condition.kind, value), _comparable(condition.kind, condition.value)
    if left is None or right is None:
        return False
    try:
        if op is Operator.LT:
            return bool(left < right)  # type: ignore[operator]
        if op is Operator.LTE:
            return bool(left <= right)  # type: ignore[operator]
        if op is Operator.GT:
            return bool(left > right)  # type: ignore[operator]
        return bool(left >= right)  # type: ignore[operator]
    except TypeError:
        return False


def matches(groups: FilterGroups, values: Mapping[str, object], properties: Mapping[str, object]) -> bool:
    """OR of AND groups over a record's standard values (by column) and custom properties; none: all."""
    if not groups.groups:
        return True
    return any(
        all(
            holds(c, properties.get(c.target) if c.kind is Kind.CUSTOM else values.get(c.target))
            for c in group
        )
        for group in groups.groups
    )
