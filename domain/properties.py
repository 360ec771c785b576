"""Custom property definitions and the values they admit (DESIGN 3; seeds 003, 004: more owners)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from .limits import BadInput, parse_id
from .records import ObjectType

NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_OPTIONS = 1000


class PropertyType(StrEnum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    DATE = "DATE"
    BOOLEAN = "BOOLEAN"
    ENUMERATION = "ENUMERATION"
    USER = "USER"


@dataclass(frozen=True, slots=True)
class PropertyDefinition:
    id: int
    object_type: ObjectType
    name: str
    label: str
    type: PropertyType
    options: tuple[str, ...] = ()
    description: str | None = None


def definition_problems(
    name: str, label: str, type: PropertyType, options: Sequence[str]
) -> list[tuple[str, str]]:
    """(field, message) for each reason a definition cannot be made."""
    problems: list[tuple[str, str]] = []
    if not NAME.fullmatch(name):
        problems.append(
            ("name", "a name is lower-case letters, digits and '_', starting with a letter (64 at most)")
        )
    if not label.strip():
        problems.append(("label", "a property needs a label"))
    if type is PropertyType.ENUMERATION:
        if not options or len(options) > MAX_OPTIONS:
            problems.append(("options", f"an enumeration needs 1 to {MAX_OPTIONS} options"))
        elif len(set(options)) != len(options) or any(not o.strip() for o in options):
            problems.append(("options", "options must be distinct and not blank"))
    elif options:
        problems.append(("options", "only an ENUMERATION takes options"))
    return problems


def users_named(definitions: Mapping[str, PropertyDefinition], values: Mapping[str, object]) -> set[int]:
    """The user ids that USER properties among `values` name (to load who is active)."""
    named: set[int] = set()
    for key, value in values.items():
        defn = definitions.get(key)
        if defn is not None and defn.type is PropertyType.USER and value is not None:
            user_id = _user_id(value)
            if user_id is not None:
                named.add(user_id)
    return named


def value_problems(
    definitions: Mapping[str, PropertyDefinition], values: Mapping[str, object], active_users: set[int]
) -> list[tuple[str, str]]:
    """(property, message) for each value its definition does not admit; a null clears any property.

    Keys without a definition stay free-form JSON, as before definitions existed.
    """
    problems: list[tuple[str, str]] = []
    for key, value in values.items():
        defn = definitions.get(key)
        if defn is None or value is None:
            continue
        problem = _problem(defn, value, active_users)
        if problem is not None:
            problems.append((key, f"{defn.label}: {problem}"))
    return problems


def _problem(defn: PropertyDefinition, value: object, active_users: set[int]) -> str | None:
    kind = defn.type
    if kind is PropertyType.STRING:
        return None if isinstance(value, str) else "must be text"
    if kind is PropertyType.NUMBER:
        return None if _number(value) else "must be a finite number"
    if kind is PropertyType.DATE:
        return None if _date(value) else "must be an ISO 8601 date (2026-05-31) or date-time"
    if kind is PropertyType.BOOLEAN:
        return None if isinstance(value, bool) else "must be true or false"
    if kind is PropertyType.ENUMERATION:
        return None if value in defn.options else f"must be one of {', '.join(defn.options)}"
    user_id = _user_id(value)
    if user_id is None or user_id not in active_users:
        return f"{value!r} is not an active user's id"
    return None


def _number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return (
            Decimal(value).is_finite()
            if isinstance(value, int)
            else value == value and abs(value) != float("inf")
        )
    if isinstance(value, str):
        try:
            return Decimal(value).is_finite()
        except InvalidOperation:
            return False
    return False


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return False
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value)
        except ValueError:
            continue
        return True
    return False


def _user_id(value: object) -> int | None:
    """A USER property's value: a user's id, plain or global (DESIGN 10)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return parse_id(value, (), ("User",))
    except BadInput:
        return None
