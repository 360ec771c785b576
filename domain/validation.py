"""Field checks every path applies before a record is written (DESIGN 3)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from .records import ObjectType

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
REQUIRED = {ObjectType.DEAL: ("name",), ObjectType.TICKET: ("subject",)}
NOT_NULL = {ObjectType.DEAL: ("pipeline_id", "stage_id", "currency")}  # may be left out, never set to null


def normalise(object_type: ObjectType, values: Mapping[str, object]) -> dict[str, object]:
    """Trim text; emails and domains are stored lower-case (they dedupe case-insensitively)."""
    out: dict[str, object] = {}
    for column, value in values.items():
        if isinstance(value, str):
            value = value.strip()
            if column in ("email", "domain"):
                value = value.lower()
        out[column] = value
    return out


def field_problems(
    object_type: ObjectType, values: Mapping[str, object], *, creating: bool
) -> list[tuple[str, str]]:
    """DESIGN 3 and 10: (field, message) for each bad value: emails, domains, amounts, currencies."""
    problems: list[tuple[str, str]] = []
    email = values.get("email")
    if isinstance(email, str) and email and not EMAIL.match(email):
        problems.append(("email", f"{email!r} is not a valid email address"))
    domain = values.get("domain")
    if isinstance(domain, str) and domain and not DOMAIN.match(domain):
        problems.append(("domain", f"{domain!r} is not a valid domain"))
    amount = values.get("amount")
    if isinstance(amount, Decimal) and (amount < 0 or not amount.is_finite()):
        problems.append(("amount", f"amount must be a non-negative number, not {amount}"))
    currency = values.get("currency")
    if isinstance(currency, str) and not CURRENCY.match(currency):
        problems.append(("currency", f"{currency!r} is not a three-letter ISO 4217 currency code"))
    for column in NOT_NULL.get(object_type, ()):
        if column in values and values[column] is None:
            problems.append((column, f"{column} must not be null"))
    for column in REQUIRED.get(object_type, ()):
        if (creating or column in values) and not values.get(column):
            problems.append((column, f"{column} must not be empty"))
    return problems
