"""Errors repositories raise, as data; never parsed from message text."""

from __future__ import annotations


class DbError(Exception):
    pass


class NotFound(DbError):
    def __init__(self, kind: str, id: object) -> None:
        super().__init__(f"{kind} {id} not found")
        self.kind = kind
        self.id = id


class VersionConflict(DbError):
    def __init__(self, kind: str, id: object, expected: int, actual: int) -> None:
        super().__init__(f"{kind} {id} is at version {actual}, not {expected}")
        self.kind = kind
        self.id = id
        self.expected = expected
        self.actual = actual


class Duplicate(DbError):
    def __init__(self, kind: str, field: str, existing_id: int) -> None:
        super().__init__(f"a {kind} with this {field} already exists ({kind} {existing_id})")
        self.kind = kind
        self.field = field
        self.existing_id = existing_id
