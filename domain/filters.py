"""Filter groups and sorts for record lists, parsed and validated into a small AST: DESIGN 3."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from .approvals import ApprovalStatus
from .ids import decode_global_id
from .lifecycle import LifecycleStage
from .limits import BadInput, parse_id
from .records import ObjectType as ObjectType  # re-exported: callers name the type with its filters

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_VALUES = 100
MAX_ID = 2**63 - 1
CUSTOM_PREFIX = "properties."

# A plain decimal number. db/filters.py uses the same pattern to guard casts of stored custom values,
# so it is written in the subset shared by Python and PostgreSQL regular expressions.
NUMBER_PATTERN = r"^[+-]?([0-9]{1,100}(\.[0-9]{0,100})?|\.[0-9]{1,100})([eE][+-]?[0-9]{1,3})?$"
_NUMBER = re.compile(NUMBER_PATTERN)
_CUSTOM_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")


class FilterError(ValueError):
    """A filter or sort the client sent cannot be applied; the message names the problem and where."""


class Kind(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATETIME = "DATETIME"
    ID = "ID"
    ENUM = "ENUM"
    BOOL = "BOOL"
    CUSTOM = "CUSTOM"  # properties.<key>, in the jsonb column


class Operator(StrEnum):
    EQ = "EQ"
    NEQ = "NEQ"
    LT = "LT"
    LTE = "LTE"
    GT = "GT"
    GTE = "GTE"
    IN = "IN"
    NOT_IN = "NOT_IN"
    CONTAINS = "CONTAINS"
    HAS_PROPERTY = "HAS_PROPERTY"
    NOT_HAS_PROPERTY = "NOT_HAS_PROPERTY"


class Direction(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


RANGE_OPERATORS = frozenset({Operator.LT, Operator.LTE, Operator.GT, Operator.GTE})
LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})
PRESENCE_OPERATORS = frozenset({Operator.HAS_PROPERTY, Operator.NOT_HAS_PROPERTY})

Value = str | Decimal | datetime | int | bool


@dataclass(frozen=True, slots=True)
class Property:
    name: str
    column: str
    kind: Kind
    nullable: bool = True
    choices: tuple[str, ...] = ()
    of: tuple[str, ...] = ()  # ID properties: the types whose global ids the value may be


@dataclass(frozen=True, slots=True)
class Condition:
    property: str  # as the client wrote it, for messages
    target: str  # a catalog column, or the custom key when kind is CUSTOM
    kind: Kind
    operator: Operator
    value: Value | None = None
    values: tuple[Value, ...] = ()


@dataclass(frozen=True, slots=True)
class FilterGroups:
    groups: tuple[tuple[Condition, ...], ...] = ()  # OR of groups, AND inside a group


@dataclass(frozen=True, slots=True)
class Sort:
    property: str
    column: str
    kind: Kind
    nullable: bool
    direction: Direction


LIFECYCLE_STAGES: tuple[str, ...] = tuple(LifecycleStage)
APPROVAL_STATUSES: tuple[str, ...] = tuple(ApprovalStatus)


def _identity(kind: str) -> Property:
    return Property("id", "id", Kind.ID, nullable=False, of=(kind,))


_OWNER = Property("ownerId", "owner_id", Kind.ID, of=("User",))
_CREATED = Property("createdAt", "created_at", Kind.DATETIME, nullable=False)
_UPDATED = Property("updatedAt", "updated_at", Kind.DATETIME, nullable=False)
_ACTIVITY = Property("lastActivityDate", "last_activity_date", Kind.DATETIME)
_CONTACTED = Property("lastContacted", "last_contacted", Kind.DATETIME)
_LIFECYCLE = Property("lifecycleStage", "lifecycle_stage", Kind.ENUM, choices=LIFECYCLE_STAGES)


def _catalog(*props: Property) -> Mapping[str, Property]:
    return MappingProxyType({p.name: p for p in props})


_DATES = (_CREATED, _UPDATED, _ACTIVITY, _CONTACTED)

CATALOGS: Mapping[ObjectType, Mapping[str, Property]] = MappingProxyType(
    {
        ObjectType.CONTACT: _catalog(
            _identity("Contact"),
            Property("email", "email", Kind.TEXT),
            Property("firstName", "first_name", Kind.TEXT),
            Property("lastName", "last_name", Kind.TEXT),
            Property("companyName", "company_name", Kind.TEXT),
            _LIFECYCLE,
            _OWNER,
            *_DATES,
        ),
        ObjectType.COMPANY: _catalog(
            _identity("Company"),
            Property("name", "name", Kind.TEXT),
            Property("domain", "domain", Kind.TEXT),
            _LIFECYCLE,
            _OWNER,
            *_DATES,
        ),
        ObjectType.DEAL: _catalog(
            _identity("Deal"),
            Property("name", "name", Kind.TEXT, nullable=False),
            Property("amount", "amount", Kind.NUMBER),
            Property("currency", "currency", Kind.TEXT, nullable=False),
            Property("pipelineId", "pipeline_id", Kind.ID, nullable=False, of=("Pipeline",)),
            Property("stageId", "stage_id", Kind.ID, nullable=False, of=("Stage",)),
            _OWNER,
            Property("closeDate", "close_date", Kind.DATETIME),
            Property("latestApprovalStatus", "latest_approval_status", Kind.ENUM, choices=APPROVAL_STATUSES),
            *_DATES,
        ),
        ObjectType.TICKET: _catalog(
            _identity("Ticket"),
            Property("subject", "subject", Kind.TEXT, nullable=False),
            _OWNER,
            _CREATED,
            _UPDATED,
            _ACTIVITY,
        ),
    }
)


def applies(operator: Operator, kind: Kind) -> bool:
    """Ranges apply to numbers, date-times and custom values; CONTAINS to text and custom values."""
    if operator in RANGE_OPERATORS:
        return kind in (Kind.NUMBER, Kind.DATETIME, Kind.CUSTOM)
    if operator is Operator.CONTAINS:
        return kind in (Kind.TEXT, Kind.CUSTOM)
    return True


def parse_value(prop: Property, raw: str, operator: Operator = Operator.EQ) -> Value:
    """A client's string as the Python value the property's column compares with.

    Custom values compare as text, except under a range operator, where they must be numbers.
    A date-time without an offset is UTC; a date alone is its midnight UTC.
    """
    kind = prop.kind
    if kind is Kind.CUSTOM and operator in RANGE_OPERATORS:
        kind = Kind.NUMBER
    if kind is Kind.NUMBER:
        if not _NUMBER.fullmatch(raw):
            raise ValueError(f"value {raw!r} is not a number for property {prop.name!r}")
        return Decimal(raw)
    if kind is Kind.DATETIME:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(
                f"value {raw!r} is not an ISO 8601 date-time for property {prop.name!r}"
            ) from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if kind is Kind.ID:  # the plain id or the global id of one of the property's types (DESIGN 10)
        try:
            return parse_id(raw, (), prop.of)
        except BadInput:
            found = decode_global_id(raw)
            if found is None:
                raise ValueError(f"value {raw!r} is not an id for property {prop.name!r}") from None
            wanted = " or ".join(prop.of)
            raise ValueError(
                f"value {raw!r} is the id of a {found[0]}, not of a {wanted}, for property {prop.name!r}"
            ) from None
    if kind is Kind.ENUM:
        if raw not in prop.choices:
            raise ValueError(
                f"value {raw!r} is not one of {', '.join(prop.choices)} for property {prop.name!r}"
            )
        return raw
    if kind is Kind.BOOL:
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"value {raw!r} is not true or false for property {prop.name!r}")
        return raw.lower() == "true"
    return raw


def find_property(
    object_type: ObjectType | str, name: str, catalog: Mapping[str, Property] | None = None
) -> Property:
    """A standard property from the type's catalog, or a custom one written `properties.<key>`."""
    if name.startswith(CUSTOM_PREFIX):
        key = name.removeprefix(CUSTOM_PREFIX)
        if not _CUSTOM_KEY.fullmatch(key):
            raise ValueError(f"custom property {name!r} needs a key of letters, digits, '_' or '-'")
        return Property(name, key, Kind.CUSTOM)
    prop = (catalog if catalog is not None else CATALOGS[ObjectType(object_type)]).get(name)
    if prop is None:
        raise ValueError(f"unknown property {name!r} for {object_type}")
    return prop


def parse_condition(
    object_type: ObjectType | str, raw: Mapping[str, object], catalog: Mapping[str, Property] | None = None
) -> Condition:
    """One filter: a known property, an operator that applies to it, and values of its type."""
    name, op_name, value, raw_values = (raw.get(k) for k in ("property", "operator", "value", "values"))
    if not isinstance(name, str):
        raise ValueError("property must be a string")
    prop = find_property(object_type, name, catalog)
    if not isinstance(op_name, str) or op_name not in Operator.__members__:
        raise ValueError(f"unknown operator {op_name!r}; expected one of {', '.join(Operator)}")
    op = Operator(op_name)
    if not applies(op, prop.kind):
        raise ValueError(f"operator {op.value!r} does not apply to {prop.kind} property {name!r}")
    if value is not None and not isinstance(value, str):
        raise ValueError("value must be a string")
    values = [v for v in raw_values if isinstance(v, str)] if isinstance(raw_values, list | tuple) else []
    if raw_values is not None and (
        not isinstance(raw_values, list | tuple) or len(values) != len(raw_values)
    ):
        raise ValueError("values must be a list of strings")
    if op in PRESENCE_OPERATORS:
        if value is not None or values:
            raise ValueError(f"{op} takes no value")
        return Condition(name, prop.column, prop.kind, op)
    if op in LIST_OPERATORS:
        if value is not None:
            raise ValueError(f"{op} takes values, not value")
        if not values:
            raise ValueError(f"{op} needs values")
        if len(values) > MAX_VALUES:
            raise ValueError(f"{op} takes at most {MAX_VALUES} values, got {len(values)}")
        return Condition(
            name, prop.column, prop.kind, op, values=tuple(parse_value(prop, v, op) for v in values)
        )
    if values:
        raise ValueError(f"{op} takes one value, not values")
    if value is None:
        raise ValueError(f"{op} needs a value")
    if op is Operator.CONTAINS and not value:
        raise ValueError("CONTAINS needs a non-empty value")
    return Condition(name, prop.column, prop.kind, op, value=parse_value(prop, value, op))


def parse_filter_groups(
    object_type: ObjectType | str,
    raw: Sequence[Sequence[Mapping[str, object]]] | None,
    catalog: Mapping[str, Property] | None = None,
) -> FilterGroups:
    """OR of at most 5 groups, each an AND of 1 to 10 filters; errors name the filter's position."""
    raw = raw or ()
    if len(raw) > MAX_GROUPS:
        raise FilterError(f"filterGroups: at most {MAX_GROUPS} groups are allowed, got {len(raw)}")
    groups: list[tuple[Condition, ...]] = []
    for g, group in enumerate(raw):
        if not group:
            raise FilterError(f"filterGroups[{g}].filters: a group needs at least one filter")
        if len(group) > MAX_FILTERS_PER_GROUP:
            raise FilterError(
                f"filterGroups[{g}].filters: at most {MAX_FILTERS_PER_GROUP} filters are allowed"
                f" in a group, got {len(group)}"
            )
        conditions: list[Condition] = []
        for f, item in enumerate(group):
            try:
                conditions.append(parse_condition(object_type, item, catalog))
            except ValueError as exc:
                raise FilterError(f"filterGroups[{g}].filters[{f}]: {exc}") from None
        groups.append(tuple(conditions))
    return FilterGroups(tuple(groups))


def parse_sort(object_type: ObjectType, property: str | None = None, direction: str = "DESC") -> Sort:
    """A sort on one standard property (createdAt when none is given), ties broken by id."""
    name = property or "createdAt"
    if name.startswith(CUSTOM_PREFIX):
        raise FilterError(f"sort: custom property {name!r} cannot be sorted on")
    prop = CATALOGS[object_type].get(name)
    if prop is None:
        raise FilterError(f"sort: unknown property {name!r} for {object_type}")
    if direction not in Direction.__members__:
        raise FilterError(f"sort: direction {direction!r} is not ASC or DESC")
    return Sort(prop.name, prop.column, prop.kind, prop.nullable, Direction(direction))
