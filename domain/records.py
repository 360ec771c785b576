"""The records every floor passes around, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    ALL = "ALL"
    TEAM = "TEAM"
    OWNED = "OWNED"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    active: bool
    is_super_admin: bool
    can_approve_deals: bool
    view_scope: Scope
    edit_scope: Scope
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class TeamMember:
    team_id: int
    user_id: int
    is_primary: bool


@dataclass(frozen=True, slots=True)
class Viewer:
    """The user a request acts as, with the owners its teams make visible."""

    user: User
    teammate_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def id(self) -> int:
        return self.user.id


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    user_id: int
    kind: str
    message: str
    read: bool
    created_at: datetime
    deal_id: int | None = None
    quote_id: int | None = None
