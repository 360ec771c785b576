"""Limits on input (DESIGN 3): text lengths, ids, amounts, dates, cursors and custom properties."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from .codes import RuleCode
from .ids import decode_global_id, kind_matches

NAME_MAX = 1_000  # names, emails, labels, subjects, titles and every other short text
FREE_TEXT_MAX = 65_536  # bodies, notes, terms, comments, messages, reasons
PROPERTIES_MAX_BYTES = 65_536  # custom properties, as compact JSON
PROPERTIES_MAX_KEYS = 100
JSON_MAX_DEPTH = 32
ID_MAX = 2**63 - 1  # ids are PostgreSQL bigints
NODES_MAX = 100  # ids one nodes(ids) call fetches
AMOUNT_DIGITS = 18  # numeric(18, 2)
AMOUNT_PLACES = 2
AMOUNT_FIELDS = frozenset({"amount"})
FREE_TEXT_FIELDS = frozenset({"body", "notes", "note", "terms", "comment", "message", "reason"})
UNCHECKED_FIELDS = frozenset({"csv"})  # a whole file: its own size limit, checked cell by cell on import
# NUL, which PostgreSQL text cannot hold, and lone surrogates, which UTF-8 cannot encode.
BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
DIGITS = re.compile(r"[0-9]{1,19}")


class BadInput(ValueError):
    """A value that breaks a limit: refused with a stable code, before anything is written."""

    def __init__(self, code: RuleCode, message: str, field: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.field = field

    @property
    def extensions(self) -> dict[str, object]:
        """What a GraphQL error made from this one carries (graphql-core copies it over)."""
        found: dict[str, object] = {"code": self.code.value}
        if self.field:
            found["field"] = list(self.field)
        return found


def text_limit(field: str) -> int | None:
    """The most characters a text field takes; None for fields with their own limit (a CSV file)."""
    if field in UNCHECKED_FIELDS:
        return None
    return FREE_TEXT_MAX if field in FREE_TEXT_FIELDS else NAME_MAX


def check_text(value: str, field: tuple[str, ...], limit: int | None = NAME_MAX) -> str:
    """Refuse text over its limit, or with characters that cannot be stored (NUL)."""
    name = ".".join(field) or "the value"
    if limit is not None and len(value) > limit:
        raise BadInput(RuleCode.TOO_LONG, f"{name} is longer than {limit:,} characters", field)
    if BAD_CHARACTERS.search(value):
        raise BadInput(RuleCode.BAD_TEXT, f"{name} holds a NUL character or an unpaired surrogate", field)
    return value


def check_field_text(value: str, field: tuple[str, ...]) -> str:
    """check_text with the limit the field's name calls for (its last part: `body`, `name`, ...)."""
    limit = text_limit(field[-1]) if field else NAME_MAX
    if limit is None:
        return value
    return check_text(value, field, limit)


def parse_number(value: object) -> int | None:
    """A positive integer that fits a bigint, as digits or a number; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 0 < number <= ID_MAX else None


def parse_id(value: object, field: tuple[str, ...] = (), kinds: tuple[str, ...] = ()) -> int:
    """An id, the one place that decides what one is (DESIGN 10): an object's global id or its plain
    record id (digits). Given `kinds`, a global id must name one of those types: a contact's id where a
    deal's is asked for is refused, naming the field."""
    name = ".".join(field) or "the value"
    found = decode_global_id(value) if isinstance(value, str) and not DIGITS.fullmatch(value) else None
    if found is not None:
        kind, number = found
        if not kind_matches(kind, kinds):
            wanted = " or ".join(kinds)
            raise BadInput(RuleCode.BAD_ID, f"{name} takes the id of a {wanted}, not of a {kind}", field)
        return number
    plain = parse_number(value)
    if plain is None:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise BadInput(RuleCode.BAD_ID, f"{shown} is not an id", field)
    return plain


def parse_decimal(value: object, field: tuple[str, ...] = (), places: int | None = None) -> Decimal:
    """A finite decimal of at most 18 digits, 16 of them before the point; an amount (`places`) has
    at most that many after it."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise BadInput(RuleCode.BAD_DECIMAL, "a decimal is a number, sent as a string", field)
    text = str(value).strip()
    shown = text if len(text) <= 40 else text[:40] + "…"
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadInput(RuleCode.BAD_DECIMAL, f"{shown!r} is not a number", field) from None
    if not number.is_finite():
        raise BadInput(RuleCode.BAD_DECIMAL, f"{shown!r} is not a finite number", field)
    whole = AMOUNT_DIGITS - AMOUNT_PLACES
    if number and number.adjusted() >= whole:
        raise BadInput(
            RuleCode.BAD_DECIMAL, f"{shown!r} has more than {whole} digits before the point", field
        )
    if len(number.normalize().as_tuple().digits) > AMOUNT_DIGITS:
        raise BadInput(RuleCode.BAD_DECIMAL, f"{shown!r} has more than {AMOUNT_DIGITS} digits", field)
    if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
        raise BadInput(RuleCode.BAD_DECIMAL, f"{shown!r} has more than {places} decimal places", field)
    return number


def decimal_places(field: str) -> int | None:
    """Amounts are stored to the cent; other decimals (a unit price) keep their digits."""
    return AMOUNT_PLACES if field in AMOUNT_FIELDS else None


def check_datetime(value: datetime, field: tuple[str, ...] = ()) -> datetime:
    """A date that exists in UTC (years 1 to 9999), so storing and reading it back cannot overflow."""
    try:
        if value.tzinfo is not None:
            value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadInput(RuleCode.BAD_DATE, f"{value.isoformat()} is out of range", field) from None
    return value


def parse_datetime(text: str, field: tuple[str, ...] = ()) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is taken as UTC."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    try:
        found = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            RuleCode.BAD_DATE, f"{shown!r} is not a date (YYYY-MM-DD, or ISO 8601 with a time)", field
        ) from None
    return check_datetime(found if found.tzinfo else found.replace(tzinfo=UTC), field)


def _json_depth_and_text(value: object, field: tuple[str, ...]) -> None:
    """Walk a JSON value without recursion: its depth, and every key and string in it."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            raise BadInput(RuleCode.TOO_LARGE, f"{'.'.join(field)} nests deeper than {JSON_MAX_DEPTH}", field)
        if isinstance(item, str):
            check_text(item, field, None)
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                check_text(str(key), field, NAME_MAX)
                stack.append((inner, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, float) and item != item:  # NaN is not JSON
            raise BadInput(RuleCode.INVALID, f"{'.'.join(field)} holds NaN, which is not JSON", field)


def check_json(value: object, field: tuple[str, ...], max_bytes: int = PROPERTIES_MAX_BYTES) -> None:
    """Any JSON input: bounded depth and size, and text PostgreSQL can store."""
    _json_depth_and_text(value, field)
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())
    if size > max_bytes:
        raise BadInput(
            RuleCode.TOO_LARGE, f"{'.'.join(field)} is {size:,} bytes of JSON, over {max_bytes:,}", field
        )


def check_properties(properties: Mapping[str, object], field: tuple[str, ...] = ("properties",)) -> None:
    """A record's custom properties: at most 100 keys and 64 KB of JSON."""
    if len(properties) > PROPERTIES_MAX_KEYS:
        raise BadInput(
            RuleCode.TOO_LARGE,
            f"a record holds at most {PROPERTIES_MAX_KEYS} custom properties, not {len(properties)}",
            field,
        )
    check_json(properties, field)
