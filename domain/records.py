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
    token_id: int | None = None  # the API token it authenticated with, if any
    token_expires_at: datetime | None = None

    @property
    def id(self) -> int:
        return self.user.id


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A named API token; its secret is stored hashed and shown only when created."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


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


class ObjectType(StrEnum):
    CONTACT = "CONTACT"
    COMPANY = "COMPANY"
    DEAL = "DEAL"
    TICKET = "TICKET"


class ChangeSource(StrEnum):
    UI = "UI"
    API = "API"
    IMPORT = "IMPORT"
    WORKFLOW = "WORKFLOW"
    AUTOMATION = "AUTOMATION"
    FORM = "FORM"
    INTEGRATION = "INTEGRATION"


class ApprovalStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    PENDING = "PENDING"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class Mode(StrEnum):
    """How many approvers must approve: ALL of them, or ANY one."""

    ALL = "ALL"
    ANY = "ANY"


class StageKind(StrEnum):
    OPEN = "OPEN"
    CLOSED_WON = "CLOSED_WON"
    CLOSED_LOST = "CLOSED_LOST"


@dataclass(frozen=True, slots=True)
class Record:
    """A contact, company, deal or ticket: standard values by column, plus custom properties."""

    type: ObjectType
    id: int
    values: dict[str, object]
    owner_id: int | None
    properties: dict[str, object]
    created_at: datetime
    updated_at: datetime
    last_activity_date: datetime | None
    last_contacted: datetime | None
    version: int

    def get(self, column: str) -> object:
        return self.values.get(column)

    def ref(self, column: str) -> int:
        """An id column a stored record always has (a deal's pipeline_id and stage_id)."""
        value = self.values.get(column)
        if not isinstance(value, int):
            raise TypeError(f"{self.type.value.lower()} {self.id} has no {column}")
        return value


@dataclass(frozen=True, slots=True)
class Stage:
    id: int
    pipeline_id: int
    label: str
    display_order: int
    probability: float
    kind: StageKind
    is_approval_stage: bool


@dataclass(frozen=True, slots=True)
class Pipeline:
    id: int
    label: str
    stages: tuple[Stage, ...]

    def stage(self, stage_id: int) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)


@dataclass(frozen=True, slots=True)
class PropertyChange:
    name: str
    old_value: str | None
    new_value: str | None
    source: ChangeSource
    changed_by: int | None
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ApprovalProcess:
    id: int
    pipeline_id: int
    approval_stage_id: int
    mode: Mode
    note: str
    enabled: bool
    approver_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ApprovalVote:
    approver_id: int
    action: str
    text: str | None
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class DealApproval:
    id: int
    deal_id: int
    process_id: int
    status: ApprovalStatus
    blocker_code: str | None
    reason: str | None
    next_step: str | None
    votes: tuple[ApprovalVote, ...]
    created_at: datetime
    updated_at: datetime
    approver_ids: tuple[int, ...] = ()  # the process's approvers, each listed with or without a decision
    note: str | None = None  # the note to approvers, as it was when the approval was requested
    submitted_by: int | None = None  # who moved the deal into the approval stage, or resubmitted it


@dataclass(frozen=True, slots=True)
class ApprovalStatusChange:
    approval_id: int
    status: str
    actor_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    approval_id: int
    author_id: int
    body: str
    created_at: datetime
