"""Filter groups, sorts and keyset cursors as SQL: the only place list filters become SQL text."""

from __future__ import annotations

import re

from domain.filters import (
    CATALOGS,
    NUMBER_PATTERN,
    PRESENCE_OPERATORS,
    RANGE_OPERATORS,
    Condition,
    Direction,
    FilterGroups,
    Kind,
    Operator,
    Sort,
)
from domain.quote_lists import LIST_CATALOG as QUOTE_CATALOG

# Column names reach SQL text only from this whitelist; user text only ever travels as a parameter.
COLUMNS = frozenset(p.column for catalog in (*CATALOGS.values(), QUOTE_CATALOG) for p in catalog.values())
SQL_TYPES = {
    Kind.TEXT: "text",
    Kind.NUMBER: "numeric",
    Kind.DATETIME: "timestamptz",
    Kind.ID: "bigint",
    Kind.ENUM: "text",
    Kind.BOOL: "boolean",
    Kind.CUSTOM: "text",
}
_COMPARISONS = {
    Operator.EQ: "=",
    Operator.NEQ: "<>",
    Operator.LT: "<",
    Operator.LTE: "<=",
    Operator.GT: ">",
    Operator.GTE: ">=",
}
_ALIAS = re.compile(r"[a-z_][a-z0-9_]{0,62}")
assert "'" not in NUMBER_PATTERN  # it is written into SQL text as a literal


class _Params:
    def __init__(self, first: int) -> None:
        self.first = first
        self.args: list[object] = []

    def add(self, value: object, sql_type: str) -> str:
        self.args.append(value)
        return f"${self.first + len(self.args) - 1}::{sql_type}"


def _checked_alias(alias: str) -> str:
    if not _ALIAS.fullmatch(alias):
        raise ValueError(f"not a table alias: {alias!r}")
    return alias


def _column(alias: str, column: str) -> str:
    if column not in COLUMNS:
        raise ValueError(f"not a whitelisted column: {column!r}")
    return f"{alias}.{column}"


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _condition_sql(cond: Condition, alias: str, params: _Params) -> str:
    op = cond.operator
    if cond.kind is Kind.CUSTOM:
        key = params.add(cond.target, "text")
        subject = f"{alias}.properties ->> {key}"
        if op is Operator.HAS_PROPERTY:
            return f"({alias}.properties ? {key} AND coalesce({subject}, '') <> '')"
        if op is Operator.NOT_HAS_PROPERTY:
            return f"coalesce({subject}, '') = ''"
        if op in RANGE_OPERATORS:
            number = f"CASE WHEN ({subject}) ~ '{NUMBER_PATTERN}' THEN ({subject})::numeric END"
            return f"({number}) {_COMPARISONS[op]} {params.add(cond.value, 'numeric')}"
    else:
        subject = _column(alias, cond.target)
        if op in PRESENCE_OPERATORS and cond.kind is Kind.TEXT:
            return f"coalesce({subject}, '') {'<>' if op is Operator.HAS_PROPERTY else '='} ''"
        if op is Operator.HAS_PROPERTY:
            return f"{subject} IS NOT NULL"
        if op is Operator.NOT_HAS_PROPERTY:
            return f"{subject} IS NULL"
    sql_type = SQL_TYPES[cond.kind]
    folded = cond.kind in (Kind.TEXT, Kind.CUSTOM)  # text compares case-insensitively
    lhs = f"lower({subject})" if folded else subject
    if op is Operator.CONTAINS:
        return f"{subject} ILIKE {params.add(_like_pattern(str(cond.value)), 'text')} ESCAPE '\\'"
    if op in (Operator.IN, Operator.NOT_IN):
        listed = params.add(list(cond.values), f"{sql_type}[]")
        rhs = f"(SELECT lower(v) FROM unnest({listed}) AS v)" if folded else f"({listed})"  # noqa: S608
        found = f"{lhs} = ANY {rhs}"
        return found if op is Operator.IN else f"({subject} IS NULL OR NOT ({found}))"
    value = params.add(cond.value, sql_type)
    rhs = f"lower({value})" if folded else value
    compared = f"{lhs} {_COMPARISONS[op]} {rhs}"
    return f"({subject} IS NULL OR {compared})" if op is Operator.NEQ else compared


def where_sql(groups: FilterGroups, alias: str, first_param: int) -> tuple[str, list[object]]:
    params = _Params(first_param)
    alias = _checked_alias(alias)
    ors = [
        "(" + " AND ".join(_condition_sql(cond, alias, params) for cond in group) + ")"
        for group in groups.groups
    ]
    if not ors:
        return "TRUE", []
    return "(" + " OR ".join(ors) + ")", params.args


# `backward` reads the list from its end: the sort and NULLS placement reversed, so that LIMIT n+1
# takes the rows nearest a `before` cursor (Relay's last/before), to be turned back in Python.
def order_sql(sort: Sort, alias: str, backward: bool = False) -> str:
    descending = (sort.direction is Direction.DESC) is not backward
    direction = "DESC" if descending else "ASC"
    identity = f"{_checked_alias(alias)}.id {direction}"
    if sort.column == "id":
        return identity
    nulls = (" NULLS FIRST" if backward else " NULLS LAST") if sort.nullable else ""
    return f"{_column(alias, sort.column)} {direction}{nulls}, {identity}"


# Rows after the cursor, which holds a row's sort value and id, in `order_sql`'s order (the same
# `backward`: rows before the cursor in the list's order). Nulls sort last in the list's order.
def keyset_sql(
    sort: Sort, alias: str, cursor_values: tuple[object, int], first_param: int, backward: bool = False
) -> tuple[str, list[object]]:
    value, last_id = cursor_values
    after = "<" if (sort.direction is Direction.DESC) is not backward else ">"
    identity = f"{_checked_alias(alias)}.id"
    if sort.column == "id":
        return f"{identity} {after} ${first_param}::bigint", [last_id]
    column = _column(alias, sort.column)
    if value is None:
        among_nulls = f"({column} IS NULL AND {identity} {after} ${first_param}::bigint)"
        return (f"({among_nulls} OR {column} IS NOT NULL)" if backward else among_nulls), [last_id]
    sql_type = SQL_TYPES[sort.kind]
    row = f"({column}, {identity}) {after} (${first_param}::{sql_type}, ${first_param + 1}::bigint)"
    if sort.nullable and not backward:
        row = f"({row} OR {column} IS NULL)"
    return row, [value, last_id]
